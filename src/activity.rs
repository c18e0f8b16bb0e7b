//! Activities and the entities they involve.
//!
//! An activity says that an *actor* did something (the *verb*) to an *object*, maybe moving it
//! from an *origin* to a *target*, at a *published* time: "carlos added form F1 to project A".
//! Every entity is identified by its `(type, id)` pair, so `person:mark` and `bot:mark` are two
//! different entities.
//!
//! The serialised form of an [`Activity`] is the document the Python ElasticFeeds library stores,
//! calendar helper fields included, so the same JSON goes to every backend and back.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, SubsecRound, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::validate;

/// The `(type, id)` pair that identifies an entity, without its extra data.
///
/// Displayed as `type:id`; the type has letters only, so the first `:` always separates the two.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    /// The entity's type, lower-case letters.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entity's id, as given.
    pub id: String,
}

impl EntityKey {
    /// Builds a key, validating the id and lower-casing the type.
    pub fn new(id: &str, kind: &str) -> Result<Self> {
        validate::id("entity", id)?;
        Ok(EntityKey {
            kind: validate::keyword("entity type", kind)?,
            id: id.to_owned(),
        })
    }
}

impl EntityKey {
    /// Checks a key built from its public fields: a valid id and a lower-case letters-only
    /// type, as [`EntityKey::new`] would have made it.
    pub fn check(&self) -> Result<()> {
        validate::id("entity", &self.id)?;
        validate::stored_keyword("entity type", &self.kind)
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// The serialised form shared by the four entity types: `{"id", "type", "extra"?}`.
#[derive(Serialize, Deserialize)]
struct EntityDoc {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Map<String, Value>>,
}

macro_rules! entity {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "EntityDoc", into = "EntityDoc")]
        pub struct $name {
            key: EntityKey,
            extra: Option<Map<String, Value>>,
        }

        impl $name {
            #[doc = concat!("Builds the ", $field, " `type:id`, validating both (the type is stored lower-case).")]
            pub fn new(id: &str, kind: &str) -> Result<Self> {
                validate::id($field, id)?;
                let kind = validate::keyword(concat!($field, " type"), kind)?;
                Ok($name { key: EntityKey { kind, id: id.to_owned() }, extra: None })
            }

            /// Attaches extra data; it must be a JSON object. It is stored and returned, never
            /// searched.
            pub fn with_extra(mut self, extra: Value) -> Result<Self> {
                self.extra = Some(validate::extra($field, extra)?);
                Ok(self)
            }

            /// The id, as given.
            pub fn id(&self) -> &str {
                &self.key.id
            }

            /// The type, lower-case.
            pub fn kind(&self) -> &str {
                &self.key.kind
            }

            /// The `(type, id)` pair.
            pub fn key(&self) -> &EntityKey {
                &self.key
            }

            /// The extra data, if any.
            pub fn extra(&self) -> Option<&Map<String, Value>> {
                self.extra.as_ref()
            }
        }

        impl TryFrom<EntityDoc> for $name {
            type Error = Error;
            fn try_from(doc: EntityDoc) -> Result<Self> {
                let mut entity = $name::new(&doc.id, &doc.kind)?;
                entity.extra = doc.extra;
                Ok(entity)
            }
        }

        impl From<$name> for EntityDoc {
            fn from(entity: $name) -> EntityDoc {
                EntityDoc { id: entity.key.id, kind: entity.key.kind, extra: entity.extra }
            }
        }
    };
}

entity!(
    /// Who did it: a person, a bot, an organisation… (`type:id`).
    Actor,
    "actor"
);
entity!(
    /// What it was done to: a post, a project, a form… (`type:id`).
    Object,
    "object"
);
entity!(
    /// Where the object came from, for verbs such as `move`. Never used to match a feed.
    Origin,
    "origin"
);
entity!(
    /// Where the object went, or whom the activity addresses. A watch of an entity matches
    /// activities whose object *or* target is that entity; a notification to a user is an
    /// activity whose target is that user.
    Target,
    "target"
);

/// Formats a timestamp the way every backend stores it: RFC 3339, UTC, milliseconds.
pub(crate) fn format_timestamp(ts: &DateTime<Utc>) -> String {
    // Integer formatting: chrono's `format` parses its pattern on every call, which showed in
    // bulk writes. Stored times are in years 1 to 9999 (see `storable_timestamp`).
    format!(
        "{}T{}.{:03}Z",
        format_date(ts),
        format_time(ts),
        ts.timestamp_subsec_millis()
    )
}

/// `YYYY-MM-DD` (UTC).
fn format_date(ts: &DateTime<Utc>) -> String {
    format!("{:04}-{:02}-{:02}", ts.year(), ts.month(), ts.day())
}

/// `HH:MM:SS` (UTC).
fn format_time(ts: &DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", ts.hour(), ts.minute(), ts.second())
}

/// Parses a stored timestamp: RFC 3339 with any offset, a zone-less ISO time (which Elasticsearch
/// and the Python library read as UTC), or epoch milliseconds.
pub(crate) fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|t| t.and_utc())
            }),
        _ => None,
    }
}

/// Checks that a timestamp is storable everywhere and truncates it to the millisecond.
pub(crate) fn storable_timestamp(field: &'static str, ts: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if !(1..=9999).contains(&ts.year()) {
        return Err(Error::InvalidTimestamp {
            field,
            value: ts.to_rfc3339(),
        });
    }
    Ok(ts.trunc_subsecs(3))
}

/// One thing that happened: `actor` did `verb` to `object`, at `published`.
///
/// `published` is kept to the millisecond: sub-millisecond digits are dropped when the activity is
/// built, so the value you hold is the value every backend stores. Calendar fields derived from it
/// (`published_date`, year, month) are in UTC.
///
/// ```
/// use elasticfeeds::{Activity, Actor, Object, Target};
///
/// let activity = Activity::new(
///     "add",
///     Actor::new("carlos", "person")?,
///     Object::new("f1", "form")?,
/// )?
/// .with_target(Target::new("project-a", "project")?);
/// assert_eq!(activity.verb(), "add");
/// assert!(activity.id().is_none()); // the store assigns one unless you give it
/// # Ok::<(), elasticfeeds::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ActivityDoc")]
pub struct Activity {
    id: Option<String>,
    verb: String,
    actor: Actor,
    object: Object,
    origin: Option<Origin>,
    target: Option<Target>,
    published: DateTime<Utc>,
    extra: Option<Map<String, Value>>,
    embedding: Option<Vec<f32>>,
}

impl Activity {
    /// Builds an activity published now; the verb is validated and lower-cased.
    pub fn new(verb: &str, actor: Actor, object: Object) -> Result<Self> {
        Ok(Activity {
            id: None,
            verb: validate::keyword("verb", verb)?,
            actor,
            object,
            origin: None,
            target: None,
            published: Utc::now().trunc_subsecs(3),
            extra: None,
            embedding: None,
        })
    }

    /// Gives the activity its own id. Adding an activity whose id is already stored for the same
    /// actor replaces it, so a retried write never duplicates.
    pub fn with_id(mut self, id: &str) -> Result<Self> {
        validate::id("activity", id)?;
        self.id = Some(id.to_owned());
        Ok(self)
    }

    /// Sets where the object came from.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Sets where the object went, or whom the activity addresses.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Sets the publication time (truncated to the millisecond; years 1 to 9999).
    pub fn published_at(mut self, published: DateTime<Utc>) -> Result<Self> {
        self.published = storable_timestamp("published", published)?;
        Ok(self)
    }

    /// Attaches extra data; it must be a JSON object. It is stored and returned, never searched.
    pub fn with_extra(mut self, extra: Value) -> Result<Self> {
        self.extra = Some(validate::extra("activity", extra)?);
        Ok(self)
    }

    /// Attaches an embedding: the vector a model of your choice computed for this activity, for
    /// semantic feeds. It needs 1 to [`MAX_DIMENSIONS`](crate::embedding::MAX_DIMENSIONS)
    /// finite values, else [`Error::InvalidVector`]; the store checks the rest (its length and
    /// similarity, see [`EmbeddingSpace`](crate::EmbeddingSpace)) when the activity is added.
    /// Stored and read back exactly.
    ///
    /// ```
    /// use elasticfeeds::{Activity, Actor, Object};
    ///
    /// let post = Activity::new("post", Actor::new("mark", "person")?, Object::new("p1", "post")?)?
    ///     .with_embedding(vec![0.1, 0.7, 0.2])?;
    /// assert_eq!(post.embedding(), Some(&[0.1, 0.7, 0.2][..]));
    /// # Ok::<(), elasticfeeds::Error>(())
    /// ```
    pub fn with_embedding(mut self, embedding: Vec<f32>) -> Result<Self> {
        crate::embedding::check_values("embedding", &embedding)?;
        self.embedding = Some(embedding);
        Ok(self)
    }

    /// The embedding, if any.
    pub fn embedding(&self) -> Option<&[f32]> {
        self.embedding.as_deref()
    }

    /// Takes the embedding out (a backend that stores it apart from the document).
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn take_embedding(&mut self) -> Option<Vec<f32>> {
        self.embedding.take()
    }

    /// Puts back an embedding read from the store (already checked when it was written).
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn set_embedding(&mut self, embedding: Vec<f32>) {
        self.embedding = Some(embedding);
    }

    /// The id: the caller's, or the one the store assigned. `None` before the activity is added.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The verb, lower-case.
    pub fn verb(&self) -> &str {
        &self.verb
    }

    /// Who did it.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// What it was done to.
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// Where the object came from, if given.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Where the object went, if given.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// When it happened (UTC, millisecond precision).
    pub fn published(&self) -> DateTime<Utc> {
        self.published
    }

    /// The extra data, if any.
    pub fn extra(&self) -> Option<&Map<String, Value>> {
        self.extra.as_ref()
    }

    #[cfg_attr(not(any(feature = "embedded", feature = "cluster")), allow(dead_code))]
    pub(crate) fn set_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

/// The stored document, field for field as the Python library writes it, as read back (the
/// calendar fields are derived from `published`, so they are not read; see [`ActivityDocRef`]
/// for the written form).
#[derive(Deserialize)]
struct ActivityDoc {
    published: Value,
    #[serde(rename = "type")]
    verb: String,
    actor: Actor,
    object: Object,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feed_id: Option<String>,
}

/// The stored document as written: [`ActivityDoc`]'s fields, borrowed from the activity (every
/// stored activity is serialised once; cloning it first cost as much as the JSON).
#[derive(Serialize)]
struct ActivityDocRef<'a> {
    published: String,
    published_date: String,
    published_time: String,
    published_year: i32,
    published_month: u32,
    #[serde(rename = "type")]
    verb: &'a str,
    actor: &'a Actor,
    object: &'a Object,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_id: Option<&'a str>,
}

impl Serialize for Activity {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let published = &self.published;
        ActivityDocRef {
            published: format_timestamp(published),
            published_date: format_date(published),
            published_time: format_time(published),
            published_year: published.year(),
            published_month: published.month(),
            verb: &self.verb,
            actor: &self.actor,
            object: &self.object,
            origin: self.origin.as_ref(),
            target: self.target.as_ref(),
            extra: self.extra.as_ref(),
            embedding: self.embedding.as_deref(),
            feed_id: self.id.as_deref(),
        }
        .serialize(serializer)
    }
}

impl TryFrom<ActivityDoc> for Activity {
    type Error = Error;
    fn try_from(doc: ActivityDoc) -> Result<Self> {
        let published = parse_timestamp(&doc.published).ok_or_else(|| Error::InvalidTimestamp {
            field: "published",
            value: doc.published.to_string(),
        })?;
        if let Some(id) = &doc.feed_id {
            validate::id("activity", id)?;
        }
        if let Some(embedding) = &doc.embedding {
            crate::embedding::check_values("embedding", embedding)?;
        }
        Ok(Activity {
            id: doc.feed_id,
            verb: validate::keyword("verb", &doc.verb)?,
            actor: doc.actor,
            object: doc.object,
            origin: doc.origin,
            target: doc.target,
            published: storable_timestamp("published", published)?,
            extra: doc.extra,
            embedding: doc.embedding,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Activity {
        Activity::new(
            "Add",
            Actor::new("carlos", "Person").unwrap(),
            Object::new("f1", "form").unwrap(),
        )
        .unwrap()
        .with_target(Target::new("a", "project").unwrap())
        .published_at(Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap())
        .unwrap()
    }

    #[test]
    fn serialises_the_python_document() {
        let doc = serde_json::to_value(sample().with_id("x1").unwrap()).unwrap();
        assert_eq!(
            doc,
            json!({
                "published": "2020-01-02T03:04:05.000Z",
                "published_date": "2020-01-02",
                "published_time": "03:04:05",
                "published_year": 2020,
                "published_month": 1,
                "type": "add",
                "actor": {"id": "carlos", "type": "person"},
                "object": {"id": "f1", "type": "form"},
                "target": {"id": "a", "type": "project"},
                "feed_id": "x1",
            })
        );
        let back: Activity = serde_json::from_value(doc).unwrap();
        assert_eq!(back, sample().with_id("x1").unwrap());
    }

    #[test]
    fn reads_python_zone_less_timestamps_as_utc() {
        let doc = json!({
            "published": "2020-01-02T03:04:05.123456",
            "type": "add",
            "actor": {"id": "carlos", "type": "person"},
            "object": {"id": "f1", "type": "form"},
        });
        let a: Activity = serde_json::from_value(doc).unwrap();
        assert_eq!(
            a.published(),
            Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap()
                + chrono::Duration::milliseconds(123)
        );
    }

    #[test]
    fn deserialising_validates() {
        let doc = json!({
            "published": "2020-01-02T03:04:05Z",
            "type": "add",
            "actor": {"id": "two words", "type": "person"},
            "object": {"id": "f1", "type": "form"},
        });
        assert!(serde_json::from_value::<Activity>(doc).is_err());
    }

    #[test]
    fn default_published_is_now_to_the_millisecond() {
        let before = Utc::now().trunc_subsecs(3);
        let a = sample_now();
        let after = Utc::now();
        assert!(a.published() >= before && a.published() <= after);
        assert_eq!(a.published().timestamp_subsec_nanos() % 1_000_000, 0);
    }

    fn sample_now() -> Activity {
        Activity::new(
            "add",
            Actor::new("c", "person").unwrap(),
            Object::new("o", "post").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn rejects_bad_extra_and_years() {
        assert!(matches!(
            sample_now().with_extra(json!([1])),
            Err(Error::InvalidExtra { .. })
        ));
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            sample_now().published_at(far),
            Err(Error::InvalidTimestamp { .. })
        ));
    }
}
