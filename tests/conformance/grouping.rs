//! Grouped feeds: each level ordered by its newest activity, explicit sizes, hits newest first,
//! exact metrics.
//!
//! Expected groups come from a small in-test model ([`expect`]) of the documented semantics,
//! and the key facts are also spelled out by hand so the model cannot drift unnoticed.

use chrono::{DateTime, TimeZone, Utc};
use elasticfeeds::{
    Activity, EntityKey, FeedQuery, FeedResult, Group, GroupKey, GroupValue, Manager, Metric,
    Network, Order, Result,
};

use super::{activity, add, follow_at, ids, object, person, post, sorted, Raw, Store};

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// The reader follows ann, bob and cat; zed is not followed.
fn fixture() -> Vec<Activity> {
    let mut all: Vec<Activity> = (1..=12)
        .map(|m| post(&format!("y25m{m:02}"), "ann", day(2025, m, 10)))
        .collect();
    all.extend([
        activity(
            "jun_like",
            "like",
            person("bob"),
            object("y25m06", "post"),
            day(2025, 6, 20),
        ),
        post("jun_post_cat", "cat", day(2025, 6, 5)),
        post("jun_post_bob", "bob", day(2025, 6, 1)),
        activity(
            "y26_share",
            "share",
            person("bob"),
            object("x", "post"),
            day(2026, 1, 3),
        ),
        post("y26_post", "ann", day(2026, 1, 2)),
        post("y26_feb", "cat", day(2026, 2, 1)),
        post("zed_post", "zed", day(2025, 3, 1)),
    ]);
    all
}

async fn setup(store: &dyn Store) -> (Manager, Vec<Activity>) {
    let m = store.fresh().await;
    for followed in ["ann", "bob", "cat"] {
        follow_at(&m, "reader", followed, day(2020, 1, 1)).await;
    }
    let all = fixture();
    // Two commits, so groups span segments.
    let (first, second) = all.split_at(8);
    add(&m, second.to_vec()).await;
    add(&m, first.to_vec()).await;
    let reached = all
        .into_iter()
        .filter(|a| a.actor().id() != "zed")
        .collect();
    (m, reached)
}

/// A group as compared: value, sort key, metrics, hit ids, subgroups.
#[derive(Debug, PartialEq)]
struct Shape {
    value: GroupValue,
    newest: DateTime<Utc>,
    count: Option<u64>,
    distinct_actors: Option<u64>,
    recent_actors: Option<Vec<EntityKey>>,
    hits: Vec<String>,
    groups: Vec<Shape>,
}

fn shape(group: &Group) -> Shape {
    let hits: Vec<Activity> = group.hits.iter().map(|h| h.activity.clone()).collect();
    Shape {
        value: group.value.clone(),
        newest: group.newest,
        count: group.count,
        distinct_actors: group.distinct_actors,
        recent_actors: group.recent_actors.clone(),
        hits: ids(&hits),
        groups: group.groups.iter().map(shape).collect(),
    }
}

/// The documented grouping of `activities` (newest first): each level's groups in the order of
/// their newest activity, at most `size` of them; innermost groups hold their newest `hits`;
/// metrics over every activity of the group.
fn expect(
    activities: &[Activity],
    levels: &[(GroupKey, usize)],
    hits: usize,
    metrics: &[Metric],
) -> Vec<Shape> {
    let activities = sorted(activities, Order::Desc);
    let Some(((key, size), rest)) = levels.split_first() else {
        return Vec::new();
    };
    let mut groups: Vec<(GroupValue, Vec<Activity>)> = Vec::new();
    for a in activities {
        let value = key.value_of(&a);
        match groups.iter_mut().find(|(v, _)| *v == value) {
            Some((_, members)) => members.push(a),
            None => groups.push((value, vec![a])),
        }
    }
    groups.truncate(*size);
    groups
        .into_iter()
        .map(|(value, members)| {
            let mut actors: Vec<EntityKey> = Vec::new();
            for a in &members {
                if !actors.contains(a.actor().key()) {
                    actors.push(a.actor().key().clone());
                }
            }
            let recent = metrics.iter().find_map(|m| match m {
                Metric::RecentActors(n) => Some(actors.iter().take(*n).cloned().collect()),
                _ => None,
            });
            Shape {
                value,
                newest: members[0].published(),
                count: metrics
                    .contains(&Metric::Count)
                    .then_some(members.len() as u64),
                distinct_actors: metrics
                    .contains(&Metric::DistinctActors)
                    .then_some(actors.len() as u64),
                recent_actors: recent,
                hits: if rest.is_empty() {
                    ids(&members[..members.len().min(hits)])
                } else {
                    Vec::new()
                },
                groups: expect(&members, rest, hits, metrics),
            }
        })
        .collect()
}

/// Runs a grouped feed for `user`; `adjust` may add filters and metrics.
async fn grouped<F>(
    m: &Manager,
    user: &str,
    levels: &'static [(GroupKey, usize)],
    hits: usize,
    adjust: F,
) -> Vec<Shape>
where
    F: Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync,
{
    let aggregator = Raw(move |network: &Network| {
        adjust(FeedQuery::network(network).group_by(levels.iter().copied(), hits)?)
    });
    let result: FeedResult = m.get_feeds(user, &aggregator).await.unwrap().feed;
    assert!(result.hits.is_empty(), "a grouped result has no flat hits");
    result.groups.iter().map(shape).collect()
}

fn values(groups: &[Shape]) -> Vec<GroupValue> {
    groups.iter().map(|g| g.value.clone()).collect()
}

fn verb(v: &str) -> GroupValue {
    GroupValue::Verb(v.to_owned())
}

/// Year → month → verb: every level ordered by its newest activity (not by size or name),
/// hits newest first.
pub async fn levels_ordered_by_newest(store: &dyn Store) {
    let (m, reached) = setup(store).await;
    const LEVELS: &[(GroupKey, usize)] = &[
        (GroupKey::Year, 10),
        (GroupKey::Month, 12),
        (GroupKey::Verb, 10),
    ];
    let groups = grouped(&m, "reader", LEVELS, 10, Ok).await;

    assert_eq!(
        values(&groups),
        [GroupValue::Year(2026), GroupValue::Year(2025)]
    );
    assert_eq!(groups[0].newest, day(2026, 2, 1));
    assert_eq!(
        values(&groups[0].groups),
        [GroupValue::Month(2), GroupValue::Month(1)]
    );
    let y2025: Vec<GroupValue> = (1..=12).rev().map(GroupValue::Month).collect();
    assert_eq!(values(&groups[1].groups), y2025);
    // January 2026: share (Jan 3) before post (Jan 2).
    let jan = &groups[0].groups[1];
    assert_eq!(values(&jan.groups), [verb("share"), verb("post")]);
    // June 2025: like (one activity, the newest) before post (three).
    let june = &groups[1].groups[6];
    assert_eq!(june.value, GroupValue::Month(6));
    assert_eq!(values(&june.groups), [verb("like"), verb("post")]);
    assert_eq!(
        june.groups[1].hits,
        ["y25m06", "jun_post_cat", "jun_post_bob"]
    );
    assert_eq!(june.groups[1].newest, day(2025, 6, 10));
    // Outer groups carry no hits of their own.
    assert!(groups[1].hits.is_empty() && june.hits.is_empty());
    assert_eq!(groups, expect(&reached, LEVELS, 10, &[]));

    // By actor: cat (newest Feb 1), bob (Jan 3), ann (Jan 2, but most activities).
    const BY_ACTOR: &[(GroupKey, usize)] = &[(GroupKey::Actor, 10)];
    let groups = grouped(&m, "reader", BY_ACTOR, 2, Ok).await;
    let actor = |id: &str| GroupValue::Entity(Some(EntityKey::new(id, "person").unwrap()));
    assert_eq!(values(&groups), [actor("cat"), actor("bob"), actor("ann")]);
    assert_eq!(groups[2].hits, ["y26_post", "y25m12"]);
    assert_eq!(groups, expect(&reached, BY_ACTOR, 2, &[]));

    // By target: every activity here has none, so one group of "no target".
    const BY_TARGET: &[(GroupKey, usize)] = &[(GroupKey::Target, 10), (GroupKey::Day, 3)];
    let groups = grouped(&m, "reader", BY_TARGET, 1, Ok).await;
    assert_eq!(values(&groups), [GroupValue::Entity(None)]);
    assert_eq!(groups, expect(&reached, BY_TARGET, 1, &[]));
}

/// Every level keeps exactly as many groups as asked (no silent cap at 10), and innermost
/// groups as many hits.
pub async fn explicit_sizes_respected(store: &dyn Store) {
    let (m, reached) = setup(store).await;

    const TWELVE: &[(GroupKey, usize)] = &[(GroupKey::Month, 12)];
    let groups = grouped(&m, "reader", TWELVE, 1, |q| q.year(2025)).await;
    assert_eq!(groups.len(), 12, "12 months asked, 12 months present");
    let in_2025: Vec<Activity> = reached
        .iter()
        .filter(|a| GroupKey::Year.value_of(a) == GroupValue::Year(2025))
        .cloned()
        .collect();
    assert_eq!(groups, expect(&in_2025, TWELVE, 1, &[]));

    const SMALL: &[(GroupKey, usize)] = &[
        (GroupKey::Year, 2),
        (GroupKey::Month, 3),
        (GroupKey::Verb, 1),
    ];
    let groups = grouped(&m, "reader", SMALL, 1, Ok).await;
    assert_eq!(
        values(&groups[1].groups),
        [
            GroupValue::Month(12),
            GroupValue::Month(11),
            GroupValue::Month(10)
        ]
    );
    assert!(groups
        .iter()
        .flat_map(|y| &y.groups)
        .all(|month| month.groups.len() == 1 && month.groups[0].hits.len() == 1));
    assert_eq!(groups, expect(&reached, SMALL, 1, &[]));

    const ONE: &[(GroupKey, usize)] = &[(GroupKey::Year, 1)];
    let groups = grouped(&m, "reader", ONE, 3, Ok).await;
    assert_eq!(values(&groups), [GroupValue::Year(2026)]);
    assert_eq!(groups[0].hits, ["y26_feb", "y26_share", "y26_post"]);

    // Wide and deep: 13 verbs, one of them with 15 activities.
    let verbs = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima",
    ];
    let mut wide: Vec<Activity> = (1..=15)
        .map(|d| post(&format!("dan_post{d:02}"), "dan", day(2024, 3, d)))
        .collect();
    wide.extend(verbs.iter().enumerate().map(|(i, v)| {
        activity(
            &format!("dan_{v}"),
            v,
            person("dan"),
            object("o", "post"),
            day(2024, 4, i as u32 + 1),
        )
    }));
    add(&m, wide.clone()).await;
    follow_at(&m, "wide", "dan", day(2020, 1, 1)).await;

    const THIRTEEN: &[(GroupKey, usize)] = &[(GroupKey::Verb, 13)];
    let groups = grouped(&m, "wide", THIRTEEN, 15, Ok).await;
    assert_eq!(groups.len(), 13);
    assert_eq!(groups[12].value, verb("post"));
    assert_eq!(groups[12].hits.len(), 15);
    assert_eq!(groups[12].hits[0], "dan_post15");
    assert_eq!(groups, expect(&wide, THIRTEEN, 15, &[]));

    const TWELVE_VERBS: &[(GroupKey, usize)] = &[(GroupKey::Verb, 12)];
    let groups = grouped(&m, "wide", TWELVE_VERBS, 15, Ok).await;
    let expected: Vec<GroupValue> = verbs.iter().rev().map(|v| verb(v)).collect();
    assert_eq!(values(&groups), expected);
    assert_eq!(groups, expect(&wide, TWELVE_VERBS, 15, &[]));
}

/// A calendar level under a verb or entity level: groups of other verbs or actors share each
/// day and month, so a full group must not end the reading of its window for its siblings.
pub async fn calendar_under_other_levels(store: &dyn Store) {
    let m = store.fresh().await;
    for followed in ["ann", "bob", "cat"] {
        follow_at(&m, "reader", followed, day(2020, 1, 1)).await;
    }
    let at = |d: u32, hour: u32| {
        Utc.with_ymd_and_hms(2026, 1 + d / 28, 1 + d % 28, hour, 0, 0)
            .unwrap()
    };
    let mut all = Vec::new();
    // Over 40 days, each day: ann posts twice, then bob likes and cat posts, older the same day.
    for d in 0..40 {
        all.push(post(&format!("ann{d}a"), "ann", at(d, 20)));
        all.push(post(&format!("ann{d}b"), "ann", at(d, 19)));
        if d % 3 != 0 {
            let liked = object(&format!("ann{d}a"), "post");
            all.push(activity(
                &format!("bob{d}"),
                "like",
                person("bob"),
                liked,
                at(d, 8),
            ));
        }
        if d % 2 == 0 {
            all.push(post(&format!("cat{d}"), "cat", at(d, 7)));
        }
    }
    let (first, second) = all.split_at(all.len() / 2);
    add(&m, second.to_vec()).await;
    add(&m, first.to_vec()).await;
    // A second reader follows ann, and bob only from the middle of day 20.
    follow_at(&m, "late", "ann", day(2020, 1, 1)).await;
    follow_at(&m, "late", "bob", at(20, 12)).await;
    let late: Vec<Activity> = all
        .iter()
        .filter(|a| match a.actor().id() {
            "ann" => true,
            "bob" => a.published() >= at(20, 12),
            _ => false,
        })
        .cloned()
        .collect();
    const CASES: &[(&[(GroupKey, usize)], usize)] = &[
        (&[(GroupKey::Actor, 10), (GroupKey::Day, 10)], 1),
        (&[(GroupKey::Verb, 3), (GroupKey::Day, 5)], 1),
        (
            &[
                (GroupKey::Actor, 3),
                (GroupKey::Month, 2),
                (GroupKey::Day, 3),
            ],
            2,
        ),
        (
            &[
                (GroupKey::Year, 3),
                (GroupKey::Verb, 3),
                (GroupKey::Month, 12),
            ],
            1,
        ),
        (
            &[
                (GroupKey::Month, 2),
                (GroupKey::Actor, 3),
                (GroupKey::Day, 2),
            ],
            1,
        ),
        // Calendar levels outermost, where a full window may be skipped.
        (&[(GroupKey::Day, 4), (GroupKey::Actor, 2)], 1),
    ];
    for (levels, hits) in CASES {
        for (reader, reached) in [("reader", &all), ("late", &late)] {
            let groups = grouped(&m, reader, levels, *hits, Ok).await;
            let expected = expect(reached, levels, *hits, &[]);
            assert_eq!(groups, expected, "{reader}: {levels:?}");
        }
    }
    // The smallest case spelled out: bob's only activity of a day ann filled first.
    const ACTOR_DAY: &[(GroupKey, usize)] = &[(GroupKey::Actor, 10), (GroupKey::Day, 1)];
    let groups = grouped(&m, "reader", ACTOR_DAY, 1, Ok).await;
    assert_eq!(
        values(&groups),
        [person("ann"), person("bob"), person("cat")]
            .map(|p| GroupValue::Entity(Some(p.key().clone())))
    );
    assert_eq!(groups[1].groups[0].hits, ["bob38"]);
}

/// A year filter keeps one calendar year (UTC), flat or grouped.
pub async fn year_filter(store: &dyn Store) {
    let (m, reached) = setup(store).await;
    const LEVELS: &[(GroupKey, usize)] = &[
        (GroupKey::Year, 10),
        (GroupKey::Month, 12),
        (GroupKey::Verb, 10),
    ];
    let groups = grouped(&m, "reader", LEVELS, 10, |q| q.year(2025)).await;
    assert_eq!(values(&groups), [GroupValue::Year(2025)]);
    assert_eq!(groups[0].groups.len(), 12);
    let in_2025: Vec<Activity> = reached
        .iter()
        .filter(|a| GroupKey::Year.value_of(a) == GroupValue::Year(2025))
        .cloned()
        .collect();
    assert_eq!(in_2025.len(), 15);
    assert_eq!(groups, expect(&in_2025, LEVELS, 10, &[]));

    let groups = grouped(&m, "reader", LEVELS, 10, |q| q.year(2024)).await;
    assert!(groups.is_empty());
    assert_eq!(
        super::feed_ids_where(&m, "reader", |q| q.year(2026)).await,
        ["y26_feb", "y26_share", "y26_post"]
    );
}

/// Count, distinct actors and the most recent distinct actors are exact at every level, over
/// every activity of the group (not only its hits or its kept subgroups).
pub async fn metrics_exact(store: &dyn Store) {
    let (m, reached) = setup(store).await;
    const METRICS: &[Metric] = &[
        Metric::Count,
        Metric::DistinctActors,
        Metric::RecentActors(2),
    ];
    let with_metrics = |q: FeedQuery| {
        let mut q = q;
        q.grouping.as_mut().expect("grouped").metrics = METRICS.to_vec();
        Ok(q)
    };
    const LEVELS: &[(GroupKey, usize)] = &[(GroupKey::Year, 10), (GroupKey::Month, 12)];
    let groups = grouped(&m, "reader", LEVELS, 2, with_metrics).await;
    let key = |id: &str| EntityKey::new(id, "person").unwrap();

    let y2026 = &groups[0];
    assert_eq!(y2026.count, Some(3));
    assert_eq!(y2026.distinct_actors, Some(3));
    assert_eq!(y2026.recent_actors, Some(vec![key("cat"), key("bob")]));
    let y2025 = &groups[1];
    assert_eq!(y2025.count, Some(15));
    assert_eq!(y2025.distinct_actors, Some(3));
    assert_eq!(y2025.recent_actors, Some(vec![key("ann"), key("bob")]));
    let june = &y2025.groups[6];
    assert_eq!(june.value, GroupValue::Month(6));
    assert_eq!(june.count, Some(4));
    assert_eq!(june.distinct_actors, Some(3));
    assert_eq!(june.recent_actors, Some(vec![key("bob"), key("ann")]));
    assert_eq!(june.hits, ["jun_like", "y25m06"]);
    assert_eq!(groups, expect(&reached, LEVELS, 2, METRICS));

    // Outer counts include activities of subgroups left out by the level size.
    const NARROW: &[(GroupKey, usize)] = &[(GroupKey::Year, 1), (GroupKey::Month, 1)];
    let groups = grouped(&m, "reader", NARROW, 1, with_metrics).await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].count, Some(3));
    assert_eq!(groups[0].groups.len(), 1);
    assert_eq!(groups[0].groups[0].count, Some(1));
    assert_eq!(groups, expect(&reached, NARROW, 1, METRICS));

    // Metrics not asked for are absent.
    let groups = grouped(&m, "reader", NARROW, 1, Ok).await;
    assert_eq!(groups[0].count, None);
    assert_eq!(groups[0].distinct_actors, None);
    assert_eq!(groups[0].recent_actors, None);
}

/// Metrics of groups whose outer level is an entity (notifications grouped by object, say) are
/// exact over every activity of the group, however far back it lies and whichever segment
/// holds it, while only the first groups are listed. Power-law data over four commits, with
/// link times, watches reaching comments through their target, a type clash (a bot sharing a
/// followed person's id), removals and a time window; checked against the model.
pub async fn metrics_exact_by_entity(store: &dyn Store) {
    let m = store.fresh().await;
    let mut random = super::Random(29);
    let mut made: Vec<(super::Made, Activity)> = Vec::new();
    let mut posting = super::Posting::default();
    let mut n = 0;
    for _ in 0..4 {
        let mut batch = Vec::new();
        for _ in 0..750 {
            n += 1;
            let u = (random.unit().powi(2) * 40.0) as usize;
            let kind = if u < 5 && n % 9 == 0 { "bot" } else { "person" };
            // Whole seconds over a few hours: ties, and groups spread over every commit.
            let published = random.below(4 * 3_600) as i64 * super::SEC;
            // Likes and comments of a few popular posts: groups with many activities.
            let (one, activity) = posting.activity(
                format!("g{n:04}"),
                (format!("u{u}"), kind),
                published,
                &super::Mix { posts: 4, likes: 4 },
                &mut random,
                |random, posts| (random.unit().powi(3) * posts as f64) as usize,
            );
            made.push((one, activity.clone()));
            batch.push(activity);
        }
        add(&m, batch).await;
    }
    for _ in 0..60 {
        let victim = made.remove(random.below(made.len() as u64) as usize);
        m.remove_activity(&victim.0.id).await.unwrap();
    }
    // The reader follows twenty accounts, one of them also as a bot, and watches three of the
    // most liked posts; every link has its own time.
    let mut rules: super::Rules = Vec::new();
    let since = |random: &mut super::Random| random.below(2 * 3_600) as i64 * super::SEC;
    for u in 0..20 {
        rules.push((
            elasticfeeds::LinkClass::Actor,
            (format!("u{u}"), "person".to_owned()),
            since(&mut random),
        ));
    }
    rules.push((
        elasticfeeds::LinkClass::Actor,
        ("u1".to_owned(), "bot".to_owned()),
        since(&mut random),
    ));
    for post in &posting.posts[..3] {
        rules.push((
            elasticfeeds::LinkClass::Object,
            (post.clone(), "post".to_owned()),
            since(&mut random),
        ));
    }
    for (class, (id, kind), since) in &rules {
        let target = match class {
            elasticfeeds::LinkClass::Actor => elasticfeeds::LinkTarget::actor(id, kind),
            elasticfeeds::LinkClass::Object => elasticfeeds::LinkTarget::object(id, kind),
        }
        .unwrap();
        super::link_at(&m, "reader", "link", target, super::at(*since)).await;
    }
    const METRICS: &[Metric] = &[
        Metric::Count,
        Metric::DistinctActors,
        Metric::RecentActors(3),
    ];
    let window = super::at(3_600 * super::SEC);
    let in_window = |published: i64| super::at(published) >= window;
    let reached: Vec<Activity> = made
        .iter()
        .filter(|(made, _)| super::reaches(&rules, made))
        .map(|(_, activity)| activity.clone())
        .collect();
    let windowed: Vec<Activity> = made
        .iter()
        .filter(|(made, _)| super::reaches(&rules, made) && in_window(made.published))
        .map(|(_, activity)| activity.clone())
        .collect();
    let with = |window: Option<DateTime<Utc>>| {
        move |q: FeedQuery| {
            let mut q = match window {
                Some(since) => q.since(since)?,
                None => q,
            };
            q.grouping.as_mut().expect("grouped").metrics = METRICS.to_vec();
            Ok(q)
        }
    };
    const CASES: &[(&[(GroupKey, usize)], usize)] = &[
        (&[(GroupKey::Object, 5), (GroupKey::Verb, 10)], 1),
        (&[(GroupKey::Object, 40)], 2),
        (&[(GroupKey::Actor, 3), (GroupKey::Verb, 2)], 2),
        (&[(GroupKey::Target, 4), (GroupKey::Actor, 2)], 1),
    ];
    for (levels, hits) in CASES {
        for (window, activities) in [(None, &reached), (Some(window), &windowed)] {
            let groups = grouped(&m, "reader", levels, *hits, with(window)).await;
            let expected = expect(activities, levels, *hits, METRICS);
            assert_eq!(groups.len(), levels[0].1.min(expected.len()));
            assert!(
                groups.iter().any(|g| g.count > Some(3)),
                "{levels:?}: some groups hold many activities"
            );
            assert_eq!(groups, expected, "{levels:?}, window {window:?}");
        }
    }
}
