//! What a backend returns for a [`FeedQuery`](crate::FeedQuery), before an aggregator shapes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::{Activity, EntityKey};
use crate::query::GroupValue;

/// One activity in a result, with its score when the query ranked by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The activity, with its id.
    pub activity: Activity,
    /// The ranking score, when the ranking is not plain recency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A group of activities, and its subgroups when the grouping has more levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The value this group was formed on.
    pub value: GroupValue,
    /// The newest `published` in the group (the oldest, in ascending order): its sort key.
    pub newest: DateTime<Utc>,
    /// [`Metric::Count`](crate::Metric::Count), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// [`Metric::DistinctActors`](crate::Metric::DistinctActors), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_actors: Option<u64>,
    /// [`Metric::RecentActors`](crate::Metric::RecentActors), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_actors: Option<Vec<EntityKey>>,
    /// The activities of an innermost group, in the query's order; empty for outer groups.
    pub hits: Vec<Hit>,
    /// The subgroups, ordered like the level above.
    pub groups: Vec<Group>,
}

/// A backend's answer to a feed query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedResult {
    /// The page of activities (empty for a grouped query).
    pub hits: Vec<Hit>,
    /// Whether more activities lie beyond this page in the direction it was read (flat queries;
    /// always `false` for grouped ones).
    pub more: bool,
    /// The groups (empty for a flat query).
    pub groups: Vec<Group>,
}
