//! Decoding of stream replies (`XREADGROUP`, `XCLAIM`, `XRANGE`, `XPENDING`) from raw values,
//! accepting both RESP2 arrays and RESP3 maps.

use crate::StreamError;
use redis::Value;

/// One decoded entry: id and its field/value pairs.
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) fields: Vec<(String, String)>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn items(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a.iter().collect()),
        Value::Map(m) => Some(m.iter().flat_map(|(k, v)| [k, v]).collect()),
        _ => None,
    }
}

/// Decodes `[[id, [f, v, …]], …]`; entries deleted by trimming (nil fields) are returned with
/// no fields.
pub(crate) fn entries(v: &Value) -> Result<Vec<Entry>, StreamError> {
    let Some(list) = items(v) else {
        return if matches!(v, Value::Nil) {
            Ok(Vec::new())
        } else {
            Err(StreamError::Reply(format!("{v:?}")))
        };
    };
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let pair = items(e).ok_or_else(|| StreamError::Reply(format!("entry {e:?}")))?;
        let id = pair.first().and_then(|v| text(v)).ok_or_else(|| StreamError::Reply("entry id".into()))?;
        let mut fields = Vec::new();
        if let Some(fv) = pair.get(1).and_then(|v| items(v)) {
            for kv in fv.chunks(2) {
                if let [k, v] = kv {
                    fields.push((text(k).unwrap_or_default(), text(v).unwrap_or_default()));
                }
            }
        }
        out.push(Entry { id, fields });
    }
    Ok(out)
}

/// Decodes an `XREADGROUP` reply for one stream: nil (timeout) or `[[stream, entries]]` or a
/// RESP3 map `{stream: entries}`.
pub(crate) fn read_reply(v: &Value) -> Result<Vec<Entry>, StreamError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Map(m) => m.iter().map(|(_, e)| entries(e)).try_fold(Vec::new(), |mut acc, r| {
            acc.extend(r?);
            Ok(acc)
        }),
        Value::Array(streams) => {
            let mut out = Vec::new();
            for s in streams {
                let pair = items(s).ok_or_else(|| StreamError::Reply(format!("stream {s:?}")))?;
                if let Some(e) = pair.get(1) {
                    out.extend(entries(e)?);
                }
            }
            Ok(out)
        }
        other => Err(StreamError::Reply(format!("{other:?}"))),
    }
}

/// One `XPENDING … IDLE` row: id, consumer, idle ms, deliveries.
pub(crate) struct Pending {
    pub(crate) id: String,
    pub(crate) deliveries: u64,
}

/// Decodes the extended form of `XPENDING`.
pub(crate) fn pending(v: &Value) -> Result<Vec<Pending>, StreamError> {
    let Some(rows) = items(v) else { return Ok(Vec::new()) };
    rows.into_iter()
        .map(|r| {
            let row = items(r).ok_or_else(|| StreamError::Reply(format!("pending {r:?}")))?;
            let id =
                row.first().and_then(|v| text(v)).ok_or_else(|| StreamError::Reply("pending id".into()))?;
            let deliveries = row
                .get(3)
                .and_then(|v| text(v))
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| StreamError::Reply("pending deliveries".into()))?;
            Ok(Pending { id, deliveries })
        })
        .collect()
}
