//! The [`FeedBackend`] trait every storage engine implements, and the engines themselves.
//!
//! The trait holds only primitives; validation, id assignment and convenience live in the
//! [`Manager`](crate::Manager), so a backend never sees an invalid input.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::activity::{Activity, EntityKey};
use crate::cursor::CursorKey;
use crate::embedding::EmbeddingSpace;
use crate::error::Result;
use crate::network::{Followers, Link, LinkChange, LinkKey, LinkTarget, Network};
use crate::query::FeedQuery;
use crate::refresh::Refresh;
use crate::result::FeedResult;

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "embedded")]
pub mod embedded;

/// A storage engine for activities and links.
///
/// Writes are acknowledged only once they are visible to the next read through the same backend,
/// unless the call's [`Refresh`] says not to wait (see there: only the cluster backends can
/// acknowledge a write before it is visible).
#[async_trait]
pub trait FeedBackend: Debug + Send + Sync + 'static {
    /// The backend's name, used in errors (`embedded`, `elasticsearch`, …).
    fn name(&self) -> &'static str;

    /// The store's secret for signing cursors: made with the store and kept with it, so a
    /// cursor stays valid across restarts and across processes that share the store.
    fn cursor_key(&self) -> &CursorKey;

    /// The store's embedding space, if it holds embeddings: every embedding written and every
    /// query vector has been checked against it by the [`Manager`](crate::Manager).
    fn embeddings(&self) -> Option<EmbeddingSpace>;

    /// Stores activities. An activity without an id is stored under a new random one (see
    /// [`new_activity_id`]), which no stored activity can have, so it needs no lookup. An id
    /// already stored for the same actor is replaced; an id stored for another actor is
    /// [`Error::ActivityConflict`] for that item alone. Returns one result per item, in order,
    /// each with the activity's id.
    ///
    /// [`Error::ActivityConflict`]: crate::Error::ActivityConflict
    async fn put_activities(
        &self,
        activities: Vec<Activity>,
        refresh: Refresh,
    ) -> Result<Vec<Result<String>>>;

    /// Loads one activity.
    async fn get_activity(&self, id: &str) -> Result<Option<Activity>>;

    /// Removes one activity; `false` if it was not stored.
    async fn delete_activity(&self, id: &str, refresh: Refresh) -> Result<bool>;

    /// Removes every activity of an actor and every link from or to them.
    async fn erase_actor(&self, actor: &EntityKey) -> Result<Erased>;

    /// Stores new links in one write. A link whose identity is already stored (or repeated
    /// earlier in the batch) is [`Error::LinkExists`](crate::Error::LinkExists) for that item
    /// alone. Returns one result per item, in order.
    async fn insert_links(&self, links: Vec<Link>, refresh: Refresh) -> Result<Vec<Result<()>>>;

    /// Changes a stored link's weight or extra.
    async fn update_link(
        &self,
        key: &LinkKey,
        change: LinkChange,
        refresh: Refresh,
    ) -> Result<Link>;

    /// Removes a link; [`Error::LinkNotFound`](crate::Error::LinkNotFound) if it is not stored.
    async fn delete_link(&self, key: &LinkKey, refresh: Refresh) -> Result<()>;

    /// A user's links, newest first (ties by link id), at most `limit`, with the total count.
    async fn network(&self, user: &str, limit: usize) -> Result<Network>;

    /// The links pointing at an entity, newest first, at most `limit`, with the total count.
    async fn followers(&self, target: &LinkTarget, limit: usize) -> Result<Followers>;

    /// Runs a validated feed query.
    async fn query(&self, query: &FeedQuery) -> Result<FeedResult>;

    /// Finishes pending work and releases the store (the writer lock, connections).
    async fn close(&self) -> Result<()>;
}

/// A new activity id: a random (version 4) UUID. Two of them collide with probability 2^-122,
/// so a store may take one as new without looking it up.
///
/// The random bytes come from the operating system, a few hundred ids' worth per call (one
/// system call per id showed in bulk writes).
pub fn new_activity_id() -> Result<String> {
    thread_local! {
        static POOL: std::cell::RefCell<(Vec<u8>, usize)> =
            const { std::cell::RefCell::new((Vec::new(), 0)) };
    }
    const POOL_BYTES: usize = 4_096;
    POOL.with(|pool| {
        let (bytes, used) = &mut *pool.borrow_mut();
        if *used + 16 > bytes.len() {
            bytes.resize(POOL_BYTES, 0);
            getrandom::fill(bytes).map_err(|e| crate::Error::backend("random", e.to_string()))?;
            *used = 0;
        }
        let mut random = [0u8; 16];
        random.copy_from_slice(&bytes[*used..*used + 16]);
        *used += 16;
        Ok(uuid::Builder::from_random_bytes(random)
            .into_uuid()
            .to_string())
    })
}

/// A backend behind dynamic dispatch.
pub type DynBackend = dyn FeedBackend;

/// What [`FeedBackend::erase_actor`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    /// Activities removed.
    pub activities: u64,
    /// Links removed (from the actor and to the actor).
    pub links: u64,
}

#[async_trait]
impl<B: FeedBackend + ?Sized> FeedBackend for Arc<B> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn cursor_key(&self) -> &CursorKey {
        (**self).cursor_key()
    }
    fn embeddings(&self) -> Option<EmbeddingSpace> {
        (**self).embeddings()
    }
    async fn put_activities(
        &self,
        activities: Vec<Activity>,
        refresh: Refresh,
    ) -> Result<Vec<Result<String>>> {
        (**self).put_activities(activities, refresh).await
    }
    async fn get_activity(&self, id: &str) -> Result<Option<Activity>> {
        (**self).get_activity(id).await
    }
    async fn delete_activity(&self, id: &str, refresh: Refresh) -> Result<bool> {
        (**self).delete_activity(id, refresh).await
    }
    async fn erase_actor(&self, actor: &EntityKey) -> Result<Erased> {
        (**self).erase_actor(actor).await
    }
    async fn insert_links(&self, links: Vec<Link>, refresh: Refresh) -> Result<Vec<Result<()>>> {
        (**self).insert_links(links, refresh).await
    }
    async fn update_link(
        &self,
        key: &LinkKey,
        change: LinkChange,
        refresh: Refresh,
    ) -> Result<Link> {
        (**self).update_link(key, change, refresh).await
    }
    async fn delete_link(&self, key: &LinkKey, refresh: Refresh) -> Result<()> {
        (**self).delete_link(key, refresh).await
    }
    async fn network(&self, user: &str, limit: usize) -> Result<Network> {
        (**self).network(user, limit).await
    }
    async fn followers(&self, target: &LinkTarget, limit: usize) -> Result<Followers> {
        (**self).followers(target, limit).await
    }
    async fn query(&self, query: &FeedQuery) -> Result<FeedResult> {
        (**self).query(query).await
    }
    async fn close(&self) -> Result<()> {
        (**self).close().await
    }
}
