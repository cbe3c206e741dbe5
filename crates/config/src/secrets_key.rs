//! `SECRETS_KEY` (or the file `SECRETS_KEY_FILE` names), `SECRETS_KEY_ID` and `SECRETS_OLD_KEYS`: the keys channel configs and
//! monitor headers are sealed with at rest. Parsed at start-up (a malformed one stops every
//! binary); required by the binaries that seal or open values ([`crate::Settings::require_keyring`]).

use crate::ConfigError;
use crate::settings::Raw;
use secrecy::{ExposeSecret, SecretString};
use upcheck_secrets::Keyring;

/// The key id when `SECRETS_KEY_ID` is unset.
pub const DEFAULT_KEY_ID: &str = "k1";

/// The keyring from the environment: `None` when `SECRETS_KEY` is unset.
///
/// # Errors
/// The variable at fault when a key is not 32 bytes of base64, a key id is malformed, an old
/// key lacks its id or an id is given twice; or when `SECRETS_OLD_KEYS` is set without
/// `SECRETS_KEY`.
pub(crate) fn from_raw(raw: &Raw) -> Result<Option<Keyring>, ConfigError> {
    let key = match (raw.get("SECRETS_KEY")?, raw.get("SECRETS_KEY_FILE")?) {
        (Some(key), _) => Some(SecretString::from(key)),
        (None, Some(path)) => Some(SecretString::from(crate::jwt_secret::read_secret_file(
            "SECRETS_KEY_FILE",
            std::path::Path::new(&path),
        )?)),
        (None, None) => None,
    };
    let key_id = raw.string_or("SECRETS_KEY_ID", DEFAULT_KEY_ID)?;
    let old = raw.get("SECRETS_OLD_KEYS")?.map(SecretString::from);
    let Some(key) = key else {
        if old.is_some() {
            return Err(ConfigError::new("SECRETS_KEY", "required when SECRETS_OLD_KEYS is set"));
        }
        return Ok(None);
    };
    let old = old.as_ref().map_or("", |o| o.expose_secret());
    Keyring::from_parts(key.expose_secret(), &key_id, old)
        .map(Some)
        .map_err(|e| ConfigError::new(e.variable, e.message))
}

/// The error for a binary that needs the keyring and has none.
pub(crate) fn missing(binary_needs: &str) -> ConfigError {
    ConfigError::new(
        "SECRETS_KEY",
        format!(
            "required by {binary_needs}: 32 random bytes in base64 (`openssl rand -base64 32`); \
             scripts/run.sh and the compose files' gen-secret service make one per installation"
        ),
    )
}
