//! A Server-Sent Events reader over a streaming HTTP response, for the live feed's tests.

use std::time::Duration;

/// One frame of the stream: an event, or a comment (`: keep-alive`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseFrame {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` lines, joined by newlines.
    pub data: String,
    /// The comment lines (after `:`, trimmed), joined by newlines.
    pub comment: Option<String>,
}

impl SseFrame {
    /// `data` as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("event data {:?}: {e}", self.data))
    }

    /// The `id:` as a number.
    ///
    /// # Panics
    /// When there is none or it is not a number.
    pub fn seq(&self) -> i64 {
        self.id.as_deref().and_then(|i| i.parse().ok()).unwrap_or_else(|| panic!("no numeric id: {self:?}"))
    }
}

/// Reads frames from a `text/event-stream` response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
    ended: bool,
}

impl SseReader {
    /// A reader of `response`'s body.
    pub fn new(response: reqwest::Response) -> Self {
        Self { response, buffer: String::new(), ended: false }
    }

    /// The next frame within `timeout`; `None` when the stream ended or nothing came in time.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    /// The next frame named `event` within `timeout`, skipping the others.
    ///
    /// # Panics
    /// When none comes in time or the stream ends first.
    pub async fn next_event(&mut self, event: &str, timeout: Duration) -> SseFrame {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(f) if f.event.as_deref() == Some(event) => return f,
                Some(_) => {}
                None => panic!("no `{event}` event within {timeout:?} (ended: {})", self.ended),
            }
        }
    }

    /// Whether the server ended the stream (after [`Self::next`] returned `None`).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

fn parse(block: &str) -> SseFrame {
    let mut frame = SseFrame::default();
    let mut data = Vec::new();
    let mut comments = Vec::new();
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            comments.push(c.trim().to_string());
            continue;
        }
        let (field, value) =
            line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "id" => frame.id = Some(value.to_string()),
            "event" => frame.event = Some(value.to_string()),
            "data" => data.push(value.to_string()),
            _ => {}
        }
    }
    frame.data = data.join("\n");
    frame.comment = (!comments.is_empty()).then(|| comments.join("\n"));
    frame
}
