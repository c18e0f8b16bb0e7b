//! The columns one activity segment's walk reads, and the postings of its hash fields, opened
//! once per segment (see `segment_cache`).

use std::sync::Arc;

use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::schema::Field;
use tantivy::{DocId, InvertedIndexReader, SegmentReader};

use super::schema::feed;
use super::terms::CachedTerms;
use super::walk::backend;
use crate::error::{Error, Result};

/// The columns and hash postings one segment's walk reads (opened once per segment, see
/// `segment_cache`).
pub(super) struct Columns {
    pub(super) published: Column<i64>,
    pub(super) id: StrColumn,
    pub(super) verb: StrColumn,
    pub(super) actor: StrColumn,
    pub(super) object: StrColumn,
    pub(super) target: StrColumn,
    /// The terms of verb, actor, object and target by ordinal, decoded once per segment.
    pub(super) terms: [CachedTerms; 4],
    /// The term hashes of actor, object and target.
    pub(super) hashes: [Column<u64>; 3],
    /// The indexed hash fields, and their postings.
    pub(super) hash_fields: [Field; 3],
    pub(super) postings: [Arc<InvertedIndexReader>; 3],
    /// Whether `published` and the three hashes hold one value per document (every activity
    /// has a target hash, `NO_ENTITY` when it has no target), so a scan reads them by ranges.
    pub(super) dense: bool,
}

impl Columns {
    pub(super) fn open(reader: &SegmentReader) -> Result<Columns> {
        let ff = reader.fast_fields();
        let str_column = |name: &str| -> Result<StrColumn> {
            ff.str(name)
                .map_err(backend)?
                .ok_or_else(|| Error::backend("embedded", format!("column {name} is missing")))
        };
        let schema = reader.schema();
        let hash_fields = feed::KEYS.map(|name| schema.get_field(name));
        let [Ok(actor), Ok(object), Ok(target)] = hash_fields else {
            return Err(Error::backend(
                "embedded",
                "an indexed hash field is missing",
            ));
        };
        let hash_fields = [actor, object, target];
        let postings = [
            reader.inverted_index(actor).map_err(backend)?,
            reader.inverted_index(object).map_err(backend)?,
            reader.inverted_index(target).map_err(backend)?,
        ];
        let published = ff.i64(feed::PUBLISHED).map_err(backend)?;
        let hashes = feed::HASHES.map(|name| ff.u64(name));
        let [Ok(actor_hash), Ok(object_hash), Ok(target_hash)] = hashes else {
            return Err(Error::backend("embedded", "a hash column is missing"));
        };
        let full = |cardinality| cardinality == Cardinality::Full;
        let dense = full(published.get_cardinality())
            && full(actor_hash.get_cardinality())
            && full(object_hash.get_cardinality())
            && full(target_hash.get_cardinality());
        let [verb, actor, object, target] =
            [feed::VERB, feed::ACTOR, feed::OBJECT, feed::TARGET].map(str_column);
        let (verb, actor, object, target) = (verb?, actor?, object?, target?);
        Ok(Columns {
            published,
            id: str_column(feed::ID)?,
            terms: [&verb, &actor, &object, &target].map(|c| CachedTerms::new(c.clone())),
            verb,
            actor,
            object,
            target,
            hashes: [actor_hash, object_hash, target_hash],
            hash_fields,
            postings,
            dense,
        })
    }

    /// The ordinal of an id in this segment, if a document of it has that id.
    pub(super) fn id_ord(&self, id: &str) -> Result<Option<u64>> {
        self.id
            .dictionary()
            .term_ord(id)
            .map_err(|e| Error::backend("embedded", e))
    }

    /// Whether document `doc` has the id of ordinal `ord`.
    pub(super) fn has_id_ord(&self, doc: DocId, ord: u64) -> bool {
        self.id.ords().first(doc) == Some(ord)
    }

    /// The id of document `doc`.
    pub(super) fn id_of(&self, doc: DocId) -> Result<String> {
        let mut out = String::new();
        let found = match self.id.ords().first(doc) {
            Some(ord) => self
                .id
                .ord_to_str(ord, &mut out)
                .map_err(|e| Error::backend("embedded", e))?,
            None => false,
        };
        if !found {
            return Err(Error::backend("embedded", "a stored activity has no id"));
        }
        Ok(out)
    }

    /// The column of a slot: actor, object, target.
    pub(super) fn entity(&self, slot: usize) -> &StrColumn {
        match slot {
            0 => &self.actor,
            1 => &self.object,
            _ => &self.target,
        }
    }
}
