//! Display names (monitors, channels, maintenance windows…): one validator, so every name a
//! user gives is judged alike. A name is shown in alerts, e-mails and status pages; control
//! characters break those renderings, and Unicode bidi controls can make a name read as
//! something it is not (the "Trojan Source" trick, CVE-2021-42574), so both are refused.

use crate::ValidationError;

/// Longest name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 200;

/// Whether `c` is a Unicode bidirectional formatting control: the embeddings and overrides
/// U+202A–U+202E, the isolates U+2066–U+2069, the marks U+200E/U+200F and the Arabic letter
/// mark U+061C (Unicode UAX #9, §2).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Whether `c` may not appear in a name: a control character (Unicode category Cc: U+0000–U+001F
/// and U+007F–U+009F, including NUL, tab and newlines) or a bidi control ([`is_bidi_control`]).
pub fn is_forbidden_in_name(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Judges the name in `field`: trimmed, 1 to [`MAX_NAME_CHARS`] characters, with no control
/// or bidi characters. Returns the trimmed name.
///
/// # Errors
/// A [`ValidationError`] naming `field`.
pub fn validate_name(field: &str, name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ValidationError::new(field, format!("must be 1 to {MAX_NAME_CHARS} characters")));
    }
    if let Some(c) = name.chars().find(|c| is_forbidden_in_name(*c)) {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain control or bidirectional formatting characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_is_trimmed_and_kept_whatever_its_script() {
        assert_eq!(validate_name("name", "  api (prod)  ").unwrap(), "api (prod)");
        assert_eq!(validate_name("name", "واجهة API — 東京 ✓").unwrap(), "واجهة API — 東京 ✓");
    }

    #[test]
    fn empty_or_overlong_names_are_refused() {
        assert!(validate_name("name", "   ").is_err());
        assert!(validate_name("name", &"a".repeat(201)).is_err());
        assert!(validate_name("name", &"é".repeat(200)).is_ok());
    }

    #[test]
    fn every_control_and_bidi_character_is_refused_naming_the_field() {
        let bad = [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{200E}', '\u{200F}',
            '\u{061C}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ];
        for c in bad {
            let err = validate_name("channels.name", &format!("a{c}b")).unwrap_err();
            assert_eq!(err.field, "channels.name");
            assert!(err.message.contains(&format!("U+{:04X}", c as u32)), "{}", err.message);
        }
    }

    #[test]
    fn characters_next_to_the_refused_ranges_are_accepted() {
        for c in ['\u{200D}', '\u{2029}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{061B}', '\u{a0}'] {
            assert!(validate_name("name", &format!("a{c}b")).is_ok(), "U+{:04X}", c as u32);
        }
    }
}
