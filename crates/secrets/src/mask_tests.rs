use super::*;
use serde_json::json;

#[test]
fn tokens_show_their_last_four_when_long_enough() {
    assert_eq!(mask_token("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3f9a"), "••••3f9a");
    assert_eq!(mask_token("short"), "••••");
    assert_eq!(mask_token("elevenchars"), "••••");
    assert_eq!(mask_token("é€ĳ🦀é€ĳ🦀é€ĳ🦀"), "••••é€ĳ🦀");
}

#[test]
fn urls_keep_their_origin_only() {
    assert_eq!(
        mask_url("https://hooks.slack.com/services/T0/B0/XYZabcdefgh3f9a"),
        "https://hooks.slack.com/…/••••3f9a"
    );
    assert_eq!(
        mask_url("https://user:pw@ntfy.example:8443/topic?auth=abcdefghijkl"),
        "https://ntfy.example:8443/…/••••ijkl"
    );
    assert_eq!(mask_url("https://x.example/a"), "https://x.example/…/••••");
    assert_eq!(mask_url("not a url, a token of sorts"), "••••orts");
}

#[test]
fn configs_mask_their_kinds_secret_fields_only() {
    let webhook = json!({"url": "https://r.example/hook", "secret": "whsec_abcdefghijklmnop"});
    assert_eq!(
        mask_config("webhook", &webhook),
        json!({"url": "https://r.example/hook", "secret": "••••mnop"})
    );
    let slack = json!({"url": "https://hooks.slack.com/services/T0/B0/XYZabcdefgh3f9a", "channel": "#ops"});
    assert_eq!(mask_config("slack", &slack)["url"], "https://hooks.slack.com/…/••••3f9a");
    assert_eq!(mask_config("slack", &slack)["channel"], "#ops");
    let email = json!({"host": "smtp.example", "username": "u"});
    assert_eq!(mask_config("email", &email), email, "an absent field is skipped");
    assert_eq!(mask_config("unknown", &webhook), webhook);
}

#[test]
fn a_mask_sent_back_keeps_the_stored_secret() {
    let stored = json!({"url": "https://r.example/hook", "secret": "whsec_abcdefghijklmnop"});
    let mut sent = mask_config("webhook", &stored);
    sent["url"] = json!("https://r.example/new");
    restore("webhook", &mut sent, &stored).unwrap();
    assert_eq!(sent, json!({"url": "https://r.example/new", "secret": "whsec_abcdefghijklmnop"}));
    let mut stale = json!({"url": "https://r.example/hook", "secret": "••••zzzz"});
    assert_eq!(restore("webhook", &mut stale, &stored), Err("secret"));
    let mut fresh = json!({"url": "https://r.example/hook", "secret": "whsec_new"});
    restore("webhook", &mut fresh, &stored).unwrap();
    assert_eq!(fresh["secret"], "whsec_new");
}

#[test]
fn headers_are_all_masked_and_restored_by_name() {
    let stored = BTreeMap::from([
        ("Authorization".to_string(), "Bearer abcdefghijklmnop".to_string()),
        ("Accept".to_string(), "text/plain".to_string()),
    ]);
    let shown = mask_headers(&stored);
    assert_eq!(shown["Authorization"], "••••mnop");
    assert_eq!(shown["Accept"], "••••");
    let mut sent = shown.clone();
    sent.insert("X-New".into(), "v".into());
    restore_headers(&mut sent, &stored).unwrap();
    assert_eq!(sent["Authorization"], "Bearer abcdefghijklmnop");
    assert_eq!(sent["Accept"], "text/plain");
    let mut unknown = BTreeMap::from([("X-Other".to_string(), "••••".to_string())]);
    assert_eq!(restore_headers(&mut unknown, &stored), Err("X-Other".to_string()));
}
