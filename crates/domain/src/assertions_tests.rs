//! Each assertion holding and failing, with the error a user reads.

use super::*;
use serde_json::json;

fn response<'a>(body: &'a str, headers: &'a [(String, String)], latency_ms: u32) -> Response<'a> {
    Response { latency_ms, headers, body: body.as_bytes() }
}

fn parse(v: Value) -> Assertion {
    serde_json::from_value(v).unwrap()
}

fn judge(a: Value, body: &str) -> Option<String> {
    let headers = [("Content-Type".to_string(), "application/json; charset=utf-8".to_string())];
    judge_all(&[parse(a)], &response(body, &headers, 120))
}

#[test]
fn body_keywords_are_found_or_named() {
    assert_eq!(judge(json!({"type": "body_contains", "value": "OK"}), "all OK"), None);
    assert_eq!(
        judge(json!({"type": "body_contains", "value": "OK"}), "all fine"),
        Some("body: keyword \"OK\" not found".into())
    );
    assert_eq!(judge(json!({"type": "body_not_contains", "value": "ERROR"}), "fine"), None);
    assert_eq!(
        judge(json!({"type": "body_not_contains", "value": "ERROR"}), "an ERROR"),
        Some("body: keyword \"ERROR\" found".into())
    );
}

#[test]
fn json_pointers_compare_exist_and_contain() {
    let body = r#"{"status":"degraded","checks":["db","cache"],"n":3,"nested":{"ok":true}}"#;
    let eq =
        |p: &str, v: Value| judge(json!({"type": "json", "pointer": p, "op": "equals", "value": v}), body);
    assert_eq!(eq("/status", json!("ok")), Some("json /status: expected \"ok\", got \"degraded\"".into()));
    assert_eq!(eq("/status", json!("degraded")), None);
    assert_eq!(eq("/n", json!(3)), None);
    assert_eq!(eq("/nested/ok", json!(true)), None);
    assert_eq!(eq("/missing", json!(1)), Some("json /missing: not found".into()));
    let has =
        |p: &str, v: Value| judge(json!({"type": "json", "pointer": p, "op": "contains", "value": v}), body);
    assert_eq!(has("/checks", json!("db")), None);
    assert_eq!(has("/status", json!("grad")), None);
    assert_eq!(
        has("/checks", json!("queue")),
        Some("json /checks: expected to contain \"queue\", got [\"db\",\"cache\"]".into())
    );
    assert_eq!(judge(json!({"type": "json", "pointer": "/nested", "op": "exists"}), body), None);
    assert_eq!(
        judge(json!({"type": "json", "pointer": "/status", "op": "exists"}), "<html>"),
        Some("json: body is not JSON".into())
    );
}

#[test]
fn headers_equal_or_match_case_insensitively_by_name() {
    let a = |op: &str, v: &str| json!({"type": "header", "name": "content-type", "op": op, "value": v});
    assert_eq!(judge(a("matches", "^application/json"), ""), None);
    assert_eq!(
        judge(a("equals", "application/json"), ""),
        Some(
            "header content-type: expected \"application/json\", got \"application/json; charset=utf-8\""
                .into()
        )
    );
    assert_eq!(
        judge(a("matches", "^text/"), ""),
        Some("header content-type: \"application/json; charset=utf-8\" does not match /^text//".into())
    );
    assert_eq!(
        judge(json!({"type": "header", "name": "X-Missing", "op": "equals", "value": "1"}), ""),
        Some("header x-missing: missing".into())
    );
}

#[test]
fn latency_must_be_below_the_limit() {
    assert_eq!(judge(json!({"type": "latency_below", "ms": 500}), ""), None);
    assert_eq!(
        judge(json!({"type": "latency_below", "ms": 100}), ""),
        Some("latency: 120 ms, expected below 100 ms".into())
    );
}

#[test]
fn every_failing_assertion_is_named() {
    let all = [
        parse(json!({"type": "body_contains", "value": "OK"})),
        parse(json!({"type": "latency_below", "ms": 50})),
        parse(json!({"type": "body_not_contains", "value": "x"})),
    ];
    assert_eq!(
        judge_all(&all, &response("nope", &[], 80)),
        Some("body: keyword \"OK\" not found; latency: 80 ms, expected below 50 ms".into())
    );
}

#[test]
fn assertions_are_validated_field_by_field() {
    let field = |v: Value| parse(v).validate().unwrap_err().0;
    assert_eq!(field(json!({"type": "body_contains", "value": ""})), "value");
    assert_eq!(field(json!({"type": "json", "pointer": "status", "op": "exists"})), "pointer");
    assert_eq!(field(json!({"type": "json", "pointer": "/s", "op": "equals"})), "value");
    assert_eq!(field(json!({"type": "json", "pointer": "/s", "op": "exists", "value": 1})), "value");
    assert_eq!(field(json!({"type": "header", "name": "bad name", "op": "equals", "value": "x"})), "name");
    assert_eq!(field(json!({"type": "header", "name": "x", "op": "matches", "value": "(unclosed"})), "value");
    assert_eq!(
        field(json!({"type": "header", "name": "x", "op": "matches", "value": "a{1000}{1000}"})),
        "value"
    );
    assert_eq!(field(json!({"type": "latency_below", "ms": 0})), "ms");
    assert!(serde_json::from_value::<Assertion>(json!({"type": "status_is", "value": 1})).is_err());
}
