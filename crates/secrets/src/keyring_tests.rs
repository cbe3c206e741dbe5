use super::*;

fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

#[test]
fn a_sealed_value_opens_under_its_record_only() {
    let ring = Keyring::from_parts(&key(1), "k1", "").unwrap();
    let sealed = ring.seal(b"whsec_abc", &Aad::channel_config("a"));
    assert_eq!(sealed.kid, "k1");
    assert!(!sealed.c.contains("whsec"));
    assert_eq!(&ring.open(&sealed, &Aad::channel_config("a")).unwrap()[..], b"whsec_abc");
    assert_eq!(ring.open(&sealed, &Aad::channel_config("b")), Err(SecretsError::Decrypt("k1".into())));
    assert_eq!(ring.open(&sealed, &Aad::monitor_headers("a")), Err(SecretsError::Decrypt("k1".into())));
}

#[test]
fn two_seals_of_one_value_differ() {
    let ring = Keyring::from_parts(&key(1), "k1", "").unwrap();
    let aad = Aad::channel_config("a");
    assert_ne!(ring.seal(b"x", &aad), ring.seal(b"x", &aad));
}

#[test]
fn an_old_key_listed_opens_and_an_unlisted_one_is_named() {
    let old = Keyring::from_parts(&key(1), "k1", "").unwrap();
    let sealed = old.seal_json(&serde_json::json!({"secret": "s"}), &Aad::channel_config("a"));
    let rotated = Keyring::from_parts(&key(2), "k2", &format!("k1:{}", key(1))).unwrap();
    let opened: serde_json::Value = rotated.open_json(&sealed, &Aad::channel_config("a")).unwrap();
    assert_eq!(opened["secret"], "s");
    assert_eq!(rotated.seal(b"x", &Aad::channel_config("a")).kid, "k2");
    let forgotten = Keyring::from_parts(&key(2), "k2", "").unwrap();
    let err = forgotten.open(&sealed, &Aad::channel_config("a")).unwrap_err();
    assert_eq!(err, SecretsError::UnknownKey("k1".into()));
    assert!(err.to_string().contains("SECRETS_OLD_KEYS"));
    let wrong = Keyring::from_parts(&key(3), "k1", "").unwrap();
    assert_eq!(
        wrong.open(&sealed, &Aad::channel_config("a")).unwrap_err(),
        SecretsError::Decrypt("k1".into())
    );
}

#[test]
fn an_altered_envelope_is_refused() {
    let ring = Keyring::from_parts(&key(1), "k1", "").unwrap();
    let aad = Aad::channel_config("a");
    let mut sealed = ring.seal(b"value", &aad);
    let mut bytes = STANDARD.decode(&sealed.c).unwrap();
    bytes[0] ^= 1;
    sealed.c = STANDARD.encode(bytes);
    assert_eq!(ring.open(&sealed, &aad), Err(SecretsError::Decrypt("k1".into())));
    sealed.v = 9;
    assert!(matches!(ring.open(&sealed, &aad), Err(SecretsError::Malformed(_))));
    assert!(matches!(Sealed::from_json(&serde_json::json!({"url": "x"})), Err(SecretsError::Malformed(_))));
    let good = ring.seal(b"value", &aad);
    assert_eq!(Sealed::from_json(&good.to_json()).unwrap(), good);
}

#[test]
fn malformed_settings_name_their_variable() {
    let cases = [
        ("not base64!", "k1", "", "SECRETS_KEY"),
        (&STANDARD.encode([1u8; 16]) as &str, "k1", "", "SECRETS_KEY"),
        (&key(1), "", "", "SECRETS_KEY_ID"),
        (&key(1), "k 1", "", "SECRETS_KEY_ID"),
        (&key(1), "k1", "nocolon", "SECRETS_OLD_KEYS"),
        (&key(1), "k1", "k0:short", "SECRETS_OLD_KEYS"),
        (&key(1), "k1", &format!("k1:{}", key(2)), "SECRETS_OLD_KEYS"),
    ];
    for (k, id, old, variable) in cases {
        let err = Keyring::from_parts(k, id, old).unwrap_err();
        assert_eq!(err.variable, variable, "{k} {id} {old}: {err}");
        assert!(!err.message.contains(&key(2)), "the message quotes a key");
    }
    let ring = Keyring::from_parts(&key(1), "k2", &format!("k0:{}, k1:{}", key(2), key(3))).unwrap();
    assert_eq!(ring.ids(), ["k0", "k1", "k2"]);
    assert!(!format!("{ring:?}").contains(&key(1)));
}

#[test]
fn generated_keys_are_accepted_and_distinct() {
    let (a, b) = (generate_key(), generate_key());
    assert_ne!(a, b);
    Keyring::from_parts(&a, "k1", "").unwrap();
}
