//! Expected HTTP status rules such as `["2xx", 301]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One rule of a monitor's `expected_status` list: a class (`"2xx"`, covering 200..=299) or one
/// exact code (`301` or `"301"`). Codes are limited to 100..=599 as RFC 9110 §15 defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedStatus {
    /// A whole class: the digit is the hundreds (1..=5).
    Class(u8),
    /// One exact status code.
    Code(u16),
}

/// Why an `expected_status` rule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected_status entries are a class like \"2xx\" or a code from 100 to 599, got {0}")]
pub struct ExpectedStatusError(pub String);

impl ExpectedStatus {
    /// Whether `code` satisfies this rule.
    pub fn matches(self, code: u16) -> bool {
        match self {
            Self::Class(c) => code / 100 == u16::from(c),
            Self::Code(c) => code == c,
        }
    }

    /// Whether `code` satisfies any rule of `rules`.
    pub fn any_matches(rules: &[ExpectedStatus], code: u16) -> bool {
        rules.iter().any(|r| r.matches(code))
    }

    /// The default rule set: any 2xx.
    pub fn default_rules() -> Vec<ExpectedStatus> {
        vec![Self::Class(2)]
    }

    /// Parses `"2xx"`, `"2XX"` or `"301"`.
    pub fn parse(s: &str) -> Result<Self, ExpectedStatusError> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() == 3 && (b[1] == b'x' || b[1] == b'X') && (b[2] == b'x' || b[2] == b'X') {
            if (b'1'..=b'5').contains(&b[0]) {
                return Ok(Self::Class(b[0] - b'0'));
            }
            return Err(ExpectedStatusError(format!("\"{t}\"")));
        }
        match t.parse::<u16>() {
            Ok(code) => Self::from_code(code),
            Err(_) => Err(ExpectedStatusError(format!("\"{t}\""))),
        }
    }

    /// Accepts an exact code in 100..=599.
    pub fn from_code(code: u16) -> Result<Self, ExpectedStatusError> {
        if (100..=599).contains(&code) {
            Ok(Self::Code(code))
        } else {
            Err(ExpectedStatusError(code.to_string()))
        }
    }

    /// Renders a list for messages such as "expected 2xx or 301, got 503".
    pub fn describe(rules: &[ExpectedStatus]) -> String {
        rules.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or ")
    }
}

impl fmt::Display for ExpectedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Class(c) => write!(f, "{c}xx"),
            Self::Code(c) => write!(f, "{c}"),
        }
    }
}

impl Serialize for ExpectedStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Class(_) => s.serialize_str(&self.to_string()),
            Self::Code(c) => s.serialize_u16(*c),
        }
    }
}

impl<'de> Deserialize<'de> for ExpectedStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => u16::try_from(n)
                .map_err(|_| ExpectedStatusError(n.to_string()))
                .and_then(Self::from_code)
                .map_err(serde::de::Error::custom),
            Raw::Str(s) => Self::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// The OpenAPI schema of one rule, as it is accepted and returned: a class is a string
/// (`"2xx"`; `"2XX"` is accepted and returned lower-case), an exact code an integer (`301`;
/// the string `"301"` is accepted and returned as the integer).
impl utoipa::PartialSchema for ExpectedStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[1-5]([xX][xX]|[0-9][0-9])$"))
                    .description(Some("A class (\"2xx\": 200 to 299) or a code as a string (\"301\")"))
                    .examples([serde_json::json!("2xx")]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(100))
                    .maximum(Some(599))
                    .description(Some("One exact status code"))
                    .examples([serde_json::json!(301)]),
            )
            .description(Some("An accepted HTTP status: a class like \"2xx\" or a code like 301"))
            .into()
    }
}

impl utoipa::ToSchema for ExpectedStatus {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_codes_match_as_documented() {
        let rules: Vec<ExpectedStatus> = serde_json::from_str(r#"["2xx", 301, "404"]"#).unwrap();
        assert!(ExpectedStatus::any_matches(&rules, 200));
        assert!(ExpectedStatus::any_matches(&rules, 299));
        assert!(ExpectedStatus::any_matches(&rules, 301));
        assert!(ExpectedStatus::any_matches(&rules, 404));
        assert!(!ExpectedStatus::any_matches(&rules, 302));
        assert!(!ExpectedStatus::any_matches(&rules, 503));
        assert_eq!(ExpectedStatus::describe(&rules), "2xx or 301 or 404");
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rules = vec![ExpectedStatus::Class(3), ExpectedStatus::Code(418)];
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(json, r#"["3xx",418]"#);
        let back: Vec<ExpectedStatus> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rules);
    }

    #[test]
    fn out_of_range_and_garbage_are_rejected() {
        for bad in [r#"[99]"#, r#"[600]"#, r#"["6xx"]"#, r#"["abc"]"#, r#"[70000]"#, r#"["2x"]"#] {
            assert!(serde_json::from_str::<Vec<ExpectedStatus>>(bad).is_err(), "{bad}");
        }
    }
}
