//! Feed queries on the embedded backend: a walk over the activity index in feed order.
//!
//! Every segment of the activity index is sorted by `published`, newest first. A walk keeps one
//! cursor per segment (see `cursor`) and merges the cursors by `(published, id)`, so it meets
//! activities in exact feed order and stops as soon as the page (or every group) is full.
//!
//! A segment's cursor is opened only when the walk reaches the segment's newest activity: a
//! store loaded over time has segments that cover time ranges one after the other, and a page
//! of recent activities then never touches the older ones.
//!
//! Walking towards *newer* activities (ascending order, or a page newer than a position) cannot
//! stop early in a newest-first segment: it reads every candidate newer than the lower limit.
//! That is cheap for refreshing the top of a feed, and linear in the matches for an ascending
//! read from the very beginning.

use std::cmp::Ordering;
use std::rc::Rc;

use chrono::{DateTime, TimeZone, Utc};
use foldhash::{HashSet, HashSetExt};
use tantivy::query::{AllQuery, BooleanQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

use super::columns::Columns;
use super::cursor::{Candidate, Cursor, DocSource, Limits, ReadMemo, Tuning, Walking};
use super::reach::Reach;
use super::read::load_activity;
use super::schema::{feed, id_hash, FeedFields};
use super::{group, nearest, rank, rank::Score};
use crate::embedding::EmbeddingSpace;
use crate::error::{Error, Result};
use crate::query::{Bound, EntityFilter, FeedQuery, GroupKey, GroupValue, Order, Position, Source};
use crate::result::{FeedResult, Hit};

/// Runs a validated query.
pub(super) fn run(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    embeddings: Option<EmbeddingSpace>,
) -> Result<FeedResult> {
    let reach = match &query.source {
        Source::Network(rules) if rules.is_empty() => return Ok(FeedResult::default()),
        Source::Network(rules) => Some(Reach::new(rules)?),
        Source::All => None,
    };
    run_with(
        searcher,
        fields,
        query,
        embeddings,
        reach,
        Tuning::default(),
    )
}

/// Runs a query with its network rules already gathered (tests forge hash collisions there) and
/// a tuning of its plans (tests reach every plan with small data).
fn run_with(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    embeddings: Option<EmbeddingSpace>,
    reach: Option<Reach>,
    tuning: Tuning,
) -> Result<FeedResult> {
    let walk = Walk {
        searcher,
        fields,
        embeddings,
        tuning,
        verbs: std::cell::OnceCell::new(),
        memo: Rc::default(),
    };
    walk.run(query, reach.map(Rc::new), true)
}

/// What every walk of one read shares.
struct Walk<'w> {
    searcher: &'w Searcher,
    fields: &'w FeedFields,
    embeddings: Option<EmbeddingSpace>,
    tuning: Tuning,
    /// How many verbs the store holds (see [`verb_count`]), once a grouped walk asked.
    verbs: std::cell::OnceCell<usize>,
    memo: Rc<ReadMemo>,
}

impl Walk<'_> {
    /// Runs `query`; a grouped query may be split into one walk per outer group.
    fn run(&self, query: &FeedQuery, reach: Option<Rc<Reach>>, split: bool) -> Result<FeedResult> {
        let (searcher, fields, embeddings) = (self.searcher, self.fields, self.embeddings);
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
        let limits = limits(walk_query, reach.as_deref());
        // A network feed without entity filters scans, then reads the network's posting lists;
        // anything else reads the posting lists of its own terms.
        let weight = match (&reach, has_entity_filter(query)) {
            (Some(_), false) => None,
            _ => Some(
                candidates(fields, query)
                    .weight(EnableScoring::disabled_from_searcher(searcher))
                    .map_err(backend)?,
            ),
        };
        let walking = Walking {
            query,
            source: match &weight {
                Some(weight) => DocSource::Query(weight.as_ref()),
                None => DocSource::Network(self.tuning),
            },
            reach: reach.clone(),
            limits,
            read: Rc::clone(&self.memo),
        };
        let mut merge = Merge::new(searcher, fields, walking)?;
        if let Some(vector) = &query.vector {
            let space = embeddings.ok_or(Error::EmbeddingsNotEnabled)?;
            let log = fields
                .vectors
                .as_deref()
                .ok_or(Error::EmbeddingsNotEnabled)?;
            merge.open_all()?;
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
                let verbs = match self.verbs.get() {
                    Some(verbs) => *verbs,
                    None => {
                        let verbs = verb_count(searcher, query)?;
                        let _ = self.verbs.set(verbs);
                        verbs
                    }
                };
                // One outer group's walk: the query narrowed to the group's entity.
                let one = |value: &GroupValue| -> Result<Option<FeedResult>> {
                    let Some(narrowed) = narrowed(query, grouping.levels[0].key, value) else {
                        return Ok(None);
                    };
                    self.run(&narrowed, reach.clone(), false).map(Some)
                };
                let split: Option<group::ReadGroup<'_>> = split.then_some(&one);
                group::grouped(searcher, fields, grouping, &score, verbs, &mut merge, split)
            }
            (None, Some(score)) => rank::ranked(searcher, fields, query, score, &mut merge),
            (None, None) => flat(searcher, fields, query, collapse_bound, &mut merge),
        }
    }
}

/// `query` limited to the activities whose `key` (an entity key) is `value`; `None` for a key
/// or value no posting list finds (activities without a target).
fn narrowed(query: &FeedQuery, key: GroupKey, value: &GroupValue) -> Option<FeedQuery> {
    let GroupValue::Entity(Some(entity)) = value else {
        return None;
    };
    let only = Some(EntityFilter {
        id: entity.id.clone(),
        kind: Some(entity.kind.clone()),
    });
    let mut narrowed = query.clone();
    match key {
        GroupKey::Actor => narrowed.filter.actor = only,
        GroupKey::Object => narrowed.filter.object = only,
        GroupKey::Target => narrowed.filter.target = only,
        _ => return None,
    }
    Some(narrowed)
}

/// Whether the query filters on an actor, object or target.
fn has_entity_filter(query: &FeedQuery) -> bool {
    let filter = &query.filter;
    filter.actor.is_some() || filter.object.is_some() || filter.target.is_some()
}

/// Whether a query's candidates are its network's alone (a network feed without entity
/// filters), so each linked entity's posting list can be read on its own.
pub(super) fn network_only(query: &FeedQuery) -> bool {
    matches!(query.source, Source::Network(_)) && !has_entity_filter(query)
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
fn limits(query: &FeedQuery, reach: Option<&Reach>) -> Limits {
    let mut limits = Limits {
        older: match query.grouping {
            // Grouped feeds list groups in the query's order; a bound only restricts them.
            Some(_) => query.order == Order::Desc,
            None => Bound::walks_older(query.page.bound.as_ref(), query.order),
        },
        max_ms: i64::MAX,
        min_ms: i64::MIN,
        before: None,
        after: None,
    };
    if let Some(until) = query.filter.until {
        limits.max_ms = until.timestamp_millis() - 1;
    }
    if let Some(since) = query.filter.since {
        limits.min_ms = since.timestamp_millis();
    }
    if let Some(reach) = reach {
        // No rule reaches anything older than the oldest link.
        limits.min_ms = limits.min_ms.max(reach.min_since);
    }
    match &query.page.bound {
        Some(Bound::OlderThan(p)) => {
            let ms = p.published.timestamp_millis();
            limits.max_ms = limits.max_ms.min(ms);
            limits.before = Some((ms, p.id.clone()));
        }
        Some(Bound::NewerThan(p)) => {
            let ms = p.published.timestamp_millis();
            limits.min_ms = limits.min_ms.max(ms);
            limits.after = Some((ms, p.id.clone()));
        }
        // A ranked bound is on scores, which the ranked walk checks itself.
        Some(Bound::RankedBelow(_)) | None => {}
    }
    limits
}

/// The documents a query without a network scan reads: the posting lists of its entity filters
/// (by the hash of the id; the exact entity is checked per document) and verbs, or every
/// document. The network, if any, is checked per document.
fn candidates(fields: &FeedFields, query: &FeedQuery) -> Box<dyn Query> {
    let mut must: Vec<Box<dyn Query>> = Vec::new();
    let filter = &query.filter;
    for (slot, entity) in [&filter.actor, &filter.object, &filter.target]
        .into_iter()
        .enumerate()
    {
        if let Some(EntityFilter { id, .. }) = entity {
            must.push(Box::new(TermQuery::new(
                Term::from_field_u64(fields.keys[slot], id_hash(id)),
                IndexRecordOption::Basic,
            )));
        }
    }
    if !filter.verbs.is_empty() {
        must.push(Box::new(BooleanQuery::new(
            filter
                .verbs
                .iter()
                .map(|v| -> (Occur, Box<dyn Query>) {
                    let term = Term::from_field_text(fields.verb, v);
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                    )
                })
                .collect(),
        )));
    }
    match must.len() {
        0 => Box::new(AllQuery),
        1 => must.pop().expect("one clause"),
        _ => Box::new(BooleanQuery::new(
            must.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

/// A segment not yet opened, and the time of the first activity it could yield.
struct Pending {
    segment_ord: u32,
    first_ms: i64,
}

/// The segment cursors merged into one walk.
pub(super) struct Merge<'w> {
    /// The cursors opened so far.
    pub(super) cursors: Vec<Cursor>,
    /// Segments not yet opened, the next to open last.
    pending: Vec<Pending>,
    searcher: &'w Searcher,
    fields: &'w FeedFields,
    walking: Walking<'w>,
    /// Candidates at or after this time were skipped (`skip_from`).
    skipped_from: Option<i64>,
    pub(super) older: bool,
    /// The highest link weight any candidate can have.
    pub(super) max_weight: f64,
}

impl<'w> Merge<'w> {
    fn new(searcher: &'w Searcher, fields: &'w FeedFields, walking: Walking<'w>) -> Result<Self> {
        let limits = &walking.limits;
        let mut pending = Vec::new();
        for (segment_ord, reader) in searcher.segment_readers().iter().enumerate() {
            let max_doc = reader.max_doc();
            if max_doc == 0 {
                continue;
            }
            let columns = fields
                .columns
                .get(reader, searcher.segment_readers(), Columns::open)?;
            // Newest first: the segment's time range is its first and last document's.
            let newest = columns.published.first(0).unwrap_or(i64::MAX);
            let oldest = columns.published.first(max_doc - 1).unwrap_or(i64::MIN);
            if newest < limits.min_ms || oldest > limits.max_ms {
                continue;
            }
            pending.push(Pending {
                segment_ord: segment_ord as u32,
                first_ms: if limits.older {
                    newest.min(limits.max_ms)
                } else {
                    oldest.max(limits.min_ms)
                },
            });
        }
        // The next to open last: the newest first segment (the oldest, walking towards newer).
        if limits.older {
            pending.sort_by_key(|p| p.first_ms);
        } else {
            pending.sort_by_key(|p| std::cmp::Reverse(p.first_ms));
        }
        Ok(Merge {
            cursors: Vec::new(),
            pending,
            searcher,
            fields,
            older: limits.older,
            max_weight: walking.reach.as_ref().map_or(1.0, |r| r.max_weight),
            walking,
            skipped_from: None,
        })
    }

    /// Opens the next pending segment.
    fn open_next(&mut self) -> Result<()> {
        let Some(next) = self.pending.pop() else {
            return Ok(());
        };
        let reader = self.searcher.segment_reader(next.segment_ord);
        let columns =
            self.fields
                .columns
                .get(reader, self.searcher.segment_readers(), Columns::open)?;
        let cursor = Cursor::open(next.segment_ord, reader, columns, &self.walking)?;
        if let Some(mut cursor) = cursor {
            if let Some(ms) = self.skipped_from {
                cursor.skip_from(ms);
            }
            self.cursors.push(cursor);
        }
        Ok(())
    }

    /// Opens every segment (for walks that read every candidate).
    pub(super) fn open_all(&mut self) -> Result<()> {
        while !self.pending.is_empty() {
            self.open_next()?;
        }
        Ok(())
    }

    /// The best head among the open cursors, and its cursor.
    fn best(&mut self) -> Result<Option<(usize, Candidate)>> {
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
        Ok(best)
    }

    /// The next candidate over all segments, and the index of its cursor.
    pub(super) fn next(&mut self) -> Result<Option<(usize, Candidate)>> {
        loop {
            let best = self.best()?;
            // A segment whose first possible activity is not past the best head (ties
            // included: they are ordered by id) may hold the next candidate.
            let open = match (self.pending.last(), &best) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(next), Some((_, head))) => {
                    if self.older {
                        next.first_ms >= head.published
                    } else {
                        next.first_ms <= head.published
                    }
                }
            };
            if !open {
                if let Some((i, _)) = best {
                    self.cursors[i].queue.pop_front();
                }
                return Ok(best);
            }
            self.open_next()?;
        }
    }

    pub(super) fn address(&self, (i, candidate): (usize, Candidate)) -> DocAddress {
        DocAddress::new(self.cursors[i].segment_ord, candidate.doc)
    }

    /// Skips, in every segment, the candidates published at or after `ms`.
    pub(super) fn skip_from(&mut self, ms: i64) {
        for cursor in &mut self.cursors {
            cursor.skip_from(ms);
        }
        self.skipped_from = Some(self.skipped_from.map_or(ms, |skipped| skipped.min(ms)));
        // A pending segment starts below the skip.
        for pending in &mut self.pending {
            if self.older {
                pending.first_ms = pending.first_ms.min(ms - 1);
            }
        }
        if self.older {
            self.pending.sort_by_key(|p| p.first_ms);
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
    collapse_bound: Option<&Position>,
    merge: &mut Merge<'_>,
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
    if merge.older != (query.order == Order::Desc) {
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
    use crate::backend::embedded::schema::id_hash;
    use crate::network::{Link, LinkTarget, Network};

    /// An empty activity index in RAM, sorted as the store sorts it, and its writer.
    fn empty_index() -> (Index, FeedFields, IndexWriter<TantivyDocument>) {
        let index = Index::builder()
            .schema(FeedFields::schema())
            .settings(super::super::settings(super::super::Sorted::Feeds))
            .create_in_ram()
            .unwrap();
        let fields = FeedFields::new(&index.schema()).unwrap();
        let writer = index.writer(15_000_000).unwrap();
        (index, fields, writer)
    }

    fn index(activities: &[Activity]) -> (Index, FeedFields) {
        let (index, fields, mut writer) = empty_index();
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
        let network = Network::new("reader", vec![follow], 1);
        let query = FeedQuery::network(&network).page_size(100).unwrap();
        let marks: Vec<String> = (0..50)
            .rev()
            .filter(|n| n % 2 == 0)
            .map(|n| format!("a{n}"))
            .collect();
        // Through the scan and through the posting lists (a fixed budget of 0).
        for fixed in [None, Some(0)] {
            let Source::Network(rules) = &query.source else {
                unreachable!("a network query")
            };
            let mut reach = Reach::new(rules).unwrap();
            // Forge a collision: eve's term hashes to mark's entry of the network.
            reach.collide(0, id_hash("eve"), id_hash("mark"));
            let tuning = Tuning {
                fixed,
                ..Tuning::default()
            };
            let ids: Vec<String> = run_with(&searcher, &fields, &query, None, Some(reach), tuning)
                .unwrap()
                .hits
                .iter()
                .map(|hit| hit.activity.id().unwrap().to_owned())
                .collect();
            assert_eq!(ids, marks, "fixed scan budget {fixed:?}");
        }
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
        // friend is followed late: its activities before minute 200 are not reached.
        let network = Network::new("reader", vec![link("quiet", 0), link("friend", 200)], 2);
        let expected: Vec<String> = (0..300)
            .rev()
            .filter(|n| actor(*n) == "quiet" || (actor(*n) == "friend" && *n >= 200))
            .map(|n| format!("a{n}"))
            .collect();
        for budget in [0, 1, 13, 64, 10_000] {
            let tuning = Tuning {
                fixed: Some(budget),
                ..Tuning::default()
            };
            let pages = pages(&searcher, &fields, &network, Order::Desc, 4, tuning);
            assert_eq!(pages.concat(), expected, "scan budget {budget}");
        }
    }

    /// Every page of a network feed, read to its end through cursors.
    fn pages(
        searcher: &Searcher,
        fields: &FeedFields,
        network: &Network,
        order: Order,
        size: usize,
        tuning: Tuning,
    ) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut query = FeedQuery::network(network)
            .order(order)
            .page_size(size)
            .unwrap();
        loop {
            let Source::Network(rules) = &query.source else {
                unreachable!("a network query")
            };
            let reach = Some(Reach::new(rules).unwrap());
            let result = run_with(searcher, fields, &query, None, reach, tuning).unwrap();
            pages.push(
                result
                    .hits
                    .iter()
                    .map(|h| h.activity.id().unwrap().to_owned())
                    .collect(),
            );
            match Bound::next_after(query.page.bound.as_ref(), query.order, &result.hits) {
                Some(next) if result.more => query.page.bound = Some(next),
                _ => return pages,
            }
            assert!(pages.len() < 10_000, "the cursor does not advance");
        }
    }

    /// Every plan a network cursor can take (scan; posting lists from the start, chosen from
    /// their sizes or forced; a scan handing over after its budget, and later segments starting
    /// on posting lists; dense scans renewed) pages through a multi-segment feed exactly as a
    /// brute force does, newest and oldest first: skewed posting, ties at a millisecond, late
    /// links, watches reaching comments through their target, a type clash and removals.
    #[test]
    fn every_plan_pages_like_brute_force() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut seed = 7u64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (index, fields, mut writer) = empty_index();
        /// What the brute force knows of an activity.
        struct Made {
            id: String,
            actor: (String, &'static str),
            object: String,
            target: Option<String>,
            minute: i64,
        }
        let mut made: Vec<Made> = Vec::new();
        for segment in 0..3 {
            for _ in 0..400 {
                let n = made.len();
                // Account u0 posts most, u39 rarely; u5 is also a bot.
                let u = (random(40) * random(40)) / 40;
                let kind = if u == 5 && n.is_multiple_of(3) {
                    "bot"
                } else {
                    "person"
                };
                let minute = random(2_000) as i64;
                let (object, target) = if n.is_multiple_of(5) && n > 0 {
                    (format!("c{n}"), Some(format!("p{}", random(n as u64))))
                } else {
                    (format!("p{n}"), None)
                };
                let mut activity = Activity::new(
                    if target.is_some() { "comment" } else { "post" },
                    Actor::new(&format!("u{u}"), kind).unwrap(),
                    Object::new(&object, if target.is_some() { "comment" } else { "post" })
                        .unwrap(),
                )
                .unwrap()
                .with_id(&format!("a{n:04}"))
                .unwrap()
                .published_at(t0 + Duration::minutes(minute))
                .unwrap();
                if let Some(target) = &target {
                    activity =
                        activity.with_target(crate::activity::Target::new(target, "post").unwrap());
                }
                writer
                    .add_document(fields.document(&activity, None).unwrap())
                    .unwrap();
                made.push(Made {
                    id: format!("a{n:04}"),
                    actor: (format!("u{u}"), kind),
                    object,
                    target,
                    minute,
                });
            }
            if segment == 1 {
                // Removals, in the segments already written.
                for victim in ["a0003", "a0100", "a0477", "a0700"] {
                    writer
                        .delete_query(crate::backend::embedded::read::activity_query(
                            &fields, victim,
                        ))
                        .unwrap();
                    made.retain(|m| m.id != victim);
                }
            }
            writer.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 3);

        let link = |class: crate::network::LinkClass, id: &str, kind: &str, minute: i64| {
            let target = match class {
                crate::network::LinkClass::Actor => LinkTarget::actor(id, kind),
                crate::network::LinkClass::Object => LinkTarget::object(id, kind),
            }
            .unwrap();
            Link::new("reader", "follow", target)
                .unwrap()
                .linked_at(t0 + Duration::minutes(minute))
                .unwrap()
        };
        use crate::network::LinkClass::{Actor as A, Object as O};
        let networks: Vec<Vec<Link>> = vec![
            // Busy accounts, one followed late, and a watched post.
            vec![
                link(A, "u0", "person", 0),
                link(A, "u1", "person", 1_500),
                link(O, "p7", "post", 0),
            ],
            // Quiet accounts only, the bot among them.
            vec![
                link(A, "u38", "person", 0),
                link(A, "u39", "person", 300),
                link(A, "u5", "bot", 0),
            ],
            // Many accounts (most never post) and watches.
            (0..400)
                .map(|u| link(A, &format!("u{u}"), "person", (u * 5) as i64))
                .chain((0..30).map(|p| link(O, &format!("p{}", p * 11), "post", 100)))
                .collect(),
        ];
        let tunings = [
            Tuning::default(),
            // Always estimate, and always choose the posting lists or always the scan.
            Tuning {
                estimate_lists: u64::MAX,
                dense_scan: u64::MAX,
                ..Tuning::default()
            },
            Tuning {
                estimate_lists: u64::MAX,
                dense_scan: 0,
                ..Tuning::default()
            },
            // Never estimate: scans hand over early, later segments start on posting lists.
            Tuning {
                estimate_lists: 0,
                docs_per_list: 0,
                min_scan: 50,
                dense_scan: 16,
                fixed: None,
            },
            // Never estimate, and every scan is dense enough to be renewed.
            Tuning {
                estimate_lists: 0,
                docs_per_list: 0,
                min_scan: 50,
                dense_scan: u64::MAX,
                fixed: None,
            },
        ];
        for links in networks {
            let rules: Vec<_> = links
                .iter()
                .map(|l| {
                    (
                        l.target().class,
                        l.target().id.clone(),
                        l.target().kind.clone(),
                        l.linked().timestamp_millis(),
                    )
                })
                .collect();
            let reaches = |m: &Made| {
                let published = (t0 + Duration::minutes(m.minute)).timestamp_millis();
                rules.iter().any(|(class, id, kind, since)| {
                    published >= *since
                        && match class {
                            A => m.actor.0 == *id && m.actor.1 == kind,
                            O => {
                                kind == "post"
                                    && (m.object == *id || m.target.as_deref() == Some(id))
                            }
                        }
                })
            };
            let mut expected: Vec<(i64, &str)> = made
                .iter()
                .filter(|m| reaches(m))
                .map(|m| (m.minute, m.id.as_str()))
                .collect();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
            assert!(expected.len() > 5, "{} reached", expected.len());
            let network = Network::new("reader", links.clone(), links.len() as u64);
            for tuning in tunings {
                let newest = pages(&searcher, &fields, &network, Order::Desc, 7, tuning);
                assert_eq!(newest.concat(), expected, "{tuning:?}");
                let mut oldest_first = expected.clone();
                oldest_first.reverse();
                let oldest = pages(&searcher, &fields, &network, Order::Asc, 9, tuning);
                assert_eq!(oldest.concat(), oldest_first, "{tuning:?}");
            }
        }
    }
}
