//! The cluster backends: Elasticsearch and OpenSearch, on their official clients.
//!
//! One [`ClusterBackend`] serves both engines. Everything it sends is built here as JSON: the
//! index definitions in `mapping`, the feed queries in `compile`, and the writes below. The two
//! engines differ only where the code names an [`Engine`]: the client crate, the server check
//! on connect, and the vector field and index setting.
//!
//! # Writes
//! - An activity is stored under its id (`_id` = `feed_id`). A new id is written create-only and
//!   a replacement only if the document is still the one read (`if_seq_no`), so two writers
//!   racing on one id never both win, and an id of another actor is
//!   [`Error::ActivityConflict`].
//! - A link is stored under [`LinkKey::doc_id`], create-only: of two concurrent follows, one
//!   gets [`Error::LinkExists`]. Links the Python library wrote under random ids are found by
//!   an identity query (before adding, and when removing or changing).
//! - Read-your-writes per call, by [`Refresh`]: by default single writes wait for the next
//!   refresh (`refresh=wait_for`, up to the index's refresh interval, 1 s by default) and
//!   batches of more than one item do not.
//!
//! # Reads
//! - Flat and grouped feeds compile to one search (or one `_msearch`), see `compile`.
//! - Ranked feeds sort by a painless score script computed in double precision by the formula
//!   every backend uses (see `compile::SCORE_SCRIPT`); the script runs for every document the
//!   network reaches.
//! - Collapse walks the feed from its top in pages of [`collapse::CHUNK`] and keeps the
//!   newest activity of each value client-side (see `collapse`).
//! - Vector queries walk every competing activity and score its embedding client-side in
//!   `f64`, exactly (see `nearest`): the engines score vectors in 32-bit floats.
//!
//! # Limits
//! Grouped feeds need a feed index with one shard (the default), because the engines' terms
//! aggregations are approximate over several shards.

mod collapse;
mod compile;
mod mapping;
mod nearest;
mod parse;
mod transport;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::activity::{Activity, EntityKey};
use crate::backend::{Erased, FeedBackend};
use crate::cursor::CursorKey;
use crate::embedding::{check_query, EmbeddingSpace};
use crate::error::{Error, Result};
use crate::network::{Followers, Link, LinkChange, LinkClass, LinkKey, LinkTarget, Network};
use crate::query::{Bound, FeedQuery, GroupKey, Position, MAX_PAGE_SIZE};
use crate::refresh::Refresh;
use crate::result::{FeedResult, Hit};

pub use transport::RetryPolicy;
use transport::{Cluster, Method, Reply, Request};

use compile::{FlatPlan, Plan};
use mapping::{Layout, FORMAT, META_KEY};

/// Which engine a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// Elasticsearch 8.x or 9.x, through the `elasticsearch` crate.
    Elasticsearch,
    /// OpenSearch 2.x, through the `opensearch` crate.
    OpenSearch,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Elasticsearch => "elasticsearch",
            Engine::OpenSearch => "opensearch",
        }
    }
}

/// How to authenticate to a cluster.
#[derive(Clone, PartialEq, Eq)]
pub enum ClusterAuth {
    /// HTTP basic authentication (also taken from `user:password@` in a connection URL).
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// An API key as its id and secret.
    ApiKey {
        /// The key's id.
        id: String,
        /// The key's secret.
        key: String,
    },
    /// An API key already base64-encoded (`id:secret`), as Elasticsearch hands it out.
    EncodedApiKey(String),
}

impl std::fmt::Debug for ClusterAuth {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterAuth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            ClusterAuth::ApiKey { id, .. } => write!(f, "ApiKey({id}, ***)"),
            ClusterAuth::EncodedApiKey(_) => f.write_str("EncodedApiKey(***)"),
        }
    }
}

/// Options of the cluster backends, given to
/// [`ManagerBuilder::cluster`](crate::ManagerBuilder::cluster).
///
/// ```
/// use elasticfeeds::backend::cluster::{ClusterAuth, ClusterOptions};
///
/// let options = ClusterOptions::default()
///     .auth(ClusterAuth::Basic { user: "elastic".into(), password: "changeme".into() })
///     .layout(3, 1)
///     .recreate(false);
/// assert_eq!(options.shards, 3);
/// ```
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Credentials; `None` uses those of the connection URL, if any.
    pub auth: Option<ClusterAuth>,
    /// A PEM certificate (or bundle) of the certificate authority that signed the cluster's
    /// certificate, for `https` clusters with a private CA.
    pub ca_certificate: Option<Vec<u8>>,
    /// Primary shards of new indices (default 1). Grouped feeds need 1 on the feed index (see
    /// the module documentation).
    pub shards: u32,
    /// Replicas of new indices (default 1; a single node stays yellow with 1, which is fine).
    pub replicas: u32,
    /// Delete both indices and create them empty when the store opens (default `false`).
    pub recreate: bool,
    /// How often new indices make their writes searchable (`index.refresh_interval`, at
    /// least 1 ms); `None` (the default) keeps the engine's 1 s. A waiting write
    /// ([`Refresh`]) returns at the next refresh, so a shorter interval makes it return sooner,
    /// at the cost of more, smaller segments for the engine to merge.
    pub refresh_interval: Option<Duration>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// The timeout of one request (default 30 s).
    pub timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            auth: None,
            ca_certificate: None,
            shards: 1,
            replicas: 1,
            recreate: false,
            refresh_interval: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl ClusterOptions {
    /// Sets the credentials.
    pub fn auth(mut self, auth: ClusterAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Trusts this certificate authority (PEM).
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate = Some(pem.into());
        self
    }

    /// Sets shards and replicas of new indices.
    pub fn layout(mut self, shards: u32, replicas: u32) -> Self {
        self.shards = shards;
        self.replicas = replicas;
        self
    }

    /// Deletes and recreates both indices on open.
    pub fn recreate(mut self, recreate: bool) -> Self {
        self.recreate = recreate;
        self
    }

    /// Sets the refresh interval of new indices (see [`ClusterOptions::refresh_interval`]).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = Some(interval);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A parsed connection string: the engine, the node URLs (without credentials), credentials.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub(crate) engine: Engine,
    pub(crate) nodes: Vec<String>,
    pub(crate) auth: Option<ClusterAuth>,
    pub(crate) options: ClusterOptions,
}

impl Connection {
    /// Parses `http(s)://…`, `elasticsearch+http(s)://…` or `opensearch+http(s)://…`; several
    /// nodes are separated by commas (`http://a:9200,http://b:9200`, the scheme prefix on the
    /// first only or on each). `user:password@` gives basic authentication unless the options
    /// carry credentials.
    pub(crate) fn parse(connection: &str, options: ClusterOptions) -> Result<Connection> {
        let bad = |reason: String| Error::InvalidConnection {
            value: redact(connection),
            reason,
        };
        let mut engine = None;
        let mut nodes = Vec::new();
        let mut auth = None;
        for (i, part) in connection.split(',').map(str::trim).enumerate() {
            let (scheme, rest) = part
                .split_once("://")
                .ok_or_else(|| bad(format!("node {} has no scheme", i + 1)))?;
            let (this, http) = match scheme {
                "http" | "https" => (None, scheme),
                "elasticsearch+http" | "elasticsearch+https" => {
                    (Some(Engine::Elasticsearch), &scheme[14..])
                }
                "opensearch+http" | "opensearch+https" => (Some(Engine::OpenSearch), &scheme[11..]),
                other => return Err(bad(format!("unknown scheme {other:?}"))),
            };
            match (engine, this) {
                (None, this) => engine = Some(this.unwrap_or(Engine::Elasticsearch)),
                (Some(e), Some(t)) if e != t => {
                    return Err(bad("the nodes name different engines".into()))
                }
                _ => {}
            }
            let (userinfo, host) = match rest.rsplit_once('@') {
                Some((userinfo, host)) => (Some(userinfo), host),
                None => (None, rest),
            };
            if host.is_empty() || host.starts_with('/') {
                return Err(bad(format!("node {} has no host", i + 1)));
            }
            if let Some(userinfo) = userinfo {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .map_err(|_| bad("credentials are not UTF-8".into()))
                };
                auth = Some(ClusterAuth::Basic {
                    user: decode(user)?,
                    password: decode(password)?,
                });
            }
            // A trailing slash makes a path prefix (`https://host/es/`) keep its last segment.
            let mut url = format!("{http}://{host}");
            if !url.ends_with('/') {
                url.push('/');
            }
            nodes.push(url);
        }
        let engine = engine.ok_or_else(|| bad("no node given".into()))?;
        Ok(Connection {
            engine,
            nodes,
            auth: options.auth.clone().or(auth),
            options,
        })
    }

    /// The connection for messages: node URLs without credentials.
    pub(crate) fn display(&self) -> String {
        self.nodes.join(",")
    }
}

/// The connection string with any password replaced.
fn redact(connection: &str) -> String {
    connection
        .split(',')
        .map(
            |part| match (part.split_once("://"), part.rsplit_once('@')) {
                (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
                _ => part.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join(",")
}

/// Characters kept as they are in a document id inside a URL path.
const ID: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// `refresh=wait_for` on a write that must be visible before it is acknowledged.
fn waiting(request: Request, wait: bool) -> Request {
    if wait {
        request.param("refresh", "wait_for")
    } else {
        request
    }
}

fn doc_path(index: &str, id: &str) -> String {
    format!("{index}/_doc/{}", utf8_percent_encode(id, ID))
}

/// A store on an Elasticsearch or OpenSearch cluster: a feeds index and a network index.
#[derive(Debug)]
pub struct ClusterBackend {
    cluster: Cluster,
    engine: Engine,
    /// The server's `(major, minor)` version.
    version: (u32, u32),
    feeds: String,
    network: String,
    cursor_key: CursorKey,
    embeddings: Option<EmbeddingSpace>,
    read_only: bool,
    closed: AtomicBool,
}

/// What [`ClusterBackend::connect`] needs besides the connection.
#[derive(Debug, Clone)]
pub(crate) struct StoreNames {
    pub(crate) feeds: String,
    pub(crate) network: String,
    pub(crate) read_only: bool,
    pub(crate) embeddings: Option<EmbeddingSpace>,
}

impl ClusterBackend {
    /// Opens a store on a cluster without a [`Manager`](crate::Manager), for what only this
    /// backend does ([`ClusterBackend::migrate_feed_ids`]); hand it to
    /// [`Manager::from_backend`](crate::Manager::from_backend) to use it as a store. The
    /// connection string is as for [`ManagerBuilder::open`](crate::ManagerBuilder::open).
    pub async fn open(
        connection: &str,
        feeds_index: &str,
        network_index: &str,
        options: ClusterOptions,
    ) -> Result<Self> {
        crate::validate::index_name(feeds_index)?;
        crate::validate::index_name(network_index)?;
        let connection = Connection::parse(connection, options)?;
        let names = StoreNames {
            feeds: feeds_index.to_owned(),
            network: network_index.to_owned(),
            read_only: false,
            embeddings: None,
        };
        Self::connect(connection, names).await
    }

    /// Connects, checks the server, and creates (or recreates, or adopts) the two indices.
    pub(crate) async fn connect(connection: Connection, names: StoreNames) -> Result<Self> {
        let client: Box<dyn transport::Client> = match connection.engine {
            #[cfg(feature = "elasticsearch")]
            Engine::Elasticsearch => {
                Box::new(transport::elasticsearch::EsClient::connect(&connection)?)
            }
            #[cfg(feature = "opensearch")]
            Engine::OpenSearch => Box::new(transport::opensearch::OsClient::connect(&connection)?),
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::InvalidConnection {
                    value: connection.display(),
                    reason: format!(
                        "this build has no {} backend (enable the `{}` feature)",
                        other.name(),
                        other.name()
                    ),
                })
            }
        };
        let cluster = Cluster {
            client,
            retry: connection.options.retry,
            backend: connection.engine.name(),
            nodes: connection.display(),
        };
        let version = check_server(&cluster, connection.engine).await?;
        let refresh_interval = match connection.options.refresh_interval {
            Some(interval) if interval.as_millis() == 0 => {
                return Err(Error::InvalidSize {
                    what: "cluster refresh interval (ms)",
                    value: 0,
                    min: 1,
                    max: u64::MAX,
                })
            }
            interval => interval.map(|i| format!("{}ms", i.as_millis())),
        };
        let layout = Layout {
            shards: connection.options.shards,
            replicas: connection.options.replicas,
            refresh_interval,
            // Elasticsearch 9.2 leaves vectors out of `_source` in new indices unless told
            // otherwise; the setting is unknown before 9.2, which kept them.
            keep_source_vectors: connection.engine == Engine::Elasticsearch && version >= (9, 2),
        };
        let mut backend = ClusterBackend {
            cluster,
            engine: connection.engine,
            version,
            feeds: names.feeds,
            network: names.network,
            cursor_key: CursorKey::generate()?,
            embeddings: None,
            read_only: names.read_only,
            closed: AtomicBool::new(false),
        };
        if connection.options.recreate && !names.read_only {
            for index in [&backend.feeds, &backend.network] {
                let reply = backend
                    .cluster
                    .send(&Request::new(Method::Delete, index.as_str()))
                    .await?;
                if reply.status != 404 && !(200..300).contains(&reply.status) {
                    return Err(backend.cluster.refused(&reply));
                }
            }
        }
        backend.open_indices(layout, names.embeddings).await?;
        Ok(backend)
    }

    async fn exists(&self, index: &str) -> Result<bool> {
        let reply = self
            .cluster
            .send(&Request::new(Method::Head, index))
            .await?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.cluster.refused(&reply)),
        }
    }

    /// Creates an index unless it exists; a concurrent creator winning is fine.
    async fn create(&self, index: &str, body: Value) -> Result<()> {
        let reply = self
            .cluster
            .send(&Request::new(Method::Put, index).json(body))
            .await?;
        if (200..300).contains(&reply.status) {
            return Ok(());
        }
        let (kind, _, _) = transport::error_parts(&reply.body);
        if reply.status == 400 && kind == "resource_already_exists_exception" {
            return Ok(());
        }
        Err(self.cluster.refused(&reply))
    }

    async fn open_indices(
        &mut self,
        layout: Layout,
        requested: Option<EmbeddingSpace>,
    ) -> Result<()> {
        let missing = |index: &str| Error::NotAStore {
            path: index.into(),
            reason: "the index does not exist and the store was opened read-only",
        };
        if !self.exists(&self.feeds).await? {
            if self.read_only {
                return Err(missing(&self.feeds));
            }
            let meta = new_meta(&self.cursor_key, requested);
            self.create(
                &self.feeds,
                mapping::feeds_index(self.engine, &layout, meta, requested),
            )
            .await?;
        }
        if !self.exists(&self.network).await? {
            if self.read_only {
                return Err(missing(&self.network));
            }
            self.create(&self.network, mapping::network_index(&layout))
                .await?;
        }
        self.adopt(requested).await
    }

    /// Refuses a store with embeddings whose feeds index leaves vectors out of `_source`
    /// (`index.mapping.exclude_source_vectors`, true by default for indices that Elasticsearch
    /// 9.2 or later created, such as the Python library's): embeddings would silently read back
    /// as missing, and vector queries find nothing.
    async fn check_source_vectors(&self) -> Result<()> {
        if self.engine != Engine::Elasticsearch || self.version < (9, 2) {
            return Ok(());
        }
        let body = self
            .cluster
            .ok(
                &Request::new(Method::Get, format!("{}/_settings", self.feeds))
                    .param("include_defaults", "true"),
            )
            .await?;
        // Keyed by the concrete index, which may differ from the name (an alias).
        let index = body.as_object().and_then(|m| m.values().next());
        let setting = |part: &str| {
            index
                .and_then(|i| i.pointer(&format!("/{part}/index/mapping/exclude_source_vectors")))
                .map(|v| v == &json!("true") || v == &json!(true))
        };
        // Set explicitly, or else the default for the index's version.
        if setting("settings").or_else(|| setting("defaults")) == Some(true) {
            return Err(Error::NotAStore {
                path: self.feeds.clone().into(),
                reason: "the index leaves embeddings out of _source by default \
                         (index.mapping.exclude_source_vectors is true), and this library reads \
                         them from _source; reindex it into an index this library creates",
            });
        }
        Ok(())
    }

    /// Reads the store's metadata from the feeds index mapping, writing it first into an index
    /// that lacks it (one the Python library created): a cursor key, `feed_id` and `link_id`
    /// fields, and the embedding space if one is asked for.
    async fn adopt(&mut self, requested: Option<EmbeddingSpace>) -> Result<()> {
        let mut meta = self.read_meta().await?;
        let stored_space = meta
            .as_ref()
            .and_then(|m| m.get("embeddings"))
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value::<EmbeddingSpace>(v.clone()))
            .transpose()
            .map_err(|e| Error::backend(self.cluster.backend, e))?;
        // As on every backend: a store keeps the space it records; one that records none takes
        // the requested space, unless it is opened read-only and so cannot record it.
        let mismatch = match (stored_space, requested) {
            (Some(stored), Some(requested)) => stored != requested,
            (None, Some(_)) => self.read_only,
            (_, None) => false,
        };
        if let (true, Some(requested)) = (mismatch, requested) {
            return Err(Error::EmbeddingSpaceMismatch {
                store: self.feeds.clone(),
                stored: stored_space.map_or_else(|| "none".to_owned(), |s| s.to_string()),
                requested: requested.to_string(),
            });
        }
        // Before anything is recorded: a refused open changes nothing.
        if stored_space.or(requested).is_some() {
            self.check_source_vectors().await?;
        }
        let add_space = stored_space.is_none() && requested.is_some();
        if (meta.is_none() || add_space) && !self.read_only {
            let key = meta
                .as_ref()
                .and_then(|m| m.get("cursor_key"))
                .and_then(Value::as_str)
                .and_then(CursorKey::from_hex)
                .unwrap_or_else(|| self.cursor_key.clone());
            let space = stored_space.or(requested);
            let mut properties = json!({"feed_id": {"type": "keyword"}});
            if let Some(space) = space {
                properties["embedding"] = mapping::embedding_field(self.engine, space);
            }
            self.cluster
                .ok(
                    &Request::new(Method::Put, format!("{}/_mapping", self.feeds)).json(json!({
                        "_meta": {META_KEY: new_meta(&key, space)},
                        "properties": properties
                    })),
                )
                .await?;
            self.cluster
                .ok(
                    &Request::new(Method::Put, format!("{}/_mapping", self.network))
                        .json(json!({"properties": {"link_id": {"type": "keyword"}}})),
                )
                .await?;
            // Read back what is stored: another process adopting the index at the same time
            // may have written its own key first.
            meta = self.read_meta().await?;
        }
        let meta = meta.ok_or_else(|| Error::NotAStore {
            path: self.feeds.clone().into(),
            reason: "the index has no elasticfeeds metadata and the store was opened read-only",
        })?;
        self.cursor_key = meta
            .get("cursor_key")
            .and_then(Value::as_str)
            .and_then(CursorKey::from_hex)
            .ok_or_else(|| {
                Error::backend(self.cluster.backend, "the stored cursor key is unreadable")
            })?;
        self.embeddings = meta
            .get("embeddings")
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| Error::backend(self.cluster.backend, e))?;
        Ok(())
    }

    async fn read_meta(&self) -> Result<Option<Value>> {
        let body = self
            .cluster
            .ok(&Request::new(
                Method::Get,
                format!("{}/_mapping", self.feeds),
            ))
            .await?;
        // `{ "<index>": { "mappings": { "_meta": { "elasticfeeds": {...} } } } }`; the key is
        // the concrete index, which differs from the name when the name is an alias.
        Ok(body
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(|index| index.pointer(&format!("/mappings/_meta/{META_KEY}")))
            .cloned())
    }

    fn writable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::StoreClosed);
        }
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Sends a bulk body and returns each item's outcome (its status and error, if any), and
    /// whether the request had to be sent more than once.
    async fn bulk(&self, lines: Vec<Value>, wait: bool) -> Result<(Vec<Reply>, bool)> {
        let request = waiting(Request::new(Method::Post, "_bulk").nd_json(lines), wait);
        let reply = self.cluster.send(&request).await?;
        if !(200..300).contains(&reply.status) {
            return Err(self.cluster.refused(&reply));
        }
        let items = reply
            .body
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::backend(self.cluster.backend, "a bulk response without items"))?;
        let items = items
            .iter()
            .map(|item| {
                // Each item is `{"<op>": {"status": …, "error": {…}}}`.
                let outcome = item
                    .as_object()
                    .and_then(|m| m.values().next())
                    .cloned()
                    .unwrap_or(Value::Null);
                Reply {
                    status: outcome.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
                    body: outcome,
                    attempts: reply.attempts,
                }
            })
            .collect();
        Ok((items, reply.attempts > 1))
    }

    /// Whether the document stored under `id` is exactly `source`: after a bulk request was
    /// retried, a create refused as a conflict may be the first attempt's own write, whose
    /// answer was lost.
    async fn stored_is(&self, index: &str, id: &str, source: &Value) -> Result<bool> {
        let reply = self
            .cluster
            .send(&Request::new(Method::Get, doc_path(index, id)))
            .await?;
        Ok(reply.status == 200 && reply.body.get("_source") == Some(source))
    }

    /// Settles an activity write the engine refused as a version conflict: another writer
    /// created or replaced the id between our read and our write, or a retried request met
    /// its own first attempt. Reads the document again (a real-time get) and decides as if
    /// this write came after the other: the same document is done; another actor's is
    /// [`Error::ActivityConflict`]; the same actor's is replaced, guarded by its new version,
    /// for a bounded number of rounds. The outer result fails only when the cluster does.
    async fn settle(
        &self,
        id: &str,
        given: &EntityKey,
        body: &Value,
        wait: bool,
    ) -> Result<Result<()>> {
        const ROUNDS: usize = 8;
        let mut last = None;
        for _ in 0..ROUNDS {
            let stored = self
                .cluster
                .send(&Request::new(Method::Get, doc_path(&self.feeds, id)))
                .await?;
            let write = match stored.status {
                200 => {
                    let source = &stored.body["_source"];
                    if source == body {
                        // Written already, perhaps by a write that did not wait.
                        if wait {
                            self.cluster
                                .ok(&Request::new(
                                    Method::Post,
                                    format!("{}/_refresh", self.feeds),
                                ))
                                .await?;
                        }
                        return Ok(Ok(()));
                    }
                    let actor: Option<EntityKey> = serde_json::from_value(source["actor"].clone())
                        .ok()
                        .map(|a: crate::activity::Actor| a.key().clone());
                    if actor.as_ref() != Some(given) {
                        return Ok(Err(Error::ActivityConflict {
                            id: id.to_owned(),
                            stored_actor: actor.map_or_else(|| "unknown".into(), |a| a.to_string()),
                            given_actor: given.to_string(),
                        }));
                    }
                    Request::new(Method::Put, doc_path(&self.feeds, id))
                        .param("if_seq_no", stored.body["_seq_no"].to_string())
                        .param("if_primary_term", stored.body["_primary_term"].to_string())
                }
                404 if stored.body.get("found").is_some() => Request::new(
                    Method::Put,
                    format!("{}/_create/{}", self.feeds, utf8_percent_encode(id, ID)),
                ),
                _ => return Ok(Err(self.cluster.refused(&stored))),
            };
            let reply = self
                .cluster
                .send(&waiting(write.json(body.clone()), wait))
                .await?;
            match reply.status {
                200..=299 => return Ok(Ok(())),
                409 => last = Some(reply),
                _ => return Ok(Err(self.cluster.refused(&reply))),
            }
        }
        Ok(Err(match last {
            Some(reply) => self.cluster.refused(&reply),
            None => Error::backend(self.cluster.backend, "no write was tried"),
        }))
    }

    /// The same outcome for another item of a batch that shared one bulk item.
    fn again(&self, error: &Error) -> Error {
        match error {
            Error::ActivityConflict {
                id,
                stored_actor,
                given_actor,
            } => Error::ActivityConflict {
                id: id.clone(),
                stored_actor: stored_actor.clone(),
                given_actor: given_actor.clone(),
            },
            Error::Rejected {
                backend,
                status,
                kind,
                reason,
            } => Error::Rejected {
                backend,
                status: *status,
                kind: kind.clone(),
                reason: reason.clone(),
            },
            other => Error::backend(self.cluster.backend, other.to_string()),
        }
    }

    /// Runs several searches in one `_msearch`; a failed one fails the whole read.
    async fn msearch(&self, index: &str, bodies: &[Value]) -> Result<Vec<Value>> {
        if let [one] = bodies {
            let response = self
                .cluster
                .ok(&Request::new(Method::Post, format!("{index}/_search")).json(one.clone()))
                .await?;
            return Ok(vec![response]);
        }
        let mut lines = Vec::with_capacity(bodies.len() * 2);
        for body in bodies {
            lines.push(json!({}));
            lines.push(body.clone());
        }
        let response = self
            .cluster
            .ok(&Request::new(Method::Post, format!("{index}/_msearch")).nd_json(lines))
            .await?;
        let responses = response
            .get("responses")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::backend(self.cluster.backend, "an msearch without responses"))?;
        // Callers index the answers by search: one missing is an error, never a panic.
        if responses.len() != bodies.len() {
            return Err(Error::backend(
                self.cluster.backend,
                format!(
                    "an msearch of {} searches answered {}",
                    bodies.len(),
                    responses.len()
                ),
            ));
        }
        responses
            .iter()
            .map(|r| {
                if r.get("error").is_some() {
                    let status = r.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
                    Err(self.cluster.refused(&Reply {
                        status,
                        body: r.clone(),
                        attempts: 1,
                    }))
                } else {
                    Ok(r.clone())
                }
            })
            .collect()
    }

    /// Compiles a query, naming this backend in its errors.
    fn plan(&self, query: &FeedQuery) -> Result<Plan> {
        let backend = self.cluster.backend;
        compile::plan(query).map_err(|e| match e {
            Error::Backend { source, .. } => Error::Backend { backend, source },
            other => other,
        })
    }

    /// Runs a flat plan: the page, and whether more follow it.
    async fn flat(&self, plan: &FlatPlan) -> Result<(Vec<Hit>, bool)> {
        let backend = self.cluster.backend;
        let responses = self.msearch(&self.feeds, &plan.searches).await?;
        let (hits, mut more) = match (plan.ranked, responses.as_slice()) {
            (true, [one]) => parse::ranked_page(backend, one, plan.size)?,
            (true, _) => return Err(Error::backend(backend, "a ranked plan of several searches")),
            (false, _) => {
                parse::merge_pages(backend, &responses, plan.size, plan.older, plan.reverse)?
            }
        };
        if plan.size < MAX_PAGE_SIZE || hits.len() < MAX_PAGE_SIZE {
            return Ok((hits, more));
        }
        // The result window holds no page + 1: ask for one more past the last hit.
        let last = if plan.reverse {
            hits.first()
        } else {
            hits.last()
        };
        if let Some(hit) = last {
            let position = Position::of(&hit.activity)
                .ok_or_else(|| Error::backend(backend, "a stored activity without an id"))?;
            let after = match hit.score {
                Some(score) => compile::ranked_after(score, &position),
                None => compile::search_after(&position),
            };
            let probes: Vec<Value> = plan
                .searches
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    s["size"] = json!(1);
                    s["search_after"] = after.clone();
                    s
                })
                .collect();
            let responses = self.msearch(&self.feeds, &probes).await?;
            more = false;
            for response in &responses {
                more |= !parse::hits_of(backend, response)?.is_empty();
            }
        }
        Ok((hits, more))
    }

    /// A grouped feed. When groups tie at a size cut beyond the padding asked for (see
    /// `compile::Padding`), it asks again with twice the padding where the answer was unsure,
    /// until it is sure or the padding no longer fits the engines' bucket limit.
    async fn grouped(
        &self,
        query: &FeedQuery,
        mut plan: compile::GroupedPlan,
    ) -> Result<FeedResult> {
        loop {
            let response = self
                .cluster
                .ok(
                    &Request::new(Method::Post, format!("{}/_search", self.feeds))
                        .json(plan.body.clone()),
                )
                .await?;
            let (result, unsure) = parse::groups(self.cluster.backend, &plan, &response)?;
            if !unsure.any() {
                return Ok(result);
            }
            let wider = plan
                .padding
                .widen(&plan.grouping, &unsure.levels, unsure.recent);
            if wider == plan.padding || !compile::fits(&plan.grouping, &wider) {
                return Err(Error::InvalidQuery {
                    reason: format!(
                        "a level (or recent-actor list) came back full, and checking that no \
                         group left out ties with its last one needs more buckets than the \
                         {} a cluster allows; ask for fewer groups",
                        crate::query::MAX_GROUPS
                    ),
                });
            }
            plan = match compile::plan_padded(query, Some(wider))? {
                Plan::Grouped(plan) => plan,
                _ => {
                    return Err(Error::backend(
                        self.cluster.backend,
                        "a regrouping lost its groups",
                    ))
                }
            };
        }
    }

    /// Walks a feed newest first from its top, `chunk` activities per search, handing each
    /// page to `visit` until it answers `true` (done) or the feed ends.
    ///
    /// Each page starts after the previous page's last activity. Documents the Python library
    /// wrote have no `feed_id` until [`ClusterBackend::migrate_feed_ids`] gives them one, so
    /// they sort after every id within their millisecond and a page may start with activities
    /// already seen: those are dropped, and a page of nothing new ends the walk with an error
    /// rather than looping.
    async fn walk(
        &self,
        query: &FeedQuery,
        chunk: usize,
        mut visit: impl FnMut(Vec<Hit>) -> Result<bool>,
    ) -> Result<()> {
        let mut walk = query.clone();
        walk.collapse = None;
        walk.vector = None;
        walk.page.bound = None;
        walk.page.size = chunk;
        // Compiled once (a large network is thousands of clauses); each page then only moves
        // its `search_after`. Collapse and vector queries read newest first, by recency.
        let mut plan = match self.plan(&walk)? {
            Plan::Empty => return Ok(()),
            Plan::Flat(plan) if plan.older && !plan.reverse && !plan.ranked => plan,
            _ => {
                return Err(Error::backend(
                    self.cluster.backend,
                    "a walk compiled to something other than a newest-first feed",
                ))
            }
        };
        // The last page's last millisecond, and the ids seen at it.
        let mut edge: Option<(chrono::DateTime<chrono::Utc>, HashSet<String>)> = None;
        loop {
            let (mut hits, more) = self.flat(&plan).await?;
            let last = hits.last().and_then(|hit| Position::of(&hit.activity));
            if let Some((at, seen)) = &edge {
                hits.retain(|hit| {
                    hit.activity.published() != *at
                        || !hit.activity.id().is_some_and(|id| seen.contains(id))
                });
                if hits.is_empty() && more {
                    return Err(Error::backend(
                        self.cluster.backend,
                        "a page of the feed repeats the one before: activities without a \
                         feed_id (written by the Python library) cannot be paged; run \
                         ClusterBackend::migrate_feed_ids",
                    ));
                }
            }
            if let Some(position) = &last {
                let mut seen = match edge.take() {
                    Some((at, seen)) if at == position.published => seen,
                    _ => HashSet::new(),
                };
                seen.extend(
                    hits.iter()
                        .filter(|hit| hit.activity.published() == position.published)
                        .filter_map(|hit| hit.activity.id().map(str::to_owned)),
                );
                edge = Some((position.published, seen));
            }
            if visit(hits)? {
                return Ok(());
            }
            match last {
                Some(position) if more => {
                    let after = compile::search_after(&position);
                    for search in &mut plan.searches {
                        search["search_after"] = after.clone();
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A collapsed page: the feed walked from its top (see `collapse`).
    async fn collapsed(&self, query: &FeedQuery, key: GroupKey) -> Result<FeedResult> {
        let below = match &query.page.bound {
            Some(Bound::OlderThan(position)) => Some(position.clone()),
            _ => None,
        };
        let mut page = collapse::Collapse::new(key, below, query.page.size);
        self.walk(query, collapse::CHUNK, |hits| Ok(page.take(hits)))
            .await?;
        let (hits, more) = page.finish();
        Ok(FeedResult {
            hits,
            more,
            groups: Vec::new(),
        })
    }

    /// A vector query: every competitor walked and scored in the client (see `nearest`).
    async fn nearest(&self, query: &FeedQuery, vector: &[f32]) -> Result<FeedResult> {
        let space = self.embeddings.ok_or(Error::EmbeddingsNotEnabled)?;
        let backend = self.cluster.backend;
        let mut nearest = nearest::Nearest::new(space, vector, query.page.size);
        self.walk(query, nearest::CHUNK, |hits| {
            nearest.take(backend, hits).map(|()| false)
        })
        .await?;
        let (hits, more) = nearest.finish();
        Ok(FeedResult {
            hits,
            more,
            groups: Vec::new(),
        })
    }

    /// Links matching a query, newest first (ties by link id), at most `limit`, with the total.
    async fn links(&self, query: Value, limit: usize) -> Result<(Vec<Link>, u64)> {
        let sort = json!([
            {"linked": {"order": "desc"}},
            {"link_id": {"order": "asc", "missing": "_last", "unmapped_type": "keyword"}}
        ]);
        let mut links = Vec::new();
        let mut after: Option<Value> = None;
        loop {
            let size = (limit - links.len()).min(MAX_PAGE_SIZE);
            let mut body = json!({
                "size": size,
                "query": query,
                "sort": sort,
                "track_total_hits": true
            });
            if let Some(after) = &after {
                body["search_after"] = after.clone();
            }
            let response = self
                .cluster
                .ok(&Request::new(Method::Post, format!("{}/_search", self.network)).json(body))
                .await?;
            let total = parse::total_of(self.cluster.backend, &response)?;
            let hits = parse::hits_of(self.cluster.backend, &response)?;
            for hit in hits {
                links.push(parse::link(self.cluster.backend, hit)?);
            }
            after = hits.last().and_then(|h| h.get("sort")).cloned();
            if hits.len() < size || links.len() >= limit || size == 0 {
                return Ok((links, total));
            }
        }
    }

    /// A link's stored document: ours under its deterministic id, or one the Python library
    /// wrote under a random id. Returns the document id, sequence number and primary term.
    async fn find_link(&self, key: &LinkKey) -> Result<Option<(String, Value, Value)>> {
        let reply = self
            .cluster
            .send(&Request::new(
                Method::Get,
                doc_path(&self.network, &key.doc_id()),
            ))
            .await?;
        match reply.status {
            200 => {
                return Ok(Some((
                    key.doc_id(),
                    reply.body["_seq_no"].clone(),
                    reply.body["_primary_term"].clone(),
                )))
            }
            404 if reply.body.get("found").is_some() => {}
            _ => return Err(self.cluster.refused(&reply)),
        }
        let response = self
            .cluster
            .ok(
                &Request::new(Method::Post, format!("{}/_search", self.network)).json(json!({
                    "size": 1,
                    "query": identity_query(key),
                    "seq_no_primary_term": true
                })),
            )
            .await?;
        Ok(parse::hits_of(self.cluster.backend, &response)?
            .first()
            .map(|hit| {
                (
                    hit["_id"].as_str().unwrap_or_default().to_owned(),
                    hit["_seq_no"].clone(),
                    hit["_primary_term"].clone(),
                )
            }))
    }

    /// Gives documents the Python library wrote a `feed_id` equal to their `_id`, so they sort
    /// and page like ours. Returns how many were updated. Safe to run again, and while the
    /// store is in use.
    pub async fn migrate_feed_ids(&self) -> Result<u64> {
        self.writable()?;
        let body = self
            .cluster
            .ok(
                &Request::new(Method::Post, format!("{}/_update_by_query", self.feeds))
                    .param("conflicts", "proceed")
                    .param("refresh", "true")
                    .json(json!({
                        "query": {"bool": {"must_not": [{"exists": {"field": "feed_id"}}]}},
                        "script": {"lang": "painless", "source": "ctx._source.feed_id = ctx._id"}
                    })),
            )
            .await?;
        Ok(body.get("updated").and_then(Value::as_u64).unwrap_or(0))
    }
}

fn new_meta(key: &CursorKey, space: Option<EmbeddingSpace>) -> Value {
    json!({
        "format": FORMAT,
        "cursor_key": key.to_hex(),
        "embeddings": space
    })
}

/// The Python library's identity query: the five parts of a link's identity.
fn identity_query(key: &LinkKey) -> Value {
    json!({"bool": {"filter": [
        {"term": {"actor_id": key.user}},
        {"term": {"link_type": key.link_type}},
        {"term": {"linked_activity.activity_class": key.target.class.as_str()}},
        {"term": {"linked_activity.type": key.target.kind}},
        {"term": {"linked_activity.id": key.target.id}}
    ]}})
}

/// The stored link document: the Python fields plus `link_id`.
fn link_document(link: &Link) -> Result<Value> {
    let mut doc = serde_json::to_value(link).map_err(|e| Error::backend("cluster", e))?;
    doc["link_id"] = json!(link.key().doc_id());
    Ok(doc)
}

/// Checks that the server answers and is the engine the connection names, in a version this
/// build speaks, and returns its `(major, minor)` version.
async fn check_server(cluster: &Cluster, engine: Engine) -> Result<(u32, u32)> {
    let info = cluster.ok(&Request::new(Method::Get, "")).await?;
    let version = info
        .pointer("/version/number")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let distribution = info
        .pointer("/version/distribution")
        .and_then(Value::as_str);
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let found = match distribution {
        Some("opensearch") => Engine::OpenSearch,
        _ => Engine::Elasticsearch,
    };
    let wrong = |reason: String| Error::InvalidConnection {
        value: cluster.nodes.clone(),
        reason,
    };
    if found != engine {
        let scheme = match found {
            Engine::Elasticsearch => "elasticsearch+http(s)://",
            Engine::OpenSearch => "opensearch+http(s)://",
        };
        return Err(wrong(format!(
            "the server is {} {version}, not {}: connect with {scheme}",
            found.name(),
            engine.name()
        )));
    }
    let supported = match engine {
        Engine::Elasticsearch => major == 8 || major == 9,
        // Grouped feeds use `multi_terms`, which OpenSearch has since 2.1.
        Engine::OpenSearch => major == 2 && minor >= 1,
    };
    if !supported {
        return Err(wrong(format!(
            "{} {version} is not supported (Elasticsearch 8 and 9, OpenSearch 2.1 and later 2.x are)",
            engine.name()
        )));
    }
    Ok((major, minor))
}

#[async_trait]
impl FeedBackend for ClusterBackend {
    fn name(&self) -> &'static str {
        self.cluster.backend
    }

    fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    fn embeddings(&self) -> Option<EmbeddingSpace> {
        self.embeddings
    }

    async fn put_activities(
        &self,
        activities: Vec<Activity>,
        refresh: Refresh,
    ) -> Result<Vec<Result<String>>> {
        self.writable()?;
        if activities.is_empty() {
            return Ok(Vec::new());
        }
        let mut activities = activities;
        for activity in &mut activities {
            if activity.id().is_none() {
                activity.set_id(crate::backend::new_activity_id()?);
            }
        }
        let ids: Vec<String> = activities
            .iter()
            .map(|a| a.id().unwrap_or_default().to_owned())
            .collect();
        // What is stored under these ids now: its actor, and its version for a guarded replace.
        let stored = self
            .cluster
            .ok(&Request::new(Method::Post, format!("{}/_mget", self.feeds))
                .param("_source_includes", "actor")
                .json(json!({ "ids": ids })))
            .await?;
        let docs = stored
            .get("docs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut results: Vec<Option<Result<String>>> = Vec::with_capacity(activities.len());
        // One bulk item per id: a later activity with an id met earlier in the batch replaces
        // the earlier one (same actor) or conflicts with it, as a stored one would. Each item
        // is (the batch positions it answers, action, metadata, document).
        let mut items: Vec<(Vec<usize>, &str, Value, Value)> = Vec::new();
        let mut batched: HashMap<&str, (EntityKey, usize)> = HashMap::new();
        for (i, activity) in activities.iter().enumerate() {
            let given = activity.actor().key();
            let body = serde_json::to_value(activity).map_err(|e| Error::backend("cluster", e))?;
            if let Some((earlier, item)) = batched.get(ids[i].as_str()) {
                if earlier != given {
                    results.push(Some(Err(Error::ActivityConflict {
                        id: ids[i].clone(),
                        stored_actor: earlier.to_string(),
                        given_actor: given.to_string(),
                    })));
                } else {
                    items[*item].0.push(i);
                    items[*item].3 = body;
                    results.push(None);
                }
                continue;
            }
            let doc = docs.get(i).filter(|d| d["found"] == json!(true));
            let mut op = json!({"_index": self.feeds, "_id": ids[i]});
            let action = match doc {
                Some(doc) => {
                    let stored_actor: Option<EntityKey> =
                        serde_json::from_value(doc["_source"]["actor"].clone())
                            .ok()
                            .map(|a: crate::activity::Actor| a.key().clone());
                    if stored_actor.as_ref() != Some(given) {
                        results.push(Some(Err(Error::ActivityConflict {
                            id: ids[i].clone(),
                            stored_actor: stored_actor
                                .map(|a| a.to_string())
                                .unwrap_or_else(|| "unknown".into()),
                            given_actor: given.to_string(),
                        })));
                        continue;
                    }
                    op["if_seq_no"] = doc["_seq_no"].clone();
                    op["if_primary_term"] = doc["_primary_term"].clone();
                    "index"
                }
                None => "create",
            };
            batched.insert(&ids[i], (given.clone(), items.len()));
            items.push((vec![i], action, op, body));
            results.push(None);
        }
        if !items.is_empty() {
            let lines = items
                .iter()
                .flat_map(|(_, action, op, body)| [json!({ *action: op }), body.clone()])
                .collect();
            let wait = refresh.waits(activities.len());
            let (replies, _) = self.bulk(lines, wait).await?;
            for ((slots, _, _, body), reply) in items.into_iter().zip(replies) {
                let first = slots[0];
                let outcome = match reply.status {
                    200..=299 => Ok(()),
                    409 => {
                        // Every slot of an item is the same id of the same actor.
                        let given = activities[first].actor().key();
                        // A cluster failure here is this item's: the others are written.
                        self.settle(&ids[first], given, &body, wait)
                            .await
                            .unwrap_or_else(Err)
                    }
                    _ => Err(self.cluster.refused(&reply)),
                };
                for slot in slots {
                    results[slot] = Some(match &outcome {
                        Ok(()) => Ok(ids[slot].clone()),
                        Err(e) => Err(self.again(e)),
                    });
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| Error::backend(self.cluster.backend, "a bulk item went missing"))
            })
            .collect()
    }

    async fn get_activity(&self, id: &str) -> Result<Option<Activity>> {
        let reply = self
            .cluster
            .send(&Request::new(Method::Get, doc_path(&self.feeds, id)))
            .await?;
        match reply.status {
            200 => Ok(Some(parse::activity(self.cluster.backend, &reply.body)?)),
            404 if reply.body.get("found").is_some() => Ok(None),
            _ => Err(self.cluster.refused(&reply)),
        }
    }

    async fn delete_activity(&self, id: &str, refresh: Refresh) -> Result<bool> {
        self.writable()?;
        let reply = self
            .cluster
            .send(&waiting(
                Request::new(Method::Delete, doc_path(&self.feeds, id)),
                refresh.waits(1),
            ))
            .await?;
        match reply.status {
            200 => Ok(true),
            404 if reply.body.get("result").is_some() => Ok(false),
            _ => Err(self.cluster.refused(&reply)),
        }
    }

    async fn erase_actor(&self, actor: &EntityKey) -> Result<Erased> {
        self.writable()?;
        let delete = |index: &str, query: Value| {
            Request::new(Method::Post, format!("{index}/_delete_by_query"))
                .param("conflicts", "proceed")
                .param("refresh", "true")
                .json(json!({ "query": query }))
        };
        let activities = self
            .cluster
            .ok(&delete(
                &self.feeds,
                json!({"bool": {"filter": [
                    {"term": {"actor.id": actor.id}},
                    {"term": {"actor.type": actor.kind}}
                ]}}),
            ))
            .await?;
        let to_actor = |class: LinkClass| {
            json!({"bool": {"filter": [
                {"term": {"linked_activity.activity_class": class.as_str()}},
                {"term": {"linked_activity.type": actor.kind}},
                {"term": {"linked_activity.id": actor.id}}
            ]}})
        };
        let links = self
            .cluster
            .ok(&delete(
                &self.network,
                json!({"bool": {"should": [
                    {"term": {"actor_id": actor.id}},
                    to_actor(LinkClass::Actor),
                    to_actor(LinkClass::Object)
                ], "minimum_should_match": 1}}),
            ))
            .await?;
        let deleted = |v: &Value| v.get("deleted").and_then(Value::as_u64).unwrap_or(0);
        Ok(Erased {
            activities: deleted(&activities),
            links: deleted(&links),
        })
    }

    async fn insert_links(&self, links: Vec<Link>, refresh: Refresh) -> Result<Vec<Result<()>>> {
        self.writable()?;
        if links.is_empty() {
            return Ok(Vec::new());
        }
        // Links the Python library wrote have random ids: only an identity query finds them.
        let mut legacy = Vec::with_capacity(links.len());
        for chunk in links.chunks(1_000) {
            let bodies: Vec<Value> = chunk
                .iter()
                .map(|link| {
                    json!({
                        "size": 0,
                        "track_total_hits": 1,
                        "query": {"bool": {
                            "filter": identity_query(link.key())["bool"]["filter"].clone(),
                            "must_not": [{"exists": {"field": "link_id"}}]
                        }}
                    })
                })
                .collect();
            for response in self.msearch(&self.network, &bodies).await? {
                legacy.push(parse::total_of(self.cluster.backend, &response)? > 0);
            }
        }
        let mut results: Vec<Option<Result<()>>> = Vec::with_capacity(links.len());
        let mut seen = std::collections::HashSet::new();
        let mut lines = Vec::new();
        let mut sent = Vec::new();
        for (i, link) in links.iter().enumerate() {
            if legacy[i] || !seen.insert(link.key().doc_id()) {
                results.push(Some(Err(Error::LinkExists {
                    link: link.key().to_string(),
                })));
                continue;
            }
            let doc = link_document(link)?;
            lines.push(json!({"create": {"_index": self.network, "_id": link.key().doc_id()}}));
            lines.push(doc.clone());
            sent.push((i, doc));
            results.push(None);
        }
        if !lines.is_empty() {
            let (replies, retried) = self.bulk(lines, refresh.waits(links.len())).await?;
            for ((slot, doc), reply) in sent.into_iter().zip(replies) {
                let id = links[slot].key().doc_id();
                results[slot] = Some(match reply.status {
                    200..=299 => Ok(()),
                    409 if retried && self.stored_is(&self.network, &id, &doc).await? => Ok(()),
                    409 => Err(Error::LinkExists {
                        link: links[slot].key().to_string(),
                    }),
                    _ => Err(self.cluster.refused(&reply)),
                });
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| Error::backend(self.cluster.backend, "a bulk item went missing"))
            })
            .collect()
    }

    async fn update_link(
        &self,
        key: &LinkKey,
        change: LinkChange,
        refresh: Refresh,
    ) -> Result<Link> {
        self.writable()?;
        let not_found = || Error::LinkNotFound {
            link: key.to_string(),
        };
        let (id, seq_no, primary_term) = self.find_link(key).await?.ok_or_else(not_found)?;
        let doc = self
            .cluster
            .ok(&Request::new(Method::Get, doc_path(&self.network, &id)))
            .await?;
        let mut link = parse::link(self.cluster.backend, &doc)?;
        link.apply(&change);
        let reply = self
            .cluster
            .send(&waiting(
                Request::new(Method::Put, doc_path(&self.network, &id))
                    .param("if_seq_no", seq_no.to_string())
                    .param("if_primary_term", primary_term.to_string())
                    .json(link_document(&link)?),
                refresh.waits(1),
            ))
            .await?;
        match reply.status {
            200..=299 => Ok(link),
            // Removed or changed meanwhile: the caller's change applied to a link that is gone.
            409 => Err(not_found()),
            _ => Err(self.cluster.refused(&reply)),
        }
    }

    async fn delete_link(&self, key: &LinkKey, refresh: Refresh) -> Result<()> {
        self.writable()?;
        let reply = self
            .cluster
            .send(&waiting(
                Request::new(Method::Delete, doc_path(&self.network, &key.doc_id())),
                refresh.waits(1),
            ))
            .await?;
        match reply.status {
            200 => return Ok(()),
            404 if reply.body.get("result").is_some() => {}
            _ => return Err(self.cluster.refused(&reply)),
        }
        // Not under our id: perhaps under random ids, as the Python library stored links
        // (it removed every duplicate, and so do we).
        let body = self
            .cluster
            .ok(
                &Request::new(Method::Post, format!("{}/_delete_by_query", self.network))
                    .param("conflicts", "proceed")
                    // `_delete_by_query` cannot wait for a refresh, only force one.
                    .param("refresh", refresh.waits(1).to_string())
                    .json(json!({ "query": identity_query(key) })),
            )
            .await?;
        if body.get("deleted").and_then(Value::as_u64).unwrap_or(0) == 0 {
            return Err(Error::LinkNotFound {
                link: key.to_string(),
            });
        }
        Ok(())
    }

    async fn network(&self, user: &str, limit: usize) -> Result<Network> {
        let (links, total) = self
            .links(json!({"term": {"actor_id": user}}), limit)
            .await?;
        Ok(Network::new(user, links, total))
    }

    async fn followers(&self, target: &LinkTarget, limit: usize) -> Result<Followers> {
        let query = json!({"bool": {"filter": [
            {"term": {"linked_activity.activity_class": target.class.as_str()}},
            {"term": {"linked_activity.type": target.kind}},
            {"term": {"linked_activity.id": target.id}}
        ]}});
        let (links, total) = self.links(query, limit).await?;
        Ok(Followers {
            target: target.clone(),
            links,
            total,
        })
    }

    async fn query(&self, query: &FeedQuery) -> Result<FeedResult> {
        query.validate()?;
        check_query(self.embeddings, query)?;
        if let Some(vector) = &query.vector {
            return self.nearest(query, &vector.vector).await;
        }
        if let Some(key) = query.collapse {
            return self.collapsed(query, key).await;
        }
        match self.plan(query)? {
            Plan::Empty => Ok(FeedResult::default()),
            Plan::Flat(plan) => {
                let (hits, more) = self.flat(&plan).await?;
                Ok(FeedResult {
                    hits,
                    more,
                    groups: Vec::new(),
                })
            }
            Plan::Grouped(plan) => self.grouped(query, plan).await,
        }
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// A hit of a `post` of `id` by `person:actor`, published `second` seconds after
/// 2026-01-01T00:00:00Z, for the unit tests of the client-side readers.
#[cfg(test)]
pub(crate) fn test_hit(id: &str, actor: &str, second: i64) -> Hit {
    use chrono::TimeZone;
    let activity = Activity::new(
        "post",
        crate::activity::Actor::new(actor, "person").unwrap(),
        crate::activity::Object::new(id, "post").unwrap(),
    )
    .unwrap()
    .with_id(id)
    .unwrap()
    .published_at(
        chrono::Utc
            .timestamp_opt(1_767_225_600 + second, 0)
            .unwrap(),
    )
    .unwrap();
    Hit {
        activity,
        score: None,
    }
}
