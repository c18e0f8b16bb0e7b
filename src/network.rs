//! The network: who follows whom and what, stored once per relation.
//!
//! A [`Link`] goes from a user to an entity. Following an *actor* brings that actor's activities
//! into the user's feed; watching an *object* brings in activities whose object or target is that
//! entity. Either way only activities published at or after the link time count.
//!
//! A link's identity is `(user, link type, class, entity type, entity id)`: a follow and a watch
//! of the same entity are two links, and weight, time and extra are not part of the identity.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::activity::{format_timestamp, parse_timestamp, storable_timestamp, EntityKey};
use crate::error::{Error, Result};
use crate::validate;

/// Whether a link follows an actor or watches an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkClass {
    /// Matches activities whose actor is the linked entity.
    Actor,
    /// Matches activities whose object or target is the linked entity.
    Object,
}

impl LinkClass {
    /// `"actor"` or `"object"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkClass::Actor => "actor",
            LinkClass::Object => "object",
        }
    }

    /// Parses `"actor"` or `"object"` (exactly; the original refused other cases too).
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "actor" => Ok(LinkClass::Actor),
            "object" => Ok(LinkClass::Object),
            _ => Err(Error::InvalidLinkClass {
                value: value.to_owned(),
            }),
        }
    }
}

/// The entity a link points at: its class, type and id (the Python `linked_activity`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LinkTarget {
    /// Follow an actor or watch an object.
    #[serde(rename = "activity_class")]
    pub class: LinkClass,
    /// The entity's id.
    pub id: String,
    /// The entity's type, lower-case.
    #[serde(rename = "type")]
    pub kind: String,
}

impl LinkTarget {
    /// An actor to follow, for example `LinkTarget::actor("mark", "person")`.
    pub fn actor(id: &str, kind: &str) -> Result<Self> {
        Self::new(LinkClass::Actor, id, kind)
    }

    /// An object to watch, for example `LinkTarget::object("project-a", "project")`.
    pub fn object(id: &str, kind: &str) -> Result<Self> {
        Self::new(LinkClass::Object, id, kind)
    }

    fn new(class: LinkClass, id: &str, kind: &str) -> Result<Self> {
        validate::id("linked entity", id)?;
        Ok(LinkTarget {
            class,
            id: id.to_owned(),
            kind: validate::keyword("linked entity type", kind)?,
        })
    }

    /// Checks a target built from its public fields or deserialised, as the constructors would.
    pub fn check(&self) -> Result<()> {
        validate::id("linked entity", &self.id)?;
        validate::stored_keyword("linked entity type", &self.kind)
    }

    /// The `(type, id)` pair of the linked entity.
    pub fn entity(&self) -> EntityKey {
        EntityKey {
            kind: self.kind.clone(),
            id: self.id.clone(),
        }
    }
}

impl fmt::Display for LinkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.class.as_str(), self.kind, self.id)
    }
}

/// A link's identity: who links, how, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkKey {
    /// The user who follows or watches.
    #[serde(rename = "actor_id")]
    pub user: String,
    /// The kind of link: `follow`, `watch`, or your own (letters only, lower-case).
    pub link_type: String,
    /// What is linked.
    #[serde(rename = "linked_activity")]
    pub target: LinkTarget,
}

impl LinkKey {
    /// The identity of `user` following `target` with the link type `follow`.
    pub fn follow(user: &str, target: LinkTarget) -> Result<Self> {
        Self::new(user, "follow", target)
    }

    /// The identity of `user` watching `target` with the link type `watch`.
    pub fn watch(user: &str, target: LinkTarget) -> Result<Self> {
        Self::new(user, "watch", target)
    }

    /// A link identity with a link type of your own.
    pub fn new(user: &str, link_type: &str, target: LinkTarget) -> Result<Self> {
        validate::id("user", user)?;
        Ok(LinkKey {
            user: user.to_owned(),
            link_type: validate::keyword("link type", link_type)?,
            target,
        })
    }

    /// Checks an identity built from its public fields or deserialised, as the constructors
    /// would.
    pub fn check(&self) -> Result<()> {
        validate::id("user", &self.user)?;
        validate::stored_keyword("link type", &self.link_type)?;
        self.target.check()
    }

    /// A deterministic document id for this identity: the SHA-256 of its parts, in hex.
    ///
    /// Every backend stores a link under this id, so "does this link exist" is a lookup by id
    /// (exact and immediately consistent), never a search that may lag behind a recent write.
    pub fn doc_id(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.user.as_str(),
            self.link_type.as_str(),
            self.target.class.as_str(),
            self.target.kind.as_str(),
            self.target.id.as_str(),
        ] {
            // Length-prefix every part so no two identities share a byte string.
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        format!("{:x}", hash.finalize())
    }
}

impl fmt::Display for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -{}-> {}", self.user, self.link_type, self.target)
    }
}

/// A stored relation from a user to an entity.
///
/// ```
/// use elasticfeeds::{Link, LinkTarget};
///
/// let link = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .with_weight(2.0)?;
/// assert_eq!(link.weight(), 2.0);
/// # Ok::<(), elasticfeeds::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LinkDoc", into = "LinkDoc")]
pub struct Link {
    key: LinkKey,
    linked: DateTime<Utc>,
    weight: f64,
    extra: Option<Map<String, Value>>,
}

impl Link {
    /// A link made now, with weight 1.
    pub fn new(user: &str, link_type: &str, target: LinkTarget) -> Result<Self> {
        Ok(Self::from_key(LinkKey::new(user, link_type, target)?))
    }

    /// A link as a backend stored it: its parts were checked when it was written.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn stored(
        key: LinkKey,
        linked: DateTime<Utc>,
        weight: f64,
        extra: Option<Map<String, Value>>,
    ) -> Self {
        Link {
            key,
            linked,
            weight,
            extra,
        }
    }

    /// A link made now, with weight 1, from an identity.
    pub fn from_key(key: LinkKey) -> Self {
        Link {
            key,
            linked: Utc::now().trunc_subsecs(3),
            weight: 1.0,
            extra: None,
        }
    }

    /// Sets the link time: activities published before it never reach the feed through this link.
    pub fn linked_at(mut self, linked: DateTime<Utc>) -> Result<Self> {
        self.linked = storable_timestamp("linked", linked)?;
        Ok(self)
    }

    /// Sets the weight (any finite number; ranking aggregators use it).
    pub fn with_weight(mut self, weight: f64) -> Result<Self> {
        self.weight = check_weight(weight)?;
        Ok(self)
    }

    /// Attaches extra data; it must be a JSON object.
    pub fn with_extra(mut self, extra: Value) -> Result<Self> {
        self.extra = Some(validate::extra("link", extra)?);
        Ok(self)
    }

    /// Checks the link's identity (which [`Link::from_key`] takes as given).
    pub fn check(&self) -> Result<()> {
        self.key.check()
    }

    /// The link's identity.
    pub fn key(&self) -> &LinkKey {
        &self.key
    }

    /// The user who follows or watches.
    pub fn user(&self) -> &str {
        &self.key.user
    }

    /// What is linked.
    pub fn target(&self) -> &LinkTarget {
        &self.key.target
    }

    /// The link type (`follow`, `watch`, …).
    pub fn link_type(&self) -> &str {
        &self.key.link_type
    }

    /// When the link was made.
    pub fn linked(&self) -> DateTime<Utc> {
        self.linked
    }

    /// The weight.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// The extra data, if any.
    pub fn extra(&self) -> Option<&Map<String, Value>> {
        self.extra.as_ref()
    }

    /// Applies a change of weight or extra, keeping identity and link time (what a backend's
    /// `update_link` stores).
    pub fn apply(&mut self, change: &LinkChange) {
        if let Some(weight) = change.weight {
            self.weight = weight;
        }
        if let Some(extra) = &change.extra {
            self.extra = extra.clone();
        }
    }
}

fn check_weight(weight: f64) -> Result<f64> {
    if weight.is_finite() {
        Ok(weight)
    } else {
        Err(Error::InvalidWeight { value: weight })
    }
}

/// A change to a stored link's weight or extra data, without re-following (so the link time,
/// and with it the activities the link reaches, stay as they were).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkChange {
    pub(crate) weight: Option<f64>,
    pub(crate) extra: Option<Option<Map<String, Value>>>,
}

impl LinkChange {
    /// No change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a new weight (any finite number).
    pub fn weight(mut self, weight: f64) -> Result<Self> {
        self.weight = Some(check_weight(weight)?);
        Ok(self)
    }

    /// Replaces the extra data; `Value::Null` removes it, anything else must be an object.
    pub fn extra(mut self, extra: Value) -> Result<Self> {
        self.extra = Some(match extra {
            Value::Null => None,
            other => Some(validate::extra("link", other)?),
        });
        Ok(self)
    }
}

/// The stored link document, field for field as the Python library writes it.
#[derive(Serialize, Deserialize)]
struct LinkDoc {
    linked: Value,
    actor_id: String,
    link_type: String,
    linked_activity: LinkTargetDoc,
    #[serde(default = "one")]
    link_weight: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Map<String, Value>>,
}

#[derive(Serialize, Deserialize)]
struct LinkTargetDoc {
    activity_class: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

fn one() -> f64 {
    1.0
}

impl From<Link> for LinkDoc {
    fn from(link: Link) -> Self {
        LinkDoc {
            linked: Value::String(format_timestamp(&link.linked)),
            actor_id: link.key.user,
            link_type: link.key.link_type,
            linked_activity: LinkTargetDoc {
                activity_class: link.key.target.class.as_str().to_owned(),
                id: link.key.target.id,
                kind: link.key.target.kind,
            },
            link_weight: link.weight,
            extra: link.extra,
        }
    }
}

impl TryFrom<LinkDoc> for Link {
    type Error = Error;
    fn try_from(doc: LinkDoc) -> Result<Self> {
        let linked = parse_timestamp(&doc.linked).ok_or_else(|| Error::InvalidTimestamp {
            field: "linked",
            value: doc.linked.to_string(),
        })?;
        let target = LinkTarget::new(
            LinkClass::parse(&doc.linked_activity.activity_class)?,
            &doc.linked_activity.id,
            &doc.linked_activity.kind,
        )?;
        Ok(Link {
            key: LinkKey::new(&doc.actor_id, &doc.link_type, target)?,
            linked: storable_timestamp("linked", linked)?,
            weight: check_weight(doc.link_weight)?,
            extra: doc.extra,
        })
    }
}

/// A user's links, newest first, as loaded for a feed.
///
/// Cheap to clone. A backend may keep the links in its own compact form and make them into
/// [`Link`]s only when asked ([`Network::links`]): a feed read needs each link's class, entity,
/// time and weight, and the embedded backend reads those from columns without building a
/// string per link, which is what keeps a 5,000-link network cheap to read.
///
/// ```
/// use elasticfeeds::{Link, LinkTarget, Network};
///
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?;
/// let network = Network::new("carlos", vec![follow.clone()], 3);
/// assert_eq!((network.len(), network.total(), network.left_out()), (1, 3, 2));
/// assert_eq!(network.links()?, [follow]);
/// # Ok::<(), elasticfeeds::Error>(())
/// ```
#[derive(Clone)]
pub struct Network {
    user: String,
    links: Links,
    total: u64,
}

/// Where a network's links are: made in memory, or kept by a backend.
#[derive(Clone)]
pub(crate) enum Links {
    Owned(Arc<[Link]>),
    Stored(Arc<dyn StoredLinks>),
}

/// Links a backend keeps in its own form, made into [`Link`]s only when asked.
pub(crate) trait StoredLinks: fmt::Debug + Send + Sync + 'static {
    /// How many links there are.
    fn len(&self) -> usize;
    /// The class of link `i` (without making the link).
    fn class(&self, i: usize) -> LinkClass;
    /// Every link, in order.
    fn links(&self) -> Result<Vec<Link>>;
    /// The backend's own type, for the backend that made it.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Network {
    /// A network of links made in memory (newest first, as a backend would load them), of a
    /// user who has `total` links in all.
    pub fn new(user: impl Into<String>, links: Vec<Link>, total: u64) -> Network {
        Network {
            user: user.into(),
            links: Links::Owned(links.into()),
            total,
        }
    }

    /// A network whose links a backend keeps.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    pub(crate) fn stored(user: String, links: Arc<dyn StoredLinks>, total: u64) -> Network {
        Network {
            user,
            links: Links::Stored(links),
            total,
        }
    }

    /// Whose network this is.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// How many links the user has in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many links were loaded (at most the manager's `max_link_size`).
    pub fn len(&self) -> usize {
        match &self.links {
            Links::Owned(links) => links.len(),
            Links::Stored(links) => links.len(),
        }
    }

    /// Whether no link was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The links, newest first. Links a backend keeps are read from the store now; that can
    /// fail only if the store's files are damaged.
    pub fn links(&self) -> Result<Vec<Link>> {
        match &self.links {
            Links::Owned(links) => Ok(links.to_vec()),
            Links::Stored(links) => links.links(),
        }
    }

    /// How many of the user's (oldest) links were not loaded because of `max_link_size`.
    ///
    /// A feed built from this network reports the same number: links are never dropped silently.
    pub fn left_out(&self) -> u64 {
        self.total.saturating_sub(self.len() as u64)
    }

    pub(crate) fn link_store(&self) -> &Links {
        &self.links
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Network");
        out.field("user", &self.user).field("total", &self.total);
        match &self.links {
            Links::Owned(links) => out.field("links", links),
            Links::Stored(links) => out.field("links", links),
        };
        out.finish()
    }
}

impl PartialEq for Network {
    /// Equal users, totals and links (links a backend keeps are read to compare them; a
    /// network whose links cannot be read equals none).
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.total == other.total
            && self.len() == other.len()
            && matches!((self.links(), other.links()), (Ok(a), Ok(b)) if a == b)
    }
}

/// A network as it is serialised: its links in full.
#[derive(Serialize, Deserialize)]
struct NetworkDoc {
    user: String,
    links: Vec<Link>,
    total: u64,
}

impl Serialize for Network {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let links = self.links().map_err(serde::ser::Error::custom)?;
        NetworkDoc {
            user: self.user.clone(),
            links,
            total: self.total,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let doc = NetworkDoc::deserialize(deserializer)?;
        Ok(Network::new(doc.user, doc.links, doc.total))
    }
}

/// The links pointing at one entity, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Followers {
    /// The entity they point at.
    pub target: LinkTarget,
    /// The links, newest first, at most the limit asked for.
    pub links: Vec<Link>,
    /// How many links point at the entity in all.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn link_round_trips_as_the_python_document() {
        let link = Link::new(
            "carlos",
            "follow",
            LinkTarget::actor("mark", "Person").unwrap(),
        )
        .unwrap()
        .linked_at("2026-01-01T00:00:00Z".parse().unwrap())
        .unwrap();
        let doc = serde_json::to_value(&link).unwrap();
        assert_eq!(
            doc,
            json!({
                "linked": "2026-01-01T00:00:00.000Z",
                "actor_id": "carlos",
                "link_type": "follow",
                "linked_activity": {"activity_class": "actor", "id": "mark", "type": "person"},
                "link_weight": 1.0,
            })
        );
        assert_eq!(serde_json::from_value::<Link>(doc).unwrap(), link);
    }

    #[test]
    fn identity_ids_differ_by_every_part() {
        let t = LinkTarget::actor("mark", "person").unwrap();
        let a = LinkKey::follow("carlos", t.clone()).unwrap();
        let b = LinkKey::watch("carlos", t).unwrap();
        let c = LinkKey::follow("carlos", LinkTarget::object("mark", "person").unwrap()).unwrap();
        assert_ne!(a.doc_id(), b.doc_id());
        assert_ne!(a.doc_id(), c.doc_id());
        assert_eq!(a.doc_id(), a.clone().doc_id());
        assert_eq!(a.doc_id().len(), 64);
    }

    #[test]
    fn rejects_bad_links() {
        assert!(matches!(
            LinkClass::parse("Actor"),
            Err(Error::InvalidLinkClass { .. })
        ));
        assert!(matches!(
            Link::new(
                "carlos",
                "follow",
                LinkTarget::actor("m", "person").unwrap()
            )
            .unwrap()
            .with_weight(f64::NAN),
            Err(Error::InvalidWeight { .. })
        ));
        assert!(LinkKey::follow("two words", LinkTarget::actor("m", "p").unwrap()).is_err());
    }
}
