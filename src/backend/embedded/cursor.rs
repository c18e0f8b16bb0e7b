//! One segment's side of a feed walk: its candidates in walk order, each checked exactly.
//!
//! A segment is sorted newest first, so its documents are met in feed order. Where they come
//! from is decided per segment and per read (see [`Tuning`] for the numbers):
//! - a network of a few hundred posting lists or fewer looks its lists up first (a term lookup
//!   each, which also says how many documents each holds) and reads them, or scans, whichever
//!   those counts make cheaper;
//! - a larger network **scans** the segment, reading the hash columns of a block of documents
//!   at a time and admitting a document when its actor, object or target hash is in the
//!   network (one bit of a pre-filter, then a hash-map probe): a few nanoseconds a document
//!   whatever the network's size. Once the scan has cost about what its posting lists would
//!   and found few matches, it goes on from the same document on the **posting lists** of the
//!   linked entities' hashes (see `postings`), and segments the read opens later start there;
//! - any other query reads the posting lists of its own terms (entity filters, verbs) or every
//!   document.
//!
//! Every candidate is then checked exactly on columns: the "since" time of the links reaching it
//! (the exact entity term, see `reach`), verbs, entity filters, exclusions and the keyset
//! position.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use chrono::Datelike;
use foldhash::{HashMap, HashSet, HashSetExt};
use tantivy::columnar::{Column, StrColumn};
use tantivy::fastfield::AliveBitSet;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, SegmentReader, Term, TERMINATED};

use super::columns::Columns;
use super::postings::{Lists, NetworkUnion, Postings};
use super::reach::{Bucket, Reach, TermLinks, TABLE_OF_SLOT};
use super::schema::{entity_term, parse_entity_term, NO_ENTITY};
use super::terms::CachedTerms;
use super::walk::{backend, timestamp};
use crate::activity::EntityKey;
use crate::error::{Error, Result};
use crate::query::{FeedQuery, GroupKey, GroupValue, Ranking};

/// Documents a scan reads per block (the columns of a block are read in one call each).
const BLOCK: u32 = 128;

/// How a network feed's cursors choose between scanning and posting lists. The defaults come
/// from measurements on the benchmark's store; tests change them to reach every plan with
/// small data.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    /// What looking up and opening one posting list costs, in documents a scan could read
    /// meanwhile (about a microsecond, against about ten nanoseconds a scanned document). A
    /// large network's scan may read this many documents per list before it hands over:
    /// never more than twice the cost of the better plan.
    pub(super) docs_per_list: u64,
    /// The least a scan reads before it may hand over.
    pub(super) min_scan: u64,
    /// Networks with at most this many posting lists look them up before choosing a plan (the
    /// lookups, about 150 ns each, are then cheaper than a wrong guess).
    pub(super) estimate_lists: u64,
    /// Scanning pays when at least one document in this many matches: a scanned document
    /// costs about a sixteenth of a match taken from the merged posting lists.
    pub(super) dense_scan: u64,
    /// A scan budget per segment fixed by a test: no estimate, no renewal, no carry-over.
    pub(super) fixed: Option<u32>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            docs_per_list: 100,
            min_scan: 4_096,
            estimate_lists: 256,
            dense_scan: 16,
            fixed: None,
        }
    }
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

/// Where a cursor's documents come from.
enum Docs {
    /// Every document from a position on, in blocks, pre-filtered by hashes.
    Scan(Scan),
    /// The matches of posting lists.
    Postings(Postings),
}

/// A scan's progress.
struct Scan {
    /// The first document not yet read into a block.
    next: DocId,
    /// Documents of the current block the pre-filter admitted, with their time.
    admitted: VecDeque<(DocId, i64)>,
    /// Documents read, and admitted, since the budget was last renewed.
    read: u64,
    passed: u64,
    /// Documents to read before deciding whether to go on.
    budget: u64,
    /// A budget fixed by a test: no renewal.
    fixed: bool,
    /// The renewal rule (see [`Tuning::dense_scan`]).
    dense_scan: u64,
    /// The scan met the end of the segment or the walk's lower time limit.
    ended: bool,
    /// The network's lists, if already looked up.
    lists: Option<Lists>,
}

/// What one read learns about the segments it walks, shared by every walk of the read (a
/// grouped read may walk each listed group again, see `group`).
#[derive(Default)]
pub(super) struct ReadMemo {
    segments: RefCell<HashMap<u32, Rc<SegmentMemo>>>,
    /// A scan found the network sparse and went on to posting lists: segments opened later
    /// (older ones, in a store loaded over time) start on posting lists.
    sparse: std::cell::Cell<bool>,
}

impl ReadMemo {
    fn segment(&self, segment_ord: u32) -> Rc<SegmentMemo> {
        Rc::clone(self.segments.borrow_mut().entry(segment_ord).or_default())
    }
}

/// What a read learns about one segment: which links reach each entity ordinal it met, and the
/// group values of ordinals (each costs a dictionary lookup).
#[derive(Default)]
struct SegmentMemo {
    /// Column ordinal → the links reaching it (`None`: no link does), per column.
    resolved: [RefCell<HashMap<u64, Option<Rc<TermLinks>>>>; 3],
    /// Group values already resolved, by column and ordinal.
    values: RefCell<HashMap<(u8, u64), GroupValue>>,
}

/// How a cursor finds its documents.
#[derive(Clone, Copy)]
pub(super) enum DocSource<'w> {
    /// Scan or read the network's posting lists, as the tuning says.
    Network(Tuning),
    /// The matches of a query's own terms.
    Query(&'w dyn tantivy::query::Weight),
}

/// The bounds and order of a walk, as every cursor applies them.
#[derive(Debug, Clone)]
pub(super) struct Limits {
    /// Walk towards older activities (newest first)?
    pub(super) older: bool,
    /// Highest `published` (inclusive) any result may have.
    pub(super) max_ms: i64,
    /// Lowest `published` (inclusive) any result may have.
    pub(super) min_ms: i64,
    /// Results must be strictly before this position (in `(published, id)` order).
    pub(super) before: Option<(i64, String)>,
    /// Results must be strictly after this position.
    pub(super) after: Option<(i64, String)>,
}

/// What every cursor of a walk is opened with.
pub(super) struct Walking<'w> {
    pub(super) query: &'w FeedQuery,
    pub(super) source: DocSource<'w>,
    pub(super) reach: Option<Rc<Reach>>,
    pub(super) limits: Limits,
    pub(super) read: Rc<ReadMemo>,
}

/// One segment's candidates, yielded in walk order, exactly ordered by `(published, id)`.
pub(super) struct Cursor {
    pub(super) segment_ord: u32,
    columns: Arc<Columns>,
    rules: SegmentRules,
    reach: Option<Rc<Reach>>,
    docs: Docs,
    reader: SegmentReader,
    alive: Option<AliveBitSet>,
    /// Candidates ready to yield, in walk order.
    pub(super) queue: VecDeque<Candidate>,
    /// A passing document read ahead of the queue (newest-first walks).
    lookahead: Option<Candidate>,
    exhausted: bool,
    limits: Limits,
    read: Rc<ReadMemo>,
    memo: Rc<SegmentMemo>,
    /// Reusable block buffers of a scan.
    block: Block,
}

#[derive(Default)]
struct Block {
    hashes: [Vec<u64>; 3],
}

impl Cursor {
    /// Opens the cursor of one segment; `None` if no document of it can match.
    pub(super) fn open(
        segment_ord: u32,
        reader: &SegmentReader,
        columns: Arc<Columns>,
        walking: &Walking<'_>,
    ) -> Result<Option<Cursor>> {
        let (query, limits, read) = (walking.query, &walking.limits, &walking.read);
        let reach = walking.reach.clone();
        // Ranked queries need each candidate's best link weight.
        let weights = query.ranking != Ranking::Recency;
        let Some(rules) = SegmentRules::new(&columns, query, weights)? else {
            return Ok(None);
        };
        // Skip straight to the first document not newer than the upper limit.
        let start = first_doc_at_or_below(&columns.published, reader.max_doc(), limits.max_ms);
        let docs = match walking.source {
            DocSource::Network(tuning) => {
                let fixed = tuning.fixed;
                let reach = reach.as_deref().ok_or_else(no_network)?;
                let lists = reach.posting_lists();
                // A small network's lists are looked up first: their sizes say which plan
                // is cheaper here. A large one's lookups would cost more than most reads:
                // it scans, and looks its lists up only if the scan finds little.
                let looked_up =
                    if fixed.is_none() && (lists <= tuning.estimate_lists || read.sparse.get()) {
                        Some(Lists::look_up(&columns, reach)?)
                    } else {
                        None
                    };
                match looked_up {
                    Some(found)
                        if read.sparse.get()
                            || found.documents.saturating_mul(tuning.dense_scan)
                                < u64::from(reader.max_doc()) =>
                    {
                        Docs::Postings(Postings::Network(NetworkUnion::open(
                            &columns, found, start,
                        )?))
                    }
                    found => Docs::Scan(Scan {
                        next: start,
                        admitted: VecDeque::new(),
                        read: 0,
                        passed: 0,
                        budget: fixed.map_or(
                            (lists * tuning.docs_per_list).max(tuning.min_scan),
                            u64::from,
                        ),
                        fixed: fixed.is_some(),
                        dense_scan: tuning.dense_scan,
                        ended: false,
                        lists: found,
                    }),
                }
            }
            DocSource::Query(weight) => {
                let mut scorer = weight.scorer(reader, 1.0).map_err(backend)?;
                if scorer.doc() != TERMINATED && scorer.doc() < start {
                    scorer.seek(start);
                }
                Docs::Postings(Postings::Query(scorer))
            }
        };
        let mut cursor = Cursor {
            segment_ord,
            columns,
            rules,
            reach,
            docs,
            reader: reader.clone(),
            alive: reader.alive_bitset().cloned(),
            queue: VecDeque::new(),
            lookahead: None,
            exhausted: false,
            limits: limits.clone(),
            memo: read.segment(segment_ord),
            read: Rc::clone(read),
            block: Block::default(),
        };
        if !cursor.limits.older {
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
            let (doc, published) = match &mut self.docs {
                Docs::Scan(scan) => match scan.admitted.pop_front() {
                    Some(next) => next,
                    None if scan.ended => break,
                    None if scan.read >= scan.budget => {
                        // The budget is spent. A dense network scans on; a sparse one goes
                        // on from here on the posting lists.
                        if !scan.fixed && scan.passed.saturating_mul(scan.dense_scan) >= scan.read {
                            scan.read = 0;
                            scan.passed = 0;
                            continue;
                        }
                        let next = scan.next;
                        if !scan.fixed {
                            self.read.sparse.set(true);
                        }
                        let lists = match scan.lists.take() {
                            Some(lists) => lists,
                            None => {
                                let reach = self.reach.as_deref().ok_or_else(no_network)?;
                                Lists::look_up(&self.columns, reach)?
                            }
                        };
                        self.docs = Docs::Postings(Postings::Network(NetworkUnion::open(
                            &self.columns,
                            lists,
                            next,
                        )?));
                        continue;
                    }
                    None => {
                        self.scan_block();
                        continue;
                    }
                },
                Docs::Postings(postings) => {
                    let doc = postings.doc();
                    if doc == TERMINATED {
                        break;
                    }
                    postings.advance();
                    let published = self.columns.published.first(doc).unwrap_or(i64::MIN);
                    if published < self.limits.min_ms {
                        break;
                    }
                    (doc, published)
                }
            };
            if let Some(candidate) = self.check(doc, published)? {
                return Ok(Some(candidate));
            }
        }
        self.exhausted = true;
        Ok(None)
    }

    /// Reads the next block of a scan and keeps the documents the hash pre-filter admits.
    fn scan_block(&mut self) {
        let Docs::Scan(scan) = &mut self.docs else {
            return;
        };
        let Some(reach) = self.reach.as_deref() else {
            scan.ended = true;
            return;
        };
        let max_doc = self.reader.max_doc();
        let room = if scan.fixed {
            scan.budget.saturating_sub(scan.read).min(BLOCK as u64) as u32
        } else {
            BLOCK
        };
        let mut n = room.min(max_doc.saturating_sub(scan.next));
        if n == 0 {
            scan.ended = true;
            return;
        }
        let start = scan.next;
        let columns = &self.columns;
        let published = |doc: DocId| columns.published.first(doc).unwrap_or(i64::MIN);
        // Newest first: the block's last document says whether the walk's lower limit falls in
        // it; only then is the block cut, and `published` is otherwise read only for the
        // documents a hash admits.
        if published(start + n - 1) < self.limits.min_ms {
            n = first_doc_at_or_below(&columns.published, start + n, self.limits.min_ms - 1)
                .saturating_sub(start);
            scan.ended = true;
        }
        let block = &mut self.block;
        for hashes in &mut block.hashes {
            hashes.resize(n as usize, 0);
        }
        if columns.dense {
            for (column, hashes) in columns.hashes.iter().zip(&mut block.hashes) {
                column.values.get_range(start as u64, hashes);
            }
        } else {
            // A segment of an older writer: a value missing reaches nothing.
            for (i, doc) in (start..start + n).enumerate() {
                for (column, hashes) in columns.hashes.iter().zip(&mut block.hashes) {
                    hashes[i] = column.first(doc).unwrap_or(NO_ENTITY);
                }
            }
        }
        let (actors, objects) = (!reach.is_empty(0), !reach.is_empty(1));
        // The earliest link time of a hash's bucket, if the hash is in the table.
        let earliest = |table: usize, hash: u64| reach.bucket(table, hash).map(|b| b.earliest);
        let [actor_hashes, object_hashes, target_hashes] = &block.hashes;
        for i in 0..n as usize {
            let mut since = None::<i64>;
            let mut note = |found: Option<i64>| {
                if let Some(found) = found {
                    since = Some(since.map_or(found, |s| s.min(found)));
                }
            };
            if actors {
                note(earliest(0, actor_hashes[i]));
            }
            if objects {
                note(earliest(1, object_hashes[i]));
                note(earliest(1, target_hashes[i]));
            }
            if let Some(since) = since {
                let doc = start + i as u32;
                let published = published(doc);
                if published >= since {
                    scan.admitted.push_back((doc, published));
                }
            }
        }
        scan.passed += scan.admitted.len() as u64;
        scan.read += n as u64;
        scan.next = start + n;
        if scan.next >= max_doc {
            scan.ended = true;
        }
    }

    /// Every document of the segment that passes every check, in document order, found on the
    /// hash posting list of each linked entity on its own, with no merge: a walk that reads
    /// every candidate needs no order, and merging many lists costs about as much as scanning
    /// the segment. Only for network feeds without entity filters.
    pub(super) fn every_candidate(&self) -> Result<Vec<Candidate>> {
        let reach = self
            .reach
            .as_deref()
            .ok_or_else(|| Error::backend("embedded", "every candidate of no network"))?;
        let max_doc = self.reader.max_doc() as usize;
        let mut reached = vec![0u64; max_doc.div_ceil(64)];
        for (slot, table) in TABLE_OF_SLOT.into_iter().enumerate() {
            for (hash, _) in reach.buckets(table) {
                let term = Term::from_field_u64(self.columns.hash_fields[slot], hash);
                let Some(mut postings) = self.columns.postings[slot]
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(|e| Error::backend("embedded", e))?
                else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    reached[doc as usize / 64] |= 1 << (doc % 64);
                    doc = postings.advance();
                }
            }
        }
        let mut candidates = Vec::new();
        for (word_index, mut word) in reached.into_iter().enumerate() {
            while word != 0 {
                let doc = (word_index * 64) as DocId + word.trailing_zeros();
                word &= word - 1;
                let published = self.columns.published.first(doc).unwrap_or(i64::MIN);
                if published < self.limits.min_ms || published > self.limits.max_ms {
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
        for (slot, only) in rules.only.iter().enumerate() {
            let Some(only) = only else { continue };
            let Some(ord) = ord(self.columns.entity(slot)) else {
                return Ok(None);
            };
            let matches = match only {
                Only::Entity(only) => ord == *only,
                Only::Id(id) => rules.has_id(&self.columns.terms[slot + 1], slot, ord, id)?,
            };
            if !matches {
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
        if let Some(reach) = &self.reach {
            let mut reached = None::<f64>;
            for (slot, table) in TABLE_OF_SLOT.into_iter().enumerate() {
                if reach.is_empty(table) {
                    continue;
                }
                // The hash rules a column out exactly when it is absent from the network (or
                // too early for every term sharing it); only a hit costs a dictionary lookup,
                // once per term and segment.
                let Some(bucket) = self.columns.hashes[slot]
                    .first(doc)
                    .and_then(|hash| reach.bucket(table, hash))
                else {
                    continue;
                };
                if published < bucket.earliest {
                    continue;
                }
                let column = self.columns.entity(slot);
                let Some(ord) = ord(column) else { continue };
                let Some(links) = self.links(reach, slot, ord, bucket)? else {
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
        if let Some((ms, id)) = &self.limits.before {
            if published == *ms && self.id(&candidate)?.as_str() >= id.as_str() {
                return Ok(None);
            }
        }
        if let Some((ms, id)) = &self.limits.after {
            if published == *ms && self.id(&candidate)?.as_str() <= id.as_str() {
                return Ok(None);
            }
        }
        Ok(Some(candidate))
    }

    /// Skips every candidate published at or after `ms` (newest-first walks only): what a
    /// grouped walk does once the time window it is in can change no group.
    pub(super) fn skip_from(&mut self, ms: i64) {
        if !self.limits.older {
            return;
        }
        self.queue.retain(|c| c.published < ms);
        if self.lookahead.is_some_and(|c| c.published >= ms) {
            self.lookahead = None;
        }
        let target = first_doc_at_or_below(&self.columns.published, self.reader.max_doc(), ms - 1);
        match &mut self.docs {
            Docs::Scan(scan) => {
                scan.admitted.retain(|(doc, _)| *doc >= target);
                scan.next = scan.next.max(target);
            }
            Docs::Postings(postings) => postings.seek(target),
        }
    }

    /// The next candidate in walk order without consuming it.
    pub(super) fn head(&mut self) -> Result<Option<Candidate>> {
        if self.queue.is_empty() && self.limits.older {
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
                        .sort_unstable_by_key(|c| Reverse(c.id_ord));
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
        let slot: u8 = match key {
            GroupKey::Verb => 0,
            GroupKey::Actor => 1,
            GroupKey::Object => 2,
            GroupKey::Target => 3,
            GroupKey::Year | GroupKey::Month | GroupKey::Day => {
                let published = timestamp(candidate.published)?;
                return Ok(match key {
                    GroupKey::Year => GroupValue::Year(published.year()),
                    GroupKey::Month => GroupValue::Month(published.month()),
                    _ => GroupValue::Day(published.date_naive()),
                });
            }
        };
        let terms = &self.columns.terms[slot as usize];
        let Some(ord) = terms.column().ords().first(candidate.doc) else {
            return Ok(GroupValue::Entity(None));
        };
        if let Some(value) = self.memo.values.borrow().get(&(slot, ord)) {
            return Ok(value.clone());
        }
        let value = terms.with_term(ord, |text| {
            if key == GroupKey::Verb {
                GroupValue::Verb(text.to_owned())
            } else {
                GroupValue::Entity(parse_entity_term(text))
            }
        })?;
        self.memo
            .values
            .borrow_mut()
            .insert((slot, ord), value.clone());
        Ok(value)
    }

    /// The links reaching the entity with this ordinal in column `slot`, whose hash fell in
    /// `bucket`.
    fn links(
        &self,
        reach: &Reach,
        slot: usize,
        ord: u64,
        bucket: Bucket,
    ) -> Result<Option<Rc<TermLinks>>> {
        if let Some(known) = self.memo.resolved[slot].borrow().get(&ord) {
            return Ok(known.clone());
        }
        let found = self.columns.terms[slot + 1]
            .with_term(ord, |term| reach.exact(bucket, term))??
            .map(Rc::new);
        self.memo.resolved[slot]
            .borrow_mut()
            .insert(ord, found.clone());
        Ok(found)
    }
}

fn no_network() -> Error {
    Error::backend("embedded", "a network scan without a network")
}

/// Per-segment rules: the query's verbs, entity filters and exclusions as this segment's
/// ordinals. (The network's links are resolved for the ordinals the walk meets, see
/// [`Cursor::links`]: a dictionary lookup per link per segment would cost more than the whole
/// walk for a user with many links.)
struct SegmentRules {
    /// Whether candidates need their link weight (ranked queries).
    weights: bool,
    verbs: Option<HashSet<u64>>,
    /// Entity filters on the actor, object and target columns.
    only: [Option<Only>; 3],
    /// Whether the entity of an ordinal has the id of an untyped filter, per column.
    ids: [RefCell<HashMap<u64, bool>>; 3],
    exclude_actors: HashSet<u64>,
    exclude_objects: HashSet<u64>,
}

impl SegmentRules {
    /// Translates the query's verbs, filters and exclusions to this segment's ordinals; `None`
    /// if no document of the segment can match.
    fn new(columns: &Columns, query: &FeedQuery, weights: bool) -> Result<Option<Self>> {
        let ord_of = |column: &StrColumn, term: &str| -> Result<Option<u64>> {
            column
                .dictionary()
                .term_ord(term)
                .map_err(|e| Error::backend("embedded", e))
        };
        let verbs = if query.filter.verbs.is_empty() {
            None
        } else {
            let mut ords = HashSet::new();
            for verb in &query.filter.verbs {
                ords.extend(ord_of(&columns.verb, verb)?);
            }
            if ords.is_empty() {
                return Ok(None);
            }
            Some(ords)
        };
        let filter = &query.filter;
        let mut only = [None, None, None];
        for (slot, entity) in [&filter.actor, &filter.object, &filter.target]
            .into_iter()
            .enumerate()
        {
            let Some(entity) = entity else { continue };
            only[slot] = Some(match &entity.kind {
                Some(kind) => {
                    let key = EntityKey {
                        kind: kind.clone(),
                        id: entity.id.clone(),
                    };
                    match ord_of(columns.entity(slot), &entity_term(&key))? {
                        Some(ord) => Only::Entity(ord),
                        None => return Ok(None),
                    }
                }
                None => Only::Id(entity.id.clone()),
            });
        }
        let ords = |column: &StrColumn, keys: &[EntityKey]| -> Result<HashSet<u64>> {
            let mut set = HashSet::new();
            for key in keys {
                set.extend(ord_of(column, &entity_term(key))?);
            }
            Ok(set)
        };
        Ok(Some(SegmentRules {
            weights,
            verbs,
            only,
            ids: Default::default(),
            exclude_actors: ords(&columns.actor, &filter.exclude_actors)?,
            exclude_objects: ords(&columns.object, &filter.exclude_objects)?,
        }))
    }
}

/// An entity filter as one segment checks it.
enum Only {
    /// The entity's ordinal in the column (a filter with a type).
    Entity(u64),
    /// Any entity with this id (a filter without a type).
    Id(String),
}

impl SegmentRules {
    /// Whether the entity with ordinal `ord` in `terms` (of `slot`) has the id `id`.
    fn has_id(&self, terms: &CachedTerms, slot: usize, ord: u64, id: &str) -> Result<bool> {
        if let Some(known) = self.ids[slot].borrow().get(&ord) {
            return Ok(*known);
        }
        let same = terms.with_term(ord, |term| {
            term.split_once(':').is_some_and(|(_, stored)| stored == id)
        })?;
        self.ids[slot].borrow_mut().insert(ord, same);
        Ok(same)
    }
}

/// The first document whose `published` is at or below `max_ms` in a newest-first segment.
pub(super) fn first_doc_at_or_below(published: &Column<i64>, max_doc: DocId, max_ms: i64) -> DocId {
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
