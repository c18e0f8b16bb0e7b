//! # elasticfeeds
//!
//! Activity and notification feeds **composed at read time** ("fan-out on read") on a search
//! engine. Every activity is written once; every follow or watch is written once; a user's feed is
//! one search over the activities their links reach, shaped by an [`Aggregator`]. Writes cost the
//! same however many followers an actor has.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> elasticfeeds::Result<()> {
//! use elasticfeeds::{Activity, Actor, FeedQuery, Manager, Object};
//!
//! let dir = tempfile::tempdir().map_err(|e| elasticfeeds::Error::backend("example", e))?;
//! let manager = Manager::open(dir.path().to_str().unwrap()).await?;
//!
//! manager.follow("carlos", "mark").await?;
//! let blog = Activity::new("write", Actor::new("mark", "person")?, Object::new("b1", "blog")?)?;
//! manager.add_activity(blog).await?;
//!
//! // The network-free search; feeds go through `get_feeds` with an aggregator
//! // from the `elasticfeeds-aggregators` crate.
//! let page = manager.search(FeedQuery::all()).await?;
//! assert_eq!(page.activities.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Architecture
//! - [`activity`] and [`network`]: the model — [`Activity`] with its [`Actor`], [`Object`],
//!   [`Origin`] and [`Target`]; [`Link`]s from users to entities. Validated on construction.
//! - [`Manager`]: the entry point. Validates, assigns ids, loads a user's network and runs feeds.
//! - [`embedding`]: the vectors of semantic feeds, their [`EmbeddingSpace`] and the one
//!   similarity score every backend reports.
//! - [`query`]: the backend-neutral [`FeedQuery`] an aggregator builds, and [`result`]: the
//!   [`FeedResult`] a backend answers with.
//! - [`backend`]: the [`FeedBackend`] trait and the engines: embedded (tantivy), and the
//!   Elasticsearch and OpenSearch clusters.
//! - [`Aggregator`]: turns a network into a query and a result into a feed. The built-in ones
//!   live in the `elasticfeeds-aggregators` crate, written only against this public API.
//!
//! # Time
//! Timestamps are UTC and kept to the millisecond. Calendar fields and calendar grouping (year,
//! month, day) are UTC.
//!
//! # Feature flags
//! | Name | Description | Default? |
//! |---|---|---|
//! | `embedded` | the embedded backend on tantivy, in a directory or in RAM | yes |
//! | `elasticsearch` | the Elasticsearch backend (8.x, 9.x), on the official client | yes |
//! | `opensearch` | the OpenSearch backend (2.x), on the official client | yes |

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod activity;
mod aggregator;
pub mod backend;
mod cursor;
pub mod embedding;
mod error;
mod manager;
pub mod network;
pub mod query;
mod refresh;
pub mod result;
mod validate;

pub use activity::{Activity, Actor, EntityKey, Object, Origin, Target};
pub use aggregator::{Aggregator, FeedContext};
pub use backend::{DynBackend, Erased, FeedBackend};
pub use cursor::CursorKey;
pub use embedding::{EmbeddingSpace, Similarity};
pub use error::{Error, Result};
pub use manager::{
    ActivityPage, Feed, Manager, ManagerBuilder, DEFAULT_MAX_LINK_SIZE, MAX_LINK_SIZE_LIMIT,
};
pub use network::{Followers, Link, LinkChange, LinkClass, LinkKey, LinkTarget, Network};
pub use query::{
    Bound, Decay, EntityFilter, FeedQuery, GroupKey, GroupValue, Grouping, Metric, Order, Page,
    Position, Ranking, ScoredPosition, VectorQuery,
};
pub use refresh::Refresh;
pub use result::{FeedResult, Group, Hit};
pub use validate::MAX_ID_BYTES;
