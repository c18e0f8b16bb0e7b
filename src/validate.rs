//! The validation rules shared by every input type.
//!
//! Ids are stored exactly as given; types and verbs are stored lower-case. The rules are stricter
//! than the Python original's (which only refused ASCII spaces in ids) because a blank, multi-line
//! or oversized id is never what a caller meant, and every engine handles the strict form the same.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The longest id or keyword accepted, in bytes (Elasticsearch's `_id` limit).
pub const MAX_ID_BYTES: usize = 512;

/// Checks an id: non-empty, at most [`MAX_ID_BYTES`] bytes, no whitespace or control characters,
/// and not `.` or `..` (a cluster addresses a document by its id in a URL path, where those two
/// are path steps, even percent-encoded).
pub(crate) fn id(field: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.len() > MAX_ID_BYTES {
        "it is longer than 512 bytes"
    } else if value.chars().any(char::is_whitespace) {
        "it contains whitespace"
    } else if value.chars().any(char::is_control) {
        "it contains a control character"
    } else if value == "." || value == ".." {
        "`.` and `..` are path steps in a URL, where a cluster names a document"
    } else {
        return Ok(());
    };
    Err(Error::InvalidId {
        field,
        value: value.to_owned(),
        reason,
    })
}

/// Checks a type, verb or link type (letters only, 1 to 512 bytes) and returns it lower-cased.
///
/// "Letters" means Unicode alphabetic characters, so `año` is accepted and `post_2` is not.
pub(crate) fn keyword(field: &'static str, value: &str) -> Result<String> {
    let refuse = || Error::InvalidKeyword {
        field,
        value: value.to_owned(),
    };
    if value.is_empty() || value.len() > MAX_ID_BYTES || !value.chars().all(char::is_alphabetic) {
        return Err(refuse());
    }
    // Lower-casing can add non-letters (`İ` becomes `i` and a combining dot): such a keyword
    // could never be read back as valid, so it is refused here.
    let lower = value.to_lowercase();
    if lower.len() > MAX_ID_BYTES || !lower.chars().all(char::is_alphabetic) {
        return Err(refuse());
    }
    Ok(lower)
}

/// Checks a keyword that must already be in its stored form (letters, lower-case), as in values
/// built from public fields or deserialised rather than through a constructor.
pub(crate) fn stored_keyword(field: &'static str, value: &str) -> Result<()> {
    if keyword(field, value)? != value {
        return Err(Error::InvalidKeyword {
            field,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks that an `extra` value is a JSON object and returns the object.
pub(crate) fn extra(field: &'static str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::InvalidExtra {
            field,
            found: json_kind(&other),
        }),
    }
}

/// Checks a size against its allowed range.
pub(crate) fn size(what: &'static str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        return Err(Error::InvalidSize {
            what,
            value: value as u64,
            min: min as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Checks an index name with the rules Elasticsearch and OpenSearch apply, so a name that works on
/// one backend works on all: lower-case ASCII letters, digits, `-` and `_`, not starting with `-`
/// or `_`, 1 to 255 bytes.
pub(crate) fn index_name(value: &str) -> Result<()> {
    let reason = if value.is_empty() || value.len() > 255 {
        "it must be 1 to 255 bytes long"
    } else if value.starts_with(['-', '_']) {
        "it may not start with '-' or '_'"
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        "only lower-case ASCII letters, digits, '-' and '_' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidIndexName {
        value: value.to_owned(),
        reason,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(id("actor", "carlos").is_ok());
        assert!(id("actor", "50a808d3-1c2b").is_ok());
        for bad in [
            "",
            "two words",
            "tab\there",
            "new\nline",
            ".",
            "..",
            &"x".repeat(513),
        ] {
            assert!(
                matches!(id("actor", bad), Err(Error::InvalidId { .. })),
                "{bad:?}"
            );
        }
        assert!(id("actor", &"x".repeat(512)).is_ok());
        assert!(id("actor", "...").is_ok() && id("actor", ".hidden").is_ok());
    }

    #[test]
    fn keywords() {
        assert_eq!(keyword("verb", "Add").unwrap(), "add");
        assert_eq!(keyword("verb", "AÑO").unwrap(), "año");
        for bad in ["", "post_2", "two words", "a-b", "x1", "İzmir"] {
            assert!(
                matches!(keyword("verb", bad), Err(Error::InvalidKeyword { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stored_keywords() {
        assert!(stored_keyword("verb", "año").is_ok());
        for bad in ["", "Add", "ǅ", "a1", "i\u{307}", &"x".repeat(513)] {
            assert!(stored_keyword("verb", bad).is_err(), "{bad:?}");
        }
        // Whatever `keyword` produces, `stored_keyword` accepts.
        for raw in ["Add", "AÑO", "Straße", "ǅemal"] {
            let lower = keyword("verb", raw).unwrap();
            assert!(
                stored_keyword("verb", &lower).is_ok(),
                "{raw:?} -> {lower:?}"
            );
        }
    }

    #[test]
    fn index_names() {
        assert!(index_name("feeds").is_ok());
        assert!(index_name("my_feeds-2").is_ok());
        for bad in ["", "Feeds", "_x", "-x", "a b", "a.b"] {
            assert!(index_name(bad).is_err(), "{bad:?}");
        }
    }
}
