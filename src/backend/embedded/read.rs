//! Point reads: one activity by id, a user's links, an entity's followers.

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocSet, Searcher, TantivyDocument, Term, TERMINATED};

use super::schema::{feed, from_source, link, link_target_term, FeedFields, LinkFields};
use super::vectors::from_record;
use crate::activity::Activity;
use crate::error::{Error, Result};
use crate::network::{Followers, Link, LinkTarget, Network};

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
/// Only the link time and id columns are read for every match; stored documents are loaded for
/// the links returned.
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
    let mut matches: Vec<(i64, DocAddress)> = Vec::new();
    let mut ids = Vec::new();
    for (segment_ord, reader) in searcher.segment_readers().iter().enumerate() {
        let linked = reader.fast_fields().i64(link::LINKED).map_err(backend)?;
        let id_column = reader
            .fast_fields()
            .str(link::ID)
            .map_err(backend)?
            .ok_or_else(|| Error::backend("embedded", "link index has no id column"))?;
        let alive = reader.alive_bitset();
        let mut scorer = weight.scorer(reader, 1.0).map_err(backend)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                let time = linked.first(doc).unwrap_or(i64::MIN);
                matches.push((time, DocAddress::new(segment_ord as u32, doc)));
            }
            doc = scorer.advance();
        }
        ids.push(id_column);
    }
    let total = matches.len() as u64;
    let id_of = |address: &DocAddress| {
        let column = &ids[address.segment_ord as usize];
        let mut out = String::new();
        if let Some(ord) = column.ords().first(address.doc_id) {
            let _ = column.ord_to_str(ord, &mut out);
        }
        out
    };
    let newest_first = |a: &(i64, DocAddress), b: &(i64, DocAddress)| {
        b.0.cmp(&a.0).then_with(|| id_of(&a.1).cmp(&id_of(&b.1)))
    };
    if limit < matches.len() {
        // Partition so only the returned links are sorted.
        matches.select_nth_unstable_by(limit, newest_first);
        matches.truncate(limit);
    }
    matches.sort_unstable_by(newest_first);
    let links = matches
        .iter()
        .map(|(_, address)| load(searcher, *address, fields.source))
        .collect::<Result<Vec<Link>>>()?;
    Ok((links, total))
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
