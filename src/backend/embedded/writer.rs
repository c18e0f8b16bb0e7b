//! The single writer of an embedded store.
//!
//! tantivy allows one `IndexWriter` per index, and a commit per write would cap throughput at a
//! few hundred writes per second. So one thread owns both writers: it takes every write waiting in
//! its queue, applies them in arrival order, commits once, reloads the readers, and only then
//! answers each caller. A write is therefore visible to the next read once acknowledged, and
//! concurrent writers are grouped into one commit without any help from the caller.
//!
//! Existence checks (link exists, activity owned by another actor) must see both what is committed
//! and what earlier writes of the same batch did; the batch keeps an overlay of its own changes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{mpsc, Arc};

use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{IndexReader, IndexWriter, Searcher, TantivyDocument, Term};
use tokio::sync::oneshot;

use super::columns::Columns;
use super::read::{activity_query, live_activity, live_doc, live_postings};
use super::schema::{
    entity_term, from_source, id_hash, link_target_term, parse_entity_term, FeedFields, LinkFields,
};
use super::vectors::to_record;
use crate::activity::{Activity, EntityKey};
use crate::backend::{new_activity_id, Erased};
use crate::error::{Error, Result};
use crate::network::{Link, LinkChange, LinkClass, LinkKey, LinkTarget};

/// How many queued writes one commit takes at most.
const MAX_BATCH: usize = 10_000;

/// A write, as sent to the writer thread.
pub(super) enum Op {
    PutActivities(Vec<Activity>, oneshot::Sender<Result<Vec<Result<String>>>>),
    DeleteActivity(String, oneshot::Sender<Result<bool>>),
    EraseActor(EntityKey, oneshot::Sender<Result<Erased>>),
    InsertLinks(Vec<Link>, oneshot::Sender<Result<Vec<Result<()>>>>),
    UpdateLink(LinkKey, LinkChange, oneshot::Sender<Result<Link>>),
    DeleteLink(LinkKey, oneshot::Sender<Result<()>>),
}

impl Op {
    /// Answers the write with an error, without applying it.
    fn fail(self, e: Error) {
        match self {
            Op::PutActivities(_, tx) => drop(tx.send(Err(e))),
            Op::DeleteActivity(_, tx) => drop(tx.send(Err(e))),
            Op::EraseActor(_, tx) => drop(tx.send(Err(e))),
            Op::InsertLinks(_, tx) => drop(tx.send(Err(e))),
            Op::UpdateLink(_, _, tx) => drop(tx.send(Err(e))),
            Op::DeleteLink(_, tx) => drop(tx.send(Err(e))),
        }
    }
}

/// An answer waiting for the commit that makes it true: sends the value, or the commit's
/// failure instead. A caller that stopped waiting is fine.
type Reply = Box<dyn FnOnce(Option<&str>) + Send>;

/// Which indices a write touches: (feeds, network).
const FEEDS: [bool; 2] = [true, false];
const NETWORK: [bool; 2] = [false, true];
const BOTH: [bool; 2] = [true, true];

/// Answers a refused write at once, and holds an accepted one until its commit.
fn defer<T: Send + 'static>(
    batch: &mut Batch,
    tx: oneshot::Sender<Result<T>>,
    result: Result<T>,
    touched: [bool; 2],
) {
    match result {
        Ok(value) => {
            let reply: Reply = Box::new(move |failure| {
                let _ = tx.send(match failure {
                    None => Ok(value),
                    Some(reason) => Err(Error::backend("embedded", reason.to_owned())),
                });
            });
            batch.replies.push((reply, touched));
        }
        Err(e) => {
            let _ = tx.send(Err(e));
        }
    }
}

/// The writer thread's state.
pub(super) struct Writer {
    pub(super) feeds: IndexWriter,
    pub(super) network: IndexWriter,
    pub(super) feeds_reader: IndexReader,
    pub(super) network_reader: IndexReader,
    pub(super) feed_fields: FeedFields,
    pub(super) link_fields: LinkFields,
    /// Commits made so far (each index's commit counts once).
    pub(super) commits: Arc<AtomicU64>,
    /// Readers (feeds, network) whose reload failed after a commit.
    pub(super) stale: [bool; 2],
    /// The next free slot of the vector log (slots of a failed commit are never reused).
    pub(super) next_slot: u64,
}

/// What the current batch changed and has not committed yet.
#[derive(Default)]
struct Batch {
    /// Activity id → its actor after this batch (`None`: deleted).
    activities: HashMap<String, Option<EntityKey>>,
    /// Link id → the link after this batch (`None`: deleted).
    links: HashMap<String, Option<Link>>,
    feeds_dirty: bool,
    network_dirty: bool,
    /// Vector log records of this batch's embeddings, from slot `first_slot` on, written and
    /// synced before the feeds commit that refers to them.
    vector_records: Vec<u8>,
    first_slot: Option<u64>,
    /// Each answer, with the indices its write touched (feeds, network).
    replies: Vec<(Reply, [bool; 2])>,
    /// Set when the engine failed half-way through applying a write: nothing of the batch may
    /// be committed.
    broken: Option<String>,
}

impl Writer {
    /// Serves the queue until every sender is gone, then waits for merges and releases the locks.
    pub(super) fn run(mut self, queue: mpsc::Receiver<Op>) {
        while let Ok(first) = queue.recv() {
            let mut batch = Batch::default();
            let mut op = Some(first);
            let mut taken = 0;
            while let Some(current) = op.take() {
                taken += 1;
                if let Op::EraseActor(..) = current {
                    // Erasing touches many documents the overlay does not track: commit what
                    // came before, erase, and commit again.
                    self.commit(&mut batch);
                    self.apply(current, &mut batch);
                    self.commit(&mut batch);
                } else {
                    self.apply(current, &mut batch);
                }
                if taken < MAX_BATCH {
                    op = queue.try_recv().ok();
                }
            }
            self.commit(&mut batch);
        }
        let _ = self.feeds.wait_merging_threads();
        let _ = self.network.wait_merging_threads();
    }

    /// Commits the batch, reloads the readers and answers its callers.
    ///
    /// Each index commits on its own; a caller is told of a failure if an index its write
    /// touched failed, and that index's pending changes are rolled back so no later commit
    /// carries them. (An erase touches both indices: if only one commit fails, the other part
    /// stays done, and the caller is told the erase failed; erasing again completes it.)
    fn commit(&mut self, batch: &mut Batch) {
        let mut failures: [Option<String>; 2] = [None, None];
        for (i, (dirty, writer, reader)) in [
            (batch.feeds_dirty, &mut self.feeds, &self.feeds_reader),
            (batch.network_dirty, &mut self.network, &self.network_reader),
        ]
        .into_iter()
        .enumerate()
        {
            if !dirty {
                continue;
            }
            if let Some(reason) = &batch.broken {
                let _ = writer.rollback();
                failures[i] = Some(reason.clone());
                continue;
            }
            if i == 0 {
                if let (Some(first), Some(log)) = (batch.first_slot, &self.feed_fields.vectors) {
                    if let Err(e) = log.write(first, &batch.vector_records) {
                        let _ = writer.rollback();
                        failures[i] = Some(format!("the vector log was not written: {e}"));
                        continue;
                    }
                }
            }
            self.commits.fetch_add(1, AtomicOrdering::Relaxed);
            if let Err(e) = writer.commit() {
                let _ = writer.rollback();
                failures[i] = Some(e.to_string());
                continue;
            }
            if let Err(e) = reader.reload() {
                // Committed but not visible: the caller is told it failed (a write is
                // acknowledged only once readable), and the reader is reloaded before the
                // writer decides anything else on it.
                self.stale[i] = true;
                failures[i] = Some(format!("committed, but the reader did not reload: {e}"));
            }
        }
        for (reply, touched) in batch.replies.drain(..) {
            let failure = (0..2)
                .filter(|i| touched[*i])
                .find_map(|i| failures[i].as_deref());
            reply(failure);
        }
        *batch = Batch::default();
    }

    /// Reloads readers left stale by a failed reload, so no decision rests on an old view.
    fn refresh(&mut self) -> Result<()> {
        for (i, reader) in [&self.feeds_reader, &self.network_reader]
            .into_iter()
            .enumerate()
        {
            if self.stale[i] {
                reader.reload().map_err(backend)?;
                self.stale[i] = false;
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: Op, batch: &mut Batch) {
        if let Err(e) = self.refresh() {
            op.fail(e);
            return;
        }
        match op {
            Op::PutActivities(activities, tx) => {
                let result = self.put_activities(activities, batch);
                defer(batch, tx, result, FEEDS);
            }
            Op::DeleteActivity(id, tx) => {
                let result = self.delete_activity(&id, batch);
                defer(batch, tx, result, FEEDS);
            }
            Op::EraseActor(actor, tx) => {
                let result = self.erase_actor(&actor, batch);
                defer(batch, tx, result, BOTH);
            }
            Op::InsertLinks(links, tx) => {
                let result = self.insert_links(links, batch);
                defer(batch, tx, result, NETWORK);
            }
            Op::UpdateLink(key, change, tx) => {
                let result = self.update_link(&key, &change, batch);
                defer(batch, tx, result, NETWORK);
            }
            Op::DeleteLink(key, tx) => {
                let result = self.delete_link(&key, batch);
                defer(batch, tx, result, NETWORK);
            }
        }
    }

    /// Decides every item first (lookups may fail, and then nothing is written), then writes
    /// the accepted ones, each document made just before it goes to the indexer (so making the
    /// next overlaps indexing the last). An activity without an id gets a new one, which no
    /// stored activity can have: it is written without a lookup.
    fn put_activities(
        &mut self,
        mut activities: Vec<Activity>,
        batch: &mut Batch,
    ) -> Result<Vec<Result<String>>> {
        let searcher = self.feeds_reader.searcher();
        let mut accepted: HashMap<String, EntityKey> = HashMap::new();
        let mut writes = Vec::new();
        let mut results = Vec::with_capacity(activities.len());
        for activity in &mut activities {
            let fresh = activity.id().is_none();
            if fresh {
                activity.set_id(new_activity_id()?);
            }
            let id = activity.id().unwrap_or_default().to_owned();
            let actor = activity.actor().key();
            let stored = match accepted.get(&id) {
                _ if fresh => None,
                Some(earlier) => Some(earlier.clone()),
                None => match batch.activities.get(&id) {
                    Some(state) => state.clone(),
                    None => self.stored_actor(&searcher, &id)?,
                },
            };
            // Only a replacement needs a delete: tantivy applies deletes per term, against
            // every segment at commit, which dominated bulk loads of new activities.
            let replaces = stored.is_some();
            if let Some(stored) = stored.filter(|stored| stored != actor) {
                results.push(Err(Error::ActivityConflict {
                    id,
                    stored_actor: stored.to_string(),
                    given_actor: actor.to_string(),
                }));
                continue;
            }
            let slot = match (activity.embedding(), &self.feed_fields.vectors) {
                (Some(embedding), Some(_)) => {
                    let slot = self.next_slot;
                    self.next_slot += 1;
                    batch.first_slot.get_or_insert(slot);
                    to_record(embedding, &mut batch.vector_records);
                    Some(slot)
                }
                _ => None,
            };
            writes.push((results.len(), replaces, slot));
            // A new id cannot be met again before this batch is acknowledged.
            if !fresh {
                accepted.insert(id.clone(), actor.clone());
            }
            results.push(Ok(id));
        }
        for (i, replaces, slot) in writes {
            let activity = &activities[i];
            // Nothing of the batch may be committed once part of it is written and the rest
            // fails.
            let mut broken = |e: Error| {
                batch.broken = Some(e.to_string());
                e
            };
            let doc = self
                .feed_fields
                .document(activity, slot)
                .map_err(&mut broken)?;
            if replaces {
                let id = activity.id().unwrap_or_default();
                self.delete(id).map_err(&mut broken)?;
            }
            batch.feeds_dirty = true;
            self.feeds
                .add_document(doc)
                .map_err(|e| broken(backend(e)))?;
        }
        batch
            .activities
            .extend(accepted.into_iter().map(|(id, actor)| (id, Some(actor))));
        Ok(results)
    }

    /// Queues the delete of the activity with this id (of documents added before it).
    fn delete(&mut self, id: &str) -> Result<()> {
        self.feeds
            .delete_query(activity_query(&self.feed_fields, id))
            .map_err(backend)?;
        Ok(())
    }

    /// The actor of the committed activity with this id, if there is one (read from its
    /// column, not its stored document).
    fn stored_actor(&self, searcher: &Searcher, id: &str) -> Result<Option<EntityKey>> {
        let Some(address) = live_activity(searcher, &self.feed_fields, id)? else {
            return Ok(None);
        };
        let columns = self.feed_fields.columns.get(
            searcher.segment_reader(address.segment_ord),
            searcher.segment_readers(),
            Columns::open,
        )?;
        let actors = &columns.actor;
        let mut text = String::new();
        let found = match actors.ords().first(address.doc_id) {
            Some(ord) => actors
                .ord_to_str(ord, &mut text)
                .map_err(|e| Error::backend("embedded", e))?,
            None => false,
        };
        match parse_entity_term(&text) {
            Some(key) if found => Ok(Some(key)),
            _ => Err(Error::backend(
                "embedded",
                "a stored activity has no readable actor",
            )),
        }
    }

    fn delete_activity(&mut self, id: &str, batch: &mut Batch) -> Result<bool> {
        let exists = match batch.activities.get(id) {
            Some(state) => state.is_some(),
            None => self
                .stored_actor(&self.feeds_reader.searcher(), id)?
                .is_some(),
        };
        if exists {
            self.delete(id)?;
            batch.activities.insert(id.to_owned(), None);
            batch.feeds_dirty = true;
        }
        Ok(exists)
    }

    /// The ids of the stored activities of `actor`: the postings of its id's hash, each
    /// document's actor checked exactly.
    fn activities_of(&self, actor: &EntityKey) -> Result<Vec<String>> {
        let searcher = self.feeds_reader.searcher();
        let key = Term::from_field_u64(self.feed_fields.keys[0], id_hash(&actor.id));
        let term = entity_term(actor);
        let mut ids = Vec::new();
        for reader in searcher.segment_readers() {
            let columns =
                self.feed_fields
                    .columns
                    .get(reader, searcher.segment_readers(), Columns::open)?;
            let Some(ord) = columns
                .actor
                .dictionary()
                .term_ord(&term)
                .map_err(|e| Error::backend("embedded", e))?
            else {
                continue;
            };
            for doc in live_postings(reader, &key)? {
                if columns.actor.ords().first(doc) == Some(ord) {
                    ids.push(columns.id_of(doc)?);
                }
            }
        }
        Ok(ids)
    }

    fn erase_actor(&mut self, actor: &EntityKey, batch: &mut Batch) -> Result<Erased> {
        let activities = self.activities_of(actor)?;
        let from = Term::from_field_text(self.link_fields.user, &actor.id);
        // Links to the actor: follows of them, and watches of them as an entity.
        let to = [LinkClass::Actor, LinkClass::Object].map(|class| {
            Term::from_field_text(
                self.link_fields.target,
                &link_target_term(&LinkTarget {
                    class,
                    id: actor.id.clone(),
                    kind: actor.kind.clone(),
                }),
            )
        });
        let terms = [from, to[0].clone(), to[1].clone()];
        // One query for all, so a self-follow is counted once.
        let either = BooleanQuery::new(
            terms
                .iter()
                .cloned()
                .map(|t| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
                    (Occur::Should, q)
                })
                .collect(),
        );
        let links = self
            .network_reader
            .searcher()
            .search(&either, &Count)
            .map_err(backend)?;
        // Dirty before the first delete: if one fails, the commit rolls back those queued.
        batch.feeds_dirty = true;
        for id in &activities {
            if let Err(e) = self.delete(id) {
                batch.broken = Some(e.to_string());
                return Err(e);
            }
        }
        for term in terms {
            self.network.delete_term(term);
        }
        batch.network_dirty = true;
        Ok(Erased {
            activities: activities.len() as u64,
            links: links as u64,
        })
    }

    /// The link with this identity after the batch so far, if there is one.
    fn current_link(&self, key: &LinkKey, batch: &Batch) -> Result<Option<Link>> {
        let id = key.doc_id();
        if let Some(state) = batch.links.get(&id) {
            return Ok(state.clone());
        }
        let searcher = self.network_reader.searcher();
        let term = Term::from_field_text(self.link_fields.id, &id);
        match live_doc(&searcher, &term)? {
            None => Ok(None),
            Some(address) => {
                let doc: TantivyDocument = searcher.doc(address).map_err(backend)?;
                Ok(Some(from_source(&doc, self.link_fields.source)?))
            }
        }
    }

    /// Whether a link with this id is stored, after this batch (its columns alone, no document).
    fn link_exists(&self, id: &str, searcher: &Searcher, batch: &Batch) -> Result<bool> {
        match batch.links.get(id) {
            Some(state) => Ok(state.is_some()),
            None => {
                Ok(live_doc(searcher, &Term::from_field_text(self.link_fields.id, id))?.is_some())
            }
        }
    }

    fn write_link(&mut self, link: Link, batch: &mut Batch) -> Result<()> {
        let id = link.key().doc_id();
        let doc = self.link_fields.document(&link, &id)?;
        self.write_link_doc(link, id, doc, true, batch)
    }

    /// Writes a link whose document (under link id `id`) is already built, so nothing can fail
    /// before the write; `replaces` when a stored version must go first.
    fn write_link_doc(
        &mut self,
        link: Link,
        id: String,
        doc: TantivyDocument,
        replaces: bool,
        batch: &mut Batch,
    ) -> Result<()> {
        if replaces {
            self.network
                .delete_term(Term::from_field_text(self.link_fields.id, &id));
        }
        batch.network_dirty = true;
        if let Err(e) = self.network.add_document(doc) {
            batch.broken = Some(e.to_string());
            return Err(backend(e));
        }
        batch.links.insert(id, Some(link));
        Ok(())
    }

    /// Decides every link first (lookups may fail, and then nothing is written), then writes the
    /// new ones.
    fn insert_links(&mut self, links: Vec<Link>, batch: &mut Batch) -> Result<Vec<Result<()>>> {
        let mut accepted = HashSet::new();
        let mut writes = Vec::new();
        let mut results = Vec::with_capacity(links.len());
        let searcher = self.network_reader.searcher();
        for link in links {
            let id = link.key().doc_id();
            if accepted.contains(&id) || self.link_exists(&id, &searcher, batch)? {
                results.push(Err(Error::LinkExists {
                    link: link.key().to_string(),
                }));
                continue;
            }
            let doc = self.link_fields.document(&link, &id)?;
            accepted.insert(id.clone());
            writes.push((link, id, doc));
            results.push(Ok(()));
        }
        // A new link replaces nothing: a link deleted earlier in this batch already has its
        // delete queued, and tantivy applies it only to documents added before it.
        for (link, id, doc) in writes {
            self.write_link_doc(link, id, doc, false, batch)?;
        }
        Ok(results)
    }

    fn update_link(
        &mut self,
        key: &LinkKey,
        change: &LinkChange,
        batch: &mut Batch,
    ) -> Result<Link> {
        let mut link = self
            .current_link(key, batch)?
            .ok_or_else(|| Error::LinkNotFound {
                link: key.to_string(),
            })?;
        link.apply(change);
        self.write_link(link.clone(), batch)?;
        Ok(link)
    }

    fn delete_link(&mut self, key: &LinkKey, batch: &mut Batch) -> Result<()> {
        if self.current_link(key, batch)?.is_none() {
            return Err(Error::LinkNotFound {
                link: key.to_string(),
            });
        }
        let id = key.doc_id();
        self.network
            .delete_term(Term::from_field_text(self.link_fields.id, &id));
        batch.links.insert(id, None);
        batch.network_dirty = true;
        Ok(())
    }
}

fn backend(e: tantivy::TantivyError) -> Error {
    Error::backend("embedded", e)
}
