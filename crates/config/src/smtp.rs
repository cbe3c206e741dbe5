//! SMTP settings: the operator's server the `email` channel sends through, and whether users
//! may name their own.

use crate::ConfigError;
use crate::settings::Raw;
use secrecy::SecretString;
use std::path::PathBuf;
use upcheck_domain::channel::SmtpSecurity;

/// The operator's SMTP server and the `email` channel's limits. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `SMTP_HOST`: the operator's SMTP server (a name or literal IP). Unset: `email` channels
    /// must name their own server, which only `SMTP_ALLOW_USER_SERVERS` permits.
    pub host: Option<String>,
    /// `SMTP_PORT` (default by `SMTP_SECURITY`: 587 for starttls, 465 for tls, 25 for none).
    pub port: u16,
    /// `SMTP_SECURITY` (`starttls`, the default; `tls` for implicit TLS; `none` for a relay on a
    /// trusted network). With starttls, a server that does not offer STARTTLS is refused.
    pub security: SmtpSecurity,
    /// `SMTP_USERNAME`: user for `AUTH PLAIN`/`LOGIN`; set together with `SMTP_PASSWORD`.
    pub username: Option<String>,
    /// `SMTP_PASSWORD` (never logged).
    pub password: Option<SecretString>,
    /// `SMTP_FROM`: the `From` mailbox of every e-mail sent through the operator's server
    /// (`Upcheck <alerts@example.com>`); required with `SMTP_HOST`.
    pub from: Option<String>,
    /// `SMTP_TIMEOUT_MS` (default 10,000): one delivery's whole exchange (connect, TLS, AUTH,
    /// the message); must be below `RECLAIM_IDLE_MS`.
    pub timeout_ms: u64,
    /// `SMTP_CA_CERT`: a PEM file of roots trusted for SMTP over TLS besides the public
    /// (webpki) ones: an internal relay's CA, or a test CA.
    pub ca_cert: Option<PathBuf>,
    /// `SMTP_ALLOW_USER_SERVERS` (default false): whether an `email` channel may name its own
    /// SMTP server (`config.smtp`); such servers are reached only through the network policy
    /// (`PROBE_*`), the operator's never is.
    pub allow_user_servers: bool,
}

impl Default for SmtpSettings {
    /// No operator server, starttls on 587, a 10 s timeout, no user servers.
    fn default() -> Self {
        Self {
            host: None,
            port: SmtpSecurity::Starttls.default_port(),
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            from: None,
            timeout_ms: 10_000,
            ca_cert: None,
            allow_user_servers: false,
        }
    }
}

impl SmtpSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        let security = match raw.get("SMTP_SECURITY")? {
            None => d.security,
            Some(s) => SmtpSecurity::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
                ConfigError::new("SMTP_SECURITY", format!("expected starttls, tls or none, got {s:?}"))
            })?,
        };
        let host = raw.get("SMTP_HOST")?;
        if let Some(h) = &host {
            let bracketed =
                if h.parse::<std::net::Ipv6Addr>().is_ok() { format!("[{h}]") } else { h.clone() };
            if h.contains("://")
                || (h.contains(':') && !bracketed.starts_with('['))
                || url::Host::parse(&bracketed).is_err()
            {
                return Err(ConfigError::new(
                    "SMTP_HOST",
                    format!("{h:?} is not a host name or IP address (the port goes in SMTP_PORT)"),
                ));
            }
        }
        let username = raw.get("SMTP_USERNAME")?;
        let password = raw.get("SMTP_PASSWORD")?.map(SecretString::from);
        match (&username, &password) {
            (Some(_), None) => return Err(ConfigError::new("SMTP_PASSWORD", "required with SMTP_USERNAME")),
            (None, Some(_)) => return Err(ConfigError::new("SMTP_USERNAME", "required with SMTP_PASSWORD")),
            _ => {}
        }
        let from = raw
            .get("SMTP_FROM")?
            .map(|f| {
                upcheck_domain::channel::email::parse_mailbox(&f)
                    .map_err(|e| ConfigError::new("SMTP_FROM", e))
            })
            .transpose()?;
        if host.is_some() && from.is_none() {
            return Err(ConfigError::new(
                "SMTP_FROM",
                "required with SMTP_HOST: the From of alert e-mails, e.g. \"Upcheck <alerts@example.com>\"",
            ));
        }
        let ca_cert = raw.get("SMTP_CA_CERT")?.map(PathBuf::from);
        if let Some(path) = &ca_cert
            && !path.is_file()
        {
            return Err(ConfigError::new("SMTP_CA_CERT", format!("no such file {}", path.display())));
        }
        Ok(Self {
            host,
            port: raw.number("SMTP_PORT", security.default_port(), 1..=65_535)?,
            security,
            username,
            password,
            from,
            timeout_ms: raw.number("SMTP_TIMEOUT_MS", d.timeout_ms, 100..=120_000)?,
            ca_cert,
            allow_user_servers: raw.boolean("SMTP_ALLOW_USER_SERVERS", d.allow_user_servers)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Settings;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn load(extra: &[(&str, &str)]) -> Result<Settings, crate::ConfigError> {
        let mut env: HashMap<String, String> = [("DATABASE_URL", "postgres://u@localhost/db")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::from_env_map(env)
    }

    #[test]
    fn smtp_defaults_to_no_operator_server_and_no_user_servers() {
        let s = load(&[]).unwrap().smtp;
        assert_eq!((s.host, s.port, s.timeout_ms, s.allow_user_servers), (None, 587, 10_000, false));
    }

    #[test]
    fn smtp_settings_are_read_and_the_port_follows_the_security() {
        let s = load(&[
            ("SMTP_HOST", "smtp.example.com"),
            ("SMTP_SECURITY", "tls"),
            ("SMTP_USERNAME", "upcheck"),
            ("SMTP_PASSWORD", "s3cret-pass"),
            ("SMTP_FROM", "Upcheck <alerts@example.com>"),
            ("SMTP_TIMEOUT_MS", "5000"),
            ("SMTP_ALLOW_USER_SERVERS", "true"),
        ])
        .unwrap()
        .smtp;
        assert_eq!(s.host.as_deref(), Some("smtp.example.com"));
        assert_eq!((s.port, s.timeout_ms, s.allow_user_servers), (465, 5_000, true));
        assert_eq!(
            s.password.as_ref().map(|p| p.expose_secret().to_string()).as_deref(),
            Some("s3cret-pass")
        );
        assert!(!format!("{s:?}").contains("s3cret-pass"), "Debug never shows the password");
    }

    #[test]
    fn a_malformed_smtp_setting_stops_start_up_naming_it() {
        let host = ("SMTP_HOST", "smtp.example.com");
        let from = ("SMTP_FROM", "alerts@example.com");
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[host], "SMTP_FROM"),
            (&[host, ("SMTP_FROM", "not a mailbox")], "SMTP_FROM"),
            (&[("SMTP_HOST", "smtp://smtp.example.com"), from], "SMTP_HOST"),
            (&[("SMTP_HOST", "smtp.example.com:587"), from], "SMTP_HOST"),
            (&[host, from, ("SMTP_SECURITY", "ssl")], "SMTP_SECURITY"),
            (&[host, from, ("SMTP_PORT", "0")], "SMTP_PORT"),
            (&[host, from, ("SMTP_TIMEOUT_MS", "soon")], "SMTP_TIMEOUT_MS"),
            (&[host, from, ("SMTP_USERNAME", "u")], "SMTP_PASSWORD"),
            (&[host, from, ("SMTP_CA_CERT", "/nonexistent/ca.pem")], "SMTP_CA_CERT"),
        ];
        for (env, variable) in cases {
            let e = load(env).unwrap_err();
            assert_eq!(e.variable, variable, "{env:?}: {e}");
        }
        let e = load(&[host, from, ("SMTP_TIMEOUT_MS", "60000")]).unwrap_err();
        assert_eq!(e.variable, "RECLAIM_IDLE_MS", "a delivery must end before it is reclaimed");
        let secret = load(&[host, from, ("SMTP_PASSWORD", "hunter2")]).unwrap_err();
        assert!(!secret.to_string().contains("hunter2"));
    }
}
