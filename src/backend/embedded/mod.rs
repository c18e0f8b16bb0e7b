//! The embedded backend: an on-disk (or in-RAM) store on [tantivy], with nothing to install.
//!
//! A store is a directory holding a small metadata file (`elasticfeeds.json`, which records the
//! format version, the cursor key and the embedding space), one tantivy index per index name,
//! and, once it holds embeddings, the vector log (`embeddings.f32`, see `vectors`).
//!
//! The activity index is sorted by `published`, newest first, so a feed read walks each segment
//! newest-first and stops as soon as its page is full instead of collecting every match (see
//! `walk`). The link index is sorted by user, so a user's links are read from a few runs of
//! columns (see `network`). Entities are indexed by the hash of their id and confirmed on their
//! exact `type:id` (see `schema` and `reach`).
//!
//! One process writes a store at a time: opening takes tantivy's writer locks, and a second
//! writer gets [`Error::StoreLocked`]. Read-only opens take no lock and reload the latest commit
//! before each read. All tantivy work runs on blocking threads, never on the async executor.
//!
//! [tantivy]: https://docs.rs/tantivy

mod columns;
mod cursor;
mod group;
mod nearest;
mod network;
mod postings;
mod rank;
mod reach;
mod read;
mod schema;
mod segment_cache;
mod terms;
mod vectors;
mod walk;
mod writer;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tantivy::directory::error::LockError;
use tantivy::{
    Index, IndexReader, IndexSettings, IndexSortByField, Order as TantivyOrder, ReloadPolicy,
    Searcher, TantivyError,
};
use tokio::sync::oneshot;

use self::schema::{FeedFields, LinkFields};
use self::vectors::VectorLog;
use self::writer::{Op, Writer};
use crate::activity::{Activity, EntityKey};
use crate::backend::{Erased, FeedBackend};
use crate::cursor::CursorKey;
use crate::embedding::{check_query, EmbeddingSpace};
use crate::error::{Error, Result};
use crate::network::{Followers, Link, LinkChange, LinkKey, LinkTarget, Network};
use crate::query::FeedQuery;
use crate::refresh::Refresh;
use crate::result::FeedResult;

const NAME: &str = "embedded";
/// The store format this build reads and writes (5: activities refer to their embedding in the
/// vector log, and the metadata may record an embedding space; 6: every part of a link but its
/// extra data is a column; 7: entities are indexed by their hash, links carry their entity's
/// hash and class, and the link index is sorted by user).
pub const FORMAT_VERSION: u32 = 7;
const META_FILE: &str = "elasticfeeds.json";
/// Memory the activity index writer may buffer before it flushes a segment.
const FEEDS_WRITER_MEMORY: usize = 128 << 20;
const NETWORK_WRITER_MEMORY: usize = 32 << 20;

/// How to open an embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The activity index's name (a directory inside the store).
    pub feeds_index: String,
    /// The link index's name.
    pub network_index: String,
    /// Open without the writer.
    pub read_only: bool,
    /// The embedding space the store must hold (see
    /// [`ManagerBuilder::embeddings`](crate::ManagerBuilder::embeddings)); `None` keeps the one
    /// it records.
    pub embeddings: Option<EmbeddingSpace>,
}

#[derive(Serialize, Deserialize)]
struct StoreMeta {
    format: String,
    version: u32,
    /// The secret cursors are signed with, as hex (see [`CursorKey`]). Optional only so that
    /// the version is checked before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor_key: Option<String>,
    /// The embeddings the store holds, once it holds any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    embeddings: Option<EmbeddingSpace>,
}

/// The embedded backend. Build it through [`Manager`](crate::Manager) with a directory path or
/// `memory:`. Cloning shares the same store.
#[derive(Debug, Clone)]
pub struct EmbeddedBackend(Arc<Inner>);

struct Inner {
    location: String,
    feeds_index: Index,
    network_index: Index,
    /// The last commit a read-only store's readers were reloaded at, per index.
    seen_opstamps: [AtomicU64; 2],
    feeds_reader: IndexReader,
    network_reader: IndexReader,
    feed_fields: FeedFields,
    link_fields: LinkFields,
    read_only: bool,
    cursor_key: CursorKey,
    embeddings: Option<EmbeddingSpace>,
    writer: Mutex<Option<WriterHandle>>,
    /// Why the writer thread stopped, if it panicked.
    writer_failure: Mutex<Option<String>>,
    /// Commits the writer thread has made.
    commits: Arc<AtomicU64>,
}

struct WriterHandle {
    queue: mpsc::Sender<Op>,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("location", &self.location)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl EmbeddedBackend {
    /// Opens the store in `path`, creating it (unless read-only) when the directory is missing or
    /// empty. Blocking: call it from a blocking context.
    pub fn open(path: &Path, options: EmbeddedOptions) -> Result<Self> {
        let meta = check_store_dir(path, &options)?;
        let cursor_key = meta
            .cursor_key
            .as_deref()
            .and_then(CursorKey::from_hex)
            .ok_or_else(|| Error::NotAStore {
                path: path.to_owned(),
                reason: "its elasticfeeds.json holds no valid cursor key",
            })?;
        let embeddings = match (meta.embeddings, options.embeddings) {
            (stored, None) => stored,
            (Some(stored), Some(requested)) if stored == requested => Some(stored),
            (None, Some(requested)) if !options.read_only => Some(requested),
            (stored, Some(requested)) => {
                return Err(Error::EmbeddingSpaceMismatch {
                    store: path.display().to_string(),
                    stored: stored.map_or_else(|| "none".to_owned(), |s| s.to_string()),
                    requested: requested.to_string(),
                })
            }
        };
        let open_index = |name: &str, schema: tantivy::schema::Schema, sorted: Sorted| {
            let dir = path.join(name);
            if dir.join("meta.json").exists() {
                return Index::open_in_dir(&dir).map_err(backend);
            }
            if options.read_only {
                return Err(Error::NotAStore {
                    path: dir,
                    reason: "the index does not exist and the store was opened read-only",
                });
            }
            fs::create_dir_all(&dir).map_err(|e| Error::backend(NAME, e))?;
            Index::builder()
                .schema(schema)
                .settings(settings(sorted))
                .create_in_dir(&dir)
                .map_err(backend)
        };
        let feeds = open_index(&options.feeds_index, FeedFields::schema(), Sorted::Feeds)?;
        let network = open_index(&options.network_index, LinkFields::schema(), Sorted::Links)?;
        // Every read relies on newest-first activity segments and on a user's links lying
        // together.
        for (index, sorted, name) in [
            (&feeds, Sorted::Feeds, &options.feeds_index),
            (&network, Sorted::Links, &options.network_index),
        ] {
            if index.settings().sort_by_field != settings(sorted).sort_by_field {
                return Err(Error::NotAStore {
                    path: path.join(name),
                    reason: "its index is not sorted the way this store format sorts it",
                });
            }
        }
        let backend = Self::start(
            path.display().to_string(),
            Some(path),
            feeds,
            network,
            options.read_only,
            cursor_key,
            embeddings,
        )?;
        if meta.embeddings.is_none() && embeddings.is_some() {
            // Recorded only now that this backend holds the writer locks.
            write_meta(path, &StoreMeta { embeddings, ..meta })?;
        }
        Ok(backend)
    }

    /// How many index commits this backend's writer has made since it opened: a diagnostic that
    /// shows how well concurrent writes were grouped (each index's commit counts once).
    pub fn commit_count(&self) -> u64 {
        self.0.commits.load(AtomicOrdering::Relaxed)
    }

    /// A new, empty in-RAM store. Blocking: call it from a blocking context.
    pub fn memory(options: EmbeddedOptions) -> Result<Self> {
        let create = |schema, sorted| {
            Index::builder()
                .schema(schema)
                .settings(settings(sorted))
                .create_in_ram()
                .map_err(backend)
        };
        let feeds = create(FeedFields::schema(), Sorted::Feeds)?;
        let network = create(LinkFields::schema(), Sorted::Links)?;
        Self::start(
            "memory:".into(),
            None,
            feeds,
            network,
            options.read_only,
            CursorKey::generate()?,
            options.embeddings,
        )
    }

    /// Starts the backend on its indices; `dir` is the store's directory (`None` in RAM).
    fn start(
        location: String,
        dir: Option<&Path>,
        feeds: Index,
        network: Index,
        read_only: bool,
        cursor_key: CursorKey,
        embeddings: Option<EmbeddingSpace>,
    ) -> Result<Self> {
        let mut feed_fields = FeedFields::new(&feeds.schema())?;
        let link_fields = LinkFields::new(&network.schema())?;
        let reader = |index: &Index| {
            index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map_err(backend)
        };
        let feeds_reader: IndexReader = reader(&feeds)?;
        let network_reader: IndexReader = reader(&network)?;
        let writer_failure = Mutex::new(None);
        let commits = Arc::new(AtomicU64::new(0));
        // Opened only once this backend holds the writer locks (or is read-only), so a writer
        // refused with StoreLocked never touches the log.
        let vectors = |dimensions| -> Result<Arc<VectorLog>> {
            Ok(Arc::new(match dir {
                Some(dir) => VectorLog::open(dir, dimensions, read_only)?,
                None => VectorLog::memory(dimensions),
            }))
        };
        let writer = if read_only {
            feed_fields.vectors = embeddings.map(|s| vectors(s.dimensions())).transpose()?;
            None
        } else {
            let locked = |e: TantivyError| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => Error::StoreLocked {
                    path: PathBuf::from(&location),
                },
                other => backend(other),
            };
            // One indexing thread: activities written in time order then make segments that
            // cover time ranges one after another, which merge by concatenation and let a
            // read of recent activities skip the older segments.
            let feeds_writer = feeds
                .writer_with_num_threads(1, FEEDS_WRITER_MEMORY)
                .map_err(locked)?;
            let network_writer = network
                .writer_with_num_threads(1, NETWORK_WRITER_MEMORY)
                .map_err(locked)?;
            feed_fields.vectors = embeddings.map(|s| vectors(s.dimensions())).transpose()?;
            let next_slot = match &feed_fields.vectors {
                Some(log) => log.end_slot()?,
                None => 0,
            };
            let state = Writer {
                feeds: feeds_writer,
                network: network_writer,
                feeds_reader: feeds_reader.clone(),
                network_reader: network_reader.clone(),
                feed_fields: feed_fields.clone(),
                link_fields: link_fields.clone(),
                commits: Arc::clone(&commits),
                stale: [false; 2],
                next_slot,
            };
            let (queue, receiver) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("elasticfeeds-writer".into())
                .spawn(move || state.run(receiver))
                .map_err(|e| Error::backend(NAME, e))?;
            Some(WriterHandle { queue, thread })
        };
        Ok(EmbeddedBackend(Arc::new(Inner {
            location,
            // No commit seen yet: the first read reloads, so a commit made while opening is
            // never missed.
            seen_opstamps: [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)],
            feeds_index: feeds,
            network_index: network,
            feeds_reader,
            network_reader,
            feed_fields,
            link_fields,
            read_only,
            cursor_key,
            embeddings,
            writer: Mutex::new(writer),
            writer_failure,
            commits,
        })))
    }
}

impl Inner {
    /// The error for a write the writer thread can no longer take.
    ///
    /// The thread only stops with writes outstanding when it panicked (a clean stop follows
    /// `close`, which takes the handle first), so its panic is taken from `join` and kept for
    /// every later write.
    async fn writer_gone(&self) -> Error {
        let handle = self.writer.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            drop(handle.queue);
            let joined = tokio::task::spawn_blocking(move || handle.thread.join()).await;
            if let Ok(Err(panic)) = joined {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                if let Ok(mut slot) = self.writer_failure.lock() {
                    *slot = Some(message);
                }
            }
        }
        match self
            .writer_failure
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
        {
            Some(message) => Error::backend(
                NAME,
                format!("the writer thread panicked ({message}); reopen the store"),
            ),
            None => closed(),
        }
    }

    /// Reloads a read-only store's readers when the writer has committed since the last read.
    /// Comparing opstamps (one small file read) is much cheaper than reopening every segment.
    fn follow_commits(&self) -> Result<()> {
        for (index, reader, seen) in [
            (
                &self.feeds_index,
                &self.feeds_reader,
                &self.seen_opstamps[0],
            ),
            (
                &self.network_index,
                &self.network_reader,
                &self.seen_opstamps[1],
            ),
        ] {
            let opstamp = index.load_metas().map_err(backend)?.opstamp;
            if seen.load(AtomicOrdering::Acquire) != opstamp {
                reader.reload().map_err(backend)?;
                // Recorded only once the reload succeeded, so a failed one is retried.
                seen.store(opstamp, AtomicOrdering::Release);
            }
        }
        Ok(())
    }

    /// Sends a write to the writer thread and waits (asynchronously) for its commit.
    async fn write<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Op) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let (tx, rx) = oneshot::channel();
        let sent = {
            let guard = self.writer.lock().map_err(|_| poisoned())?;
            let handle = guard.as_ref().ok_or_else(closed)?;
            handle.queue.send(make(tx)).is_ok()
        };
        if sent {
            if let Ok(answer) = rx.await {
                return answer;
            }
        }
        Err(self.writer_gone().await)
    }

    /// Runs a read on a blocking thread with fresh searchers.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self, Searcher, Searcher) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if this.read_only {
                // Another process may have committed since the last read.
                this.follow_commits()?;
            }
            let feeds = this.feeds_reader.searcher();
            let network = this.network_reader.searcher();
            f(&this, feeds, network)
        })
        .await
        .map_err(|e| Error::backend(NAME, e))?
    }
}

#[async_trait]
impl FeedBackend for EmbeddedBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cursor_key(&self) -> &CursorKey {
        &self.0.cursor_key
    }

    fn embeddings(&self) -> Option<EmbeddingSpace> {
        self.0.embeddings
    }

    async fn put_activities(
        &self,
        activities: Vec<Activity>,
        _refresh: Refresh,
    ) -> Result<Vec<Result<String>>> {
        // The Manager checked these; a caller of the trait alone gets the same refusal.
        for embedding in activities.iter().filter_map(Activity::embedding) {
            self.0
                .embeddings
                .ok_or(Error::EmbeddingsNotEnabled)?
                .check("embedding", embedding)?;
        }
        self.0.write(|tx| Op::PutActivities(activities, tx)).await
    }

    async fn get_activity(&self, id: &str) -> Result<Option<Activity>> {
        let id = id.to_owned();
        self.0
            .read(move |b, feeds, _| read::activity(&feeds, &b.feed_fields, &id))
            .await
    }

    async fn delete_activity(&self, id: &str, _refresh: Refresh) -> Result<bool> {
        let id = id.to_owned();
        self.0.write(|tx| Op::DeleteActivity(id, tx)).await
    }

    async fn erase_actor(&self, actor: &EntityKey) -> Result<Erased> {
        let actor = actor.clone();
        self.0.write(|tx| Op::EraseActor(actor, tx)).await
    }

    async fn insert_links(&self, links: Vec<Link>, _refresh: Refresh) -> Result<Vec<Result<()>>> {
        self.0.write(|tx| Op::InsertLinks(links, tx)).await
    }

    async fn update_link(
        &self,
        key: &LinkKey,
        change: LinkChange,
        _refresh: Refresh,
    ) -> Result<Link> {
        let key = key.clone();
        self.0.write(|tx| Op::UpdateLink(key, change, tx)).await
    }

    async fn delete_link(&self, key: &LinkKey, _refresh: Refresh) -> Result<()> {
        let key = key.clone();
        self.0.write(|tx| Op::DeleteLink(key, tx)).await
    }

    async fn network(&self, user: &str, limit: usize) -> Result<Network> {
        let user = user.to_owned();
        self.0
            .read(move |b, _, network| read::network(&network, &b.link_fields, &user, limit))
            .await
    }

    async fn followers(&self, target: &LinkTarget, limit: usize) -> Result<Followers> {
        let target = target.clone();
        self.0
            .read(move |b, _, network| read::followers(&network, &b.link_fields, target, limit))
            .await
    }

    async fn query(&self, query: &FeedQuery) -> Result<FeedResult> {
        query.validate()?;
        check_query(self.0.embeddings, query)?;
        let query = query.clone();
        self.0
            .read(move |b, feeds, _| walk::run(&feeds, &b.feed_fields, &query, b.embeddings))
            .await
    }

    async fn close(&self) -> Result<()> {
        let handle = self.0.writer.lock().map_err(|_| poisoned())?.take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.stop())
                .await
                .map_err(|e| Error::backend(NAME, e))?;
        }
        Ok(())
    }
}

impl WriterHandle {
    /// Closes the queue and waits for the writer thread to commit what it holds and release the
    /// store's locks.
    fn stop(self) {
        drop(self.queue);
        let _ = self.thread.join();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Waiting here means a store dropped by its last `Manager` can be reopened at once.
        if let Some(handle) = self.writer.get_mut().ok().and_then(Option::take) {
            handle.stop();
        }
    }
}

/// Which index, for its sort order.
#[derive(Clone, Copy)]
enum Sorted {
    /// Activities, newest first.
    Feeds,
    /// Links, by user.
    Links,
}

fn settings(sorted: Sorted) -> IndexSettings {
    let (field, order) = match sorted {
        Sorted::Feeds => (schema::feed::PUBLISHED, TantivyOrder::Desc),
        Sorted::Links => (schema::link::USER_HASH, TantivyOrder::Asc),
    };
    IndexSettings {
        sort_by_field: Some(IndexSortByField {
            field: field.to_owned(),
            order,
        }),
        ..IndexSettings::default()
    }
}

/// Reads the store's metadata file, or writes it for a new store.
fn check_store_dir(path: &Path, options: &EmbeddedOptions) -> Result<StoreMeta> {
    let meta_path = path.join(META_FILE);
    if meta_path.exists() {
        let bytes = fs::read(&meta_path).map_err(|e| Error::backend(NAME, e))?;
        let meta: StoreMeta = serde_json::from_slice(&bytes).map_err(|_| Error::NotAStore {
            path: path.to_owned(),
            reason: "its elasticfeeds.json cannot be read",
        })?;
        if meta.version != FORMAT_VERSION {
            return Err(Error::StoreVersion {
                path: path.to_owned(),
                found: meta.version,
                expected: FORMAT_VERSION,
            });
        }
        return Ok(meta);
    }
    let empty = match fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::backend(NAME, e)),
    };
    if !empty {
        return Err(Error::NotAStore {
            path: path.to_owned(),
            reason: "the directory is not empty and has no elasticfeeds.json",
        });
    }
    if options.read_only {
        return Err(Error::NotAStore {
            path: path.to_owned(),
            reason: "there is no store here to open read-only",
        });
    }
    fs::create_dir_all(path).map_err(|e| Error::backend(NAME, e))?;
    let meta = StoreMeta {
        format: "elasticfeeds-embedded".into(),
        version: FORMAT_VERSION,
        cursor_key: Some(CursorKey::generate()?.to_hex()),
        embeddings: options.embeddings,
    };
    write_meta(path, &meta)?;
    Ok(meta)
}

/// Writes the metadata file whole or not at all: a temporary file, synced, then renamed over it.
fn write_meta(path: &Path, meta: &StoreMeta) -> Result<()> {
    let io = |e: std::io::Error| Error::backend(NAME, e);
    let json = serde_json::to_vec_pretty(meta).map_err(|e| Error::backend(NAME, e))?;
    let temporary = path.join(format!("{META_FILE}.tmp"));
    let mut file = fs::File::create(&temporary).map_err(io)?;
    std::io::Write::write_all(&mut file, &json).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&temporary, path.join(META_FILE)).map_err(io)?;
    vectors::sync_dir(path).map_err(io)
}

fn backend(e: TantivyError) -> Error {
    Error::backend(NAME, e)
}

fn closed() -> Error {
    Error::StoreClosed
}

fn poisoned() -> Error {
    Error::backend(NAME, "the writer handle was poisoned by a panic")
}
