//! The [`Manager`]: the one entry point for writing activities and links and reading feeds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::activity::{Activity, EntityKey};
use crate::aggregator::{Aggregator, FeedContext};
use crate::backend::{DynBackend, Erased};
use crate::embedding::{check_query, EmbeddingSpace};
use crate::error::{Error, Result};
use crate::network::{Followers, Link, LinkChange, LinkKey, LinkTarget, Network};
use crate::query::{Bound, FeedQuery};
use crate::refresh::Refresh;
use crate::validate;

/// The default number of links read per user for a feed.
pub const DEFAULT_MAX_LINK_SIZE: usize = 5_000;
/// The largest `max_link_size` accepted.
pub const MAX_LINK_SIZE_LIMIT: usize = 100_000;

/// A feed shaped by an aggregator, with what the read left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feed<T> {
    /// The aggregator's output.
    pub feed: T,
    /// How many of the user's oldest links were not used because the network is larger than
    /// `max_link_size`. Zero unless the network was cut.
    pub links_left_out: u64,
}

/// One page of a search, with the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The activities, in the query's order.
    pub activities: Vec<Activity>,
    /// Pass this to [`FeedQuery::cursor`] for the next page in the same direction; `None` when
    /// nothing lies beyond.
    pub next_cursor: Option<String>,
}

/// Writes activities and links, and reads feeds composed from them.
///
/// A `Manager` is cheap to clone (an `Arc` inside) and safe to share across tasks; concurrent
/// writes through its clones are serialised and grouped into few commits by the backend. Every
/// write is visible to the next read once its future has returned, except cluster writes that
/// its [`Refresh`] lets return sooner (by default, batches of more than one item).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, FeedQuery, Manager, Object};
///
/// let manager = Manager::memory().await?;
/// manager.follow("carlos", "mark").await?;
/// let post = Activity::new("post", Actor::new("mark", "person")?, Object::new("p1", "post")?)?;
/// let id = manager.add_activity(post).await?;
///
/// let page = manager.search(FeedQuery::all()).await?;
/// assert_eq!(page.activities[0].id(), Some(id.as_str()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Arc<DynBackend>,
    max_link_size: usize,
    refresh: Refresh,
}

/// Options for opening a store; made by [`Manager::builder`].
#[derive(Debug, Clone)]
pub struct ManagerBuilder {
    connection: String,
    feeds_index: String,
    network_index: String,
    max_link_size: usize,
    read_only: bool,
    embeddings: Option<EmbeddingSpace>,
    refresh: Refresh,
    #[cfg(feature = "cluster")]
    cluster: crate::backend::cluster::ClusterOptions,
}

impl ManagerBuilder {
    /// Options of the Elasticsearch and OpenSearch backends: credentials, CA certificate,
    /// shards and replicas, recreate, retries (see
    /// [`ClusterOptions`](crate::backend::cluster::ClusterOptions)). Ignored by the embedded
    /// backend.
    #[cfg(feature = "cluster")]
    pub fn cluster(mut self, options: crate::backend::cluster::ClusterOptions) -> Self {
        self.cluster = options;
        self
    }

    /// Names the activity index (default `feeds`). On the embedded backend it is a directory
    /// inside the store.
    pub fn feeds_index(mut self, name: &str) -> Self {
        self.feeds_index = name.to_owned();
        self
    }

    /// Names the link index (default `network`).
    pub fn network_index(mut self, name: &str) -> Self {
        self.network_index = name.to_owned();
        self
    }

    /// How many of a user's links (newest first) a feed reads, 1 to 100,000 (default 5,000).
    /// A larger network is never cut silently: [`Feed::links_left_out`] says how many were not
    /// used.
    pub fn max_link_size(mut self, max_link_size: usize) -> Self {
        self.max_link_size = max_link_size;
        self
    }

    /// Whether writes wait until reads can see them (default [`Refresh::Auto`]: single writes
    /// wait, batches do not). Only the cluster backends can return sooner; see [`Refresh`] for
    /// the cost. [`Manager::with_refresh`] changes it per call.
    pub fn refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }

    /// Opens without taking the writer, so another `Manager` may write meanwhile. Every write
    /// through a read-only manager is [`Error::ReadOnly`]; every read sees the latest commit.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Lets the store hold embeddings of this space, for semantic feeds (see
    /// [`embedding`](crate::embedding)). A new store records the space; a store without one
    /// records it now (unless opened read-only); a store that records another space is
    /// [`Error::EmbeddingSpaceMismatch`]. Without this call, a store uses the space it records,
    /// if any. A read-only open knows the space recorded when it opened: one opened before a
    /// writer first recorded a space must be opened again to search embeddings.
    pub fn embeddings(mut self, space: EmbeddingSpace) -> Self {
        self.embeddings = Some(space);
        self
    }

    /// Opens (or creates) the store.
    ///
    /// The connection string picks the backend: `memory:` is an in-RAM embedded store (for tests),
    /// any other string without a URL scheme is a directory holding an embedded store (created if
    /// it does not exist). `http(s)://` and `elasticsearch+http(s)://` open Elasticsearch,
    /// `opensearch+http(s)://` OpenSearch; several nodes are separated by commas, and
    /// `user:password@` in a URL gives basic authentication (see [`ManagerBuilder::cluster`]).
    pub async fn open(self) -> Result<Manager> {
        validate::index_name(&self.feeds_index)?;
        validate::index_name(&self.network_index)?;
        validate::size("max link size", self.max_link_size, 1, MAX_LINK_SIZE_LIMIT)?;
        if self.feeds_index == self.network_index {
            return Err(Error::InvalidIndexName {
                value: self.network_index,
                reason: "the feeds and network indices must have different names",
            });
        }
        let backend = self.open_backend().await?;
        Ok(Manager {
            backend,
            max_link_size: self.max_link_size,
            refresh: self.refresh,
        })
    }

    async fn open_backend(&self) -> Result<Arc<DynBackend>> {
        let conn = self.connection.as_str();
        let scheme = conn.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("http" | "https" | "elasticsearch+http" | "elasticsearch+https")
            | Some("opensearch+http" | "opensearch+https") => self.open_cluster().await,
            Some(other) => Err(Error::InvalidConnection {
                value: conn.to_owned(),
                reason: format!("unknown scheme {other:?}"),
            }),
            None => self.open_embedded().await,
        }
    }

    #[cfg(feature = "cluster")]
    async fn open_cluster(&self) -> Result<Arc<DynBackend>> {
        use crate::backend::cluster::{ClusterBackend, Connection, StoreNames};
        let connection = Connection::parse(&self.connection, self.cluster.clone())?;
        let names = StoreNames {
            feeds: self.feeds_index.clone(),
            network: self.network_index.clone(),
            read_only: self.read_only,
            embeddings: self.embeddings,
        };
        Ok(Arc::new(ClusterBackend::connect(connection, names).await?))
    }

    #[cfg(not(feature = "cluster"))]
    async fn open_cluster(&self) -> Result<Arc<DynBackend>> {
        Err(Error::InvalidConnection {
            value: self.connection.clone(),
            reason: "this build has no cluster backend (enable the `elasticsearch` or \
                     `opensearch` feature)"
                .into(),
        })
    }

    #[cfg(feature = "embedded")]
    async fn open_embedded(&self) -> Result<Arc<DynBackend>> {
        use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
        let options = EmbeddedOptions {
            feeds_index: self.feeds_index.clone(),
            network_index: self.network_index.clone(),
            read_only: self.read_only,
            embeddings: self.embeddings,
        };
        let path = match self.connection.as_str() {
            "memory:" if self.read_only => {
                return Err(Error::InvalidConnection {
                    value: self.connection.clone(),
                    reason: "a new in-RAM store is empty: opening it read-only is never useful"
                        .into(),
                })
            }
            "memory:" => None,
            "" => {
                return Err(Error::InvalidConnection {
                    value: String::new(),
                    reason: "empty connection string".into(),
                })
            }
            path => Some(std::path::PathBuf::from(path)),
        };
        let backend = tokio::task::spawn_blocking(move || match path {
            Some(path) => EmbeddedBackend::open(&path, options),
            None => EmbeddedBackend::memory(options),
        })
        .await
        .map_err(|e| Error::backend("embedded", e))??;
        Ok(Arc::new(backend))
    }

    #[cfg(not(feature = "embedded"))]
    async fn open_embedded(&self) -> Result<Arc<DynBackend>> {
        Err(Error::InvalidConnection {
            value: self.connection.clone(),
            reason: "this build has no embedded backend (enable the `embedded` feature)".into(),
        })
    }
}

impl Manager {
    /// Options for opening the store named by a connection string (see [`ManagerBuilder::open`]).
    pub fn builder(connection: &str) -> ManagerBuilder {
        ManagerBuilder {
            connection: connection.to_owned(),
            feeds_index: "feeds".into(),
            network_index: "network".into(),
            max_link_size: DEFAULT_MAX_LINK_SIZE,
            read_only: false,
            embeddings: None,
            refresh: Refresh::Auto,
            #[cfg(feature = "cluster")]
            cluster: Default::default(),
        }
    }

    /// Opens (or creates) a store with default options.
    pub async fn open(connection: &str) -> Result<Manager> {
        Self::builder(connection).open().await
    }

    /// A new, empty in-RAM embedded store: for tests and examples.
    pub async fn memory() -> Result<Manager> {
        Self::builder("memory:").open().await
    }

    /// A manager over a backend you built yourself.
    pub fn from_backend(backend: Arc<DynBackend>, max_link_size: usize) -> Result<Manager> {
        validate::size("max link size", max_link_size, 1, MAX_LINK_SIZE_LIMIT)?;
        Ok(Manager {
            backend,
            max_link_size,
            refresh: Refresh::Auto,
        })
    }

    /// The store's embedding space, if it holds embeddings.
    pub fn embeddings(&self) -> Option<EmbeddingSpace> {
        self.backend.embeddings()
    }

    /// The backend this manager writes to.
    pub fn backend(&self) -> &Arc<DynBackend> {
        &self.backend
    }

    /// A handle on the same store whose writes use `refresh`, for the calls that need another
    /// choice than the store's default (a batch the next read must see, a single write that
    /// need not wait). Cheap: it shares this manager's backend.
    pub fn with_refresh(&self, refresh: Refresh) -> Manager {
        Manager {
            refresh,
            ..self.clone()
        }
    }

    /// Whether this manager's writes wait until reads can see them.
    pub fn refresh(&self) -> Refresh {
        self.refresh
    }

    /// How many links (newest first) a feed reads.
    pub fn max_link_size(&self) -> usize {
        self.max_link_size
    }

    // ----- activities -------------------------------------------------------------------------

    /// Adds an activity and returns its id: the one it carries, or a new random one.
    ///
    /// Adding an id that is already stored for the same actor replaces that activity, so a
    /// retried write never duplicates; an id stored for another actor is
    /// [`Error::ActivityConflict`] and changes nothing.
    pub async fn add_activity(&self, activity: Activity) -> Result<String> {
        let mut results = self.add_activities(vec![activity]).await?;
        results.pop().unwrap_or_else(|| {
            Err(Error::backend(
                self.backend.name(),
                "the backend returned no result for the activity",
            ))
        })
    }

    /// Adds many activities in one write (one commit on the embedded backend).
    ///
    /// Activities are valid by construction; what depends on the store (an embedding's length
    /// and similarity, see [`ManagerBuilder::embeddings`]) is checked for the whole batch first,
    /// and one bad embedding refuses the batch with nothing written. The per-item results
    /// report what the engine decided per activity (such as an id conflict with another actor).
    pub async fn add_activities(&self, activities: Vec<Activity>) -> Result<Vec<Result<String>>> {
        let space = self.backend.embeddings();
        for activity in &activities {
            if let Some(embedding) = activity.embedding() {
                space
                    .ok_or(Error::EmbeddingsNotEnabled)?
                    .check("embedding", embedding)?;
            }
        }
        // The backend gives activities without an id a new one: it knows no lookup is needed.
        self.backend.put_activities(activities, self.refresh).await
    }

    /// Loads an activity; [`Error::ActivityNotFound`] if no activity has this id.
    pub async fn get_activity(&self, id: &str) -> Result<Activity> {
        validate::id("activity", id)?;
        self.backend
            .get_activity(id)
            .await?
            .ok_or_else(|| Error::ActivityNotFound { id: id.to_owned() })
    }

    /// Removes an activity from every feed; [`Error::ActivityNotFound`] if it is not stored.
    pub async fn remove_activity(&self, id: &str) -> Result<()> {
        validate::id("activity", id)?;
        if self.backend.delete_activity(id, self.refresh).await? {
            Ok(())
        } else {
            Err(Error::ActivityNotFound { id: id.to_owned() })
        }
    }

    /// Removes every activity of an actor, every link the actor made (as a user, by id) and every
    /// link to the actor (follows of them and watches of them as an entity, by type and id).
    pub async fn erase_actor(&self, actor: &EntityKey) -> Result<Erased> {
        actor.check()?;
        self.backend.erase_actor(actor).await
    }

    // ----- links ------------------------------------------------------------------------------

    /// Stores a link; [`Error::LinkExists`] if its identity is already stored.
    pub async fn add_link(&self, link: Link) -> Result<Link> {
        let mut results = self.add_links(vec![link.clone()]).await?;
        results.pop().unwrap_or_else(|| {
            Err(Error::backend(
                self.backend.name(),
                "the backend returned no result for the link",
            ))
        })?;
        Ok(link)
    }

    /// Stores many links in one write (one commit on the embedded backend). A link already
    /// stored, or repeated within the batch, is [`Error::LinkExists`] for that item alone.
    pub async fn add_links(&self, links: Vec<Link>) -> Result<Vec<Result<()>>> {
        for link in &links {
            link.check()?;
        }
        self.backend.insert_links(links, self.refresh).await
    }

    /// `user` follows the actor `person:followed` from now on.
    pub async fn follow(&self, user: &str, followed: &str) -> Result<Link> {
        self.follow_as(user, followed, "person").await
    }

    /// `user` follows the actor `kind:followed` from now on.
    pub async fn follow_as(&self, user: &str, followed: &str, kind: &str) -> Result<Link> {
        let key = LinkKey::follow(user, LinkTarget::actor(followed, kind)?)?;
        self.add_link(Link::from_key(key)).await
    }

    /// `user` stops following `person:followed`; [`Error::LinkNotFound`] if they did not.
    pub async fn unfollow(&self, user: &str, followed: &str) -> Result<()> {
        self.unfollow_as(user, followed, "person").await
    }

    /// `user` stops following `kind:followed`; [`Error::LinkNotFound`] if they did not.
    pub async fn unfollow_as(&self, user: &str, followed: &str, kind: &str) -> Result<()> {
        self.remove_link(&LinkKey::follow(user, LinkTarget::actor(followed, kind)?)?)
            .await
    }

    /// `user` watches the object `kind:id` from now on: activities whose object or target it is
    /// reach their feed.
    pub async fn watch(&self, user: &str, id: &str, kind: &str) -> Result<Link> {
        let key = LinkKey::watch(user, LinkTarget::object(id, kind)?)?;
        self.add_link(Link::from_key(key)).await
    }

    /// `user` stops watching `kind:id`; [`Error::LinkNotFound`] if they did not.
    pub async fn unwatch(&self, user: &str, id: &str, kind: &str) -> Result<()> {
        self.remove_link(&LinkKey::watch(user, LinkTarget::object(id, kind)?)?)
            .await
    }

    /// Removes a link; [`Error::LinkNotFound`] if it is not stored.
    pub async fn remove_link(&self, key: &LinkKey) -> Result<()> {
        key.check()?;
        self.backend.delete_link(key, self.refresh).await
    }

    /// Changes a stored link's weight or extra data, keeping its link time.
    pub async fn update_link(&self, key: &LinkKey, change: LinkChange) -> Result<Link> {
        key.check()?;
        self.backend.update_link(key, change, self.refresh).await
    }

    /// A user's links, newest first, at most `max_link_size`, with the total count.
    pub async fn network(&self, user: &str) -> Result<Network> {
        validate::id("user", user)?;
        self.backend.network(user, self.max_link_size).await
    }

    /// The links pointing at an entity, newest first, at most `limit` (up to 10,000), with the
    /// total count.
    pub async fn followers(&self, target: &LinkTarget, limit: usize) -> Result<Followers> {
        validate::size("followers limit", limit, 0, crate::query::MAX_PAGE_SIZE)?;
        target.check()?;
        self.backend.followers(target, limit).await
    }

    /// How many links point at an entity.
    pub async fn follower_count(&self, target: &LinkTarget) -> Result<u64> {
        target.check()?;
        Ok(self.backend.followers(target, 0).await?.total)
    }

    /// How many links a user has made (follows, watches and any other type).
    pub async fn following_count(&self, user: &str) -> Result<u64> {
        validate::id("user", user)?;
        Ok(self.backend.network(user, 0).await?.total())
    }

    // ----- reads ------------------------------------------------------------------------------

    /// Composes `user`'s feed: loads their network (newest `max_link_size` links), lets the
    /// aggregator build the query, runs it, and lets the aggregator shape the result.
    ///
    /// A user with no links gets the aggregator's empty feed, not an error.
    pub async fn get_feeds<A: Aggregator>(
        &self,
        user: &str,
        aggregator: &A,
    ) -> Result<Feed<A::Output>> {
        let network = self.network(user).await?;
        let context = FeedContext::new(&network, self.backend.cursor_key());
        let query = aggregator.query(&context)?;
        query.validate()?;
        check_query(self.backend.embeddings(), &query)?;
        let result = self.backend.query(&query).await?;
        Ok(Feed {
            feed: aggregator.shape(result, &context.answering(&query))?,
            links_left_out: network.left_out(),
        })
    }

    /// Runs a flat query directly, for example a search over all activities that ignores any
    /// network: `FeedQuery::all().actor(EntityFilter::id("mark")?)`. A nearest-neighbour query
    /// ([`FeedQuery::nearest`]) has a single page: its `next_cursor` is always `None`.
    pub async fn search(&self, query: FeedQuery) -> Result<ActivityPage> {
        query.validate()?;
        check_query(self.backend.embeddings(), &query)?;
        if query.grouping.is_some() {
            return Err(Error::InvalidQuery {
                reason: "search returns a flat page; use get_feeds with an aggregator to group"
                    .into(),
            });
        }
        let result = self.backend.query(&query).await?;
        let next_cursor = if result.more && query.vector.is_none() {
            Bound::next_after(query.page.bound.as_ref(), query.order, &result.hits)
                .map(|b| b.to_cursor())
        } else {
            None
        };
        Ok(ActivityPage {
            activities: result.hits.into_iter().map(|h| h.activity).collect(),
            next_cursor,
        })
    }

    /// Finishes pending writes, waits for background merges and releases the store (its writer
    /// lock), without blocking the async executor. Writes through any clone of this manager fail
    /// afterwards; reads keep working on what was committed.
    ///
    /// Dropping the last clone releases the store too, but waits for the writer thread where the
    /// drop happens: in async code, prefer `close().await`.
    pub async fn close(&self) -> Result<()> {
        self.backend.close().await
    }
}
