//! The [`Aggregator`] trait: how a feed is asked for and how it is shaped.
//!
//! An aggregator never talks to a backend. It turns the reader's [`Network`] into a
//! [`FeedQuery`], and turns the backend's [`FeedResult`] into its own serialisable output. That
//! is the whole contract, so an aggregator written against this crate's public API works on every
//! backend.
//!
//! ```
//! use elasticfeeds::{Aggregator, FeedQuery, FeedResult, Network, Result};
//!
//! /// The ids of the newest ten posts in a user's feed.
//! struct NewestPostIds;
//!
//! impl Aggregator for NewestPostIds {
//!     type Output = Vec<String>;
//!
//!     fn query(&self, network: &Network) -> Result<FeedQuery> {
//!         FeedQuery::network(network).verbs(["post"])?.page_size(10)
//!     }
//!
//!     fn shape(&self, result: FeedResult) -> Result<Vec<String>> {
//!         Ok(result
//!             .hits
//!             .into_iter()
//!             .filter_map(|hit| hit.activity.id().map(str::to_owned))
//!             .collect())
//!     }
//! }
//! ```

use serde::Serialize;

use crate::error::Result;
use crate::network::Network;
use crate::query::FeedQuery;
use crate::result::FeedResult;

/// Asks for a feed and shapes the answer.
pub trait Aggregator: Send + Sync {
    /// The shaped feed, serialisable so a web service can return it as is.
    type Output: Serialize + Send;

    /// Builds the query for a user's network (already loaded, newest link first).
    fn query(&self, network: &Network) -> Result<FeedQuery>;

    /// Shapes the backend's result.
    fn shape(&self, result: FeedResult) -> Result<Self::Output>;
}

impl<A: Aggregator + ?Sized> Aggregator for &A {
    type Output = A::Output;

    fn query(&self, network: &Network) -> Result<FeedQuery> {
        (**self).query(network)
    }

    fn shape(&self, result: FeedResult) -> Result<Self::Output> {
        (**self).shape(result)
    }
}
