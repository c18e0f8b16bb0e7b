//! Fixtures shared by the aggregators' unit tests.

use chrono::{DateTime, Utc};
use elasticfeeds::{
    Activity, Actor, CursorKey, FeedContext, Group, GroupValue, Hit, Link, LinkTarget, Network,
    Object,
};

/// Parses an RFC 3339 time.
pub(crate) fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// carlos's network: one follow of `person:mark`, made on 2024-01-01.
pub(crate) fn network() -> Network {
    let link = Link::new(
        "carlos",
        "follow",
        LinkTarget::actor("mark", "person").unwrap(),
    )
    .unwrap()
    .linked_at(at("2024-01-01T00:00:00Z"))
    .unwrap();
    Network::new("carlos", vec![link], 1)
}

/// The cursor key of the unit tests.
static KEY: CursorKey = CursorKey::from_bytes([7; 32]);

/// A read of `network` with the tests' cursor key.
pub(crate) fn context(network: &Network) -> FeedContext<'_> {
    FeedContext::new(network, &KEY)
}

/// An activity of `person:mark` with this id, verb, object `(id, type)` and publication time.
pub(crate) fn activity(id: &str, verb: &str, object: (&str, &str), published: &str) -> Activity {
    Activity::new(
        verb,
        Actor::new("mark", "person").unwrap(),
        Object::new(object.0, object.1).unwrap(),
    )
    .unwrap()
    .with_id(id)
    .unwrap()
    .published_at(at(published))
    .unwrap()
}

/// A group as a backend returns it: no metrics, unscored hits.
pub(crate) fn group(
    value: GroupValue,
    newest: &str,
    hits: Vec<Activity>,
    groups: Vec<Group>,
) -> Group {
    Group {
        value,
        newest: at(newest),
        count: None,
        distinct_actors: None,
        recent_actors: None,
        hits: hits
            .into_iter()
            .map(|activity| Hit {
                activity,
                score: None,
            })
            .collect(),
        groups,
    }
}
