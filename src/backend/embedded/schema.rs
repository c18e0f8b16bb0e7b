//! The tantivy schemas of the two indices, and conversion of activities and links to documents.
//!
//! Every field a read filters, groups or sorts on is a fast field, so the read path works on
//! columns and touches the document store only for the activities it returns.
//!
//! An entity (actor, object, target, a link's target) is kept twice: as the keyword `type:id`
//! (a column; the type has letters only, so the first `:` separates them) and as the 64-bit
//! hash of its id. The hash is what is indexed and what a read tests against a network: an
//! integer, the same in both indices, so a network is loaded and matched without a string per
//! link, and one posting list per id serves typed and untyped lookups alike. The keyword is
//! what confirms a match exactly, so two ids sharing a hash, or two types sharing an id, never
//! change a result. One indexed term per entity (rather than a keyword, an id and a hash) keeps
//! writes cheap.

use std::sync::Arc;

use tantivy::schema::{Field, NumericOptions, Schema, TextOptions, Value as _, FAST, STRING};
use tantivy::TantivyDocument;

use super::columns::Columns;
use super::network::LinkColumns;
use super::segment_cache::SegmentCache;
use super::vectors::VectorLog;
use crate::activity::{Activity, EntityKey};
use crate::error::{Error, Result};
use crate::network::{Link, LinkClass, LinkTarget};

/// Activity index field names.
pub(super) mod feed {
    pub(crate) const ID: &str = "feed_id";
    /// The hash of the id, indexed: lookups and deletes by id read its postings and compare
    /// the id column exactly (a 64-bit integer term costs writes a fraction of a 36-byte one).
    pub(crate) const ID_KEY: &str = "feed_id.hash";
    pub(crate) const PUBLISHED: &str = "published";
    pub(crate) const VERB: &str = "type";
    pub(crate) const ACTOR: &str = "actor";
    pub(crate) const OBJECT: &str = "object";
    pub(crate) const TARGET: &str = "target";
    /// The hash of the actor's id: a column, and indexed.
    pub(crate) const ACTOR_HASH: &str = "actor.hash";
    /// The hash of the object's id: a column, and indexed.
    pub(crate) const OBJECT_HASH: &str = "object.hash";
    /// The hash of the target's id, [`super::NO_ENTITY`] without a target: a column only.
    pub(crate) const TARGET_HASH: &str = "target.hash";
    /// The hash of the target's id, indexed (only for activities with a target).
    pub(crate) const TARGET_KEY: &str = "target.key";
    /// The hash columns, in the order of the entity slots (actor, object, target).
    pub(crate) const HASHES: [&str; 3] = [ACTOR_HASH, OBJECT_HASH, TARGET_HASH];
    /// The indexed hash fields, in the same order.
    pub(crate) const KEYS: [&str; 3] = [ACTOR_HASH, OBJECT_HASH, TARGET_KEY];
    pub(crate) const EMBEDDING_SLOT: &str = "embedding.slot";
    pub(crate) const SOURCE: &str = "_source";
}

/// Link index field names.
pub(super) mod link {
    pub(crate) const ID: &str = "link_id";
    pub(crate) const USER: &str = "actor_id";
    /// The user's hash: the link index is sorted by it, so a user's links lie together.
    pub(crate) const USER_HASH: &str = "actor_id.hash";
    pub(crate) const TARGET: &str = "linked_activity";
    /// The hash of the linked entity's id, as the activity index hashes entities.
    pub(crate) const TARGET_HASH: &str = "linked_activity.hash";
    /// The link's class: 0 follows an actor, 1 watches an object.
    pub(crate) const TARGET_CLASS: &str = "linked_activity.class";
    pub(crate) const LINK_TYPE: &str = "link_type";
    pub(crate) const LINKED: &str = "linked";
    pub(crate) const WEIGHT: &str = "weight";
    pub(crate) const HAS_EXTRA: &str = "has_extra";
    pub(crate) const SOURCE: &str = "_source";
}

/// A keyword that is indexed (for term postings) and a fast column (for per-document checks).
fn keyword_fast() -> TextOptions {
    STRING | FAST
}

/// A keyword kept as a column only (its postings are those of its hash).
fn column() -> TextOptions {
    TextOptions::default().set_fast("raw")
}

/// The stored JSON document, neither indexed nor a column.
fn source() -> TextOptions {
    TextOptions::default().set_stored()
}

/// The handles of the activity index's fields.
#[derive(Debug, Clone)]
pub(super) struct FeedFields {
    pub(super) id: Field,
    pub(super) id_key: Field,
    pub(super) published: Field,
    pub(super) verb: Field,
    pub(super) actor: Field,
    pub(super) object: Field,
    pub(super) target: Field,
    /// The hash columns of actor, object and target.
    pub(super) hashes: [Field; 3],
    /// The indexed hashes of actor, object and target (the target's only when it has one).
    pub(super) keys: [Field; 3],
    pub(super) embedding_slot: Field,
    pub(super) source: Field,
    /// The store's vector log, when it holds embeddings (so loads attach them).
    pub(super) vectors: Option<Arc<VectorLog>>,
    /// The columns reads open, per segment.
    pub(super) columns: Arc<SegmentCache<Columns>>,
}

impl FeedFields {
    pub(super) fn schema() -> Schema {
        let mut b = Schema::builder();
        b.add_text_field(feed::ID, column());
        b.add_u64_field(feed::ID_KEY, NumericOptions::default().set_indexed());
        b.add_i64_field(feed::PUBLISHED, NumericOptions::default().set_fast());
        b.add_text_field(feed::VERB, keyword_fast());
        for name in [feed::ACTOR, feed::OBJECT, feed::TARGET] {
            b.add_text_field(name, column());
        }
        for name in [feed::ACTOR_HASH, feed::OBJECT_HASH] {
            b.add_u64_field(name, NumericOptions::default().set_fast().set_indexed());
        }
        // Every activity has a target hash in the column (scans read it by ranges), but only
        // real targets are indexed.
        b.add_u64_field(feed::TARGET_HASH, NumericOptions::default().set_fast());
        b.add_u64_field(feed::TARGET_KEY, NumericOptions::default().set_indexed());
        // Where the activity's embedding is in the vector log (see `vectors`); the JSON source
        // never carries it.
        b.add_u64_field(feed::EMBEDDING_SLOT, NumericOptions::default().set_fast());
        b.add_text_field(feed::SOURCE, source());
        b.build()
    }

    pub(super) fn new(schema: &Schema) -> Result<Self> {
        let f = |name| field(schema, name);
        Ok(FeedFields {
            id: f(feed::ID)?,
            id_key: f(feed::ID_KEY)?,
            published: f(feed::PUBLISHED)?,
            verb: f(feed::VERB)?,
            actor: f(feed::ACTOR)?,
            object: f(feed::OBJECT)?,
            target: f(feed::TARGET)?,
            hashes: [
                f(feed::ACTOR_HASH)?,
                f(feed::OBJECT_HASH)?,
                f(feed::TARGET_HASH)?,
            ],
            keys: [
                f(feed::ACTOR_HASH)?,
                f(feed::OBJECT_HASH)?,
                f(feed::TARGET_KEY)?,
            ],
            embedding_slot: f(feed::EMBEDDING_SLOT)?,
            source: f(feed::SOURCE)?,
            vectors: None,
            columns: Arc::default(),
        })
    }

    /// The document of an activity whose embedding (if any) is in vector log slot `slot`.
    pub(super) fn document(
        &self,
        activity: &Activity,
        slot: Option<u64>,
    ) -> Result<TantivyDocument> {
        let id = activity.id().ok_or_else(|| {
            Error::backend("embedded", "activity without an id reached the store")
        })?;
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, id);
        doc.add_u64(self.id_key, id_hash(id));
        doc.add_i64(self.published, activity.published().timestamp_millis());
        doc.add_text(self.verb, activity.verb());
        let actor = activity.actor().key();
        doc.add_u64(self.hashes[0], id_hash(&actor.id));
        doc.add_text(self.actor, entity_term(actor));
        let object = activity.object().key();
        doc.add_u64(self.hashes[1], id_hash(&object.id));
        doc.add_text(self.object, entity_term(object));
        match activity.target() {
            Some(target) => {
                let hash = id_hash(target.id());
                doc.add_u64(self.hashes[2], hash);
                doc.add_u64(self.keys[2], hash);
                doc.add_text(self.target, entity_term(target.key()));
            }
            None => doc.add_u64(self.hashes[2], NO_ENTITY),
        }
        match (activity.embedding(), slot) {
            (Some(_), None) => {
                return Err(Error::backend(
                    "embedded",
                    "an embedding reached the store without a place in the vector log",
                ))
            }
            (Some(_), Some(slot)) => {
                doc.add_u64(self.embedding_slot, slot);
                let mut rest = activity.clone();
                rest.take_embedding();
                doc.add_text(self.source, to_json(&rest)?);
            }
            (None, _) => doc.add_text(self.source, to_json(activity)?),
        }
        Ok(doc)
    }
}

/// The handles of the link index's fields.
///
/// Every part of a link but its extra data is a column, so a network loads from columns alone;
/// the stored JSON is read only for links that carry extra data.
#[derive(Debug, Clone)]
pub(super) struct LinkFields {
    pub(super) id: Field,
    pub(super) user: Field,
    pub(super) user_hash: Field,
    pub(super) link_type: Field,
    pub(super) target: Field,
    pub(super) target_hash: Field,
    pub(super) target_class: Field,
    pub(super) linked: Field,
    pub(super) weight: Field,
    pub(super) has_extra: Field,
    pub(super) source: Field,
    /// The columns network loads open, per segment.
    pub(super) columns: Arc<SegmentCache<LinkColumns>>,
}

impl LinkFields {
    pub(super) fn schema() -> Schema {
        let mut b = Schema::builder();
        b.add_text_field(link::ID, keyword_fast());
        b.add_text_field(link::USER, keyword_fast());
        b.add_u64_field(link::USER_HASH, NumericOptions::default().set_fast());
        b.add_text_field(link::LINK_TYPE, column());
        b.add_text_field(link::TARGET, keyword_fast());
        b.add_u64_field(link::TARGET_HASH, NumericOptions::default().set_fast());
        b.add_u64_field(link::TARGET_CLASS, NumericOptions::default().set_fast());
        b.add_i64_field(link::LINKED, NumericOptions::default().set_fast());
        b.add_f64_field(link::WEIGHT, NumericOptions::default().set_fast());
        b.add_bool_field(link::HAS_EXTRA, NumericOptions::default().set_fast());
        b.add_text_field(link::SOURCE, source());
        b.build()
    }

    pub(super) fn new(schema: &Schema) -> Result<Self> {
        let f = |name| field(schema, name);
        Ok(LinkFields {
            id: f(link::ID)?,
            user: f(link::USER)?,
            user_hash: f(link::USER_HASH)?,
            link_type: f(link::LINK_TYPE)?,
            target: f(link::TARGET)?,
            target_hash: f(link::TARGET_HASH)?,
            target_class: f(link::TARGET_CLASS)?,
            linked: f(link::LINKED)?,
            weight: f(link::WEIGHT)?,
            has_extra: f(link::HAS_EXTRA)?,
            source: f(link::SOURCE)?,
            columns: Arc::default(),
        })
    }

    /// The document of `link`, whose [`LinkKey::doc_id`](crate::LinkKey::doc_id) is `id`
    /// (callers have it already: it is a SHA-256, worth computing once).
    pub(super) fn document(&self, link: &Link, id: &str) -> Result<TantivyDocument> {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, id);
        doc.add_text(self.user, link.user());
        doc.add_u64(self.user_hash, id_hash(link.user()));
        doc.add_text(self.link_type, &link.key().link_type);
        doc.add_text(self.target, link_target_term(link.target()));
        doc.add_u64(self.target_hash, id_hash(&link.target().id));
        doc.add_u64(self.target_class, class_code(link.target().class));
        doc.add_i64(self.linked, link.linked().timestamp_millis());
        doc.add_f64(self.weight, link.weight());
        doc.add_bool(self.has_extra, link.extra().is_some());
        doc.add_text(self.source, to_json(link)?);
        Ok(doc)
    }
}

/// The keyword an entity is indexed under: `type:id`.
pub(super) fn entity_term(key: &EntityKey) -> String {
    format!("{}:{}", key.kind, key.id)
}

/// The 64-bit hash of an id (an entity's, or a user's), stored beside the entity so a read can
/// test a document against a user's network with one integer lookup, and indexed so a read
/// finds an entity's activities without its keyword. A hash only admits a document: every
/// document it admits is checked against the exact `type:id`, so neither two ids sharing a hash
/// nor two types sharing an id ever change a result.
///
/// Never [`NO_ENTITY`], which stands for an activity without a target.
pub(super) fn id_hash(id: &str) -> u64 {
    match xxhash_rust::xxh3::xxh3_64(id.as_bytes()) {
        NO_ENTITY => 1,
        hash => hash,
    }
}

/// The target hash of an activity without a target: every activity has a target hash, so
/// scans read the column by ranges like the others.
pub(super) const NO_ENTITY: u64 = 0;

/// How a link's class is kept in its column.
pub(super) fn class_code(class: LinkClass) -> u64 {
    match class {
        LinkClass::Actor => 0,
        LinkClass::Object => 1,
    }
}

/// Splits `type:id` back into a key.
pub(super) fn parse_entity_term(term: &str) -> Option<EntityKey> {
    let (kind, id) = term.split_once(':')?;
    Some(EntityKey {
        kind: kind.to_owned(),
        id: id.to_owned(),
    })
}

/// The keyword a link target is indexed under: `class:type:id`.
pub(super) fn link_target_term(target: &LinkTarget) -> String {
    format!("{}:{}:{}", target.class.as_str(), target.kind, target.id)
}

/// Splits `class:type:id` back into a link target (`None` for anything else: a damaged store).
pub(super) fn parse_link_target_term(term: &str) -> Option<LinkTarget> {
    let (class, rest) = term.split_once(':')?;
    let (kind, id) = rest.split_once(':')?;
    Some(LinkTarget {
        class: LinkClass::parse(class).ok()?,
        id: id.to_owned(),
        kind: kind.to_owned(),
    })
}

/// Reads the stored JSON of a document back into a value of the model.
pub(super) fn from_source<T: serde::de::DeserializeOwned>(
    doc: &TantivyDocument,
    source: Field,
) -> Result<T> {
    let json = doc
        .get_first(source)
        .and_then(|v| v.as_str())
        .ok_or_else(|| Error::backend("embedded", "stored document has no source"))?;
    serde_json::from_str(json).map_err(|e| Error::backend("embedded", e))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::backend("embedded", e))
}

fn field(schema: &Schema, name: &str) -> Result<Field> {
    schema
        .get_field(name)
        .map_err(|e| Error::backend("embedded", e))
}
