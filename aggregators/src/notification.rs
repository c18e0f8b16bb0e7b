//! [`Notification`]: "X, Y and N others did V to O", one row per object and verb in a time window.

use chrono::{DateTime, TimeDelta, Utc};
use elasticfeeds::{
    Activity, Aggregator, EntityKey, Error, FeedContext, FeedQuery, FeedResult, Group, GroupKey,
    GroupValue, Metric, Result,
};
use serde::{Deserialize, Serialize};

/// Notifications: one row per `(object, verb)` of the activities a user's network reaches in a
/// time window, with who did it (the most recent distinct actors first), how many distinct
/// actors and how many activities, and the latest activity: "ann, bob and 3 others liked your
/// post".
///
/// Output: `Vec<`[`NotificationRow`]`>`, which serialises as
/// `[{"object_id", "object_type", "type", "actors": [{"id", "type"}, …], "actor_count",
/// "event_count", "latest": activity}]`. Rows are ordered by their latest activity, newest first
/// (ties by activity id, like a feed). The Python original listed rows grouped by object (each
/// object's verbs under it, objects by their newest activity); an inbox reads newest first, so
/// here every row takes its own place by its latest activity.
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | time window | the 7 days before the read: since now − 7 days, until now (now is taken when the query is built) | `since` ≤ `until`, years 1 to 9999; `until` may be open | [`Notification::window`], [`Notification::since`] |
/// | objects | 50 | 1 to 65,535 | [`Notification::objects`] |
/// | verbs per object | 10 | 1 to 65,535 | [`Notification::verbs`] |
/// | actors listed per row | 5 | 1 to 100 | [`Notification::actors`] |
///
/// The objects kept are those with the newest activities in the window, and for each the verbs
/// with the newest activities, so a read holds at most `objects × verbs` rows. The number of
/// groups over both levels (`objects × (1 + verbs)`) may not exceed
/// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS) (65,535); a setting that would break that rule
/// is refused when it is made.
///
/// `actor_count` and `event_count` are exact over the window: the backend reads every activity
/// the network reaches in it, so the window bounds the cost of a read. A window start is
/// inclusive, its end exclusive, and as everywhere an activity published before the link that
/// reaches it is not counted.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{Notification, NotificationRow};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// // carlos watches his post p1 and follows mark.
/// for (link_type, target) in [
///     ("watch", LinkTarget::object("p1", "post")?),
///     ("follow", LinkTarget::actor("mark", "person")?),
/// ] {
///     let link = Link::new("carlos", link_type, target)?.linked_at(at("2024-01-01T00:00:00Z"))?;
///     manager.add_link(link).await?;
/// }
/// for (id, actor, verb, object, published) in [
///     ("old", "eve", "like", "p1", "2024-02-20T10:00:00Z"), // before the window
///     ("l1", "ann", "like", "p1", "2024-03-02T10:00:00Z"),
///     ("l2", "bob", "like", "p1", "2024-03-03T10:00:00Z"),
///     ("l3", "cat", "like", "p1", "2024-03-04T10:00:00Z"),
///     ("l4", "bob", "like", "p1", "2024-03-05T10:00:00Z"),
///     ("s1", "mark", "share", "p9", "2024-03-06T10:00:00Z"),
///     ("c1", "dan", "comment", "p1", "2024-03-07T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, Actor::new(actor, "person")?, Object::new(object, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// let week = Notification::new()
///     .window(at("2024-03-01T00:00:00Z"), at("2024-03-08T00:00:00Z"))?
///     .actors(2)?;
/// let rows = manager.get_feeds("carlos", &week).await?.feed;
///
/// // (object, verb, listed actors, actor_count, event_count, latest), newest row first.
/// fn summary(row: &NotificationRow) -> (&str, &str, Vec<&str>, u64, u64, &str) {
///     let actors = row.actors.iter().map(|a| a.id.as_str()).collect();
///     let latest = row.latest.id().unwrap_or_default();
///     (&row.object_id, &row.verb, actors, row.actor_count, row.event_count, latest)
/// }
/// let rows: Vec<_> = rows.iter().map(summary).collect();
/// assert_eq!(
///     rows,
///     [
///         ("p1", "comment", vec!["dan"], 1, 1, "c1"),
///         ("p9", "share", vec!["mark"], 1, 1, "s1"),
///         // "bob, cat and 1 other liked p1": four likes by three people in the window.
///         ("p1", "like", vec!["bob", "cat"], 3, 4, "l4"),
///     ]
/// );
///
/// // From March 4th on, with no end.
/// let recent = Notification::new().since(at("2024-03-04T00:00:00Z"))?;
/// let rows = manager.get_feeds("carlos", &recent).await?.feed;
/// let likes = rows.iter().find(|row| row.verb == "like").expect("likes of p1");
/// assert_eq!((likes.actor_count, likes.event_count, likes.others()), (2, 2, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    window: Window,
    objects: usize,
    verbs: usize,
    actors: usize,
}

/// Which activities a read counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// The [`Notification::DEFAULT_WINDOW_DAYS`] days before the read.
    Recent,
    /// From `since` (inclusive) to `until` (exclusive; `None`: open).
    Fixed {
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    },
}

impl Default for Notification {
    fn default() -> Self {
        Self::new()
    }
}

impl Notification {
    /// The default window: the 7 days before the read.
    pub const DEFAULT_WINDOW_DAYS: i64 = 7;
    /// The default number of objects: 50.
    pub const DEFAULT_OBJECTS: usize = 50;
    /// The default number of verbs per object: 10.
    pub const DEFAULT_VERBS: usize = 10;
    /// The default number of actors listed per row: 5.
    pub const DEFAULT_ACTORS: usize = 5;

    /// The last 7 days, 50 objects, 10 verbs per object, 5 actors listed per row.
    pub fn new() -> Self {
        Notification {
            window: Window::Recent,
            objects: Self::DEFAULT_OBJECTS,
            verbs: Self::DEFAULT_VERBS,
            actors: Self::DEFAULT_ACTORS,
        }
    }

    /// Counts activities published at or after `since` and strictly before `until`. A time
    /// outside years 1 to 9999 is [`Error::InvalidTimestamp`]; `since` after `until` is
    /// [`Error::InvalidQuery`].
    pub fn window(self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Self> {
        FeedQuery::all().since(since)?.until(until)?.validate()?;
        Ok(Notification {
            window: Window::Fixed {
                since,
                until: Some(until),
            },
            ..self
        })
    }

    /// Counts activities published at or after `since`, with no end. A time outside years 1 to
    /// 9999 is [`Error::InvalidTimestamp`].
    pub fn since(self, since: DateTime<Utc>) -> Result<Self> {
        FeedQuery::all().since(since)?;
        Ok(Notification {
            window: Window::Fixed { since, until: None },
            ..self
        })
    }

    /// How many objects to list at most, those with the newest activities first (1 to 65,535).
    pub fn objects(self, objects: usize) -> Result<Self> {
        Notification { objects, ..self }.checked()
    }

    /// How many verbs to list per object at most, those with the newest activities first (1 to
    /// 65,535).
    pub fn verbs(self, verbs: usize) -> Result<Self> {
        Notification { verbs, ..self }.checked()
    }

    /// How many actors to list per row at most, the most recent first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100). The
    /// row's `actor_count` counts them all.
    pub fn actors(self, actors: usize) -> Result<Self> {
        Notification { actors, ..self }.checked()
    }

    fn levels(&self) -> [(GroupKey, usize); 2] {
        [
            (GroupKey::Object, self.objects),
            (GroupKey::Verb, self.verbs),
        ]
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric::Count,
            Metric::DistinctActors,
            Metric::RecentActors(self.actors),
        ]
    }

    /// The grouping part of the query, on any source.
    fn grouped(&self, query: FeedQuery) -> Result<FeedQuery> {
        let mut query = query.group_by(self.levels(), 1)?;
        if let Some(grouping) = query.grouping.as_mut() {
            grouping.metrics = self.metrics();
        }
        Ok(query)
    }

    /// Validates the sizes together, with the core's own limits, so a bad setting fails where it
    /// is made rather than when the feed is read.
    fn checked(self) -> Result<Self> {
        self.grouped(FeedQuery::all())?.validate()?;
        Ok(self)
    }
}

impl Aggregator for Notification {
    type Output = Vec<NotificationRow>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let (since, until) = match self.window {
            Window::Recent => {
                let now = Utc::now();
                (now - TimeDelta::days(Self::DEFAULT_WINDOW_DAYS), Some(now))
            }
            Window::Fixed { since, until } => (since, until),
        };
        let mut query = FeedQuery::network(feed.network()).since(since)?;
        if let Some(until) = until {
            query = query.until(until)?;
        }
        self.grouped(query)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<NotificationRow>> {
        let mut rows = Vec::new();
        for object_group in result.groups {
            let object = match object_group.value {
                GroupValue::Entity(Some(key)) => key,
                other => return Err(unexpected("an object group", &other)),
            };
            for verb_group in object_group.groups {
                rows.push(row(&object, verb_group)?);
            }
        }
        // Newest first; ties in feed order (by id, descending), so the order is total.
        rows.sort_by(|a, b| {
            (b.latest.published(), b.latest.id()).cmp(&(a.latest.published(), a.latest.id()))
        });
        Ok(rows)
    }
}

/// One notification: what the actors did to one object with one verb in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRow {
    /// The object's id.
    pub object_id: String,
    /// The object's type.
    pub object_type: String,
    /// The verb (serialised as `type`, like the activity's own verb field).
    #[serde(rename = "type")]
    pub verb: String,
    /// The most recent distinct actors, newest first, at most
    /// [`Notification::actors`] of them.
    pub actors: Vec<EntityKey>,
    /// How many distinct actors did it in the window (exact).
    pub actor_count: u64,
    /// How many activities there were in the window (exact).
    pub event_count: u64,
    /// The latest of those activities.
    pub latest: Activity,
}

impl NotificationRow {
    /// How many actors are not listed in [`actors`](Self::actors): the "N others".
    pub fn others(&self) -> u64 {
        self.actor_count.saturating_sub(self.actors.len() as u64)
    }
}

fn row(object: &EntityKey, group: Group) -> Result<NotificationRow> {
    let verb = match group.value {
        GroupValue::Verb(verb) => verb,
        other => return Err(unexpected("a verb group", &other)),
    };
    let missing = |what: &str| Error::InvalidQuery {
        reason: format!("Notification expected {what} in the backend's result for {object} {verb}"),
    };
    let (Some(event_count), Some(actor_count), Some(actors)) =
        (group.count, group.distinct_actors, group.recent_actors)
    else {
        return Err(missing("the count, distinct actors and recent actors"));
    };
    let latest = group
        .hits
        .into_iter()
        .next()
        .ok_or_else(|| missing("the latest activity"))?
        .activity;
    Ok(NotificationRow {
        object_id: object.id.clone(),
        object_type: object.kind.clone(),
        verb,
        actors,
        actor_count,
        event_count,
        latest,
    })
}

fn unexpected(expected: &str, found: &GroupValue) -> Error {
    Error::InvalidQuery {
        reason: format!("Notification expected {expected} in the backend's result, got {found:?}"),
    }
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MAX_HITS_PER_GROUP};
    use elasticfeeds::{Actor, Hit, Object};
    use serde_json::json;

    use super::*;
    use crate::test_support::{at, context, network};

    fn activity(id: &str, actor: &str, verb: &str, object: &str, published: &str) -> Activity {
        Activity::new(
            verb,
            Actor::new(actor, "person").unwrap(),
            Object::new(object, "post").unwrap(),
        )
        .unwrap()
        .with_id(id)
        .unwrap()
        .published_at(at(published))
        .unwrap()
    }

    fn person(id: &str) -> EntityKey {
        EntityKey::new(id, "person").unwrap()
    }

    fn post(id: &str) -> GroupValue {
        GroupValue::Entity(Some(EntityKey::new(id, "post").unwrap()))
    }

    /// A verb group as a backend returns it: the latest activity and the three metrics.
    fn verb_group(verb: &str, latest: &Activity, counts: (u64, u64), actors: &[&str]) -> Group {
        Group {
            value: GroupValue::Verb(verb.into()),
            newest: latest.published(),
            count: Some(counts.0),
            distinct_actors: Some(counts.1),
            recent_actors: Some(actors.iter().map(|id| person(id)).collect()),
            hits: vec![Hit {
                activity: latest.clone(),
                score: None,
            }],
            groups: Vec::new(),
        }
    }

    fn object_group(value: GroupValue, groups: Vec<Group>) -> Group {
        Group {
            value,
            newest: groups[0].newest,
            count: Some(groups.iter().filter_map(|g| g.count).sum()),
            distinct_actors: None,
            recent_actors: None,
            hits: Vec::new(),
            groups,
        }
    }

    #[test]
    fn query_groups_by_object_then_verb_with_metrics() {
        let before = Utc::now() - TimeDelta::milliseconds(1);
        let query = Notification::new().query(&context(&network())).unwrap();
        let after = Utc::now();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
        assert_eq!(
            grouping.levels,
            [
                GroupLevel {
                    key: GroupKey::Object,
                    size: 50
                },
                GroupLevel {
                    key: GroupKey::Verb,
                    size: 10
                },
            ]
        );
        assert_eq!(grouping.hits_per_group, 1);
        assert_eq!(
            grouping.metrics,
            [
                Metric::Count,
                Metric::DistinctActors,
                Metric::RecentActors(5)
            ]
        );
        assert_eq!(grouping.limit, None);
        // The last seven days, ending when the query was built.
        let (since, until) = (query.filter.since.unwrap(), query.filter.until.unwrap());
        assert_eq!(until - since, TimeDelta::days(7));
        assert!(
            before <= until && until <= after,
            "{until} not in [{before}, {after}]"
        );

        let query = Notification::new()
            .window(at("2024-03-01T00:00:00Z"), at("2024-03-08T00:00:00Z"))
            .unwrap()
            .objects(3)
            .unwrap()
            .verbs(4)
            .unwrap()
            .actors(2)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        query.validate().unwrap();
        assert_eq!(query.filter.since, Some(at("2024-03-01T00:00:00Z")));
        assert_eq!(query.filter.until, Some(at("2024-03-08T00:00:00Z")));
        let grouping = query.grouping.unwrap();
        let sizes: Vec<_> = grouping.levels.iter().map(|l| l.size).collect();
        assert_eq!(sizes, [3, 4]);
        assert_eq!(grouping.metrics[2], Metric::RecentActors(2));

        let query = Notification::new()
            .since(at("2024-03-01T00:00:00Z"))
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        assert_eq!(query.filter.since, Some(at("2024-03-01T00:00:00Z")));
        assert_eq!(query.filter.until, None);
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let agg = Notification::new();
        for result in [
            agg.clone().objects(0),
            agg.clone().verbs(0),
            agg.clone().actors(0),
            agg.clone().actors(MAX_HITS_PER_GROUP + 1),
            // 10,000 objects × (1 + 10 verbs) is more groups than any backend keeps.
            agg.clone().objects(10_000),
            agg.clone().objects(1).unwrap().verbs(65_535),
            agg.clone().verbs(1).unwrap().objects(32_768),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        assert!(agg.clone().actors(MAX_HITS_PER_GROUP).is_ok());
        assert!(agg.clone().objects(1).unwrap().verbs(65_534).is_ok());
        assert!(agg.clone().verbs(1).unwrap().objects(32_767).is_ok());

        let (early, late) = (at("2024-03-01T00:00:00Z"), at("2024-03-08T00:00:00Z"));
        assert!(matches!(
            agg.clone().window(late, early),
            Err(Error::InvalidQuery { .. })
        ));
        // An empty window is allowed: it counts nothing.
        assert!(agg.clone().window(early, early).is_ok());
        let year_10000 = at("9999-12-31T23:59:59Z") + TimeDelta::days(2);
        assert!(matches!(
            agg.clone().window(early, year_10000),
            Err(Error::InvalidTimestamp { .. })
        ));
        assert!(matches!(
            agg.clone().since(year_10000),
            Err(Error::InvalidTimestamp { .. })
        ));
    }

    /// Rows of two objects, sorted by their latest activity across objects, not object by
    /// object as the Python original listed them.
    fn fixture() -> (FeedResult, [Activity; 3]) {
        let c1 = activity("c1", "dan", "comment", "p1", "2024-03-07T10:00:00Z");
        let l4 = activity("l4", "bob", "like", "p1", "2024-03-05T10:00:00Z");
        let s1 = activity("s1", "mark", "share", "p9", "2024-03-06T10:00:00Z");
        let result = FeedResult {
            hits: Vec::new(),
            more: false,
            groups: vec![
                object_group(
                    post("p1"),
                    vec![
                        verb_group("comment", &c1, (1, 1), &["dan"]),
                        verb_group("like", &l4, (4, 3), &["bob", "cat"]),
                    ],
                ),
                object_group(
                    post("p9"),
                    vec![verb_group("share", &s1, (1, 1), &["mark"])],
                ),
            ],
        };
        (result, [c1, l4, s1])
    }

    #[test]
    fn shapes_rows_newest_first() {
        let (result, [c1, l4, s1]) = fixture();
        let rows = Notification::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            NotificationRow {
                object_id: "p1".into(),
                object_type: "post".into(),
                verb: "comment".into(),
                actors: vec![person("dan")],
                actor_count: 1,
                event_count: 1,
                latest: c1.clone(),
            },
            NotificationRow {
                object_id: "p9".into(),
                object_type: "post".into(),
                verb: "share".into(),
                actors: vec![person("mark")],
                actor_count: 1,
                event_count: 1,
                latest: s1.clone(),
            },
            NotificationRow {
                object_id: "p1".into(),
                object_type: "post".into(),
                verb: "like".into(),
                actors: vec![person("bob"), person("cat")],
                actor_count: 3,
                event_count: 4,
                latest: l4.clone(),
            },
        ];
        assert_eq!(rows, expected);
        assert_eq!(
            rows.iter().map(NotificationRow::others).collect::<Vec<_>>(),
            [0, 0, 1]
        );

        // The serialised shape, field names included, and back.
        let value = serde_json::to_value(&rows).unwrap();
        let activity_json = |a: &Activity| serde_json::to_value(a).unwrap();
        assert_eq!(
            value,
            json!([
                {
                    "object_id": "p1", "object_type": "post", "type": "comment",
                    "actors": [{"id": "dan", "type": "person"}],
                    "actor_count": 1, "event_count": 1, "latest": activity_json(&c1),
                },
                {
                    "object_id": "p9", "object_type": "post", "type": "share",
                    "actors": [{"id": "mark", "type": "person"}],
                    "actor_count": 1, "event_count": 1, "latest": activity_json(&s1),
                },
                {
                    "object_id": "p1", "object_type": "post", "type": "like",
                    "actors": [{"id": "bob", "type": "person"}, {"id": "cat", "type": "person"}],
                    "actor_count": 3, "event_count": 4, "latest": activity_json(&l4),
                },
            ])
        );
        let back: Vec<NotificationRow> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);
    }

    #[test]
    fn equal_times_are_ordered_by_id() {
        let t = "2024-03-05T10:00:00Z";
        let a = activity("a", "ann", "like", "p1", t);
        let b = activity("b", "bob", "like", "p2", t);
        let result = FeedResult {
            groups: vec![
                object_group(post("p1"), vec![verb_group("like", &a, (1, 1), &["ann"])]),
                object_group(post("p2"), vec![verb_group("like", &b, (1, 1), &["bob"])]),
            ],
            ..FeedResult::default()
        };
        let rows = Notification::new()
            .shape(result, &context(&network()))
            .unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.latest.id().unwrap()).collect();
        assert_eq!(ids, ["b", "a"]);
    }

    #[test]
    fn empty_result_is_no_rows() {
        assert!(Notification::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn unexpected_results_are_errors() {
        let (good, _) = fixture();
        let latest = activity("x", "ann", "like", "p1", "2024-03-05T10:00:00Z");
        let like = || verb_group("like", &latest, (1, 1), &["ann"]);
        let mut no_metrics = like();
        no_metrics.count = None;
        let mut no_recent = like();
        no_recent.recent_actors = None;
        let mut no_hits = like();
        no_hits.hits.clear();
        let bad_trees = [
            // A verb where an object belongs.
            vec![object_group(GroupValue::Verb("like".into()), vec![like()])],
            // No object.
            vec![object_group(GroupValue::Entity(None), vec![like()])],
            // An object where a verb belongs.
            vec![object_group(
                post("p1"),
                vec![object_group(post("p2"), vec![like()])],
            )],
            // Metrics or the latest activity missing.
            vec![object_group(post("p1"), vec![no_metrics])],
            vec![object_group(post("p1"), vec![no_recent])],
            vec![object_group(post("p1"), vec![no_hits])],
        ];
        for groups in bad_trees {
            let result = FeedResult {
                groups,
                ..good.clone()
            };
            match Notification::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("Notification expected"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
