//! The tantivy schemas of the two indices, and conversion of activities and links to documents.
//!
//! Every field a read filters, groups or sorts on is a fast field, so the read path works on
//! columns and touches the document store only for the activities it returns. Entities are
//! indexed as one keyword `type:id` (the type has letters only, so the first `:` separates them),
//! and ids alone as a second keyword for filters that give no type.

use std::sync::Arc;

use tantivy::schema::{
    Field, NumericOptions, Schema, TextOptions, Value as _, FAST, STORED, STRING,
};
use tantivy::TantivyDocument;

use super::read::LinkColumns;
use super::segment_cache::SegmentCache;
use super::vectors::VectorLog;
use super::walk::Columns;
use crate::activity::{Activity, EntityKey};
use crate::error::{Error, Result};
use crate::network::{Link, LinkClass, LinkTarget};

/// Activity index field names.
pub(super) mod feed {
    pub(crate) const ID: &str = "feed_id";
    pub(crate) const PUBLISHED: &str = "published";
    pub(crate) const VERB: &str = "type";
    pub(crate) const ACTOR: &str = "actor";
    pub(crate) const ACTOR_ID: &str = "actor.id";
    pub(crate) const ACTOR_HASH: &str = "actor.hash";
    pub(crate) const OBJECT_HASH: &str = "object.hash";
    pub(crate) const TARGET_HASH: &str = "target.hash";
    pub(crate) const OBJECT: &str = "object";
    pub(crate) const OBJECT_ID: &str = "object.id";
    pub(crate) const TARGET: &str = "target";
    pub(crate) const TARGET_ID: &str = "target.id";
    pub(crate) const EMBEDDING_SLOT: &str = "embedding.slot";
    pub(crate) const SOURCE: &str = "_source";
}

/// Link index field names.
pub(super) mod link {
    pub(crate) const ID: &str = "link_id";
    pub(crate) const USER: &str = "actor_id";
    pub(crate) const TARGET: &str = "linked_activity";
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

/// The stored JSON document, neither indexed nor a column.
fn source() -> TextOptions {
    TextOptions::default().set_stored()
}

/// The handles of the activity index's fields.
#[derive(Debug, Clone)]
pub(super) struct FeedFields {
    pub(super) id: Field,
    pub(super) published: Field,
    pub(super) verb: Field,
    pub(super) actor: Field,
    pub(super) actor_id: Field,
    pub(super) object: Field,
    pub(super) object_id: Field,
    pub(super) target: Field,
    pub(super) target_id: Field,
    pub(super) hashes: [Field; 3],
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
        b.add_text_field(feed::ID, keyword_fast() | STORED);
        b.add_i64_field(feed::PUBLISHED, NumericOptions::default().set_fast());
        b.add_text_field(feed::VERB, keyword_fast());
        b.add_text_field(feed::ACTOR, keyword_fast());
        b.add_text_field(feed::ACTOR_ID, STRING);
        b.add_text_field(feed::OBJECT, keyword_fast());
        b.add_text_field(feed::OBJECT_ID, STRING);
        b.add_text_field(feed::TARGET, keyword_fast());
        b.add_text_field(feed::TARGET_ID, STRING);
        for name in [feed::ACTOR_HASH, feed::OBJECT_HASH, feed::TARGET_HASH] {
            b.add_u64_field(name, NumericOptions::default().set_fast());
        }
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
            published: f(feed::PUBLISHED)?,
            verb: f(feed::VERB)?,
            actor: f(feed::ACTOR)?,
            actor_id: f(feed::ACTOR_ID)?,
            object: f(feed::OBJECT)?,
            object_id: f(feed::OBJECT_ID)?,
            target: f(feed::TARGET)?,
            target_id: f(feed::TARGET_ID)?,
            hashes: [
                f(feed::ACTOR_HASH)?,
                f(feed::OBJECT_HASH)?,
                f(feed::TARGET_HASH)?,
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
        doc.add_i64(self.published, activity.published().timestamp_millis());
        doc.add_text(self.verb, activity.verb());
        let actor = entity_term(activity.actor().key());
        doc.add_u64(self.hashes[0], term_hash(&actor));
        doc.add_text(self.actor, actor);
        doc.add_text(self.actor_id, activity.actor().id());
        let object = entity_term(activity.object().key());
        doc.add_u64(self.hashes[1], term_hash(&object));
        doc.add_text(self.object, object);
        doc.add_text(self.object_id, activity.object().id());
        if let Some(target) = activity.target() {
            let target_term = entity_term(target.key());
            doc.add_u64(self.hashes[2], term_hash(&target_term));
            doc.add_text(self.target, target_term);
            doc.add_text(self.target_id, target.id());
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
    pub(super) link_type: Field,
    pub(super) target: Field,
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
        b.add_text_field(link::ID, keyword_fast() | STORED);
        b.add_text_field(link::USER, keyword_fast());
        b.add_text_field(link::LINK_TYPE, TextOptions::default().set_fast("raw"));
        b.add_text_field(link::TARGET, keyword_fast());
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
            link_type: f(link::LINK_TYPE)?,
            target: f(link::TARGET)?,
            linked: f(link::LINKED)?,
            weight: f(link::WEIGHT)?,
            has_extra: f(link::HAS_EXTRA)?,
            source: f(link::SOURCE)?,
            columns: Arc::default(),
        })
    }

    pub(super) fn document(&self, link: &Link) -> Result<TantivyDocument> {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, link.key().doc_id());
        doc.add_text(self.user, link.user());
        doc.add_text(self.link_type, &link.key().link_type);
        doc.add_text(self.target, link_target_term(link.target()));
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

/// The 64-bit hash of an entity term, stored beside it so a read can test a document against a
/// user's network with one integer lookup. A hash only pre-filters: every document it lets
/// through is checked against the exact term, so a collision never changes a result.
pub(super) fn term_hash(term: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(term.as_bytes())
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
