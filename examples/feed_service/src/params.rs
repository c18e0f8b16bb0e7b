//! Query-string parameters taken one by one, so that a parameter the route does not know is an
//! error that names it instead of being ignored.
//!
//! A feed's parameters depend on its aggregator, which serde's derive cannot express over a
//! query string (an internally tagged enum reads every value as a string). Taking them by name
//! and refusing what is left over gives each aggregator its own parameters and a clear 400 for
//! a typo (`pagesize=5`) or a parameter of another aggregator.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::ApiError;

/// The parameters of one request, by name.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// From the pairs of a query string; a name given twice is refused.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if values.contains_key(&name) {
                return Err(invalid(format!("parameter `{name}` is given twice")));
            }
            values.insert(name, value);
        }
        Ok(Params { values })
    }

    /// The raw value of `name`, if given.
    pub(crate) fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// `name` parsed as `T` (a number), if given.
    pub(crate) fn number<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(name)
            .map(|value| {
                value.parse().map_err(|e| {
                    invalid(format!(
                        "parameter `{name}`: {value:?} is not a valid number ({e})"
                    ))
                })
            })
            .transpose()
    }

    /// `name` as an RFC 3339 time (`2026-01-31T12:00:00Z`), if given.
    pub(crate) fn time(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.text(name)
            .map(|value| {
                DateTime::parse_from_rfc3339(&value)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        invalid(format!(
                            "parameter `{name}`: {value:?} is not an RFC 3339 time ({e})"
                        ))
                    })
            })
            .transpose()
    }

    /// `name` as a comma-separated list, if given.
    pub(crate) fn list(&mut self, name: &str) -> Option<Vec<String>> {
        self.text(name)
            .map(|value| value.split(',').map(str::to_owned).collect())
    }

    /// Refuses whatever was not taken: `what` takes only `known`.
    pub(crate) fn finish(
        self,
        what: impl std::fmt::Display,
        known: &[&str],
    ) -> Result<(), ApiError> {
        match self.values.into_keys().next() {
            None => Ok(()),
            Some(name) => Err(invalid(format!(
                "unknown parameter `{name}` for {what}; it takes: {}",
                if known.is_empty() {
                    "no parameters".to_owned()
                } else {
                    known.join(", ")
                }
            ))),
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_parameter", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Result<Params, ApiError> {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn values_are_taken_once_and_leftovers_are_named() {
        let mut p = params(&[
            ("page_size", "5"),
            ("verbs", "post,like"),
            ("pagesize", "2"),
        ])
        .unwrap();
        assert_eq!(p.number::<usize>("page_size").unwrap(), Some(5));
        assert_eq!(p.number::<usize>("page_size").unwrap(), None);
        assert_eq!(p.list("verbs"), Some(vec!["post".into(), "like".into()]));
        let error = p
            .finish("aggregator `flat`", &["page_size", "verbs"])
            .unwrap_err();
        assert_eq!(error.code, "invalid_parameter");
        assert!(error.message.contains("`pagesize`"), "{}", error.message);
        assert!(
            error.message.contains("page_size, verbs"),
            "{}",
            error.message
        );
    }

    #[test]
    fn bad_values_and_repeats_are_refused() {
        assert!(params(&[("a", "1"), ("a", "2")]).is_err());
        let mut p = params(&[
            ("n", "-1"),
            ("t", "yesterday"),
            ("ok", "2026-01-31T12:00:00+01:00"),
        ])
        .unwrap();
        assert!(p.number::<usize>("n").is_err());
        assert!(p.time("t").is_err());
        assert_eq!(
            p.time("ok").unwrap().map(|t| t.to_rfc3339()),
            Some("2026-01-31T11:00:00+00:00".to_owned())
        );
        p.finish("x", &[]).unwrap();
    }
}
