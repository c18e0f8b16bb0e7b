//! Fixtures shared by the aggregators' unit tests.

use chrono::{DateTime, Utc};
use elasticfeeds::{CursorKey, FeedContext, Link, LinkTarget, Network};

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
    Network {
        user: "carlos".into(),
        links: vec![link],
        total: 1,
    }
}

/// The cursor key of the unit tests.
static KEY: CursorKey = CursorKey::from_bytes([7; 32]);

/// A read of `network` with the tests' cursor key.
pub(crate) fn context(network: &Network) -> FeedContext<'_> {
    FeedContext::new(network, &KEY)
}
