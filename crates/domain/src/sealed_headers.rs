//! A monitor's request headers sealed at rest and in transit: the API seals them before
//! they are stored or scheduled, so Postgres, the Redis spec and every check job hold them
//! encrypted; the probe opens them just before it sends the request.

use crate::ProbeSpec;
use std::collections::BTreeMap;
use upcheck_secrets::{Aad, Keyring, SecretsError};

impl ProbeSpec {
    /// Moves the clear `headers` into `sealed_headers`, sealed under the keyring's current key
    /// and bound to the monitor's id. No headers: nothing sealed (`sealed_headers` `None`).
    pub fn seal_headers(&mut self, keys: &Keyring) {
        let headers = std::mem::take(&mut self.headers);
        self.sealed_headers =
            (!headers.is_empty()).then(|| keys.seal_json(&headers, &Aad::monitor_headers(self.monitor_id)));
    }

    /// The request headers in clear: opened from `sealed_headers`, or the clear `headers` of a
    /// spec written before headers were sealed.
    ///
    /// # Errors
    /// A [`SecretsError`] when the sealed headers do not open: their key id is not in the
    /// keyring, the key differs, or they belong to another monitor.
    pub fn open_headers(&self, keys: &Keyring) -> Result<BTreeMap<String, String>, SecretsError> {
        match &self.sealed_headers {
            Some(sealed) => keys.open_json(sealed, &Aad::monitor_headers(self.monitor_id)),
            None => Ok(self.headers.clone()),
        }
    }

    /// Whether [`ProbeSpec::seal_headers`] would change what is stored: clear headers, or
    /// headers sealed under another key than the current one.
    pub fn headers_need_sealing(&self, keys: &Keyring) -> bool {
        !self.headers.is_empty() || self.sealed_headers.as_ref().is_some_and(|s| s.kid != keys.current_id())
    }
}

#[cfg(test)]
mod tests {
    use crate::ProbeSpec;
    use upcheck_secrets::Keyring;

    fn spec() -> ProbeSpec {
        serde_json::from_value(serde_json::json!({
            "monitor_id": uuid::Uuid::now_v7(), "kind": "http", "url": "https://x.example/", "method": "GET",
            "headers": {"Authorization": "Bearer top-secret-token"}, "interval_seconds": 60, "timeout_ms": 1000,
            "expected_status": ["2xx"], "failure_threshold": 1, "recovery_threshold": 1
        }))
        .unwrap()
    }

    fn keys(id: &str, byte: char) -> Keyring {
        Keyring::from_parts(&format!("{}=", byte.to_string().repeat(43)), id, "").unwrap()
    }

    #[test]
    fn sealed_specs_carry_no_clear_header_and_open_to_the_same_headers() {
        let keys = keys("k1", 'A');
        let clear = spec();
        let mut sealed = clear.clone();
        sealed.seal_headers(&keys);
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("top-secret-token") && !json.contains("Authorization"), "{json}");
        let back: ProbeSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.open_headers(&keys).unwrap(), clear.headers);
        assert!(!back.headers_need_sealing(&keys));
        assert!(clear.headers_need_sealing(&keys), "a legacy spec with clear headers");
        assert_eq!(clear.open_headers(&keys).unwrap(), clear.headers, "legacy specs still probe");
    }

    #[test]
    fn headers_moved_to_another_monitor_do_not_open() {
        let keys = keys("k1", 'A');
        let mut a = spec();
        a.seal_headers(&keys);
        let mut b = spec();
        b.sealed_headers = a.sealed_headers.clone();
        b.headers.clear();
        assert!(b.open_headers(&keys).is_err());
        assert!(keys.ids().contains(&"k1"));
        assert!(a.headers_need_sealing(&self::keys("k2", 'E')));
    }
}
