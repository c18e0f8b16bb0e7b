//! Feed queries on the embedded backend: a walk over the activity index in feed order.
//!
//! Every segment of the activity index is sorted by `published`, newest first. A query opens one
//! cursor per segment and merges the cursors by `(published, id)`, so the walk meets activities
//! in exact feed order and stops as soon as the page (or every group) is full.
//!
//! Where a cursor's documents come from is decided per read and per segment: a network feed
//! first *scans* the segment newest-first, testing each document's actor, object and target
//! hashes against the network (a few nanoseconds a document, whatever the network's size);
//! after [`SCAN_BUDGET`] documents it continues, from the same document, on the *posting lists*
//! of the linked entities (a few microseconds per entity to open, then little per match). A
//! network-free search, or a feed filtered on an entity, uses its posting lists from the start.
//!
//! Every candidate is then checked exactly on columns: the "since" time of the links reaching
//! it (hash first; on a hit, the exact term, resolved once per term and segment, so a hash
//! collision never changes a result), verbs, time window, exclusions and the keyset position.
//!
//! Walking towards *newer* activities (ascending order, or a page newer than a position) cannot
//! stop early in a newest-first segment: it reads every candidate newer than the lower limit.
//! That is cheap for refreshing the top of a feed, and linear in the matches for an ascending
//! read from the very beginning.

use std::cmp::Ordering;
use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{AllQuery, BooleanQuery, EnableScoring, Occur, Query, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Searcher, SegmentReader, Term, TERMINATED};

use super::rank;
use super::read::load_activity;
use super::schema::{entity_term, feed, parse_entity_term, term_hash, FeedFields};
use super::{group, nearest, rank::Score};
use crate::activity::EntityKey;
use crate::embedding::EmbeddingSpace;
use crate::error::{Error, Result};
use crate::network::LinkClass;
use crate::query::{
    Bound, EntityFilter, FeedQuery, GroupKey, GroupValue, Order, Position, Ranking, Source,
};
use crate::result::{FeedResult, Hit};

/// Runs a validated query.
pub(super) fn run(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    embeddings: Option<EmbeddingSpace>,
) -> Result<FeedResult> {
    if matches!(&query.source, Source::Network(rules) if rules.is_empty()) {
        return Ok(FeedResult::default());
    }
    run_with(
        searcher,
        fields,
        query,
        embeddings,
        Reach::new(query),
        SCAN_BUDGET,
    )
}

/// Runs a query with its network rules already gathered (tests forge hash collisions here).
fn run_with(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    embeddings: Option<EmbeddingSpace>,
    reach: Option<Reach>,
    scan_budget: u32,
) -> Result<FeedResult> {
    // Collapse keeps the newest activity per key, so it reads from the top of the feed whatever
    // the page's bound, and applies the bound after collapsing.
    let walk_query;
    let (walk_query, collapse_bound) = match (&query.collapse, &query.page.bound) {
        (Some(_), Some(Bound::OlderThan(position))) => {
            let mut unbounded = query.clone();
            unbounded.page.bound = None;
            walk_query = unbounded;
            (&walk_query, Some(position))
        }
        _ => (query, None),
    };
    let plan = Plan {
        scan_budget,
        ..Plan::new(walk_query)
    };
    let weights = query.ranking != Ranking::Recency;
    let weight = Rc::new(Candidates::new(searcher, fields, query));
    let reach = reach.map(Rc::new);
    let mut cursors = Vec::new();
    for (segment_ord, reader) in searcher.segment_readers().iter().enumerate() {
        let reach = reach.clone();
        if let Some(cursor) = Cursor::open(
            segment_ord as u32,
            reader,
            searcher.segment_readers(),
            fields,
            &weight,
            query,
            &plan,
            reach,
            weights,
        )? {
            cursors.push(cursor);
        }
    }
    let mut merge = Merge {
        cursors,
        older: plan.older,
        max_weight: reach.as_ref().map_or(1.0, |r| r.max_weight),
    };
    if let Some(vector) = &query.vector {
        let space = embeddings.ok_or(Error::EmbeddingsNotEnabled)?;
        let log = fields
            .vectors
            .as_deref()
            .ok_or(Error::EmbeddingsNotEnabled)?;
        return nearest::nearest(
            searcher,
            fields,
            query,
            &vector.vector,
            space,
            log,
            &mut merge,
        );
    }
    let score = Score::new(query);
    match (&query.grouping, &score) {
        (Some(grouping), _) => {
            let verbs = verb_count(searcher, query)?;
            group::grouped(searcher, fields, grouping, &score, verbs, &mut merge)
        }
        (None, Some(score)) => rank::ranked(searcher, fields, query, score, &mut merge),
        (None, None) => flat(searcher, fields, query, &plan, collapse_bound, &mut merge),
    }
}

/// How many distinct verbs a result can hold: those in the store's verb dictionaries (an upper
/// bound, as removed activities' verbs may linger until a merge), or fewer when the query keeps
/// only some. A verb level with that many groups can gain no other, so the walk can stop early.
fn verb_count(searcher: &Searcher, query: &FeedQuery) -> Result<usize> {
    let mut verbs = HashSet::new();
    for reader in searcher.segment_readers() {
        let Some(column) = reader.fast_fields().str(feed::VERB).map_err(backend)? else {
            continue;
        };
        let mut terms = column
            .dictionary()
            .stream()
            .map_err(|e| Error::backend("embedded", e))?;
        while terms.advance() {
            verbs.insert(terms.key().to_vec());
        }
    }
    Ok(match query.filter.verbs.len() {
        0 => verbs.len(),
        kept => verbs.len().min(kept),
    })
}

/// The limits of the walk, derived once per query.
struct Plan {
    /// Walk towards older activities (newest first)?
    older: bool,
    /// Highest `published` (inclusive) any result may have.
    max_ms: i64,
    /// Lowest `published` (inclusive) any result may have.
    min_ms: i64,
    /// Results must be strictly before this position (in `(published, id)` order).
    before: Option<(i64, String)>,
    /// Results must be strictly after this position.
    after: Option<(i64, String)>,
    /// Documents a scan reads per segment before handing over to posting lists.
    scan_budget: u32,
}

impl Plan {
    fn new(query: &FeedQuery) -> Self {
        let mut plan = Plan {
            older: match query.grouping {
                // Grouped feeds list groups in the query's order; a bound only restricts them.
                Some(_) => query.order == Order::Desc,
                None => Bound::walks_older(query.page.bound.as_ref(), query.order),
            },
            max_ms: i64::MAX,
            min_ms: i64::MIN,
            before: None,
            after: None,
            scan_budget: SCAN_BUDGET,
        };
        if let Some(until) = query.filter.until {
            plan.max_ms = until.timestamp_millis() - 1;
        }
        if let Some(since) = query.filter.since {
            plan.min_ms = since.timestamp_millis();
        }
        if let Source::Network(rules) = &query.source {
            // No rule reaches anything older than the oldest link.
            let oldest = rules.iter().map(|r| r.since.timestamp_millis()).min();
            plan.min_ms = plan.min_ms.max(oldest.unwrap_or(i64::MAX));
        }
        match &query.page.bound {
            Some(Bound::OlderThan(p)) => {
                let ms = p.published.timestamp_millis();
                plan.max_ms = plan.max_ms.min(ms);
                plan.before = Some((ms, p.id.clone()));
            }
            Some(Bound::NewerThan(p)) => {
                let ms = p.published.timestamp_millis();
                plan.min_ms = plan.min_ms.max(ms);
                plan.after = Some((ms, p.id.clone()));
            }
            // A ranked bound is on scores, which the ranked walk checks itself.
            Some(Bound::RankedBelow(_)) | None => {}
        }
        plan
    }
}

/// The query whose posting lists yield a feed's candidates, made into a tantivy weight only
/// when a cursor first reads posting lists: most network reads fill their page from the scan,
/// and a weight costs an allocation per link (several milliseconds for 5,000 links).
pub(super) struct Candidates {
    query: Box<dyn Query>,
    searcher: Searcher,
    weight: std::cell::OnceCell<Box<dyn Weight>>,
}

impl Candidates {
    fn new(searcher: &Searcher, fields: &FeedFields, query: &FeedQuery) -> Candidates {
        Candidates {
            query: candidates(fields, query),
            searcher: searcher.clone(),
            weight: std::cell::OnceCell::new(),
        }
    }

    fn weight(&self) -> Result<&dyn Weight> {
        if let Some(weight) = self.weight.get() {
            return Ok(weight.as_ref());
        }
        let weight = self
            .query
            .weight(EnableScoring::disabled_from_searcher(&self.searcher))
            .map_err(backend)?;
        Ok(self.weight.get_or_init(|| weight).as_ref())
    }
}

/// The candidate documents: the posting lists of every linked entity (or all documents), ANDed
/// with the entity and verb filters. Link time bounds are checked per document on columns.
fn candidates(fields: &FeedFields, query: &FeedQuery) -> Box<dyn Query> {
    let term = |field, text: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    };
    let any_of = |clauses: Vec<Box<dyn Query>>| -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))
    };
    let mut must: Vec<Box<dyn Query>> = Vec::new();
    if let Source::Network(rules) = &query.source {
        let mut seen = HashSet::new();
        let mut clauses = Vec::new();
        for rule in rules {
            if !seen.insert((rule.class, &rule.entity)) {
                continue;
            }
            let text = entity_term(&rule.entity);
            match rule.class {
                LinkClass::Actor => clauses.push(term(fields.actor, &text)),
                LinkClass::Object => {
                    clauses.push(term(fields.object, &text));
                    clauses.push(term(fields.target, &text));
                }
            }
        }
        must.push(any_of(clauses));
    }
    let filter = &query.filter;
    for (entity, key_field, id_field) in [
        (&filter.actor, fields.actor, fields.actor_id),
        (&filter.object, fields.object, fields.object_id),
        (&filter.target, fields.target, fields.target_id),
    ] {
        if let Some(EntityFilter { id, kind }) = entity {
            must.push(match kind {
                Some(kind) => term(
                    key_field,
                    &entity_term(&EntityKey {
                        kind: kind.clone(),
                        id: id.clone(),
                    }),
                ),
                None => term(id_field, id),
            });
        }
    }
    if !filter.verbs.is_empty() {
        must.push(any_of(
            filter.verbs.iter().map(|v| term(fields.verb, v)).collect(),
        ));
    }
    match must.len() {
        0 => Box::new(AllQuery),
        1 => must.pop().expect("one clause"),
        _ => Box::new(BooleanQuery::new(
            must.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

/// One posting-list weight per linked entity and field (actor links: the actor; object links:
/// the object and the target), for walks that read every candidate
/// ([`Cursor::every_candidate`]). `None` when the query's candidates are not the network's
/// alone (no network, or a filter on an entity, which the candidate query intersects).
pub(super) fn link_weights(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
) -> Result<Option<Vec<Box<dyn Weight>>>> {
    let Source::Network(rules) = &query.source else {
        return Ok(None);
    };
    let filter = &query.filter;
    if filter.actor.is_some() || filter.object.is_some() || filter.target.is_some() {
        return Ok(None);
    }
    let scoring = EnableScoring::disabled_from_searcher(searcher);
    let mut seen = HashSet::new();
    let mut weights = Vec::new();
    for rule in rules {
        if !seen.insert((rule.class, &rule.entity)) {
            continue;
        }
        let text = entity_term(&rule.entity);
        let columns: &[_] = match rule.class {
            LinkClass::Actor => &[fields.actor],
            LinkClass::Object => &[fields.object, fields.target],
        };
        for field in columns {
            let term = TermQuery::new(
                Term::from_field_text(*field, &text),
                IndexRecordOption::Basic,
            );
            weights.push(term.weight(scoring).map_err(backend)?);
        }
    }
    Ok(Some(weights))
}

/// A candidate document in one segment.
#[derive(Clone, Copy)]
pub(super) struct Candidate {
    pub(super) published: i64,
    /// The id's ordinal in the segment's id column (ordinals sort as the ids do).
    pub(super) id_ord: u64,
    pub(super) doc: DocId,
    /// The highest weight of the links reaching it (1 for network-free queries); computed only
    /// for ranked queries.
    pub(super) weight: f64,
}

/// The columns one segment's checks read (opened once per segment, see `segment_cache`).
pub(super) struct Columns {
    published: Column<i64>,
    id: StrColumn,
    verb: StrColumn,
    pub(super) actor: StrColumn,
    object: StrColumn,
    target: StrColumn,
    /// The term hashes of actor, object and target.
    hashes: [Column<u64>; 3],
}

impl Columns {
    pub(super) fn open(reader: &SegmentReader) -> Result<Columns> {
        let ff = reader.fast_fields();
        let str_column = |name: &str| -> Result<StrColumn> {
            ff.str(name)
                .map_err(backend)?
                .ok_or_else(|| Error::backend("embedded", format!("column {name} is missing")))
        };
        Ok(Columns {
            published: ff.i64(feed::PUBLISHED).map_err(backend)?,
            id: str_column(feed::ID)?,
            verb: str_column(feed::VERB)?,
            actor: str_column(feed::ACTOR)?,
            object: str_column(feed::OBJECT)?,
            target: str_column(feed::TARGET)?,
            hashes: [
                ff.u64(feed::ACTOR_HASH).map_err(backend)?,
                ff.u64(feed::OBJECT_HASH).map_err(backend)?,
                ff.u64(feed::TARGET_HASH).map_err(backend)?,
            ],
        })
    }
}

/// The network's rules by column: for each entity term, the links that reach it (several links
/// may reach one entity: a follow and a custom link type, say).
pub(super) struct Reach {
    /// Actor column (actor links), object column and target column (object links): term →
    /// index into `terms`.
    by_column: [HashMap<String, usize>; 3],
    terms: Vec<TermLinks>,
    /// The earliest link time by term hash (the earliest over terms sharing a hash): a
    /// pre-filter for scans, never the final word.
    by_hash: [HashMap<u64, i64>; 3],
    /// The highest weight of any link.
    pub(super) max_weight: f64,
}

/// The links reaching one entity term in one column.
struct TermLinks {
    earliest: i64,
    /// `(since, weight)` of each link.
    links: Vec<(i64, f64)>,
}

impl TermLinks {
    /// The highest weight of the links that reach an activity published at `published`.
    fn weight_at(&self, published: i64) -> Option<f64> {
        self.links
            .iter()
            .filter(|(since, _)| published >= *since)
            .map(|(_, weight)| *weight)
            .reduce(f64::max)
    }
}

impl Reach {
    fn new(query: &FeedQuery) -> Option<Reach> {
        let Source::Network(rules) = &query.source else {
            return None;
        };
        let mut reach = Reach {
            by_column: Default::default(),
            terms: Vec::new(),
            by_hash: Default::default(),
            max_weight: f64::NEG_INFINITY,
        };
        for rule in rules {
            let since = rule.since.timestamp_millis();
            reach.max_weight = reach.max_weight.max(rule.weight);
            let slots: &[usize] = match rule.class {
                LinkClass::Actor => &[0],
                LinkClass::Object => &[1, 2],
            };
            let term = entity_term(&rule.entity);
            for slot in slots {
                let earliest = reach.by_hash[*slot]
                    .entry(term_hash(&term))
                    .or_insert(since);
                *earliest = (*earliest).min(since);
                let index = *reach.by_column[*slot]
                    .entry(term.clone())
                    .or_insert_with(|| {
                        reach.terms.push(TermLinks {
                            earliest: since,
                            links: Vec::new(),
                        });
                        reach.terms.len() - 1
                    });
                let links = &mut reach.terms[index];
                links.earliest = links.earliest.min(since);
                links.links.push((since, rule.weight));
            }
        }
        Some(reach)
    }
}

/// Per-segment rules. Network rules are translated from entity terms to this segment's column
/// ordinals lazily, for the ordinals the walk meets: a dictionary lookup per rule per segment
/// would cost more than the whole walk for a user with many links.
struct SegmentRules {
    /// `None` for a network-free search.
    reach: Option<Rc<Reach>>,
    /// Column ordinal → the links reaching it (`None`: no link does), per column.
    resolved: [std::cell::RefCell<HashMap<u64, Option<usize>>>; 3],
    /// Whether candidates need their link weight (ranked queries).
    weights: bool,
    verbs: Option<HashSet<u64>>,
    exclude_actors: HashSet<u64>,
    exclude_objects: HashSet<u64>,
}

/// Documents read per segment by a scan before the walk switches to posting lists.
///
/// A scan costs a few nanoseconds per document whatever the network's size; the posting union
/// costs a few microseconds per linked entity to set up, then little per match. Scanning first
/// serves readers of active accounts (whose page fills within the newest documents) without
/// paying for their whole network; the budget bounds what a reader of quiet accounts spends
/// before the posting lists take over.
const SCAN_BUDGET: u32 = 8_192;

/// A scan keeps going past its budget while at least one document in this many passed the
/// pre-filter in the last budget (the break-even of a scan against the posting union).
const DENSE_SCAN: u32 = 128;

/// Where a cursor's documents come from.
enum Docs {
    /// Every document in doc order (newest first) from `next`, pre-filtered by term hashes;
    /// `left` of the current budget, `reached` documents passing the pre-filter in it.
    Scan {
        next: DocId,
        left: u32,
        reached: u32,
    },
    /// The candidate query's matches.
    Postings(Box<dyn tantivy::query::Scorer>),
}

/// One segment's candidates, yielded in walk order, exactly ordered by `(published, id)`.
pub(super) struct Cursor {
    pub(super) segment_ord: u32,
    columns: Arc<Columns>,
    rules: SegmentRules,
    docs: Docs,
    reader: SegmentReader,
    weight: Rc<Candidates>,
    alive: Option<tantivy::fastfield::AliveBitSet>,
    /// Candidates ready to yield, in walk order.
    queue: VecDeque<Candidate>,
    /// A passing document read ahead of the queue (newest-first walks).
    lookahead: Option<Candidate>,
    exhausted: bool,
    older: bool,
    /// Documents a scan reads before it decides whether to go on.
    scan_budget: u32,
    min_ms: i64,
    /// Highest `published` (inclusive) a result may have.
    max_ms: i64,
    before: Option<(i64, String)>,
    after: Option<(i64, String)>,
    /// Group values already resolved, by column and ordinal.
    cache: HashMap<(u8, u64), GroupValue>,
}

impl Cursor {
    #[allow(clippy::too_many_arguments)]
    fn open(
        segment_ord: u32,
        reader: &SegmentReader,
        live: &[SegmentReader],
        fields: &FeedFields,
        weight: &Rc<Candidates>,
        query: &FeedQuery,
        plan: &Plan,
        reach: Option<Rc<Reach>>,
        weights: bool,
    ) -> Result<Option<Cursor>> {
        let columns = fields.columns.get(reader, live, Columns::open)?;
        // Skip straight to the first document not newer than the upper limit.
        let start = first_doc_at_or_below(&columns.published, reader.max_doc(), plan.max_ms);
        // Scans serve network feeds; a query that filters on entities uses its posting lists.
        let filter = &query.filter;
        let scan = reach.is_some()
            && filter.actor.is_none()
            && filter.object.is_none()
            && filter.target.is_none();
        let Some(rules) = SegmentRules::new(&columns, query, reach, weights)? else {
            return Ok(None);
        };
        let docs = if scan {
            Docs::Scan {
                next: start,
                left: plan.scan_budget,
                reached: 0,
            }
        } else {
            Docs::Postings(postings(weight, reader, start)?)
        };
        let mut cursor = Cursor {
            segment_ord,
            columns,
            rules,
            docs,
            reader: reader.clone(),
            weight: Rc::clone(weight),
            alive: reader.alive_bitset().cloned(),
            queue: VecDeque::new(),
            lookahead: None,
            exhausted: false,
            older: plan.older,
            scan_budget: plan.scan_budget,
            min_ms: plan.min_ms,
            max_ms: plan.max_ms,
            before: plan.before.clone(),
            after: plan.after.clone(),
            cache: HashMap::new(),
        };
        if !cursor.older {
            // Newest-first segments cannot be read oldest-first lazily: take every candidate
            // down to the lower limit, then yield them in reverse.
            let mut all = Vec::new();
            while let Some(c) = cursor.next_passing()? {
                all.push(c);
            }
            all.sort_unstable_by_key(|c| (c.published, c.id_ord));
            cursor.queue = all.into();
        }
        Ok(Some(cursor))
    }

    /// The segment this cursor walks.
    pub(super) fn reader(&self) -> &SegmentReader {
        &self.reader
    }

    /// The next document that passes every check, newest first.
    pub(super) fn next_passing(&mut self) -> Result<Option<Candidate>> {
        while !self.exhausted {
            let doc = match &mut self.docs {
                Docs::Scan {
                    next,
                    left,
                    reached,
                } if *left == 0 => {
                    // The budget is spent. A dense network (grouped feeds of readers who follow
                    // active accounts) scans on: a scan costs a few nanoseconds a document, the
                    // posting union about a microsecond a match. A sparse one continues from
                    // here on the posting lists.
                    if self.scan_budget > 0 && *reached >= self.scan_budget / DENSE_SCAN {
                        *left = self.scan_budget;
                        *reached = 0;
                        continue;
                    }
                    let scorer = postings(&self.weight, &self.reader, *next)?;
                    self.docs = Docs::Postings(scorer);
                    continue;
                }
                Docs::Scan { next, left, .. } => {
                    let doc = *next;
                    *next += 1;
                    *left -= 1;
                    if doc >= self.reader.max_doc() {
                        TERMINATED
                    } else {
                        doc
                    }
                }
                Docs::Postings(scorer) => {
                    let doc = scorer.doc();
                    if doc != TERMINATED {
                        scorer.advance();
                    }
                    doc
                }
            };
            if doc == TERMINATED {
                break;
            }
            let published = self.columns.published.first(doc).unwrap_or(i64::MIN);
            if published < self.min_ms {
                break;
            }
            if !self.may_reach(doc, published) {
                continue;
            }
            if let Docs::Scan { reached, .. } = &mut self.docs {
                *reached += 1;
            }
            if let Some(candidate) = self.check(doc, published)? {
                return Ok(Some(candidate));
            }
        }
        self.exhausted = true;
        Ok(None)
    }

    /// The hash pre-filter of a scan: could any link reach this document? (Posting lists only
    /// yield documents that carry a linked term, so they need no pre-filter.)
    fn may_reach(&self, doc: DocId, published: i64) -> bool {
        let (Docs::Scan { .. }, Some(reach)) = (&self.docs, &self.rules.reach) else {
            return true;
        };
        self.columns
            .hashes
            .iter()
            .zip(&reach.by_hash)
            .any(|(column, by_hash)| {
                !by_hash.is_empty()
                    && column
                        .first(doc)
                        .and_then(|hash| by_hash.get(&hash))
                        .is_some_and(|since| published >= *since)
            })
    }

    /// Every document of the segment that passes every check, in document order, found on the
    /// posting list of each linked entity on its own (`link_weights`), with no union: a walk
    /// that reads every candidate needs no merge order, and a union of many posting lists costs
    /// about as much as scanning the segment.
    pub(super) fn every_candidate(&self, links: &[Box<dyn Weight>]) -> Result<Vec<Candidate>> {
        let max_doc = self.reader.max_doc() as usize;
        let mut reached = vec![0u64; max_doc.div_ceil(64)];
        for weight in links {
            let mut scorer = weight.scorer(&self.reader, 1.0).map_err(backend)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                reached[doc as usize / 64] |= 1 << (doc % 64);
                doc = scorer.advance();
            }
        }
        let mut candidates = Vec::new();
        for (word_index, mut word) in reached.into_iter().enumerate() {
            while word != 0 {
                let doc = (word_index * 64) as DocId + word.trailing_zeros();
                word &= word - 1;
                let published = self.columns.published.first(doc).unwrap_or(i64::MIN);
                if published < self.min_ms || published > self.max_ms {
                    continue;
                }
                candidates.extend(self.check(doc, published)?);
            }
        }
        Ok(candidates)
    }

    fn check(&self, doc: DocId, published: i64) -> Result<Option<Candidate>> {
        if self.alive.as_ref().is_some_and(|a| a.is_deleted(doc)) {
            return Ok(None);
        }
        let ord = |column: &StrColumn| column.ords().first(doc);
        let rules = &self.rules;
        let mut weight = 1.0;
        if let Some(verbs) = &rules.verbs {
            if !ord(&self.columns.verb).is_some_and(|o| verbs.contains(&o)) {
                return Ok(None);
            }
        }
        let actor = ord(&self.columns.actor);
        let object = ord(&self.columns.object);
        if actor.is_some_and(|o| rules.exclude_actors.contains(&o))
            || object.is_some_and(|o| rules.exclude_objects.contains(&o))
        {
            return Ok(None);
        }
        if let Some(reach) = &rules.reach {
            let columns = [
                &self.columns.actor,
                &self.columns.object,
                &self.columns.target,
            ];
            let mut reached = None::<f64>;
            for (slot, column) in columns.into_iter().enumerate() {
                // The hash rules a column out exactly when it is absent from the network (or
                // too early for every term sharing it); only a hit costs a dictionary lookup,
                // once per term and segment.
                let by_hash = &reach.by_hash[slot];
                if by_hash.is_empty() {
                    continue;
                }
                let hash = self.columns.hashes[slot].first(doc);
                if hash
                    .and_then(|h| by_hash.get(&h))
                    .is_none_or(|earliest| published < *earliest)
                {
                    continue;
                }
                let Some(ord) = ord(column) else { continue };
                let Some(links) = rules.links(reach, slot, column, ord)? else {
                    continue;
                };
                if published < links.earliest {
                    continue;
                }
                if !rules.weights {
                    reached = Some(1.0);
                    break;
                }
                // Ranked: the best weight over every link that reaches the activity.
                if let Some(weight) = links.weight_at(published) {
                    reached = Some(reached.map_or(weight, |w| w.max(weight)));
                }
            }
            match reached {
                Some(w) => weight = w,
                None => return Ok(None),
            }
        }
        let Some(id_ord) = ord(&self.columns.id) else {
            return Ok(None);
        };
        let candidate = Candidate {
            published,
            id_ord,
            doc,
            weight,
        };
        // The keyset position, exactly: only documents at the position's millisecond need
        // their id compared.
        if let Some((ms, id)) = &self.before {
            if published == *ms && self.id(&candidate)?.as_str() >= id.as_str() {
                return Ok(None);
            }
        }
        if let Some((ms, id)) = &self.after {
            if published == *ms && self.id(&candidate)?.as_str() <= id.as_str() {
                return Ok(None);
            }
        }
        Ok(Some(candidate))
    }

    /// Skips every candidate published at or after `ms` (newest-first walks only): what a
    /// grouped walk does once the time window it is in can change no group.
    fn skip_from(&mut self, ms: i64) {
        if !self.older {
            return;
        }
        self.queue.retain(|c| c.published < ms);
        if self.lookahead.is_some_and(|c| c.published >= ms) {
            self.lookahead = None;
        }
        let target = first_doc_at_or_below(&self.columns.published, self.reader.max_doc(), ms - 1);
        match &mut self.docs {
            Docs::Scan { next, .. } => *next = (*next).max(target),
            Docs::Postings(scorer) => {
                if scorer.doc() != TERMINATED && scorer.doc() < target {
                    scorer.seek(target);
                }
            }
        }
    }

    /// The next candidate in walk order without consuming it.
    fn head(&mut self) -> Result<Option<Candidate>> {
        if self.queue.is_empty() && self.older {
            // Gather every candidate of the next millisecond, so ties come out ordered by id.
            let first = match self.lookahead.take() {
                Some(c) => Some(c),
                None => self.next_passing()?,
            };
            if let Some(first) = first {
                self.queue.push_back(first);
                while let Some(next) = self.next_passing()? {
                    if next.published == first.published {
                        self.queue.push_back(next);
                    } else {
                        self.lookahead = Some(next);
                        break;
                    }
                }
                if self.queue.len() > 1 {
                    self.queue
                        .make_contiguous()
                        .sort_unstable_by_key(|c| std::cmp::Reverse(c.id_ord));
                }
            }
        }
        Ok(self.queue.front().copied())
    }

    pub(super) fn id(&self, candidate: &Candidate) -> Result<String> {
        let mut out = String::new();
        self.columns
            .id
            .ord_to_str(candidate.id_ord, &mut out)
            .map_err(|e| Error::backend("embedded", e))?;
        Ok(out)
    }

    /// The value of a grouping or collapse key for a candidate.
    pub(super) fn value(&mut self, key: GroupKey, candidate: &Candidate) -> Result<GroupValue> {
        let (slot, column) = match key {
            GroupKey::Verb => (0, &self.columns.verb),
            GroupKey::Actor => (1, &self.columns.actor),
            GroupKey::Object => (2, &self.columns.object),
            GroupKey::Target => (3, &self.columns.target),
            GroupKey::Year | GroupKey::Month | GroupKey::Day => {
                let published = timestamp(candidate.published)?;
                return Ok(match key {
                    GroupKey::Year => GroupValue::Year(published.year()),
                    GroupKey::Month => GroupValue::Month(published.month()),
                    _ => GroupValue::Day(published.date_naive()),
                });
            }
        };
        let Some(ord) = column.ords().first(candidate.doc) else {
            return Ok(GroupValue::Entity(None));
        };
        if let Some(value) = self.cache.get(&(slot, ord)) {
            return Ok(value.clone());
        }
        let mut text = String::new();
        column
            .ord_to_str(ord, &mut text)
            .map_err(|e| Error::backend("embedded", e))?;
        let value = if key == GroupKey::Verb {
            GroupValue::Verb(text)
        } else {
            GroupValue::Entity(parse_entity_term(&text))
        };
        self.cache.insert((slot, ord), value.clone());
        Ok(value)
    }
}

impl SegmentRules {
    /// Translates the query's verbs and exclusions to this segment's ordinals; `None` if no
    /// document of the segment can match.
    fn new(
        columns: &Columns,
        query: &FeedQuery,
        reach: Option<Rc<Reach>>,
        weights: bool,
    ) -> Result<Option<Self>> {
        let ord_of = |column: &StrColumn, key: &EntityKey| -> Result<Option<u64>> {
            column
                .dictionary()
                .term_ord(entity_term(key))
                .map_err(|e| Error::backend("embedded", e))
        };
        let verbs = if query.filter.verbs.is_empty() {
            None
        } else {
            let mut ords = HashSet::new();
            for verb in &query.filter.verbs {
                if let Some(ord) = columns
                    .verb
                    .dictionary()
                    .term_ord(verb)
                    .map_err(|e| Error::backend("embedded", e))?
                {
                    ords.insert(ord);
                }
            }
            if ords.is_empty() {
                return Ok(None);
            }
            Some(ords)
        };
        let ords = |column: &StrColumn, keys: &[EntityKey]| -> Result<HashSet<u64>> {
            let mut set = HashSet::new();
            for key in keys {
                set.extend(ord_of(column, key)?);
            }
            Ok(set)
        };
        Ok(Some(SegmentRules {
            reach,
            resolved: Default::default(),
            weights,
            verbs,
            exclude_actors: ords(&columns.actor, &query.filter.exclude_actors)?,
            exclude_objects: ords(&columns.object, &query.filter.exclude_objects)?,
        }))
    }

    /// The links reaching the entity with this ordinal in column `slot`.
    fn links<'r>(
        &self,
        reach: &'r Reach,
        slot: usize,
        column: &StrColumn,
        ord: u64,
    ) -> Result<Option<&'r TermLinks>> {
        if let Some(known) = self.resolved[slot].borrow().get(&ord) {
            return Ok(known.map(|i| &reach.terms[i]));
        }
        let mut term = String::new();
        column
            .ord_to_str(ord, &mut term)
            .map_err(|e| Error::backend("embedded", e))?;
        let index = reach.by_column[slot].get(&term).copied();
        self.resolved[slot].borrow_mut().insert(ord, index);
        Ok(index.map(|i| &reach.terms[i]))
    }
}

/// The candidate query's matches in a segment, from `start` on.
fn postings(
    weight: &Candidates,
    reader: &SegmentReader,
    start: DocId,
) -> Result<Box<dyn tantivy::query::Scorer>> {
    let mut scorer = weight.weight()?.scorer(reader, 1.0).map_err(backend)?;
    if scorer.doc() != TERMINATED && scorer.doc() < start {
        scorer.seek(start);
    }
    Ok(scorer)
}

/// The first document whose `published` is at or below `max_ms` in a newest-first segment.
fn first_doc_at_or_below(published: &Column<i64>, max_doc: DocId, max_ms: i64) -> DocId {
    if max_ms == i64::MAX {
        return 0;
    }
    let (mut lo, mut hi) = (0, max_doc);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if published.first(mid).unwrap_or(i64::MIN) > max_ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The segment cursors merged into one walk.
pub(super) struct Merge {
    pub(super) cursors: Vec<Cursor>,
    pub(super) older: bool,
    /// The highest link weight any candidate can have.
    pub(super) max_weight: f64,
}

impl Merge {
    /// The next candidate over all segments, and the index of its cursor.
    pub(super) fn next(&mut self) -> Result<Option<(usize, Candidate)>> {
        let mut best: Option<(usize, Candidate)> = None;
        for i in 0..self.cursors.len() {
            let Some(head) = self.cursors[i].head()? else {
                continue;
            };
            best = match best {
                None => Some((i, head)),
                Some((j, current)) => {
                    let mut order = head.published.cmp(&current.published);
                    if order == Ordering::Equal {
                        order = self.cursors[i]
                            .id(&head)?
                            .cmp(&self.cursors[j].id(&current)?);
                    }
                    let better = if self.older {
                        order == Ordering::Greater
                    } else {
                        order == Ordering::Less
                    };
                    Some(if better { (i, head) } else { (j, current) })
                }
            };
        }
        if let Some((i, _)) = best {
            self.cursors[i].queue.pop_front();
        }
        Ok(best)
    }

    pub(super) fn address(&self, (i, candidate): (usize, Candidate)) -> DocAddress {
        DocAddress::new(self.cursors[i].segment_ord, candidate.doc)
    }

    /// Skips, in every segment, the candidates published at or after `ms`.
    pub(super) fn skip_from(&mut self, ms: i64) {
        for cursor in &mut self.cursors {
            cursor.skip_from(ms);
        }
    }
}

/// A flat page by recency. With collapse, the walk starts at the top of the feed and
/// `collapse_bound` (the page's "older than") applies after collapsing, so an activity is listed
/// only if it is the newest of its key in the whole feed, and every key is listed once over all
/// pages: the cost of page n is that of reading the feed down to its end.
fn flat(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    plan: &Plan,
    collapse_bound: Option<&Position>,
    merge: &mut Merge,
) -> Result<FeedResult> {
    let size = query.page.size;
    let mut seen = HashSet::new();
    let mut addresses = Vec::with_capacity(size + 1);
    let bound = collapse_bound.map(|p| (p.published.timestamp_millis(), p.id.as_str()));
    let mut past_bound = bound.is_none();
    while addresses.len() <= size {
        let Some(next) = merge.next()? else { break };
        if let Some(key) = query.collapse {
            let value = merge.cursors[next.0].value(key, &next.1)?;
            if !seen.insert(value) {
                continue;
            }
        }
        if !past_bound {
            let (ms, id) = bound.expect("set while not past the bound");
            let (candidate_ms, candidate) = (next.1.published, next.1);
            past_bound = candidate_ms < ms
                || (candidate_ms == ms && merge.cursors[next.0].id(&candidate)?.as_str() < id);
            if !past_bound {
                continue;
            }
        }
        addresses.push(merge.address(next));
    }
    let more = addresses.len() > size;
    addresses.truncate(size);
    let mut hits = addresses
        .into_iter()
        .map(|address| {
            Ok(Hit {
                activity: load_activity(searcher, address, fields)?,
                score: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if plan.older != (query.order == Order::Desc) {
        hits.reverse();
    }
    Ok(FeedResult {
        hits,
        more,
        groups: Vec::new(),
    })
}

pub(super) fn timestamp(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| Error::backend("embedded", format!("stored timestamp {ms} is out of range")))
}

pub(super) fn backend(e: tantivy::TantivyError) -> Error {
    Error::backend("embedded", e)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use super::*;
    use crate::activity::{Activity, Actor, Object};
    use crate::network::{Link, LinkTarget, Network};

    fn index(activities: &[Activity]) -> (Index, FeedFields) {
        let index = Index::builder()
            .schema(FeedFields::schema())
            .settings(super::super::settings(true))
            .create_in_ram()
            .unwrap();
        let fields = FeedFields::new(&index.schema()).unwrap();
        let mut writer: IndexWriter<TantivyDocument> = index.writer(15_000_000).unwrap();
        for activity in activities {
            writer
                .add_document(fields.document(activity, None).unwrap())
                .unwrap();
        }
        writer.commit().unwrap();
        (index, fields)
    }

    fn post(n: i64, actor: &str) -> Activity {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Activity::new(
            "post",
            Actor::new(actor, "person").unwrap(),
            Object::new(&format!("p{n}"), "post").unwrap(),
        )
        .unwrap()
        .with_id(&format!("a{n}"))
        .unwrap()
        .published_at(t0 + Duration::minutes(n))
        .unwrap()
    }

    /// A hash that collides with a linked entity's hash lets a document through the scan's
    /// pre-filter; the exact check must still keep it out.
    #[test]
    fn hash_collisions_never_change_results() {
        let activities: Vec<Activity> = (0..50)
            .map(|n| post(n, if n % 2 == 0 { "mark" } else { "eve" }))
            .collect();
        let (index, fields) = index(&activities);
        let searcher = index.reader().unwrap().searcher();
        let follow = Link::new(
            "reader",
            "follow",
            LinkTarget::actor("mark", "person").unwrap(),
        )
        .unwrap()
        .linked_at(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap())
        .unwrap();
        let network = Network {
            user: "reader".into(),
            links: vec![follow],
            total: 1,
        };
        let query = FeedQuery::network(&network).page_size(100).unwrap();
        let mut reach = Reach::new(&query).unwrap();
        // Forge a collision: eve's term hashes to an entry of the network.
        reach.by_hash[0].insert(term_hash("person:eve"), i64::MIN);
        let ids: Vec<String> = run_with(&searcher, &fields, &query, None, Some(reach), SCAN_BUDGET)
            .unwrap()
            .hits
            .iter()
            .map(|hit| hit.activity.id().unwrap().to_owned())
            .collect();
        let marks: Vec<String> = (0..50)
            .rev()
            .filter(|n| n % 2 == 0)
            .map(|n| format!("a{n}"))
            .collect();
        assert_eq!(ids, marks);
    }

    /// Whatever the scan budget (none, part of the segment, all of it), paging through a feed
    /// gives exactly the brute-force answer, so the handover from scan to posting lists neither
    /// skips nor repeats a document.
    #[test]
    fn scan_handover_to_postings_is_seamless() {
        // One segment; the reader's links reach a few activities far apart among many others.
        let actor = |n: i64| match n {
            5 | 140 | 299 => "quiet",
            _ if n % 7 == 0 => "friend",
            _ => "busy",
        };
        let activities: Vec<Activity> = (0..300).map(|n| post(n, actor(n))).collect();
        let (index, fields) = index(&activities);
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let link = |id: &str, minutes: i64| {
            Link::new("reader", "follow", LinkTarget::actor(id, "person").unwrap())
                .unwrap()
                .linked_at(t0 + Duration::minutes(minutes))
                .unwrap()
        };
        let network = Network {
            user: "reader".into(),
            // friend is followed late: its activities before minute 200 are not reached.
            links: vec![link("quiet", 0), link("friend", 200)],
            total: 2,
        };
        let expected: Vec<String> = (0..300)
            .rev()
            .filter(|n| actor(*n) == "quiet" || (actor(*n) == "friend" && *n >= 200))
            .map(|n| format!("a{n}"))
            .collect();
        for budget in [0, 1, 13, 64, 10_000] {
            let mut seen = Vec::new();
            let mut query = FeedQuery::network(&network).page_size(4).unwrap();
            loop {
                let result =
                    run_with(&searcher, &fields, &query, None, Reach::new(&query), budget).unwrap();
                seen.extend(
                    result
                        .hits
                        .iter()
                        .map(|h| h.activity.id().unwrap().to_owned()),
                );
                match Bound::next_after(query.page.bound.as_ref(), query.order, &result.hits) {
                    Some(next) if result.more => query.page.bound = Some(next),
                    _ => break,
                }
            }
            assert_eq!(seen, expected, "scan budget {budget}");
        }
    }
}
