//! The keyring (`SECRETS_KEY`, `SECRETS_KEY_ID`, `SECRETS_OLD_KEYS`) and the sealed envelope.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The envelope format this crate writes.
const VERSION: u8 = 1;

/// Bytes in a key (256 bits).
const KEY_BYTES: usize = 32;

/// Most characters in a key id.
const MAX_KEY_ID_CHARS: usize = 32;

/// A sealed value as it is stored: `{"v":1,"kid":"k1","n":"<nonce>","c":"<ciphertext>"}`,
/// nonce and ciphertext (with its 16-byte tag) in standard base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Envelope version (1: XChaCha20-Poly1305, 24-byte random nonce).
    pub v: u8,
    /// The id of the key it was sealed under.
    pub kid: String,
    /// The nonce, base64.
    pub n: String,
    /// The ciphertext and tag, base64.
    pub c: String,
}

impl Sealed {
    /// The envelope as a JSON object (for a `jsonb` column).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an envelope serializes")
    }

    /// An envelope read from a JSON object.
    ///
    /// # Errors
    /// [`SecretsError::Malformed`] when `value` is not an envelope.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, SecretsError> {
        Self::deserialize(value).map_err(|e| SecretsError::Malformed(e.to_string()))
    }
}

/// What a sealed value is bound to (the AEAD's associated data): its purpose and its record's
/// id, so a ciphertext copied to another row, or from a channel to a monitor, does not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(String);

impl Aad {
    /// A channel's config, bound to the channel's id.
    pub fn channel_config(id: impl std::fmt::Display) -> Self {
        Self(format!("upcheck/channel-config/{id}"))
    }

    /// A monitor's request headers, bound to the monitor's id.
    pub fn monitor_headers(id: impl std::fmt::Display) -> Self {
        Self(format!("upcheck/monitor-headers/{id}"))
    }
}

/// A value that could not be opened. The message never contains the value or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// Sealed under a key id that is neither `SECRETS_KEY_ID` nor listed in `SECRETS_OLD_KEYS`.
    #[error("sealed under key id {0:?}, which is neither SECRETS_KEY_ID nor listed in SECRETS_OLD_KEYS")]
    UnknownKey(String),
    /// The key is known but the value does not open: a wrong key under that id, an altered
    /// value, or one copied from another record.
    #[error(
        "does not decrypt under key {0:?}: the key differs from the one it was sealed with, or the value was altered or copied from another record"
    )]
    Decrypt(String),
    /// Not an envelope this version reads (unknown version, bad base64, not the expected JSON).
    #[error("malformed sealed value: {0}")]
    Malformed(String),
}

/// A malformed key setting: the variable at fault and what is wrong (never the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct KeyError {
    /// `SECRETS_KEY`, `SECRETS_KEY_ID` or `SECRETS_OLD_KEYS`.
    pub variable: &'static str,
    /// What is wrong.
    pub message: String,
}

fn key_error(variable: &'static str, message: impl Into<String>) -> KeyError {
    KeyError { variable, message: message.into() }
}

/// The keys values are sealed and opened with: the current one (new values are sealed under
/// it) and the old ones, still accepted for opening until `upcheck-api rotate-secrets` has
/// re-sealed everything under the current one. `Debug` shows the key ids only.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    ciphers: BTreeMap<String, XChaCha20Poly1305>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("current", &self.current).field("ids", &self.ids()).finish()
    }
}

/// A new random key (32 bytes from the OS), base64: a value for `SECRETS_KEY`.
pub fn generate_key() -> String {
    STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
}

fn parse_key(variable: &'static str, text: &str) -> Result<XChaCha20Poly1305, KeyError> {
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| {
        key_error(variable, "must be 32 bytes in standard base64 (e.g. `openssl rand -base64 32`)")
    })?);
    if bytes.len() != KEY_BYTES {
        return Err(key_error(
            variable,
            format!("must decode to {KEY_BYTES} bytes, got {}; use `openssl rand -base64 32`", bytes.len()),
        ));
    }
    XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| key_error(variable, "not a valid key"))
}

fn check_key_id(variable: &'static str, id: &str) -> Result<(), KeyError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_KEY_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(key_error(
            variable,
            format!("a key id is 1 to {MAX_KEY_ID_CHARS} letters, digits, '-', '_' or '.', got {id:?}"),
        ))
    }
}

impl Keyring {
    /// The keyring from the settings' text: `key` (`SECRETS_KEY`, 32 bytes in base64), its id
    /// `key_id` (`SECRETS_KEY_ID`) and `old_keys` (`SECRETS_OLD_KEYS`: `id:base64` pairs
    /// separated by commas, possibly empty).
    ///
    /// # Errors
    /// A [`KeyError`] naming the variable: a key that is not base64 of 32 bytes, a malformed
    /// key id, an old key without its id, or an id given twice.
    pub fn from_parts(key: &str, key_id: &str, old_keys: &str) -> Result<Self, KeyError> {
        check_key_id("SECRETS_KEY_ID", key_id)?;
        let mut ciphers = BTreeMap::new();
        ciphers.insert(key_id.to_string(), parse_key("SECRETS_KEY", key)?);
        for pair in old_keys.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, key) = pair.split_once(':').ok_or_else(|| {
                key_error("SECRETS_OLD_KEYS", "expected id:base64 pairs separated by commas")
            })?;
            check_key_id("SECRETS_OLD_KEYS", id.trim())?;
            let cipher = parse_key("SECRETS_OLD_KEYS", key)?;
            if ciphers.insert(id.trim().to_string(), cipher).is_some() {
                return Err(key_error(
                    "SECRETS_OLD_KEYS",
                    format!("key id {:?} is given twice (or is SECRETS_KEY_ID's)", id.trim()),
                ));
            }
        }
        Ok(Self { current: key_id.to_string(), ciphers })
    }

    /// The id new values are sealed under (`SECRETS_KEY_ID`).
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Every key id this keyring opens, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.ciphers.keys().map(String::as_str).collect()
    }

    /// Seals `plaintext` under the current key with a fresh random nonce, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Sealed {
        let cipher = &self.ciphers[&self.current];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: aad.0.as_bytes() })
            // Only a plaintext longer than 256 GiB fails; none is.
            .expect("XChaCha20-Poly1305 encrypts any plaintext under 256 GiB");
        Sealed {
            v: VERSION,
            kid: self.current.clone(),
            n: STANDARD.encode(nonce),
            c: STANDARD.encode(ciphertext),
        }
    }

    /// Opens `sealed`, which must be bound to `aad`.
    ///
    /// # Errors
    /// [`SecretsError::UnknownKey`] when its key id is not in the keyring,
    /// [`SecretsError::Decrypt`] when it does not authenticate (wrong key, altered, or bound to
    /// another record), [`SecretsError::Malformed`] for an unknown version or bad base64.
    pub fn open(&self, sealed: &Sealed, aad: &Aad) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        if sealed.v != VERSION {
            return Err(SecretsError::Malformed(format!("unknown version {}", sealed.v)));
        }
        let cipher =
            self.ciphers.get(&sealed.kid).ok_or_else(|| SecretsError::UnknownKey(sealed.kid.clone()))?;
        let nonce =
            STANDARD.decode(&sealed.n).map_err(|_| SecretsError::Malformed("nonce is not base64".into()))?;
        if nonce.len() != 24 {
            return Err(SecretsError::Malformed(format!("nonce of {} bytes, expected 24", nonce.len())));
        }
        let ciphertext = STANDARD
            .decode(&sealed.c)
            .map_err(|_| SecretsError::Malformed("ciphertext is not base64".into()))?;
        cipher
            .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: aad.0.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::Decrypt(sealed.kid.clone()))
    }

    /// Seals `value` as JSON text.
    pub fn seal_json<T: Serialize>(&self, value: &T, aad: &Aad) -> Sealed {
        let text = Zeroizing::new(serde_json::to_vec(value).expect("a JSON value serializes"));
        self.seal(&text, aad)
    }

    /// Opens a value sealed by [`Keyring::seal_json`].
    ///
    /// # Errors
    /// As [`Keyring::open`]; [`SecretsError::Malformed`] when the plaintext is not a `T`.
    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        sealed: &Sealed,
        aad: &Aad,
    ) -> Result<T, SecretsError> {
        let text = self.open(sealed, aad)?;
        serde_json::from_slice(&text).map_err(|e| SecretsError::Malformed(format!("plaintext: {e}")))
    }
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
