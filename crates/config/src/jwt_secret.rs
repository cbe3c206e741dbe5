//! The API's JWT signing secret: read from `JWT_SECRET` or the file `JWT_SECRET_FILE` names,
//! and refused when it is short, a known placeholder or plainly not random.

use crate::ConfigError;
use secrecy::SecretString;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Fewest characters a secret may have (HS256 wants at least 256 bits of key).
const MIN_CHARS: usize = 32;

/// Fewest distinct characters: 32 random hex digits hold 8 or more but for a chance of
/// about 1 in 10^7; `aaaa…`, `abab…` or `0000…` hold far fewer.
const MIN_DISTINCT_CHARS: usize = 8;

/// Largest secret file read; a secret is a line, so anything longer is a wrong path.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Values the repository has carried as examples (compared after [`normalize`]): the old
/// `.env.local` placeholder.
const KNOWN_PLACEHOLDERS: &[&str] = &["changemetoatleast32randomcharacters0123456789"];

/// A secret whose normalized form contains one of these is an unedited template or was typed,
/// not generated (none of them can turn up in hex, nor in random base64 but by a negligible chance).
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "changeit",
    "changethis",
    "replaceme",
    "replacethis",
    "placeholder",
    "fillmein",
    "supersecret",
    "topsecret",
    "mysecret",
    "yoursecret",
    "jwtsecret",
    "256bitsecret",
    "secretkey",
    "notasecret",
];

/// A secret whose normalized form starts with one of these was typed, not generated.
const PLACEHOLDER_PREFIXES: &[&str] = &["secret", "password", "example", "insecure", "default", "dummy"];

/// How to get a good secret, for the error messages.
const HINT: &str = "use a random value, e.g. `openssl rand -hex 32`";

/// The secret from `JWT_SECRET` (`env_value`, wins when set) or else from the file at `file`
/// (`JWT_SECRET_FILE`), with the file's path when that is where it came from. Surrounding
/// white space (a file's closing newline) is dropped. Neither set is `(None, None)`: only the
/// API needs the secret, and [`check`] is what judges it.
///
/// # Errors
/// `JWT_SECRET_FILE` when the file cannot be read, is not UTF-8 text, is larger than 64 KiB or
/// is empty.
pub(crate) fn resolve(
    env_value: Option<String>,
    file: Option<String>,
) -> Result<(Option<SecretString>, Option<PathBuf>), ConfigError> {
    if let Some(value) = env_value {
        return Ok((Some(SecretString::from(value)), None));
    }
    let Some(path) = file.map(PathBuf::from) else { return Ok((None, None)) };
    let text = read_secret_file("JWT_SECRET_FILE", &path)?;
    Ok((Some(SecretString::from(text)), Some(path)))
}

/// The trimmed text of the secret file at `path`, named `variable` in errors.
pub(crate) fn read_secret_file(variable: &str, path: &Path) -> Result<String, ConfigError> {
    let shown = path.display();
    let err = |why: String| ConfigError::new(variable, why);
    let file = std::fs::File::open(path).map_err(|e| err(format!("cannot read {shown}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(err(format!("{shown} is larger than 64 KiB; it should hold one line, the secret")));
    }
    let text = String::from_utf8(bytes).map_err(|_| err(format!("{shown} is not UTF-8 text")))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(err(format!("{shown} is empty")));
    }
    Ok(text.to_string())
}

/// Why `secret` must not sign tokens, or `None` when it will do. The reason never quotes the
/// secret.
pub(crate) fn check(secret: &str) -> Option<String> {
    if secret.chars().count() < MIN_CHARS {
        return Some(format!("must be at least {MIN_CHARS} characters; {HINT}"));
    }
    let normalized = normalize(secret);
    if KNOWN_PLACEHOLDERS.contains(&normalized.as_str())
        || PLACEHOLDER_WORDS.iter().any(|w| normalized.contains(w))
        || PLACEHOLDER_PREFIXES.iter().any(|p| normalized.starts_with(p))
    {
        return Some(format!(
            "is a placeholder, not a secret; anyone who has read the docs can forge tokens: {HINT}"
        ));
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Some(format!("has only {} distinct characters, so it is not random; {HINT}", distinct.len()));
    }
    None
}

/// Lower case, ASCII letters and digits only: `Change_Me-…` and `changeme…` compare equal.
fn normalize(secret: &str) -> String {
    secret.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn random_secrets_pass() {
        assert_eq!(check("9f3c1e0b7a6d4c2e8f1a0b3c5d7e9f21a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4"), None);
        assert_eq!(check("kQ2v+L9x/Zr8Tn4Wm1Yp6Hs0Jc3Bd7Fg5Ae2Ui9Oo="), None);
        assert_eq!(check("correct horse battery staple, mountain bicycle"), None);
    }

    #[test]
    fn placeholders_fail_however_they_are_spelt() {
        for placeholder in [
            "change-me-to-at-least-32-random-characters-0123456789",
            "CHANGE_ME_TO_AT_LEAST_32_RANDOM_CHARACTERS_0123456789",
            "changeme-changeme-changeme-changeme",
            "please-change-me-before-going-to-production",
            "secret-secret-secret-secret-secret-1234",
            "Secret_Key_For_Signing_Tokens_In_Production",
            "replace-me-with-a-long-random-string-xyz",
            "your-256-bit-secret-your-256-bit-secret",
            "my-super-secret-jwt-key-for-upcheck-2024",
        ] {
            let why = check(placeholder).unwrap_or_else(|| panic!("{placeholder} passed"));
            assert!(why.contains("placeholder"), "{placeholder}: {why}");
            assert!(!why.contains(placeholder), "the reason quotes the secret");
        }
    }

    #[test]
    fn short_and_repetitive_secrets_fail() {
        assert!(check("0123456789abcdef0123456789abcde").unwrap().contains("at least 32"));
        assert!(check("").unwrap().contains("at least 32"));
        assert!(check(&"a".repeat(64)).unwrap().contains("distinct"));
        assert!(check(&"ab".repeat(32)).unwrap().contains("distinct"));
        assert!(check(&"0123456".repeat(10)).unwrap().contains("distinct"));
    }
}
