//! Point reads: one activity by id, a user's links, an entity's followers.

use std::sync::Arc;

use tantivy::collector::Count;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocAddress, DocId, DocSet, Searcher, SegmentReader, TantivyDocument, Term, TERMINATED,
};

use super::columns::Columns;
use super::network::StoredNetwork;
use super::schema::{feed, from_source, id_hash, link_target_term, FeedFields, LinkFields};
use super::vectors::from_record;
use crate::activity::Activity;
use crate::error::{Error, Result};
use crate::network::{Followers, LinkTarget, Network, StoredLinks};

pub(super) fn activity(
    searcher: &Searcher,
    fields: &FeedFields,
    id: &str,
) -> Result<Option<Activity>> {
    live_activity(searcher, fields, id)?
        .map(|address| load_activity(searcher, address, fields))
        .transpose()
}

/// The live document of the activity with this id (at most one is alive): the postings of the
/// id's hash, each document's id compared exactly.
pub(super) fn live_activity(
    searcher: &Searcher,
    fields: &FeedFields,
    id: &str,
) -> Result<Option<DocAddress>> {
    let key = Term::from_field_u64(fields.id_key, id_hash(id));
    for (segment, reader) in searcher.segment_readers().iter().enumerate() {
        let mut docs = live_postings(reader, &key)?.peekable();
        if docs.peek().is_none() {
            continue;
        }
        let columns = fields
            .columns
            .get(reader, searcher.segment_readers(), Columns::open)?;
        let Some(ord) = columns.id_ord(id)? else {
            continue;
        };
        if let Some(doc) = docs.find(|doc| columns.has_id_ord(*doc, ord)) {
            return Ok(Some(DocAddress::new(segment as u32, doc)));
        }
    }
    Ok(None)
}

/// A query matching exactly the activity with this id (for deletes, which tantivy runs on every
/// segment at commit): the postings of the id's hash, each document's id compared exactly.
pub(super) fn activity_query(fields: &FeedFields, id: &str) -> Box<dyn Query> {
    let key = TermQuery::new(
        Term::from_field_u64(fields.id_key, id_hash(id)),
        IndexRecordOption::Basic,
    );
    let id = id.to_owned();
    let exact = FunctionPredicate::from(move |reader: &SegmentReader| {
        let column = reader.fast_fields().str(feed::ID)?;
        let ord = match &column {
            Some(column) => column.dictionary().term_ord(&id)?,
            None => None,
        };
        Ok(move |doc: DocId| match (&column, ord) {
            (Some(column), Some(ord)) => column.ords().first(doc) == Some(ord),
            _ => false,
        })
    });
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(key) as Box<dyn Query>),
        (Occur::Must, Box::new(DocPredicateQuery::from(exact))),
    ]))
}

pub(super) fn network(
    searcher: &Searcher,
    fields: &LinkFields,
    user: &str,
    limit: usize,
) -> Result<Network> {
    if limit == 0 {
        return Ok(Network::new(
            user,
            Vec::new(),
            count(searcher, fields.user, user)?,
        ));
    }
    let (links, total) = StoredNetwork::newest(searcher, fields, fields.user, user, limit)?;
    Ok(Network::stored(user.to_owned(), Arc::new(links), total))
}

pub(super) fn followers(
    searcher: &Searcher,
    fields: &LinkFields,
    target: LinkTarget,
    limit: usize,
) -> Result<Followers> {
    let term = link_target_term(&target);
    if limit == 0 {
        let total = count(searcher, fields.target, &term)?;
        return Ok(Followers {
            target,
            links: Vec::new(),
            total,
        });
    }
    let (links, total) = StoredNetwork::newest(searcher, fields, fields.target, &term, limit)?;
    Ok(Followers {
        target,
        links: links.links()?,
        total,
    })
}

/// How many live links have `value` in `field`.
fn count(searcher: &Searcher, field: Field, value: &str) -> Result<u64> {
    let query = TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    );
    Ok(searcher.search(&query, &Count).map_err(backend)? as u64)
}

/// The live documents holding `term` in one segment, in document order, read from its
/// postings without a collector.
pub(super) fn live_postings<'r>(
    reader: &'r SegmentReader,
    term: &Term,
) -> Result<impl Iterator<Item = DocId> + 'r> {
    let mut postings = reader
        .inverted_index(term.field())
        .map_err(backend)?
        .read_postings(term, IndexRecordOption::Basic)
        .map_err(|e| Error::backend("embedded", e))?;
    let alive = reader.alive_bitset();
    let mut started = false;
    Ok(std::iter::from_fn(move || {
        let postings = postings.as_mut()?;
        let mut doc = if started {
            postings.advance()
        } else {
            started = true;
            postings.doc()
        };
        while doc != TERMINATED && !alive.is_none_or(|a| a.is_alive(doc)) {
            doc = postings.advance();
        }
        (doc != TERMINATED).then_some(doc)
    }))
}

/// The live document holding `term` (an id: at most one is alive).
pub(super) fn live_doc(searcher: &Searcher, term: &Term) -> Result<Option<DocAddress>> {
    for (segment, reader) in searcher.segment_readers().iter().enumerate() {
        if let Some(doc) = live_postings(reader, term)?.next() {
            return Ok(Some(DocAddress::new(segment as u32, doc)));
        }
    }
    Ok(None)
}

pub(super) fn load<T: serde::de::DeserializeOwned>(
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
