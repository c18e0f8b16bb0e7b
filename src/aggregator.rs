//! The [`Aggregator`] trait: how a feed is asked for and how it is shaped.
//!
//! An aggregator never talks to a backend. It turns the reader's [`Network`] (in a
//! [`FeedContext`]) into a [`FeedQuery`], and turns the backend's [`FeedResult`] into its own
//! serialisable output. That is the whole contract, so an aggregator written against this
//! crate's public API works on every backend.
//!
//! ```
//! use elasticfeeds::{Aggregator, FeedContext, FeedQuery, FeedResult, Result};
//!
//! /// The ids of the newest ten posts in a user's feed.
//! struct NewestPostIds;
//!
//! impl Aggregator for NewestPostIds {
//!     type Output = Vec<String>;
//!
//!     fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
//!         FeedQuery::network(feed.network()).verbs(["post"])?.page_size(10)
//!     }
//!
//!     fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<String>> {
//!         Ok(result
//!             .hits
//!             .into_iter()
//!             .filter_map(|hit| hit.activity.id().map(str::to_owned))
//!             .collect())
//!     }
//! }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cursor::CursorKey;
use crate::error::Result;
use crate::network::Network;
use crate::query::FeedQuery;
use crate::result::FeedResult;

/// What an aggregator is given for one read: the reader's network, the store's cursor signing
/// (bound to the reader) and, while shaping, the query the result answers.
#[derive(Debug, Clone, Copy)]
pub struct FeedContext<'a> {
    network: &'a Network,
    key: &'a CursorKey,
    query: Option<&'a FeedQuery>,
}

impl<'a> FeedContext<'a> {
    /// A context for a network, signing cursors with `key` (the [`Manager`](crate::Manager)
    /// passes the store's key; tests may pass any).
    pub fn new(network: &'a Network, key: &'a CursorKey) -> Self {
        FeedContext {
            network,
            key,
            query: None,
        }
    }

    /// The same context, answering `query`: what [`Aggregator::shape`] is given.
    pub fn answering(self, query: &'a FeedQuery) -> Self {
        FeedContext {
            query: Some(query),
            ..self
        }
    }

    /// The query the result being shaped answers (`None` while building the query), so that
    /// `shape` can continue a page from exactly the bound and settings it was read with.
    pub fn query(&self) -> Option<&'a FeedQuery> {
        self.query
    }

    /// The reader's links, newest first.
    pub fn network(&self) -> &'a Network {
        self.network
    }

    /// The reader.
    pub fn user(&self) -> &'a str {
        self.network.user()
    }

    /// Seals paging state into a cursor that only this reader's feed with the same `binding`
    /// accepts. The binding names the aggregator and every parameter that shapes its feed.
    pub fn seal_cursor<T: Serialize>(&self, binding: &str, state: &T) -> Result<String> {
        self.key.seal(self.user(), binding, state)
    }

    /// Opens a cursor made by [`FeedContext::seal_cursor`] for this reader and `binding`; any
    /// other string is [`Error::InvalidCursor`](crate::Error::InvalidCursor).
    pub fn open_cursor<T: DeserializeOwned>(&self, binding: &str, cursor: &str) -> Result<T> {
        self.key.open(self.user(), binding, cursor)
    }
}

/// Asks for a feed and shapes the answer.
pub trait Aggregator: Send + Sync {
    /// The shaped feed, serialisable so a web service can return it as is.
    type Output: Serialize + Send;

    /// Builds the query for the reader's network (already loaded, newest link first).
    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery>;

    /// Shapes the backend's result.
    fn shape(&self, result: FeedResult, feed: &FeedContext<'_>) -> Result<Self::Output>;
}

impl<A: Aggregator + ?Sized> Aggregator for &A {
    type Output = A::Output;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        (**self).query(feed)
    }

    fn shape(&self, result: FeedResult, feed: &FeedContext<'_>) -> Result<Self::Output> {
        (**self).shape(result, feed)
    }
}
