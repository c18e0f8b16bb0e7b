//! Point reads: one activity by id, a user's links, an entity's followers.

use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocAddress, DocId, DocSet, Searcher, SegmentReader, TantivyDocument, Term, TERMINATED,
};

use super::schema::{
    feed, from_source, link, link_target_term, parse_link_target_term, FeedFields, LinkFields,
};
use super::vectors::from_record;
use super::walk::timestamp;
use crate::activity::Activity;
use crate::error::{Error, Result};
use crate::network::{Followers, Link, LinkKey, LinkTarget, Network};

pub(super) fn activity(
    searcher: &Searcher,
    fields: &FeedFields,
    id: &str,
) -> Result<Option<Activity>> {
    let query = TermQuery::new(
        Term::from_field_text(fields.id, id),
        IndexRecordOption::Basic,
    );
    let hits = searcher
        .search(&query, &TopDocs::with_limit(1).order_by_score())
        .map_err(backend)?;
    hits.first()
        .map(|(_, address)| load_activity(searcher, *address, fields))
        .transpose()
}

pub(super) fn network(
    searcher: &Searcher,
    fields: &LinkFields,
    user: &str,
    limit: usize,
) -> Result<Network> {
    let (links, total) = newest_links(searcher, fields, fields.user, user, limit)?;
    Ok(Network {
        user: user.to_owned(),
        links,
        total,
    })
}

pub(super) fn followers(
    searcher: &Searcher,
    fields: &LinkFields,
    target: LinkTarget,
    limit: usize,
) -> Result<Followers> {
    let term = link_target_term(&target);
    let (links, total) = newest_links(searcher, fields, fields.target, &term, limit)?;
    Ok(Followers {
        target,
        links,
        total,
    })
}

/// The links whose `field` is `value`: the newest `limit` (ties by link id) and the total count.
///
/// Every match costs its time column alone; the links returned are built from their columns,
/// with the dictionaries read once per segment in ordinal order, and the stored JSON is read
/// only for links with extra data. (Loading a 5,000-link network from stored documents cost
/// several milliseconds of block decompression and JSON decoding, more than the feed read.)
fn newest_links(
    searcher: &Searcher,
    fields: &LinkFields,
    field: Field,
    value: &str,
    limit: usize,
) -> Result<(Vec<Link>, u64)> {
    let query = TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    );
    if limit == 0 {
        // A count alone: no column reads, no sorting.
        let total = searcher.search(&query, &Count).map_err(backend)?;
        return Ok((Vec::new(), total as u64));
    }
    let weight = query
        .weight(EnableScoring::disabled_from_searcher(searcher))
        .map_err(backend)?;
    let mut matches: Vec<Found> = Vec::new();
    let mut columns = Vec::new();
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
                matches.push(Found {
                    linked: segment_columns.linked.first(doc).unwrap_or(i64::MIN),
                    segment: segment as u32,
                    doc,
                });
            }
            doc = scorer.advance();
        }
        columns.push(segment_columns);
    }
    let total = matches.len() as u64;
    let id_of = |found: &Found| {
        let column = &columns[found.segment as usize].id;
        let mut out = String::new();
        if let Some(ord) = column.ords().first(found.doc) {
            let _ = column.ord_to_str(ord, &mut out);
        }
        out
    };
    let newest_first = |a: &Found, b: &Found| {
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
    if limit < matches.len() {
        // Partition so only the returned links are sorted.
        matches.select_nth_unstable_by(limit, newest_first);
        matches.truncate(limit);
    }
    matches.sort_unstable_by(newest_first);

    // The text parts of the returned links, per segment, each dictionary read in one pass.
    let mut texts = Vec::with_capacity(columns.len());
    for (segment, segment_columns) in columns.iter().enumerate() {
        let docs: Vec<DocId> = matches
            .iter()
            .filter(|found| found.segment as usize == segment)
            .map(|found| found.doc)
            .collect();
        texts.push([
            Terms::of(&segment_columns.user, &docs)?,
            Terms::of(&segment_columns.link_type, &docs)?,
            Terms::of(&segment_columns.target, &docs)?,
        ]);
    }
    let mut links = Vec::with_capacity(matches.len());
    for found in &matches {
        let segment_columns = &columns[found.segment as usize];
        if segment_columns.has_extra.first(found.doc).unwrap_or(false) {
            links.push(load(
                searcher,
                DocAddress::new(found.segment, found.doc),
                fields.source,
            )?);
            continue;
        }
        let [users, link_types, targets] = &texts[found.segment as usize];
        fn text<'t>(terms: &'t Terms, column: &StrColumn, doc: DocId) -> Result<&'t str> {
            column
                .ords()
                .first(doc)
                .and_then(|ord| terms.get(ord))
                .ok_or_else(damaged_link)
        }
        let key = LinkKey {
            user: text(users, &segment_columns.user, found.doc)?.to_owned(),
            link_type: text(link_types, &segment_columns.link_type, found.doc)?.to_owned(),
            target: parse_link_target_term(text(targets, &segment_columns.target, found.doc)?)
                .ok_or_else(damaged_link)?,
        };
        let weight = segment_columns
            .weight
            .first(found.doc)
            .ok_or_else(damaged_link)?;
        links.push(Link::stored(key, timestamp(found.linked)?, weight, None));
    }
    Ok((links, total))
}

/// A stored link that matched a lookup.
struct Found {
    linked: i64,
    segment: u32,
    doc: DocId,
}

/// The link index's columns in one segment (opened once per segment, see `segment_cache`).
pub(super) struct LinkColumns {
    linked: Column<i64>,
    weight: Column<f64>,
    has_extra: Column<bool>,
    id: StrColumn,
    user: StrColumn,
    link_type: StrColumn,
    target: StrColumn,
}

impl LinkColumns {
    fn open(reader: &SegmentReader) -> Result<LinkColumns> {
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
            id: text(link::ID)?,
            user: text(link::USER)?,
            link_type: text(link::LINK_TYPE)?,
            target: text(link::TARGET)?,
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

/// The live document holding `term` (an id: at most one is alive), read from the postings of
/// each segment without a collector.
pub(super) fn live_doc(searcher: &Searcher, term: &Term) -> Result<Option<DocAddress>> {
    for (segment, reader) in searcher.segment_readers().iter().enumerate() {
        let index = reader.inverted_index(term.field()).map_err(backend)?;
        let Some(mut postings) = index
            .read_postings(term, IndexRecordOption::Basic)
            .map_err(|e| Error::backend("embedded", e))?
        else {
            continue;
        };
        let alive = reader.alive_bitset();
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                return Ok(Some(DocAddress::new(segment as u32, doc)));
            }
            doc = postings.advance();
        }
    }
    Ok(None)
}

fn load<T: serde::de::DeserializeOwned>(
    searcher: &Searcher,
    address: DocAddress,
    source: Field,
) -> Result<T> {
    let doc: TantivyDocument = searcher.doc(address).map_err(backend)?;
    from_source(&doc, source)
}

/// Loads a stored activity, with its embedding when the store holds embeddings.
pub(super) fn load_activity(
    searcher: &Searcher,
    address: DocAddress,
    fields: &FeedFields,
) -> Result<Activity> {
    let mut activity: Activity = load(searcher, address, fields.source)?;
    if let Some(log) = &fields.vectors {
        let reader = searcher.segment_reader(address.segment_ord);
        let slots = reader
            .fast_fields()
            .u64(feed::EMBEDDING_SLOT)
            .map_err(backend)?;
        if let Some(slot) = slots.first(address.doc_id) {
            let view = log.view(slot)?;
            let record = log.record(&view, slot).ok_or_else(damaged_vector)?;
            let mut vector = Vec::new();
            from_record(record, &mut vector);
            activity.set_embedding(vector);
        }
    }
    Ok(activity)
}

/// A slot past the end of the vector log, or a record that cannot be a stored vector: the
/// store's files are damaged.
pub(super) fn damaged_vector() -> Error {
    Error::backend(
        "embedded",
        "an activity's embedding is missing from the vector log or damaged",
    )
}

fn backend(e: tantivy::TantivyError) -> Error {
    Error::backend("embedded", e)
}
