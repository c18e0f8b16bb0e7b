//! Links read from the link index for a feed: kept as the columns a feed read needs (class,
//! entity hash, time, weight) and made into [`Link`]s only when asked.
//!
//! The link index is sorted by the user's hash, so one user's links lie together in each
//! segment and their columns are read front to back. Loading a 5,000-link network this way
//! costs a few hundred microseconds; making 5,000 `Link`s (four strings each, every target
//! looked up in a dictionary) costs ten times that, which is why a feed read never does.

use std::any::Any;
use std::sync::Arc;

use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet, Searcher, SegmentReader, Term, TERMINATED};

use super::read::load;
use super::schema::{link, parse_link_target_term, LinkFields};
use super::terms::CachedTerms;
use super::walk::timestamp;
use crate::error::{Error, Result};
use crate::network::{Link, LinkClass, LinkKey, StoredLinks};

/// One link as a feed read needs it, and where the rest of it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct StoredLink {
    pub(super) class: LinkClass,
    /// The hash of the linked entity's term, as the activity index hashes entities.
    pub(super) hash: u64,
    /// The link time, in milliseconds.
    pub(super) linked: i64,
    pub(super) weight: f64,
    segment: u32,
    doc: DocId,
}

/// Links of one lookup, newest first, with the searcher they were read from (which keeps
/// their segments alive until the links are dropped).
pub(super) struct StoredNetwork {
    searcher: Searcher,
    source: Field,
    /// The columns of every segment of `searcher`, by segment ordinal.
    columns: Vec<Arc<LinkColumns>>,
    pub(super) links: Vec<StoredLink>,
}

impl std::fmt::Debug for StoredNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredNetwork")
            .field("links", &self.links.len())
            .finish()
    }
}

impl StoredNetwork {
    /// The links whose `field` is `value`: the newest `limit` (ties by link id), and how many
    /// there are in all.
    pub(super) fn newest(
        searcher: &Searcher,
        fields: &LinkFields,
        field: Field,
        value: &str,
        limit: usize,
    ) -> Result<(StoredNetwork, u64)> {
        let query = TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        );
        let weight = query
            .weight(EnableScoring::disabled_from_searcher(searcher))
            .map_err(backend)?;
        let mut links: Vec<StoredLink> = Vec::new();
        let mut columns = Vec::with_capacity(searcher.segment_readers().len());
        for (segment, reader) in searcher.segment_readers().iter().enumerate() {
            let segment_columns =
                fields
                    .columns
                    .get(reader, searcher.segment_readers(), LinkColumns::open)?;
            let alive = reader.alive_bitset();
            let mut scorer = weight.scorer(reader, 1.0).map_err(backend)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    links.push(segment_columns.link(segment as u32, doc)?);
                }
                doc = scorer.advance();
            }
            columns.push(segment_columns);
        }
        let total = links.len() as u64;
        let mut network = StoredNetwork {
            searcher: searcher.clone(),
            source: fields.source,
            columns,
            links,
        };
        network.keep_newest(limit);
        Ok((network, total))
    }

    /// Sorts the links newest first (ties by link id) and keeps the first `limit`.
    fn keep_newest(&mut self, limit: usize) {
        let columns = &self.columns;
        let id_of = |link: &StoredLink| {
            let column = &columns[link.segment as usize].id;
            let mut out = String::new();
            if let Some(ord) = column.ords().first(link.doc) {
                let _ = column.ord_to_str(ord, &mut out);
            }
            out
        };
        let newest_first = |a: &StoredLink, b: &StoredLink| {
            b.linked.cmp(&a.linked).then_with(|| {
                if a.segment == b.segment {
                    // Within a segment, ordinals sort as the ids do.
                    let ids = columns[a.segment as usize].id.ords();
                    ids.first(a.doc).cmp(&ids.first(b.doc))
                } else {
                    id_of(a).cmp(&id_of(b))
                }
            })
        };
        let links = &mut self.links;
        // By time alone (an integer key), then each run of equal times by id: ties are rare.
        links.sort_unstable_by_key(|link| std::cmp::Reverse(link.linked));
        let mut start = 0;
        while start < links.len() {
            let end = start + links[start..].partition_point(|l| l.linked == links[start].linked);
            if end - start > 1 {
                links[start..end].sort_unstable_by(newest_first);
            }
            start = end;
        }
        links.truncate(limit);
    }

    /// The term (`type:id`) of the entity link `i` points at.
    pub(super) fn entity_term(&self, i: usize) -> Result<String> {
        let link = &self.links[i];
        let terms = &self.columns[link.segment as usize].target_terms;
        let ord = terms
            .column()
            .ords()
            .first(link.doc)
            .ok_or_else(damaged_link)?;
        // Stored as `class:type:id`.
        terms
            .with_term(ord, |term| {
                term.split_once(':').map(|(_, entity)| entity.to_owned())
            })?
            .ok_or_else(damaged_link)
    }

    /// Makes every link, in order: the text columns of each segment are read in one pass over
    /// their dictionaries, and the stored JSON only for links with extra data.
    fn make_links(&self) -> Result<Vec<Link>> {
        let mut texts = Vec::with_capacity(self.columns.len());
        for (segment, columns) in self.columns.iter().enumerate() {
            let docs: Vec<DocId> = self
                .links
                .iter()
                .filter(|link| link.segment as usize == segment)
                .map(|link| link.doc)
                .collect();
            texts.push([
                Terms::of(&columns.user, &docs)?,
                Terms::of(&columns.link_type, &docs)?,
                Terms::of(&columns.target, &docs)?,
            ]);
        }
        let mut links = Vec::with_capacity(self.links.len());
        for link in &self.links {
            let columns = &self.columns[link.segment as usize];
            if columns.has_extra.first(link.doc).unwrap_or(false) {
                links.push(load(
                    &self.searcher,
                    DocAddress::new(link.segment, link.doc),
                    self.source,
                )?);
                continue;
            }
            let [users, link_types, targets] = &texts[link.segment as usize];
            fn text<'t>(terms: &'t Terms, column: &StrColumn, doc: DocId) -> Result<&'t str> {
                column
                    .ords()
                    .first(doc)
                    .and_then(|ord| terms.get(ord))
                    .ok_or_else(damaged_link)
            }
            let key = LinkKey {
                user: text(users, &columns.user, link.doc)?.to_owned(),
                link_type: text(link_types, &columns.link_type, link.doc)?.to_owned(),
                target: parse_link_target_term(text(targets, &columns.target, link.doc)?)
                    .ok_or_else(damaged_link)?,
            };
            links.push(Link::stored(
                key,
                timestamp(link.linked)?,
                link.weight,
                None,
            ));
        }
        Ok(links)
    }
}

impl StoredLinks for StoredNetwork {
    fn len(&self) -> usize {
        self.links.len()
    }

    fn class(&self, i: usize) -> LinkClass {
        self.links[i].class
    }

    fn links(&self) -> Result<Vec<Link>> {
        self.make_links()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The link index's columns in one segment (opened once per segment, see `segment_cache`).
pub(super) struct LinkColumns {
    linked: Column<i64>,
    weight: Column<f64>,
    has_extra: Column<bool>,
    hash: Column<u64>,
    class: Column<u64>,
    id: StrColumn,
    user: StrColumn,
    link_type: StrColumn,
    target: StrColumn,
    /// The targets by ordinal, decoded once per segment (reads confirm a network's matches
    /// against them).
    target_terms: CachedTerms,
}

impl LinkColumns {
    pub(super) fn open(reader: &SegmentReader) -> Result<LinkColumns> {
        let fast = reader.fast_fields();
        let text = |name: &str| {
            fast.str(name).map_err(backend)?.ok_or_else(|| {
                Error::backend("embedded", format!("link index has no {name} column"))
            })
        };
        Ok(LinkColumns {
            linked: fast.i64(link::LINKED).map_err(backend)?,
            weight: fast.f64(link::WEIGHT).map_err(backend)?,
            has_extra: fast.bool(link::HAS_EXTRA).map_err(backend)?,
            hash: fast.u64(link::TARGET_HASH).map_err(backend)?,
            class: fast.u64(link::TARGET_CLASS).map_err(backend)?,
            id: text(link::ID)?,
            user: text(link::USER)?,
            link_type: text(link::LINK_TYPE)?,
            target_terms: CachedTerms::new(text(link::TARGET)?),
            target: text(link::TARGET)?,
        })
    }

    /// The columns of one link.
    fn link(&self, segment: u32, doc: DocId) -> Result<StoredLink> {
        let class = match self.class.first(doc) {
            Some(0) => LinkClass::Actor,
            Some(1) => LinkClass::Object,
            _ => return Err(damaged_link()),
        };
        Ok(StoredLink {
            class,
            hash: self.hash.first(doc).ok_or_else(damaged_link)?,
            linked: self.linked.first(doc).ok_or_else(damaged_link)?,
            weight: self.weight.first(doc).ok_or_else(damaged_link)?,
            segment,
            doc,
        })
    }
}

/// The terms of some documents in one text column, by ordinal.
struct Terms(Vec<(u64, String)>);

impl Terms {
    /// Reads the terms of `docs` in `column`, walking the dictionary once in ordinal order.
    fn of(column: &StrColumn, docs: &[DocId]) -> Result<Terms> {
        let mut ords: Vec<u64> = docs
            .iter()
            .filter_map(|doc| column.ords().first(*doc))
            .collect();
        ords.sort_unstable();
        ords.dedup();
        let mut terms = Vec::with_capacity(ords.len());
        let mut next = ords.iter();
        let mut broken = false;
        let complete = column
            .dictionary()
            .sorted_ords_to_term_cb(&ords, |bytes| {
                match (next.next(), std::str::from_utf8(bytes)) {
                    (Some(ord), Ok(text)) => terms.push((*ord, text.to_owned())),
                    _ => broken = true,
                }
            })
            .map_err(|e| Error::backend("embedded", e))?;
        if !complete || broken {
            return Err(damaged_link());
        }
        Ok(Terms(terms))
    }

    fn get(&self, ord: u64) -> Option<&str> {
        let at = self.0.binary_search_by_key(&ord, |(o, _)| *o).ok()?;
        Some(&self.0[at].1)
    }
}

/// A link whose columns are missing or unreadable: the store's files are damaged.
fn damaged_link() -> Error {
    Error::backend("embedded", "a stored link's columns are missing or damaged")
}

fn backend(e: tantivy::TantivyError) -> Error {
    Error::backend("embedded", e)
}
