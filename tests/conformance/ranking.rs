//! Ranked feeds (link weight, recency decay), ranked groups, the grouping limit, collapse across
//! pages, and the consistency rules a ranked or collapsed query must follow.
//!
//! Every expected order and score is written out by hand from the documented rules, so a backend
//! cannot agree with itself and pass. Fixtures are added in two batches, so activities at the
//! same millisecond, and their ties, lie in different segments where a backend has them.

use chrono::{DateTime, NaiveDate, Utc};
use elasticfeeds::{
    Bound, Decay, EntityKey, Error, FeedQuery, FeedResult, Group, GroupKey, GroupValue, Link,
    LinkTarget, Manager, Metric, Network, Order, Position, Ranking, Result, ScoredPosition,
};

use super::{activity, add, at, object, person, post, Raw, Store, DAY, HOUR, MIN};

/// Stores a link of `link_type` from `user` to `target`, of `weight`, made at `linked`.
async fn weighted(
    m: &Manager,
    user: &str,
    link_type: &str,
    target: LinkTarget,
    weight: f64,
    linked: DateTime<Utc>,
) {
    let link = Link::new(user, link_type, target)
        .unwrap()
        .linked_at(linked)
        .unwrap()
        .with_weight(weight)
        .unwrap();
    m.add_link(link).await.unwrap();
}

fn actor(id: &str) -> LinkTarget {
    LinkTarget::actor(id, "person").unwrap()
}

fn watched_post(id: &str) -> LinkTarget {
    LinkTarget::object(id, "post").unwrap()
}

fn with_ranking(ranking: Ranking) -> impl Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync {
    move |mut q: FeedQuery| {
        q.ranking = ranking.clone();
        Ok(q)
    }
}

/// One answer for `user`: `build` makes the query from `FeedQuery::network`, then `bound` is
/// set on it.
async fn read<F>(m: &Manager, user: &str, bound: Option<Bound>, build: &F) -> FeedResult
where
    F: Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync,
{
    let aggregator = Raw(|network: &Network| {
        let mut query = build(FeedQuery::network(network))?;
        query.page.bound = bound.clone();
        Ok(query)
    });
    m.get_feeds(user, &aggregator).await.unwrap().feed
}

/// The id and score of every hit of `user`'s feed, paging `size` at a time to the end: each
/// page starts at [`Bound::next_after`] the page before, passed through its cursor string, so
/// what a client would send back is what is tested.
async fn page_through<F>(m: &Manager, user: &str, size: usize, build: F) -> Vec<(String, f64)>
where
    F: Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync,
{
    let sized = |q: FeedQuery| build(q)?.page_size(size);
    let mut seen = Vec::new();
    let mut bound: Option<Bound> = None;
    for _ in 0..100 {
        let page = read(m, user, bound.clone(), &sized).await;
        assert!(page.groups.is_empty(), "a flat query has no groups");
        assert!(page.hits.len() <= size, "page of {size}: {:?}", page.hits);
        seen.extend(page.hits.iter().map(|hit| {
            let id = hit.activity.id().expect("stored activities have ids");
            (id.to_owned(), hit.score.unwrap_or(f64::NAN))
        }));
        if !page.more {
            return seen;
        }
        assert_eq!(page.hits.len(), size, "only a full page has more after it");
        let next = Bound::next_after(bound.as_ref(), Order::Desc, &page.hits)
            .expect("a page with more continues");
        let back = Bound::from_cursor(&next.to_cursor()).unwrap();
        assert_eq!(back, next, "the cursor gives back the same bound");
        bound = Some(back);
    }
    panic!("paging {user}'s feed {size} at a time did not end");
}

/// Asserts ids in order and scores within 1e-12 (absolute, and relative to the score).
fn assert_ranked(actual: &[(String, f64)], expected: &[(&str, f64)], context: &str) {
    let actual_ids: Vec<&str> = actual.iter().map(|(id, _)| id.as_str()).collect();
    let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
    assert_eq!(actual_ids, expected_ids, "{context}");
    for ((id, score), (_, want)) in actual.iter().zip(expected) {
        let diff = (score - want).abs();
        assert!(
            diff <= 1e-12 && diff <= 1e-12 * want.abs(),
            "{context}: {id} scored {score}, expected {want}"
        );
    }
}

/// Ranked by the weight of the link that reaches an activity: the highest when several do (a
/// follow of its actor and a watch of its object), and a link counts only for activities
/// published at or after its time. Equal scores list newest first, then by id; paging to the end
/// at any page size loses and repeats nothing, even between equal scores at one millisecond.
pub async fn link_weight_flat(store: &dyn Store) {
    let m = store.fresh().await;
    weighted(&m, "reader", "follow", actor("mark"), 1.0, at(0)).await;
    weighted(&m, "reader", "follow", actor("jane"), 2.0, at(0)).await;
    weighted(&m, "reader", "follow", actor("bob"), 2.0, at(20 * MIN)).await;
    weighted(&m, "reader", "follow", actor("troll"), -1.0, at(0)).await;
    // A second link to mark, heavier and later: it counts from its own time only.
    weighted(&m, "reader", "star", actor("mark"), 4.0, at(20 * MIN)).await;
    weighted(&m, "reader", "watch", watched_post("p1"), 3.0, at(10 * MIN)).await;
    weighted(&m, "reader", "watch", watched_post("p2"), 0.5, at(0)).await;
    let on = |id: &str, verb: &str, who: &str, post: &str, minute: i64| {
        activity(
            id,
            verb,
            person(who),
            object(post, "post"),
            at(minute * MIN),
        )
    };
    add(
        &m,
        vec![
            post("m1", "mark", at(MIN)),
            post("j1", "jane", at(2 * MIN)),
            // Before the watch of p1: reached by the follow of mark only.
            on("m_p1_early", "like", "mark", "p1", 5),
            // Before the watch of p1, and zed is not followed: not reached.
            on("z_p1_early", "comment", "zed", "p1", 9),
            on("z_p1", "comment", "zed", "p1", 12),
            // The follow of mark (1) and the watch of p1 (3): the higher counts.
            on("m_p1", "like", "mark", "p1", 15),
            // Before the follow of bob: not reached.
            post("b0", "bob", at(19 * MIN)),
        ],
    )
    .await;
    add(
        &m,
        vec![
            // Three activities of weight 2 at one millisecond.
            post("b1", "bob", at(25 * MIN)),
            post("b2", "bob", at(25 * MIN)),
            post("j2", "jane", at(25 * MIN)),
            // After the star of mark: 4.
            post("m2", "mark", at(30 * MIN)),
            // The follow of jane (2) outweighs the watch of p2 (0.5).
            on("j_p2", "like", "jane", "p2", 40),
            on("z_p2", "like", "zed", "p2", 41),
            post("t1", "troll", at(50 * MIN)),
        ],
    )
    .await;
    let expected = [
        ("m2", 4.0),
        ("m_p1", 3.0),
        ("z_p1", 3.0),
        ("j_p2", 2.0),
        ("j2", 2.0),
        ("b2", 2.0),
        ("b1", 2.0),
        ("j1", 2.0),
        ("m_p1_early", 1.0),
        ("m1", 1.0),
        ("z_p2", 0.5),
        ("t1", -1.0),
    ];
    for size in 1..=13 {
        let seen = page_through(&m, "reader", size, with_ranking(Ranking::LinkWeight)).await;
        assert_ranked(&seen, &expected, &format!("pages of {size}"));
    }

    // The same activities by recency carry no score.
    let recency = read(&m, "reader", None, &|q: FeedQuery| q.page_size(100)).await;
    assert_eq!(recency.hits.len(), expected.len());
    assert!(recency.hits.iter().all(|hit| hit.score.is_none()));
}

/// A Gaussian decay around an origin in the middle of the data, times the link weight: hand
/// computed scores (activities after the origin decay like those before it; an offset makes a
/// plateau around the origin), paging to the end, and a negative weight below every positive
/// score, however small.
pub async fn decay_flat(store: &dyn Store) {
    let m = store.fresh().await;
    for (id, weight) in [("one", 1.0), ("two", 2.0), ("neg", -1.0)] {
        weighted(&m, "reader", "follow", actor(id), weight, at(0)).await;
    }
    // The origin is t0 + 1 day; `o(h)` is `h` hours from it.
    let o = |hours: f64| at(DAY + (hours * HOUR as f64) as i64);
    add(
        &m,
        vec![
            post("far", "one", o(-20.0)),
            post("n", "neg", o(-5.0)),
            post("f", "one", o(-3.0)),
            post("b", "two", o(-1.0)),
            post("e", "two", o(-0.5)),
            post("a", "one", o(0.0)),
        ],
    )
    .await;
    add(
        &m,
        vec![
            post("h", "one", o(0.0)),
            post("n2", "neg", o(0.0)),
            post("g", "two", o(0.5)),
            post("c", "one", o(1.0)),
            post("d", "two", o(2.0)),
        ],
    )
    .await;
    let decay = |offset_ms: u64| {
        Ranking::Decay(Decay {
            origin: at(DAY),
            scale_ms: HOUR as u64,
            offset_ms,
            decay: 0.5,
        })
    };
    // score = weight × 0.5^((max(0, |published − origin| − offset) / 1 h)²)
    let without_offset = [
        ("g", 1.681_792_830_507_429),        // 2 × 2^(−1/4), half an hour after
        ("e", 1.681_792_830_507_429),        // 2 × 2^(−1/4), half an hour before
        ("h", 1.0),                          // 1 at the origin, same millisecond as a
        ("a", 1.0),                          // 1
        ("b", 1.0),                          // 2 × 2^(−1)
        ("c", 0.5),                          // 2^(−1), an hour after
        ("d", 0.125),                        // 2 × 2^(−4), two hours after
        ("f", 0.001_953_125),                // 2^(−9)
        ("far", 3.872_591_914_849_318e-121), // 2^(−400)
        ("n", -2.980_232_238_769_531_2e-8),  // −2^(−25)
        ("n2", -1.0),                        // −1 at the origin
    ];
    // With half an hour around the origin scoring 1: distances shrink by half an hour.
    let with_offset = [
        ("g", 2.0),
        ("e", 2.0),
        ("b", 1.681_792_830_507_429), // 2 × 2^(−1/4)
        ("h", 1.0),
        ("a", 1.0),
        ("c", 0.840_896_415_253_714_5),        // 2^(−1/4)
        ("d", 0.420_448_207_626_857_25),       // 2 × 2^(−9/4)
        ("f", 0.013_139_006_488_339_289),      // 2^(−25/4)
        ("far", 3.414_633_908_993_848_5e-115), // 2^(−380.25)
        ("n", -8.019_413_139_855_523e-7),      // −2^(−81/4)
        ("n2", -1.0),
    ];
    for (offset, expected) in [(0, &without_offset), (30 * MIN as u64, &with_offset)] {
        for size in 1..=12 {
            let seen = page_through(&m, "reader", size, with_ranking(decay(offset))).await;
            assert_ranked(
                &seen,
                expected,
                &format!("offset {offset} ms, pages of {size}"),
            );
        }
    }
}

/// A group as compared here: value, sort key, metrics, hits with their scores, subgroups.
#[derive(Debug, PartialEq)]
struct Shape {
    value: GroupValue,
    newest: DateTime<Utc>,
    metrics: Option<(u64, u64, Vec<EntityKey>)>,
    hits: Vec<(String, Option<f64>)>,
    groups: Vec<Shape>,
}

fn shape(group: &Group) -> Shape {
    let metrics = match (group.count, group.distinct_actors, &group.recent_actors) {
        (None, None, None) => None,
        (Some(count), Some(distinct), Some(recent)) => Some((count, distinct, recent.clone())),
        other => panic!("asked for all three metrics or none, got {other:?}"),
    };
    Shape {
        value: group.value.clone(),
        newest: group.newest,
        metrics,
        hits: group
            .hits
            .iter()
            .map(|hit| (hit.activity.id().unwrap().to_owned(), hit.score))
            .collect(),
        groups: group.groups.iter().map(shape).collect(),
    }
}

async fn grouped<F>(m: &Manager, user: &str, build: F) -> Vec<Shape>
where
    F: Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync,
{
    let result = read(m, user, None, &build).await;
    assert!(result.hits.is_empty(), "a grouped result has no flat hits");
    assert!(!result.more);
    result.groups.iter().map(shape).collect()
}

fn day_value(n: i64) -> GroupValue {
    GroupValue::Day(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n as u64))
}

fn leaf(value: GroupValue, newest: DateTime<Utc>, hits: &[(&str, f64)]) -> Shape {
    Shape {
        value,
        newest,
        metrics: None,
        hits: hits
            .iter()
            .map(|(id, score)| ((*id).to_owned(), Some(*score)))
            .collect(),
        groups: Vec::new(),
    }
}

/// Grouped by day and ranked by link weight: inside a day, hits by weight, then newest (then
/// id); days newest first, each day's sort key its newest activity whether or not it is a hit.
pub async fn grouped_link_weight_by_day(store: &dyn Store) {
    let m = store.fresh().await;
    for (id, weight) in [("lo", 1.0), ("mid", 2.0), ("hi", 3.0)] {
        weighted(&m, "reader", "follow", actor(id), weight, at(0)).await;
    }
    let d = |day: i64, hour: i64| at(day * DAY + hour * HOUR);
    add(
        &m,
        vec![
            post("lo_0a", "lo", d(0, 1)),
            post("hi_0", "hi", d(0, 2)),
            post("mid_0", "mid", d(0, 3)),
            post("lo_0b", "lo", d(0, 4)),
            post("mid_1a", "mid", d(1, 5)),
        ],
    )
    .await;
    add(
        &m,
        vec![
            post("mid_1c", "mid", d(1, 5)),
            post("mid_1b", "mid", d(1, 6)),
            post("lo_1", "lo", d(1, 7)),
            post("lo_2", "lo", d(2, 1)),
        ],
    )
    .await;
    let by_day = |days: usize| {
        move |mut q: FeedQuery| {
            q.ranking = Ranking::LinkWeight;
            q.group_by([(GroupKey::Day, days)], 3)
        }
    };
    let expected = vec![
        leaf(day_value(2), d(2, 1), &[("lo_2", 1.0)]),
        // lo_1 is the newest of the day (its sort key) but ranks last, beyond 3 hits.
        leaf(
            day_value(1),
            d(1, 7),
            &[("mid_1b", 2.0), ("mid_1c", 2.0), ("mid_1a", 2.0)],
        ),
        leaf(
            day_value(0),
            d(0, 4),
            &[("hi_0", 3.0), ("mid_0", 2.0), ("lo_0b", 1.0)],
        ),
    ];
    assert_eq!(grouped(&m, "reader", by_day(10)).await, expected);
    let two_days = grouped(&m, "reader", by_day(2)).await;
    assert_eq!(two_days, expected.into_iter().take(2).collect::<Vec<_>>());

    // Enough activities that a backend may stop early: seven days of 24 hourly posts, where
    // within each day the heavy account's posts are the oldest. Hits are still the heavy ones.
    weighted(&m, "busy", "follow", actor("light"), 1.0, at(0)).await;
    weighted(&m, "busy", "follow", actor("heavy"), 3.0, at(0)).await;
    let mut week = Vec::new();
    for day in 10..17 {
        for hour in 0..24 {
            let who = if hour < 5 { "heavy" } else { "light" };
            week.push(post(&format!("w{day}_{hour:02}_{who}"), who, d(day, hour)));
        }
    }
    add(&m, week).await;
    let heavy_days = |mut q: FeedQuery| {
        q.ranking = Ranking::LinkWeight;
        q.group_by([(GroupKey::Day, 3)], 4)
    };
    let heavy = |day: i64| {
        let ids: Vec<String> = (1..5)
            .rev()
            .map(|hour| format!("w{day}_{hour:02}_heavy"))
            .collect();
        Shape {
            value: day_value(day),
            newest: d(day, 23),
            metrics: None,
            hits: ids.into_iter().map(|id| (id, Some(3.0))).collect(),
            groups: Vec::new(),
        }
    };
    let groups = grouped(&m, "busy", heavy_days).await;
    assert_eq!(
        groups[0].hits[0],
        ("w16_04_heavy".to_owned(), Some(3.0)),
        "the newest heavy post of the newest day"
    );
    assert_eq!(groups, vec![heavy(16), heavy(15), heavy(14)]);
}

/// `Grouping::limit` keeps the first N innermost groups by newest activity, and the outer groups
/// that hold them; a group met after that is left out, even inside a kept outer group. Metrics of
/// kept groups count every activity of the group, including those met after the limit was
/// reached (an outer group, like with level sizes, counts the activities of subgroups left out).
pub async fn group_limit_keeps_first_groups(store: &dyn Store) {
    let m = store.fresh().await;
    for id in ["ann", "bob", "cat"] {
        follow(&m, id).await;
    }
    let d = |day: i64, hour: i64| at(day * DAY + hour * HOUR);
    let did = |id: &str, verb: &str, who: &str, day: i64, hour: i64| {
        activity(id, verb, person(who), object("o", "post"), d(day, hour))
    };
    add(
        &m,
        vec![
            did("d2_like_ann", "like", "ann", 2, 9),
            did("d2_like_bob", "like", "bob", 2, 8),
            did("d2_post_cat", "post", "cat", 2, 7),
            did("d2_like_cat", "like", "cat", 2, 6),
            did("d2_post_ann", "post", "ann", 2, 5),
            did("d1_comment_bob", "comment", "bob", 1, 10),
        ],
    )
    .await;
    // Day 0 is left out whole; its many activities let a backend that stops early do so.
    let mut rest: Vec<_> = (0..80)
        .map(|n| did(&format!("d0_{n:02}"), "post", "ann", 0, n % 20))
        .collect();
    rest.extend([
        did("d1_share_ann", "share", "ann", 1, 9),
        did("d1_comment_ann", "comment", "ann", 1, 8),
        did("d1_share_bob", "share", "bob", 1, 3),
        // Met after the limit is reached, in a kept group: counted.
        did("d1_comment_cat", "comment", "cat", 1, 1),
    ]);
    add(&m, rest).await;

    const METRICS: [Metric; 3] = [
        Metric::Count,
        Metric::DistinctActors,
        Metric::RecentActors(2),
    ];
    let limited = |limit: usize, metrics: bool| {
        move |q: FeedQuery| {
            let mut q = q.group_by([(GroupKey::Day, 10), (GroupKey::Verb, 10)], 1)?;
            let grouping = q.grouping.as_mut().expect("grouped");
            grouping.limit = Some(limit);
            if metrics {
                grouping.metrics = METRICS.to_vec();
            }
            Ok(q)
        }
    };
    let key = |id: &str| EntityKey::new(id, "person").unwrap();
    let verb = |v: &str| GroupValue::Verb(v.to_owned());
    let node = |value, newest, metrics: (u64, u64, &[&str]), hits: &[&str], groups| Shape {
        value,
        newest,
        metrics: Some((
            metrics.0,
            metrics.1,
            metrics.2.iter().map(|id| key(id)).collect(),
        )),
        hits: hits.iter().map(|id| ((*id).to_owned(), None)).collect(),
        groups,
    };
    let expected = vec![
        node(
            day_value(2),
            d(2, 9),
            (5, 3, &["ann", "bob"]),
            &[],
            vec![
                node(
                    verb("like"),
                    d(2, 9),
                    (3, 3, &["ann", "bob"]),
                    &["d2_like_ann"],
                    vec![],
                ),
                node(
                    verb("post"),
                    d(2, 7),
                    (2, 2, &["cat", "ann"]),
                    &["d2_post_cat"],
                    vec![],
                ),
            ],
        ),
        // Day 1 holds the third group, comment; share (newest at 9h) comes fourth: left out.
        node(
            day_value(1),
            d(1, 10),
            (5, 3, &["bob", "ann"]),
            &[],
            vec![node(
                verb("comment"),
                d(1, 10),
                (3, 3, &["bob", "ann"]),
                &["d1_comment_bob"],
                vec![],
            )],
        ),
    ];
    assert_eq!(grouped(&m, "reader", limited(3, true)).await, expected);

    // Without metrics: the same groups and hits.
    let strip = |groups: Vec<Shape>| -> Vec<Shape> {
        fn strip(mut shape: Shape) -> Shape {
            shape.metrics = None;
            shape.groups = shape.groups.into_iter().map(strip).collect();
            shape
        }
        groups.into_iter().map(strip).collect()
    };
    let expected_bare = strip(expected);
    assert_eq!(
        grouped(&m, "reader", limited(3, false)).await,
        expected_bare
    );

    // A limit of one: the newest group only.
    let one = grouped(&m, "reader", limited(1, false)).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].value, day_value(2));
    assert_eq!(one[0].groups.len(), 1);
    assert_eq!(one[0].groups[0].hits, [("d2_like_ann".to_owned(), None)]);

    // A limit above the number of groups keeps them all: 2 + 2 + 1.
    let all = grouped(&m, "reader", limited(100, false)).await;
    let leaves: Vec<(GroupValue, GroupValue)> = all
        .iter()
        .flat_map(|day| {
            day.groups
                .iter()
                .map(|g| (day.value.clone(), g.value.clone()))
        })
        .collect();
    assert_eq!(
        leaves,
        [
            (day_value(2), verb("like")),
            (day_value(2), verb("post")),
            (day_value(1), verb("comment")),
            (day_value(1), verb("share")),
            (day_value(0), verb("post")),
        ]
    );

    // A limit of zero is no grouping at all: refused.
    let aggregator = Raw(|network: &Network| limited(0, false)(FeedQuery::network(network)));
    assert_err!(
        m.get_feeds("reader", &aggregator).await,
        Error::InvalidSize { .. }
    );
}

async fn follow(m: &Manager, id: &str) {
    weighted(m, "reader", "follow", actor(id), 1.0, at(0)).await;
}

/// Collapse over pages: from page to page (the next one older than the last shown), every key
/// appears exactly once over all pages, as its newest activity; an older activity of a key an
/// earlier page showed never reappears below the bound. Holds at every page size, including
/// pages that end between two activities of one millisecond.
pub async fn collapse_pages_show_each_key_once(store: &dyn Store) {
    let m = store.fresh().await;
    follow(&m, "mark").await;
    follow(&m, "jane").await;
    let on = |id: &str, verb: &str, who: &str, post: &str, minute: i64| {
        activity(
            id,
            verb,
            person(who),
            object(post, "post"),
            at(minute * MIN),
        )
    };
    add(
        &m,
        vec![
            on("a1", "like", "mark", "p1", 10),
            on("h1", "like", "jane", "p8", 9),
            on("a2", "comment", "jane", "p1", 8),
            on("b2", "comment", "mark", "p2", 6),
            on("a3", "share", "mark", "p1", 4),
            on("c2", "like", "jane", "p3", 2),
        ],
    )
    .await;
    add(
        &m,
        vec![
            // The same millisecond as h1.
            on("b1", "like", "jane", "p2", 9),
            on("c1", "like", "mark", "p3", 7),
            on("d1", "like", "jane", "p4", 5),
            on("e1", "like", "mark", "p5", 3),
            on("f1", "like", "jane", "p6", 1),
        ],
    )
    .await;
    let collapse = |key: GroupKey| {
        move |mut q: FeedQuery| {
            q.collapse = Some(key);
            Ok(q)
        }
    };
    let by_object = ["a1", "h1", "b1", "c1", "d1", "e1", "f1"];
    for size in 1..=8 {
        let seen = page_through(&m, "reader", size, collapse(GroupKey::Object)).await;
        let seen: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(seen, by_object, "pages of {size}");
    }
    // Pages of two, spelled out: the first ends between h1 and b1 (one millisecond), and a2, an
    // older activity of p1 below that bound, is not shown again.
    let pages = [
        (None, vec!["a1", "h1"], true),
        (Some(("h1", 9)), vec!["b1", "c1"], true),
        (Some(("c1", 7)), vec!["d1", "e1"], true),
        (Some(("e1", 3)), vec!["f1"], false),
    ];
    for (bound, expected, more) in pages {
        let bound = bound.map(|(id, minute): (&str, i64)| {
            Bound::OlderThan(Position {
                published: at(minute * MIN),
                id: id.to_owned(),
            })
        });
        let page = read(&m, "reader", bound.clone(), &|q: FeedQuery| {
            collapse(GroupKey::Object)(q.page_size(2)?)
        })
        .await;
        let ids: Vec<&str> = page
            .hits
            .iter()
            .map(|hit| hit.activity.id().unwrap())
            .collect();
        assert_eq!((ids, page.more), (expected, more), "from {bound:?}");
    }

    let by_actor = ["a1", "h1"];
    for size in 1..=3 {
        let seen = page_through(&m, "reader", size, collapse(GroupKey::Actor)).await;
        let seen: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(seen, by_actor, "pages of {size}");
    }
}

/// What a ranked or collapsed query cannot be is refused as `InvalidQuery`, on feeds and on
/// searches alike; the consistent combinations are answered.
pub async fn ranking_queries_validated(store: &dyn Store) {
    let m = store.fresh().await;
    follow(&m, "mark").await;
    add(&m, vec![post("p1", "mark", at(MIN))]).await;
    let position = Position {
        published: at(MIN),
        id: "p1".into(),
    };
    let scored = |score: f64| {
        Bound::RankedBelow(ScoredPosition {
            score,
            position: position.clone(),
        })
    };
    let decay = |scale_ms: u64, decay: f64| {
        Ranking::Decay(Decay {
            origin: at(0),
            scale_ms,
            offset_ms: 0,
            decay,
        })
    };
    type Adjust<'a> = Box<dyn Fn(&mut FeedQuery) + Send + Sync + 'a>;
    let bad: Vec<(&str, Adjust<'_>)> = vec![
        (
            "link weight, ascending",
            Box::new(|q| {
                q.ranking = Ranking::LinkWeight;
                q.order = Order::Asc;
            }),
        ),
        (
            "decay, ascending",
            Box::new(move |q| {
                q.ranking = decay(HOUR as u64, 0.5);
                q.order = Order::Asc;
            }),
        ),
        (
            "a scored bound on a recency feed",
            Box::new(move |q| q.page.bound = Some(scored(1.0))),
        ),
        (
            "older than a time on a ranked feed",
            Box::new(|q| {
                q.ranking = Ranking::LinkWeight;
                q.page.bound = Some(Bound::OlderThan(position.clone()));
            }),
        ),
        (
            "newer than a time on a decayed feed",
            Box::new(move |q| {
                q.ranking = decay(HOUR as u64, 0.5);
                q.page.bound = Some(Bound::NewerThan(Position {
                    published: at(MIN),
                    id: "p1".into(),
                }));
            }),
        ),
        (
            "a scored bound without a finite score",
            Box::new(move |q| {
                q.ranking = Ranking::LinkWeight;
                q.page.bound = Some(scored(f64::NAN));
            }),
        ),
        (
            "a scored bound at infinity",
            Box::new(move |q| {
                q.ranking = Ranking::LinkWeight;
                q.page.bound = Some(scored(f64::INFINITY));
            }),
        ),
        (
            "collapse, ascending",
            Box::new(|q| {
                q.collapse = Some(GroupKey::Object);
                q.order = Order::Asc;
            }),
        ),
        (
            "collapse, ranked",
            Box::new(|q| {
                q.collapse = Some(GroupKey::Object);
                q.ranking = Ranking::LinkWeight;
            }),
        ),
        (
            "collapse, newer than a position",
            Box::new(|q| {
                q.collapse = Some(GroupKey::Object);
                q.page.bound = Some(Bound::NewerThan(Position {
                    published: at(MIN),
                    id: "p1".into(),
                }));
            }),
        ),
        (
            "decay of 0",
            Box::new(move |q| q.ranking = decay(HOUR as u64, 0.0)),
        ),
        (
            "decay of 1",
            Box::new(move |q| q.ranking = decay(HOUR as u64, 1.0)),
        ),
        (
            "decay of NaN",
            Box::new(move |q| q.ranking = decay(HOUR as u64, f64::NAN)),
        ),
        (
            "decay scale of 0",
            Box::new(move |q| q.ranking = decay(0, 0.5)),
        ),
    ];
    for (what, adjust) in &bad {
        let aggregator = Raw(|network: &Network| {
            let mut q = FeedQuery::network(network);
            adjust(&mut q);
            Ok(q)
        });
        match m.get_feeds("reader", &aggregator).await {
            Err(Error::InvalidQuery { .. }) => {}
            other => panic!("feed with {what}: expected InvalidQuery, got {other:?}"),
        }
        let mut q = FeedQuery::all();
        adjust(&mut q);
        match m.search(q).await {
            Err(Error::InvalidQuery { .. }) => {}
            other => panic!("search with {what}: expected InvalidQuery, got {other:?}"),
        }
    }

    // The consistent combinations are answered.
    let good: Vec<(&str, Adjust<'_>)> = vec![
        (
            "link weight below a scored position",
            Box::new(move |q| {
                q.ranking = Ranking::LinkWeight;
                q.page.bound = Some(scored(5.0));
            }),
        ),
        (
            "decay, newest first",
            Box::new(move |q| q.ranking = decay(HOUR as u64, 0.5)),
        ),
        (
            "collapse, older than a position",
            Box::new(|q| {
                q.collapse = Some(GroupKey::Object);
                q.page.bound = Some(Bound::OlderThan(Position {
                    published: at(2 * MIN),
                    id: "p9".into(),
                }));
            }),
        ),
    ];
    for (what, adjust) in &good {
        let aggregator = Raw(|network: &Network| {
            let mut q = FeedQuery::network(network);
            adjust(&mut q);
            Ok(q)
        });
        let result = m.get_feeds("reader", &aggregator).await;
        let hits = match result {
            Ok(feed) => feed.feed.hits,
            Err(e) => panic!("feed with {what}: {e:?}"),
        };
        let ids: Vec<&str> = hits.iter().map(|h| h.activity.id().unwrap()).collect();
        assert_eq!(ids, ["p1"], "feed with {what}");
    }
}
