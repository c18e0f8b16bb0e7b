//! [`Cursor`]: a page of any flat feed, with an opaque token for the next one.

use std::any::type_name;

use chrono::{DateTime, Utc};
use elasticfeeds::query::{Rules, Source};
use elasticfeeds::{
    Activity, Aggregator, Bound, Error, FeedContext, FeedQuery, FeedResult, Ranking, Result,
};
use serde::{Deserialize, Serialize};

/// Pages any flat feed ([`UnAggregated`](crate::UnAggregated), [`Collapse`](crate::Collapse),
/// [`DecayRanked`](crate::DecayRanked), …) with opaque, signed cursors: each page comes with the
/// token of the next one.
///
/// Output: [`CursorPage`], which serialises as `{"activities": [...], "next_cursor": "…"}`
/// (`"next_cursor": null` on the last page). `next_cursor` is set exactly when more activities
/// lie beyond the page; pass it to [`after`](Cursor::after), with the same inner aggregator, for
/// the next page.
///
/// | setting | default | set with |
/// |---|---|---|
/// | the feed | required: any aggregator whose output is `Vec<Activity>` | [`Cursor::new`] |
/// | where to start | the first page of the inner feed | [`Cursor::after`] |
///
/// A cursor holds where the next page starts and, for a [`DecayRanked`](crate::DecayRanked)
/// feed, the decay origin of the first page: a paging session keeps one origin, whatever the
/// inner aggregator would pick now, so scores do not shift under a reader scrolling down. The
/// cursor continues in the direction the first page was read (an oldest-first feed pages
/// towards newer activities).
///
/// A cursor is signed with the store's key for one reader and one feed: the inner aggregator's
/// type and every parameter of its query (page size, verbs, order, collapse key, ranking and its
/// scale, offset and decay, …), except the start of the page, the decay origin and the reader's
/// links (which may change while they scroll). Another reader's cursor, a cursor handed to a feed
/// with other parameters, or a cursor with any byte changed is
/// [`Error::InvalidCursor`]: never a panic, never a wrong page. Cursors stay valid across
/// restarts of the store. They are signed, not encrypted: anyone can read the position they
/// hold.
///
/// A grouped inner feed (such as [`YearMonthType`](crate::YearMonthType)) has no next page to
/// point to: it is [`Error::InvalidQuery`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Error, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{Cursor, UnAggregated};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .linked_at(at("2024-01-01T00:00:00Z"))?;
/// manager.add_link(follow).await?;
///
/// let mark = Actor::new("mark", "person")?;
/// for (id, published) in [
///     ("a1", "2024-02-01T10:00:00Z"),
///     ("a2", "2024-02-02T10:00:00Z"),
///     ("a3", "2024-02-03T10:00:00Z"),
///     ("a4", "2024-02-04T10:00:00Z"),
///     ("a5", "2024-02-05T10:00:00Z"),
/// ] {
///     let activity = Activity::new("write", mark.clone(), Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// // Page through the whole feed, two at a time.
/// let feed = UnAggregated::new().page_size(2)?;
/// let mut pages = Vec::new();
/// let mut cursor = Cursor::new(&feed);
/// loop {
///     let page = manager.get_feeds("carlos", &cursor).await?.feed;
///     pages.push(page.activities.iter().filter_map(|a| a.id()).collect::<Vec<_>>().join(","));
///     match page.next_cursor {
///         Some(next) => cursor = Cursor::new(&feed).after(&next),
///         None => break,
///     }
/// }
/// assert_eq!(pages, ["a5,a4", "a3,a2", "a1"]);
///
/// // The JSON a web service returns.
/// let first = manager.get_feeds("carlos", &Cursor::new(&feed)).await?.feed;
/// let json = serde_json::to_value(&first).unwrap();
/// assert_eq!(json["activities"].as_array().map(Vec::len), Some(2));
/// let token = json["next_cursor"].as_str().expect("more activities lie beyond");
///
/// // A cursor belongs to one reader and one feed.
/// let other_size = Cursor::new(UnAggregated::new().page_size(3)?).after(token);
/// assert!(matches!(
///     manager.get_feeds("carlos", &other_size).await,
///     Err(Error::InvalidCursor { .. })
/// ));
/// let other_reader = Cursor::new(&feed).after(token);
/// assert!(matches!(
///     manager.get_feeds("ana", &other_reader).await,
///     Err(Error::InvalidCursor { .. })
/// ));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor<A> {
    inner: A,
    after: Option<String>,
}

/// One page of a [`Cursor`] feed: `{"activities": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPage {
    /// The activities, in the inner feed's order.
    pub activities: Vec<Activity>,
    /// The token of the next page (for [`Cursor::after`]); `None` when nothing lies beyond.
    pub next_cursor: Option<String>,
}

/// What a cursor carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// Where the next page starts.
    bound: Bound,
    /// The decay origin of the first page, for a decay ranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<DateTime<Utc>>,
}

impl<A> Cursor<A> {
    /// The first page of `inner`.
    pub fn new(inner: A) -> Self {
        Cursor { inner, after: None }
    }

    /// Continues from a [`CursorPage::next_cursor`] made by the same feed for the same reader.
    /// It is checked when the feed is read: a cursor made for anything else is
    /// [`Error::InvalidCursor`] then.
    pub fn after(mut self, cursor: &str) -> Self {
        self.after = Some(cursor.to_owned());
        self
    }

    /// The feed being paged.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The cursor this page continues from, if any.
    pub fn cursor(&self) -> Option<&str> {
        self.after.as_deref()
    }
}

impl<A: Aggregator<Output = Vec<Activity>>> Cursor<A> {
    /// What a cursor is bound to: the inner aggregator's type and its query, without what may
    /// change between pages of one session (the reader's links, the page's start, the decay
    /// origin). The reader is bound by the signature itself.
    fn binding(query: &FeedQuery) -> Result<String> {
        let mut stable = query.clone();
        stable.source = match stable.source {
            Source::Network(_) => Source::Network(Rules::new(Vec::new())),
            Source::All => Source::All,
        };
        stable.page.bound = None;
        if let Ranking::Decay(decay) = &mut stable.ranking {
            decay.origin = DateTime::default();
        }
        let fingerprint =
            serde_json::to_string(&stable).map_err(|e| Error::backend("cursor", e))?;
        // `&A` pages the same feed as `A`.
        let name = type_name::<A>().trim_start_matches('&');
        Ok(format!(
            "elasticfeeds_aggregators::Cursor v1\n{name}\n{fingerprint}"
        ))
    }
}

/// Refuses a grouped query: its pages have no position to continue from.
fn flat(query: &FeedQuery) -> Result<()> {
    if query.grouping.is_some() {
        return Err(Error::InvalidQuery {
            reason: "Cursor pages flat feeds; a grouped query has no next page to point to".into(),
        });
    }
    Ok(())
}

impl<A: Aggregator<Output = Vec<Activity>>> Aggregator for Cursor<A> {
    type Output = CursorPage;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let mut query = self.inner.query(feed)?;
        flat(&query)?;
        let Some(cursor) = &self.after else {
            return Ok(query);
        };
        let state: State = feed.open_cursor(&Self::binding(&query)?, cursor)?;
        match (&mut query.ranking, state.origin) {
            (Ranking::Decay(decay), Some(origin)) => decay.origin = origin,
            (Ranking::Decay(_), None) | (_, Some(_)) => {
                // Only a cursor of another version of this crate could get here.
                return Err(Error::InvalidCursor {
                    value: cursor.chars().take(100).collect(),
                    reason: "made by an incompatible version",
                });
            }
            _ => {}
        }
        query.page.bound = Some(state.bound);
        Ok(query)
    }

    fn shape(&self, result: FeedResult, feed: &FeedContext<'_>) -> Result<CursorPage> {
        let query = feed.query().ok_or_else(|| Error::InvalidQuery {
            reason: "Cursor::shape needs the query the result answers \
                     (a context made with FeedContext::answering)"
                .into(),
        })?;
        flat(query)?;
        let next_cursor = if result.more {
            let bound = Bound::next_after(query.page.bound.as_ref(), query.order, &result.hits)
                .ok_or_else(|| {
                    Error::backend(
                        "cursor",
                        "the result says more activities lie beyond the page, \
                         but the page has no stored activity to continue from",
                    )
                })?;
            let origin = match &query.ranking {
                Ranking::Decay(decay) => Some(decay.origin),
                _ => None,
            };
            let state = State { bound, origin };
            Some(feed.seal_cursor(&Self::binding(query)?, &state)?)
        } else {
            None
        };
        Ok(CursorPage {
            activities: self.inner.shape(result, feed)?,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use elasticfeeds::{
        Actor, CursorKey, Hit, Link, LinkTarget, Manager, Network, Object, Order, Position,
        ScoredPosition,
    };

    use super::*;
    use crate::test_support::{at, context, network};
    use crate::{Collapse, DecayRanked, UnAggregated, YearMonthType};

    fn activity(id: &str, published: &str) -> Activity {
        Activity::new(
            "write",
            Actor::new("mark", "person").unwrap(),
            Object::new(id, "post").unwrap(),
        )
        .unwrap()
        .with_id(id)
        .unwrap()
        .published_at(at(published))
        .unwrap()
    }

    fn hit(id: &str, published: &str, score: Option<f64>) -> Hit {
        Hit {
            activity: activity(id, published),
            score,
        }
    }

    fn invalid_cursor<T: std::fmt::Debug>(result: Result<T>) {
        assert!(
            matches!(result, Err(Error::InvalidCursor { .. })),
            "{result:?}"
        );
    }

    /// The first page's token of `inner` for carlos, shaped from a hand-built result.
    fn token_of<A: Aggregator<Output = Vec<Activity>>>(inner: A, hits: Vec<Hit>) -> String {
        let network = network();
        let feed = context(&network);
        let cursor = Cursor::new(inner);
        let query = cursor.query(&feed).unwrap();
        let result = FeedResult {
            hits,
            more: true,
            groups: Vec::new(),
        };
        cursor
            .shape(result, &feed.answering(&query))
            .unwrap()
            .next_cursor
            .expect("more lies beyond")
    }

    fn recency_token() -> String {
        token_of(
            UnAggregated::new().page_size(2).unwrap(),
            vec![
                hit("b", "2024-02-02T10:00:00Z", None),
                hit("a", "2024-02-01T10:00:00Z", None),
            ],
        )
    }

    #[test]
    fn first_page_is_the_inner_query() {
        let network = network();
        let feed = context(&network);
        for inner in [
            UnAggregated::new(),
            UnAggregated::new().order(Order::Asc).page_size(3).unwrap(),
        ] {
            let cursor = Cursor::new(inner.clone());
            assert_eq!(cursor.inner(), &inner);
            assert_eq!(cursor.cursor(), None);
            assert_eq!(cursor.query(&feed).unwrap(), inner.query(&feed).unwrap());
        }
        let collapse = Collapse::by_actor();
        assert_eq!(
            Cursor::new(&collapse).query(&feed).unwrap(),
            collapse.query(&feed).unwrap()
        );
    }

    #[test]
    fn grouped_feeds_are_refused() {
        let network = network();
        let feed = context(&network);
        let grouped = Cursor::new(Grouped);
        assert!(matches!(
            grouped.query(&feed),
            Err(Error::InvalidQuery { .. })
        ));
        let query = YearMonthType::new().query(&feed).unwrap();
        assert!(matches!(
            grouped.shape(FeedResult::default(), &feed.answering(&query)),
            Err(Error::InvalidQuery { .. })
        ));
    }

    /// A grouped feed posing as a flat one.
    struct Grouped;

    impl Aggregator for Grouped {
        type Output = Vec<Activity>;

        fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
            YearMonthType::new().query(feed)
        }

        fn shape(&self, _: FeedResult, _: &FeedContext<'_>) -> Result<Vec<Activity>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn shape_needs_the_answered_query() {
        let network = network();
        let result =
            Cursor::new(UnAggregated::new()).shape(FeedResult::default(), &context(&network));
        assert!(
            matches!(result, Err(Error::InvalidQuery { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn next_cursor_exactly_when_more() {
        let network = network();
        let feed = context(&network);
        let cursor = Cursor::new(UnAggregated::new().page_size(2).unwrap());
        let query = cursor.query(&feed).unwrap();
        let hits = vec![
            hit("b", "2024-02-02T10:00:00Z", None),
            hit("a", "2024-02-01T10:00:00Z", None),
        ];
        let last = FeedResult {
            hits: hits.clone(),
            more: false,
            groups: Vec::new(),
        };
        let page = cursor.shape(last, &feed.answering(&query)).unwrap();
        assert_eq!(page.next_cursor, None);
        assert_eq!(page.activities.len(), 2);
        assert_eq!(
            serde_json::to_value(&page).unwrap()["next_cursor"],
            serde_json::Value::Null
        );

        let more = FeedResult {
            hits,
            more: true,
            groups: Vec::new(),
        };
        let page = cursor.shape(more, &feed.answering(&query)).unwrap();
        let token = page.next_cursor.clone().expect("more lies beyond");
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["activities", "next_cursor"]
        );
        assert_eq!(json["next_cursor"], token.as_str());
        assert_eq!(serde_json::from_value::<CursorPage>(json).unwrap(), page);

        // The next query continues older than the last hit, with nothing else changed.
        let next = Cursor::new(UnAggregated::new().page_size(2).unwrap())
            .after(&token)
            .query(&feed)
            .unwrap();
        let position = Position {
            published: at("2024-02-01T10:00:00Z"),
            id: "a".into(),
        };
        assert_eq!(
            next,
            FeedQuery {
                page: elasticfeeds::Page {
                    size: 2,
                    bound: Some(Bound::OlderThan(position)),
                },
                ..query.clone()
            }
        );

        // More beyond a page without a stored activity: an error, not a silent last page.
        let anonymous = Activity::new(
            "write",
            Actor::new("mark", "person").unwrap(),
            Object::new("a", "post").unwrap(),
        )
        .unwrap();
        let broken = FeedResult {
            hits: vec![Hit {
                activity: anonymous,
                score: None,
            }],
            more: true,
            groups: Vec::new(),
        };
        assert!(cursor.shape(broken, &feed.answering(&query)).is_err());
    }

    #[test]
    fn ascending_and_newer_than_continue_their_way() {
        let network = network();
        let feed = context(&network);
        let hits = || {
            vec![
                hit("a", "2024-02-01T10:00:00Z", None),
                hit("b", "2024-02-02T10:00:00Z", None),
            ]
        };
        let asc = UnAggregated::new().order(Order::Asc).page_size(2).unwrap();
        let token = token_of(asc.clone(), hits());
        let next = Cursor::new(asc).after(&token).query(&feed).unwrap();
        assert_eq!(
            next.page.bound,
            Some(Bound::NewerThan(Position {
                published: at("2024-02-02T10:00:00Z"),
                id: "b".into(),
            }))
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let network = network();
        let feed = context(&network);
        let token = recency_token();
        let inner = UnAggregated::new().page_size(2).unwrap();
        Cursor::new(inner.clone())
            .after(&token)
            .query(&feed)
            .unwrap();
        for i in 0..token.len() {
            for bit in [0x01, 0x20] {
                let mut bytes = token.clone().into_bytes();
                bytes[i] ^= bit;
                let Ok(flipped) = String::from_utf8(bytes) else {
                    continue;
                };
                invalid_cursor(Cursor::new(inner.clone()).after(&flipped).query(&feed));
            }
        }
        for garbage in [
            "",
            ".",
            "a.b",
            &token[..token.len() - 1],
            &format!("{token}A"),
        ] {
            invalid_cursor(Cursor::new(inner.clone()).after(garbage).query(&feed));
        }
    }

    #[test]
    fn another_readers_or_stores_cursor_is_refused() {
        let token = recency_token();
        let inner = UnAggregated::new().page_size(2).unwrap();
        let carlos = network();
        let ana = Network::new("ana", carlos.links().unwrap(), carlos.total());
        invalid_cursor(
            Cursor::new(inner.clone())
                .after(&token)
                .query(&context(&ana)),
        );
        let other_key = CursorKey::from_bytes([8; 32]);
        let network = network();
        invalid_cursor(
            Cursor::new(inner)
                .after(&token)
                .query(&FeedContext::new(&network, &other_key)),
        );
    }

    #[test]
    fn other_parameters_refuse_the_cursor() {
        let network = network();
        let feed = context(&network);
        let token = recency_token();
        let base = UnAggregated::new().page_size(2).unwrap();
        Cursor::new(&base).after(&token).query(&feed).unwrap();
        // Whatever the position the inner feed starts at, the cursor decides.
        let elsewhere = Position {
            published: at("2020-01-01T00:00:00Z"),
            id: "z".into(),
        };
        Cursor::new(base.clone().newer_than(elsewhere))
            .after(&token)
            .query(&feed)
            .unwrap();

        invalid_cursor(
            Cursor::new(UnAggregated::new().page_size(3).unwrap())
                .after(&token)
                .query(&feed),
        );
        invalid_cursor(
            Cursor::new(base.clone().verbs(["write"]).unwrap())
                .after(&token)
                .query(&feed),
        );
        invalid_cursor(
            Cursor::new(base.clone().order(Order::Asc))
                .after(&token)
                .query(&feed),
        );
        invalid_cursor(
            Cursor::new(Collapse::by_object().page_size(2).unwrap())
                .after(&token)
                .query(&feed),
        );
        invalid_cursor(
            Cursor::new(DecayRanked::new().page_size(2).unwrap())
                .after(&token)
                .query(&feed),
        );

        // Collapse keys differ.
        let hits = || {
            vec![
                hit("b", "2024-02-02T10:00:00Z", None),
                hit("a", "2024-02-01T10:00:00Z", None),
            ]
        };
        let by_object = token_of(Collapse::by_object(), hits());
        Cursor::new(Collapse::by_object())
            .after(&by_object)
            .query(&feed)
            .unwrap();
        invalid_cursor(
            Cursor::new(Collapse::by_actor())
                .after(&by_object)
                .query(&feed),
        );
        invalid_cursor(
            Cursor::new(UnAggregated::new())
                .after(&by_object)
                .query(&feed),
        );

        // Decay parameters differ; the origin does not count.
        let scored = || {
            vec![
                hit("b", "2024-02-02T10:00:00Z", Some(0.9)),
                hit("a", "2024-02-01T10:00:00Z", Some(0.5)),
            ]
        };
        let origin = at("2024-03-01T00:00:00Z");
        let decayed = DecayRanked::new().origin(origin).unwrap();
        let ranked = token_of(decayed.clone(), scored());
        Cursor::new(DecayRanked::new())
            .after(&ranked)
            .query(&feed)
            .unwrap();
        for other in [
            decayed.clone().scale(Duration::days(1)).unwrap(),
            decayed.clone().offset(Duration::hours(1)).unwrap(),
            decayed.clone().decay(0.4).unwrap(),
            decayed.clone().page_size(21).unwrap(),
        ] {
            invalid_cursor(Cursor::new(other).after(&ranked).query(&feed));
        }
    }

    #[test]
    fn the_readers_links_may_change_between_pages() {
        let token = recency_token();
        let watch = Link::new("carlos", "watch", LinkTarget::object("p9", "post").unwrap())
            .unwrap()
            .linked_at(at("2024-01-05T00:00:00Z"))
            .unwrap();
        let mut links = network().links().unwrap();
        links.insert(0, watch);
        let grown = Network::new("carlos", links, 2);
        let query = Cursor::new(UnAggregated::new().page_size(2).unwrap())
            .after(&token)
            .query(&context(&grown))
            .unwrap();
        assert_eq!(query.source, FeedQuery::network(&grown).source);
    }

    #[test]
    fn a_ranked_cursor_keeps_the_first_origin() {
        let network = network();
        let feed = context(&network);
        let first_origin = at("2024-03-01T00:00:00Z");
        let token = token_of(
            DecayRanked::new().origin(first_origin).unwrap(),
            vec![hit("b", "2024-02-02T10:00:00Z", Some(0.75))],
        );
        // Now (the default), or any other origin: the first page's origin wins.
        for later in [
            DecayRanked::new(),
            DecayRanked::new()
                .origin(at("2030-01-01T00:00:00Z"))
                .unwrap(),
        ] {
            let query = Cursor::new(later).after(&token).query(&feed).unwrap();
            let Ranking::Decay(decay) = &query.ranking else {
                panic!("{query:?}");
            };
            assert_eq!(decay.origin, first_origin);
            assert_eq!(
                query.page.bound,
                Some(Bound::RankedBelow(ScoredPosition {
                    score: 0.75,
                    position: Position {
                        published: at("2024-02-02T10:00:00Z"),
                        id: "b".into(),
                    },
                }))
            );
            query.validate().unwrap();
        }
    }

    // ---- On a store ----

    /// A store where carlos follows mark (weight 1) and ana (weight 2) since 2024-01-01, and
    /// watches post p1 (weight 4) since 2024-02-01.
    async fn store() -> Manager {
        let manager = Manager::memory().await.unwrap();
        let since = at("2024-01-01T00:00:00Z");
        for (link_type, target, weight, linked) in [
            (
                "follow",
                LinkTarget::actor("mark", "person").unwrap(),
                1.0,
                since,
            ),
            (
                "follow",
                LinkTarget::actor("ana", "person").unwrap(),
                2.0,
                since,
            ),
            (
                "watch",
                LinkTarget::object("p1", "post").unwrap(),
                4.0,
                at("2024-02-01T00:00:00Z"),
            ),
        ] {
            let link = Link::new("carlos", link_type, target)
                .unwrap()
                .linked_at(linked)
                .unwrap()
                .with_weight(weight)
                .unwrap();
            manager.add_link(link).await.unwrap();
        }
        let base = at("2024-02-01T00:00:00Z");
        let mut activities = Vec::new();
        for n in 0..23i64 {
            let actor = ["mark", "ana", "eve"][n as usize % 3];
            // Several at the same millisecond, so ties are broken by id.
            let published = base + Duration::hours(7 * (n / 2));
            let activity = Activity::new(
                if n % 4 == 0 { "share" } else { "write" },
                Actor::new(actor, "person").unwrap(),
                Object::new(&format!("p{}", n % 5), "post").unwrap(),
            )
            .unwrap()
            .with_id(&format!("a{n:02}"))
            .unwrap()
            .published_at(published)
            .unwrap();
            activities.push(activity);
        }
        for result in manager.add_activities(activities).await.unwrap() {
            result.unwrap();
        }
        manager
    }

    fn ids(activities: &[Activity]) -> Vec<String> {
        activities
            .iter()
            .map(|a| a.id().unwrap().to_owned())
            .collect()
    }

    /// Pages `inner` for carlos to its end; every page but the last is full.
    async fn page_through<A>(manager: &Manager, inner: &A, size: usize) -> Vec<String>
    where
        A: Aggregator<Output = Vec<Activity>>,
    {
        let mut seen = Vec::new();
        let mut cursor = Cursor::new(inner);
        for _ in 0..100 {
            let page = manager.get_feeds("carlos", &cursor).await.unwrap().feed;
            seen.extend(ids(&page.activities));
            match page.next_cursor {
                Some(next) => {
                    assert_eq!(page.activities.len(), size);
                    cursor = Cursor::new(inner).after(&next);
                }
                None => return seen,
            }
        }
        panic!("more than 100 pages");
    }

    #[tokio::test]
    async fn pages_every_flat_feed_to_its_end() {
        let manager = store().await;
        let whole = |ids: Vec<String>| {
            assert!(!ids.is_empty());
            ids
        };
        let origin = at("2024-02-03T00:00:00Z");
        for size in [1, 2, 3, 7, 100] {
            let newest = whole(ids(&manager
                .get_feeds("carlos", &UnAggregated::new().page_size(10_000).unwrap())
                .await
                .unwrap()
                .feed));
            let feed = UnAggregated::new().page_size(size).unwrap();
            assert_eq!(page_through(&manager, &feed, size).await, newest, "{size}");

            let mut oldest = newest.clone();
            oldest.reverse();
            let feed = UnAggregated::new()
                .order(Order::Asc)
                .page_size(size)
                .unwrap();
            assert_eq!(page_through(&manager, &feed, size).await, oldest, "{size}");

            let writes = UnAggregated::new().verbs(["write"]).unwrap();
            let all_writes = ids(&manager.get_feeds("carlos", &writes).await.unwrap().feed);
            let feed = writes.page_size(size).unwrap();
            assert_eq!(page_through(&manager, &feed, size).await, all_writes);

            for collapse in [Collapse::by_object(), Collapse::by_actor()] {
                let all = whole(ids(&manager
                    .get_feeds("carlos", &collapse.clone().page_size(10_000).unwrap())
                    .await
                    .unwrap()
                    .feed));
                let feed = collapse.page_size(size).unwrap();
                assert_eq!(page_through(&manager, &feed, size).await, all, "{size}");
            }

            let decayed = DecayRanked::new()
                .origin(origin)
                .unwrap()
                .scale(Duration::days(1))
                .unwrap();
            let best = whole(ids(&manager
                .get_feeds("carlos", &decayed.clone().page_size(10_000).unwrap())
                .await
                .unwrap()
                .feed));
            let feed = decayed.page_size(size).unwrap();
            assert_eq!(page_through(&manager, &feed, size).await, best, "{size}");
        }
    }

    #[tokio::test]
    async fn ranked_ties_page_newest_then_highest_id() {
        let manager = Manager::memory().await.unwrap();
        let follow = Link::new(
            "carlos",
            "follow",
            LinkTarget::actor("mark", "person").unwrap(),
        )
        .unwrap()
        .linked_at(at("2024-01-01T00:00:00Z"))
        .unwrap();
        manager.add_link(follow).await.unwrap();
        // Three at the origin (score 1), three an hour away on either side (equal scores).
        for (id, published) in [
            ("b", "2024-03-01T00:00:00Z"),
            ("a", "2024-03-01T00:00:00Z"),
            ("c", "2024-03-01T00:00:00Z"),
            ("e", "2024-02-29T23:00:00Z"),
            ("d", "2024-03-01T01:00:00Z"),
            ("f", "2024-02-29T23:00:00Z"),
        ] {
            manager.add_activity(activity(id, published)).await.unwrap();
        }
        let ranked = DecayRanked::new()
            .origin(at("2024-03-01T00:00:00Z"))
            .unwrap()
            .scale(Duration::days(1))
            .unwrap();
        let expected = ["c", "b", "a", "d", "f", "e"];
        let whole = manager.get_feeds("carlos", &ranked).await.unwrap().feed;
        assert_eq!(ids(&whole), expected);
        for size in 1..=6 {
            let feed = ranked.clone().page_size(size).unwrap();
            assert_eq!(
                page_through(&manager, &feed, size).await,
                expected,
                "{size}"
            );
        }
    }

    #[tokio::test]
    async fn collapsed_pages_never_repeat_a_key() {
        let manager = store().await;
        let all = ids(&manager
            .get_feeds("carlos", &Collapse::by_object())
            .await
            .unwrap()
            .feed);
        // p0..p4, each once, as its newest activity.
        assert_eq!(all.len(), 5);
        let paged = page_through(&manager, &Collapse::by_object().page_size(2).unwrap(), 2).await;
        assert_eq!(paged, all);
    }

    #[tokio::test]
    async fn a_ranked_session_keeps_its_origin_on_a_store() {
        let manager = store().await;
        let first_origin = at("2024-02-03T00:00:00Z");
        let ranked = |origin| {
            DecayRanked::new()
                .origin(origin)
                .unwrap()
                .scale(Duration::hours(12))
                .unwrap()
        };
        let whole = |origin| {
            let feed = ranked(origin).page_size(10_000).unwrap();
            let manager = &manager;
            async move { ids(&manager.get_feeds("carlos", &feed).await.unwrap().feed) }
        };
        let expected = whole(first_origin).await;
        let elsewhere = at("2024-02-06T00:00:00Z");
        assert_ne!(
            whole(elsewhere).await,
            expected,
            "the origins must rank apart"
        );

        let first = manager
            .get_feeds(
                "carlos",
                &Cursor::new(ranked(first_origin).page_size(3).unwrap()),
            )
            .await
            .unwrap()
            .feed;
        let mut seen = ids(&first.activities);
        let mut next = first.next_cursor;
        let mut now = false;
        while let Some(token) = next {
            // Later pages are asked for with another origin, or none (now), in turn.
            now = !now;
            let later = if !now {
                ranked(elsewhere)
            } else {
                DecayRanked::new().scale(Duration::hours(12)).unwrap()
            };
            let page = manager
                .get_feeds(
                    "carlos",
                    &Cursor::new(later.page_size(3).unwrap()).after(&token),
                )
                .await
                .unwrap()
                .feed;
            seen.extend(ids(&page.activities));
            next = page.next_cursor;
        }
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn cursors_are_refused_by_other_readers_and_feeds_on_a_store() {
        let manager = store().await;
        manager.follow("ana", "mark").await.unwrap();
        let feed = UnAggregated::new().page_size(2).unwrap();
        let token = manager
            .get_feeds("carlos", &Cursor::new(&feed))
            .await
            .unwrap()
            .feed
            .next_cursor
            .unwrap();
        manager
            .get_feeds("carlos", &Cursor::new(&feed).after(&token))
            .await
            .unwrap();
        invalid_cursor(
            manager
                .get_feeds("ana", &Cursor::new(&feed).after(&token))
                .await,
        );
        for other in [
            UnAggregated::new().page_size(3).unwrap(),
            feed.clone().verbs(["write"]).unwrap(),
        ] {
            invalid_cursor(
                manager
                    .get_feeds("carlos", &Cursor::new(other).after(&token))
                    .await,
            );
        }
        invalid_cursor(
            manager
                .get_feeds(
                    "carlos",
                    &Cursor::new(Collapse::by_object().page_size(2).unwrap()).after(&token),
                )
                .await,
        );
        invalid_cursor(
            manager
                .get_feeds(
                    "carlos",
                    &Cursor::new(DecayRanked::new().page_size(2).unwrap()).after(&token),
                )
                .await,
        );
        let mut flipped = token.clone().into_bytes();
        flipped[3] ^= 0x01;
        let flipped = String::from_utf8(flipped).unwrap();
        invalid_cursor(
            manager
                .get_feeds("carlos", &Cursor::new(&feed).after(&flipped))
                .await,
        );
        // Another store's cursor.
        let other = store().await;
        invalid_cursor(
            other
                .get_feeds("carlos", &Cursor::new(&feed).after(&token))
                .await,
        );
    }
}
