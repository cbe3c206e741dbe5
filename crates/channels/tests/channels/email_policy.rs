use crate::email::{Mail, channel, down_payload};
use serde_json::json;
use std::net::Ipv4Addr;
use upcheck_channels::Channel;
use upcheck_config::{ProbeSettings, SmtpSettings};
use upcheck_domain::channel::SmtpSecurity;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::smtp::SmtpTls;
use uuid::Uuid;

fn policy(dns: &DnsServer) -> ProbeSettings {
    ProbeSettings {
        policy: NetworkPolicy {
            blocked: parse_networks("127.0.0.3/32").unwrap(),
            ..NetworkPolicy::default()
        },
        dns_servers: vec![dns.addr],
        dns_timeout_ms: 300,
        ..ProbeSettings::default()
    }
}

#[tokio::test]
async fn a_users_own_server_gets_the_mail_with_the_users_credentials_and_from() {
    let mail = Mail::new();
    let dns = DnsServer::start().await;
    dns.set_a("smtp.user.test", &[Ipv4Addr::LOCALHOST]);
    let server = mail.server(SmtpTls::Implicit, &["smtp.user.test"]).await;
    server.require_auth("me", "my password");
    let settings =
        SmtpSettings { allow_user_servers: true, ..mail.settings(&server, SmtpSecurity::Starttls) };
    let config = json!({"to": ["me@user.test"], "smtp": {"host": "smtp.user.test", "port": server.addr.port(),
        "security": "tls", "username": "me", "password": "my password", "from": "Me <alerts@user.test>"}});

    let r = channel(&settings, &policy(&dns)).deliver(Uuid::now_v7(), &config, &down_payload()).await;

    assert!(r.delivered, "{:?}", r.error);
    let got = server.messages();
    assert_eq!(got[0].mail_from, "alerts@user.test");
    assert_eq!(got[0].auth, Some(("me".to_string(), "my password".to_string())));
}

#[tokio::test]
async fn a_users_server_at_a_blocked_address_is_never_connected_to() {
    let mail = Mail::new();
    let dns = DnsServer::start().await;
    dns.set_a("rebound.user.test", &[Ipv4Addr::new(127, 0, 0, 3)]);
    let server = mail.server(SmtpTls::Plain, &["localhost"]).await;
    let settings = SmtpSettings { allow_user_servers: true, ..mail.settings(&server, SmtpSecurity::None) };
    let at = |host: &str| json!({"to": ["me@user.test"], "smtp": {"host": host, "port": server.addr.port(), "security": "none"}});

    let literal =
        channel(&settings, &policy(&dns)).deliver(Uuid::now_v7(), &at("127.0.0.3"), &down_payload()).await;
    let named = channel(&settings, &policy(&dns))
        .deliver(Uuid::now_v7(), &at("rebound.user.test"), &down_payload())
        .await;

    for r in [literal, named] {
        assert!(!r.delivered && r.permanent, "{r:?}");
        assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn own_servers_are_refused_unless_the_operator_allows_them() {
    let mail = Mail::new();
    let dns = DnsServer::start().await;
    let server = mail.server(SmtpTls::Plain, &["localhost"]).await;
    let settings = mail.settings(&server, SmtpSecurity::None);
    let own = json!({"to": ["me@user.test"], "smtp": {"host": "127.0.0.1", "port": server.addr.port(), "security": "none"}});

    let r = channel(&settings, &policy(&dns)).deliver(Uuid::now_v7(), &own, &down_payload()).await;
    let invalid = upcheck_channels::email::validate(&own, &settings, &policy(&dns).policy, None).unwrap_err();

    assert!(!r.delivered && r.permanent, "{r:?}");
    assert!(server.messages().is_empty());
    assert_eq!(invalid.0, "config.smtp");
}

#[tokio::test]
async fn validate_returns_the_normalised_config_or_names_the_field() {
    let dns = DnsServer::start().await;
    let settings = SmtpSettings {
        host: Some("smtp.example.com".into()),
        from: Some("alerts@example.com".into()),
        allow_user_servers: true,
        ..SmtpSettings::default()
    };
    let p = policy(&dns).policy;

    let ok = upcheck_channels::email::validate(
        &json!({"to": [" Ops@Example.com "], "smtp": {"host": "Mail.User.test", "security": "tls"}}),
        &settings,
        &p,
        None,
    )
    .unwrap();
    let blocked = upcheck_channels::email::validate(
        &json!({"to": ["ops@example.com"], "smtp": {"host": "127.0.0.3"}}),
        &settings,
        &p,
        None,
    );

    assert_eq!(
        ok,
        json!({"to": ["Ops@Example.com"], "smtp": {"host": "mail.user.test", "port": 465, "security": "tls"}})
    );
    assert_eq!(blocked.unwrap_err().0, "config.smtp.host");
}
