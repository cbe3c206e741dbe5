//! Unit tests of the `email` config's validation.

use super::*;
use crate::netpolicy::parse_networks;
use serde_json::json;

fn rules(policy: &NetworkPolicy) -> EmailRules<'_> {
    EmailRules { allow_user_servers: true, operator_server: true, operator_from: true, policy }
}

fn field_of(value: Value) -> String {
    let policy = NetworkPolicy::default();
    EmailConfig::validate(&value, &rules(&policy), None).unwrap_err().field
}

#[test]
fn recipients_are_trimmed_deduplicated_and_the_server_defaults_filled_in() {
    let policy = NetworkPolicy::default();
    let v = json!({"to": [" ops@example.com ", "OPS@example.com", "dev@example.org"],
                   "smtp": {"host": "SMTP.Example.com", "security": "tls"}});

    let c = EmailConfig::validate(&v, &rules(&policy), None).unwrap();

    assert_eq!(c.to, ["ops@example.com", "dev@example.org"]);
    let s = c.smtp.as_ref().unwrap();
    assert_eq!((s.host.as_str(), s.port, s.security), ("smtp.example.com", 465, SmtpSecurity::Tls));
    assert_eq!(EmailConfig::from_value(&c.to_value()).unwrap(), c, "the stored form reads back");
}

#[test]
fn each_wrong_field_is_named() {
    let to = json!(["ops@example.com"]);
    assert_eq!(field_of(json!([])), "config");
    assert_eq!(field_of(json!({})), "config.to");
    assert_eq!(field_of(json!({"to": []})), "config.to");
    assert_eq!(field_of(json!({"to": to, "cc": []})), "config.cc");
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}@example.com")).collect();
    assert_eq!(field_of(json!({"to": eleven})), "config.to");
    assert_eq!(field_of(json!({"to": ["ops@example.com", "not an address"]})), "config.to[1]");
    assert_eq!(field_of(json!({"to": ["Ops <ops@example.com>"]})), "config.to[0]");
    assert_eq!(field_of(json!({"to": [7]})), "config.to[0]");
    assert_eq!(field_of(json!({"to": to, "smtp": "smtp.example.com"})), "config.smtp");
    assert_eq!(field_of(json!({"to": to, "smtp": {}})), "config.smtp.host");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "a b"}})), "config.smtp.host");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "port": 0}})), "config.smtp.port");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "port": 70000}})), "config.smtp.port");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "security": "ssl"}})), "config.smtp.security");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "username": "u"}})), "config.smtp.password");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "password": "p"}})), "config.smtp.username");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "from": "nope"}})), "config.smtp.from");
    assert_eq!(field_of(json!({"to": to, "smtp": {"host": "h", "tls": true}})), "config.smtp.tls");
    let cr = json!({"to": to, "smtp": {"host": "h", "username": "u", "password": "p\r\nQUIT"}});
    assert_eq!(field_of(cr), "config.smtp.password");
}

#[test]
fn a_password_is_never_sent_in_clear_nor_shown() {
    let v = json!({"to": ["ops@example.com"],
                   "smtp": {"host": "h", "security": "none", "username": "u", "password": "hunter2"}});
    let policy = NetworkPolicy::default();

    let e = EmailConfig::validate(&v, &rules(&policy), None).unwrap_err();

    assert_eq!(e.field, "config.smtp.security");
    assert!(!e.to_string().contains("hunter2"));
    let ok =
        json!({"to": ["ops@example.com"], "smtp": {"host": "h", "username": "u", "password": "hunter2"}});
    let c = EmailConfig::validate(&ok, &rules(&policy), None).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn own_servers_need_the_operators_leave_and_pass_the_network_policy() {
    let open = NetworkPolicy::default();
    let v = json!({"to": ["ops@example.com"], "smtp": {"host": "smtp.example.com"}});
    let closed = EmailRules { allow_user_servers: false, ..rules(&open) };
    assert_eq!(EmailConfig::validate(&v, &closed, None).unwrap_err().field, "config.smtp");

    let no_from = EmailRules { operator_from: false, ..rules(&open) };
    assert_eq!(EmailConfig::validate(&v, &no_from, None).unwrap_err().field, "config.smtp.from");

    let no_relay = EmailRules { operator_server: false, ..rules(&open) };
    let bare = json!({"to": ["ops@example.com"]});
    assert_eq!(EmailConfig::validate(&bare, &no_relay, None).unwrap_err().field, "config.smtp");
    assert!(EmailConfig::validate(&bare, &rules(&open), None).unwrap().smtp.is_none());

    let blocked =
        NetworkPolicy { blocked: parse_networks("10.0.0.0/8").unwrap(), ..NetworkPolicy::default() };
    for host in ["10.1.2.3", "169.254.169.254"] {
        let v = json!({"to": ["ops@example.com"], "smtp": {"host": host}});
        let e = EmailConfig::validate(&v, &rules(&blocked), None).unwrap_err();
        assert_eq!(e.field, "config.smtp.host", "{host}");
        assert!(e.message.contains("blocked"), "{host}: {}", e.message);
    }
    let v6 = json!({"to": ["ops@example.com"], "smtp": {"host": "::1"}});
    assert_eq!(EmailConfig::validate(&v6, &rules(&open), None).unwrap().smtp.unwrap().host, "[::1]");
}

#[test]
fn an_update_without_a_password_keeps_the_previous_one_for_the_same_server_and_user() {
    let policy = NetworkPolicy::default();
    let first = json!({"to": ["ops@example.com"],
                       "smtp": {"host": "h", "username": "u", "password": "p1", "from": "Ops <ops@example.com>"}});
    let prev = EmailConfig::validate(&first, &rules(&policy), None).unwrap();
    assert_eq!(prev.smtp.as_ref().unwrap().from.as_deref(), Some("Ops <ops@example.com>"));

    let same = json!({"to": ["dev@example.com"], "smtp": {"host": "h", "username": "u"}});
    let kept = EmailConfig::validate(&same, &rules(&policy), Some(&prev)).unwrap();
    assert_eq!(kept.smtp.unwrap().password.as_deref(), Some("p1"));

    let other = json!({"to": ["dev@example.com"], "smtp": {"host": "other", "username": "u"}});
    let e = EmailConfig::validate(&other, &rules(&policy), Some(&prev)).unwrap_err();
    assert_eq!(e.field, "config.smtp.password", "a new host must be given its password");
}

#[test]
fn mailboxes_parse_with_or_without_a_display_name() {
    assert_eq!(parse_mailbox("alerts@example.com").unwrap(), "alerts@example.com");
    assert_eq!(parse_mailbox("Upcheck <alerts@example.com>").unwrap(), "Upcheck <alerts@example.com>");
    assert!(parse_mailbox("Upcheck").is_err());
}
