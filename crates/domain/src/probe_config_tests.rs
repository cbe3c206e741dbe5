//! Kind configs: parsing with field names, validation, targets and the wire form.

use super::*;
use serde_json::json;

fn field(kind: MonitorKind, v: serde_json::Value) -> String {
    match KindConfig::from_json(kind, &v) {
        Err(e) => e.field,
        Ok(c) => c.validate(5_000).unwrap_err().field,
    }
}

#[test]
fn http_defaults_apply_to_an_empty_or_missing_config() {
    let c = KindConfig::from_json(MonitorKind::Http, &serde_json::Value::Null).unwrap();
    assert_eq!(c, KindConfig::Http(HttpConfig::default()));
    let KindConfig::Http(h) = c else { unreachable!() };
    assert_eq!(h.max_redirects, 10);
}

#[test]
fn every_rule_names_its_field_under_config() {
    use MonitorKind::*;
    assert_eq!(
        field(Http, json!({"assertions": [{"type": "json", "pointer": "x", "op": "exists"}]})),
        "config.assertions[0].pointer"
    );
    assert_eq!(field(Http, json!({"assertions": [{"type": "nope"}]})), "config.assertions[0].type");
    assert_eq!(field(Http, json!({"max_redirects": 21})), "config.max_redirects");
    assert_eq!(field(Http, json!({"degraded_latency_ms": 5000})), "config.degraded_latency_ms");
    assert_eq!(
        field(Http, json!({"certificate": {"expiry_warning_days": 0}})),
        "config.certificate.expiry_warning_days"
    );
    assert_eq!(field(Http, json!({"surprise": 1})), "config.surprise");
    assert_eq!(field(Tcp, json!({"port": 22})), "config");
    assert_eq!(field(Tcp, json!({"host": "db", "port": 0})), "config.port");
    assert_eq!(field(Tcp, json!({"host": "bad host", "port": 5432})), "config.host");
    assert_eq!(field(Tcp, json!({"host": "db", "port": 70000})), "config.port");
    assert_eq!(field(Tcp, json!({"host": "db", "port": 1, "send": ""})), "config.send");
    assert_eq!(
        field(Tls, json!({"host": "example.com", "expiry_warning_days": 400})),
        "config.expiry_warning_days"
    );
    assert_eq!(field(Dns, json!({"name": "example.com", "record_type": "SRV"})), "config.record_type");
    assert_eq!(field(Dns, json!({"name": "example.com", "resolver": "dns.google"})), "config.resolver");
    assert_eq!(field(Dns, json!({"name": "example.com", "expected": [""]})), "config.expected");
    assert_eq!(field(Heartbeat, json!({"period_seconds": 0})), "config.period_seconds");
    assert_eq!(
        field(Heartbeat, json!({"period_seconds": 60, "grace_seconds": 90_000})),
        "config.grace_seconds"
    );
    assert_eq!(field(Heartbeat, json!([])), "config");
}

#[test]
fn sane_configs_pass_and_name_their_target() {
    let ok = |kind, v| {
        let c = KindConfig::from_json(kind, &v).unwrap();
        c.validate(5_000).unwrap();
        c
    };
    assert_eq!(
        ok(MonitorKind::Tcp, json!({"host": "db.internal", "port": 5432})).target().unwrap(),
        "tcp://db.internal:5432"
    );
    assert_eq!(ok(MonitorKind::Tls, json!({"host": "::1"})).target().unwrap(), "tls://[::1]:443");
    assert_eq!(
        ok(MonitorKind::Dns, json!({"name": "example.com", "record_type": "MX", "expected": ["10 mx.example.com"], "match": "all"}))
            .target()
            .unwrap(),
        "dns://example.com/MX"
    );
    assert_eq!(ok(MonitorKind::Heartbeat, json!({"period_seconds": 3600})).target().unwrap(), "heartbeat:");
}

#[test]
fn the_wire_form_is_tagged_by_kind_and_the_api_form_is_plain() {
    let c = KindConfig::from_json(MonitorKind::Tcp, &json!({"host": "db", "port": 5432, "expect": "SSH-"}))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"tcp": {"host": "db", "port": 5432, "expect": "SSH-"}})
    );
    assert_eq!(c.to_json(), json!({"host": "db", "port": 5432, "expect": "SSH-"}));
    assert_eq!(KindConfig::from_json(MonitorKind::Tcp, &c.to_json()).unwrap(), c);
}
