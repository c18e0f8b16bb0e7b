//! # elasticfeeds-aggregators
//!
//! The aggregators of [elasticfeeds]: each one decides what a feed looks like.
//!
//! An aggregator implements [`elasticfeeds::Aggregator`]. It turns a user's
//! [`Network`](elasticfeeds::Network) (their follows and watches, already loaded by the
//! [`Manager`](elasticfeeds::Manager)) into a backend-neutral
//! [`FeedQuery`](elasticfeeds::FeedQuery), and turns the backend's
//! [`FeedResult`](elasticfeeds::FeedResult) into its own typed, serde-serialisable output. It
//! never talks to a backend, so every aggregator works on every backend. Pass one to
//! [`Manager::get_feeds`](elasticfeeds::Manager::get_feeds):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> elasticfeeds::Result<()> {
//! use elasticfeeds::Manager;
//! use elasticfeeds_aggregators::{UnAggregated, YearMonthType};
//!
//! let manager = Manager::memory().await?;
//! let flat = manager.get_feeds("carlos", &UnAggregated::new()).await?;
//! let grouped = manager.get_feeds("carlos", &YearMonthType::new()).await?;
//! // No links yet: empty feeds, not errors.
//! assert!(flat.feed.is_empty() && grouped.feed.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # The aggregators
//!
//! | aggregator | output | serialised shape |
//! |---|---|---|
//! | [`UnAggregated`] | `Vec<Activity>` | `[activity, …]`, newest first, one page |
//! | [`YearMonthType`] | `Vec<`[`YearGroup`]`>` | `[{year, months: [{month, types: [{type, activities}]}]}]` |
//! | [`RecentType`] | `Vec<`[`TypeGroup`]`>` | `[{type, activities}]` |
//! | [`RecentTypeObject`] | `Vec<`[`TypeObjectsGroup`]`>` | `[{type, ids: [{id, object_type, activities}]}]` |
//! | [`RecentObjectType`] | `Vec<`[`ObjectTypesGroup`]`>` | `[{id, object_type, types: [{type, activities}]}]` |
//! | [`YearMonth`] | `Vec<`[`YearMonthsGroup`]`>` | `[{year, months: [{month, activities}]}]` |
//! | [`DateWeight`] | `Vec<`[`DateGroup`]`>` | `[{date, activities}]`: days newest first, follows only; a day's activities by link weight, then newest first |
//! | [`Collapse`] | `Vec<Activity>` | `[activity, …]`: the newest activity per object (or per actor), newest first, one page |
//! | [`DecayRanked`] | `Vec<Activity>` | `[activity, …]`: best first by recency decay × link weight, one page |
//! | [`Semantic`] | `Vec<`[`ScoredActivity`]`>` | `[{activity, score}, …]`: the `k` activities nearest to a query vector, best first, within the network or across all activities |
//! | [`Cursor`] | [`CursorPage`] | `{activities: [activity, …], next_cursor}`: a page of any flat feed and the signed token of the next |
//! | [`Notification`] | `Vec<`[`NotificationRow`]`>` | `[{object_id, object_type, type, actors: [{id, type}], actor_count, event_count, latest}]`: one row per object and verb in a time window, newest first |
//!
//! Every group level is ordered by its newest activity, and activities inside a group are listed
//! newest first. Every level has an explicit, documented size: nothing is cut silently.
//!
//! # Writing an aggregator
//!
//! Add a file to this crate's `src/` with one public type that implements
//! [`Aggregator`](elasticfeeds::Aggregator), written only against the public API of
//! `elasticfeeds`:
//!
//! - `query` starts from [`FeedQuery::network`](elasticfeeds::FeedQuery::network) and adds what
//!   the feed needs (verbs, order, page, a year, `group_by` levels with explicit sizes).
//! - `shape` maps [`FeedResult::hits`](elasticfeeds::FeedResult::hits) (flat queries) or
//!   [`FeedResult::groups`](elasticfeeds::FeedResult::groups) (grouped queries) to the output
//!   type. A group value of an unexpected kind is an error, never a panic.
//! - Settings are builder methods that validate when they are made (`Result<Self>`), using the
//!   core's own limits.
//! - Give the type a doctest that runs it on `Manager::memory()` with fixed timestamps, and unit
//!   tests that shape hand-built results.
//!
//! Then add `mod your_file;` and `pub use` below, and a row to the table above.
//! [`UnAggregated`] is the smallest example; [`YearMonthType`] shows grouping.

#![doc(test(attr(deny(warnings))))]

mod collapse;
mod cursor;
mod date_weight;
mod decay_ranked;
mod notification;
mod recent_object_type;
mod recent_type;
mod recent_type_object;
mod semantic;
mod shape;
#[cfg(test)]
mod test_support;
mod un_aggregated;
mod year_month;
mod year_month_type;

pub use collapse::Collapse;
pub use cursor::{Cursor, CursorPage};
pub use date_weight::{DateGroup, DateWeight};
pub use decay_ranked::DecayRanked;
pub use notification::{Notification, NotificationRow};
pub use recent_object_type::{ObjectTypesGroup, RecentObjectType};
pub use recent_type::RecentType;
pub use recent_type_object::{ObjectGroup, RecentTypeObject, TypeObjectsGroup};
pub use semantic::{ScoredActivity, Semantic};
pub use un_aggregated::UnAggregated;
pub use year_month::{MonthActivitiesGroup, YearMonth, YearMonthsGroup};
pub use year_month_type::{MonthGroup, TypeGroup, YearGroup, YearMonthType};

/// The workspace README's Rust examples, compiled and run as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The contributor's guide's Rust examples, compiled and run as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../CONTRIBUTING.md")]
struct ContributingDoctests;
