//! Standard Webhooks signing (https://www.standardwebhooks.com, "Signature scheme"):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the
//! base64-decoded part of a `whsec_…` secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret must be \"whsec_\" followed by base64 of 24 to 64 bytes")]
pub struct SecretError;

/// A new random secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// `bytes` random bytes (from the OS-seeded thread RNG) as unpadded URL-safe base64: an
/// unguessable token for URLs (24 bytes: 32 characters, 192 bits).
pub fn random_token(bytes: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(raw)
}

/// The HMAC key of a `whsec_…` secret.
///
/// # Errors
/// [`SecretError`] when the prefix is missing or the rest is not base64 of 24..=64 bytes.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).ok_or(SecretError)?;
    let key = STANDARD.decode(b64).map_err(|_| SecretError)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretError);
    }
    Ok(key)
}

/// The `webhook-signature` header value for one delivery: `v1,` + base64(HMAC-SHA256(key,
/// "{msg_id}.{timestamp_seconds}.{body}")).
///
/// # Errors
/// [`SecretError`] when the secret is malformed.
pub fn sign(secret: &str, msg_id: &str, timestamp_seconds: i64, body: &[u8]) -> Result<String, SecretError> {
    let key = secret_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SecretError)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// Whether `header` (space-separated `v1,<sig>` entries) holds a valid signature, as a receiver
/// checks it (constant-time comparison).
pub fn verify(secret: &str, msg_id: &str, timestamp_seconds: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = secret_key(secret) else { return false };
    header.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|sig| {
        let Ok(expected) = STANDARD.decode(sig) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else { return false };
        mac.update(format!("{msg_id}.{timestamp_seconds}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, id, 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(secret, id, 1614265330, body, &format!("v1,bogus {sig}")));
        assert!(!verify(secret, id, 1614265331, body, &sig));
        assert!(!verify(secret, id, 1614265330, b"{}", &sig));
    }

    #[test]
    fn generated_secrets_are_usable_and_distinct() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(sign(&a, "x", 1, b"{}").is_ok());
    }

    #[test]
    fn malformed_secrets_are_rejected() {
        for bad in ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_YWJj"] {
            assert_eq!(sign(bad, "x", 1, b""), Err(SecretError), "{bad}");
        }
    }
}
