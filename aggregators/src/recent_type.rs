//! [`RecentType`]: a feed grouped by verb.

use elasticfeeds::{Aggregator, FeedContext, FeedQuery, FeedResult, GroupKey, Result};

use crate::shape;
use crate::year_month_type::TypeGroup;

/// A feed grouped by the verb ("type") of its activities.
///
/// Output: `Vec<`[`TypeGroup`]`>`, which serialises as `[{"type", "activities": [...]}]`. Verbs
/// are listed by their newest activity, newest first, and the activities of a verb newest first.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | verbs | 20 | 1 to 65,535 | [`RecentType::types`] |
/// | activities per verb | 20 | 1 to 100 | [`RecentType::hits_per_group`] |
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{RecentType, TypeGroup};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .linked_at(at("2024-01-01T00:00:00Z"))?;
/// manager.add_link(follow).await?;
///
/// let mark = Actor::new("mark", "person")?;
/// for (id, verb, published) in [
///     ("p0", "share", "2023-12-31T23:59:59Z"), // before the follow: never in carlos's feed
///     ("p1", "like", "2024-01-15T10:00:00Z"),
///     ("p2", "write", "2024-02-01T10:00:00Z"),
///     ("p3", "share", "2024-02-02T10:00:00Z"),
///     ("p4", "write", "2024-02-03T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, mark.clone(), Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// // (verb, activity ids) for every verb group, in feed order.
/// let flatten = |feed: &[TypeGroup]| -> Vec<(String, String)> {
///     feed.iter()
///         .map(|t| {
///             let ids: Vec<_> = t.activities.iter().filter_map(|a| a.id()).collect();
///             (t.verb.clone(), ids.join(","))
///         })
///         .collect()
/// };
/// let rows = |rows: &[(&str, &str)]| -> Vec<(String, String)> {
///     rows.iter().map(|(v, ids)| (v.to_string(), ids.to_string())).collect()
/// };
///
/// let feed = manager.get_feeds("carlos", &RecentType::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     rows(&[("write", "p4,p2"), ("share", "p3"), ("like", "p1")])
/// );
///
/// // The two most recent verbs, with their newest activity only.
/// let newest = RecentType::new().types(2)?.hits_per_group(1)?;
/// let feed = manager.get_feeds("carlos", &newest).await?.feed;
/// assert_eq!(flatten(&feed), rows(&[("write", "p4"), ("share", "p3")]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentType {
    types: usize,
    hits_per_group: usize,
}

impl Default for RecentType {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentType {
    /// The default number of verbs: 20.
    pub const DEFAULT_TYPES: usize = 20;
    /// The default number of activities per verb: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;

    /// The default sizes: 20 verbs, 20 activities per verb.
    pub fn new() -> Self {
        RecentType {
            types: Self::DEFAULT_TYPES,
            hits_per_group: Self::DEFAULT_HITS_PER_GROUP,
        }
    }

    /// How many verbs ("types") to list at most, the one with the newest activity first (1 to
    /// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS), which is 65,535).
    pub fn types(self, types: usize) -> Result<Self> {
        RecentType { types, ..self }.checked()
    }

    /// How many activities to keep per verb at most, newest first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        RecentType {
            hits_per_group,
            ..self
        }
        .checked()
    }

    fn levels(&self) -> [(GroupKey, usize); 1] {
        [(GroupKey::Verb, self.types)]
    }

    /// Validates the sizes with the core's own limits, so a bad setting fails where it is made.
    fn checked(self) -> Result<Self> {
        FeedQuery::all().group_by(self.levels(), self.hits_per_group)?;
        Ok(self)
    }
}

impl Aggregator for RecentType {
    type Output = Vec<TypeGroup>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        FeedQuery::network(feed.network()).group_by(self.levels(), self.hits_per_group)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<TypeGroup>> {
        shape::each(result.groups, |group| {
            shape::type_group("RecentType", group)
        })
    }
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::Source;
    use elasticfeeds::query::{GroupLevel, MAX_GROUPS, MAX_HITS_PER_GROUP};
    use elasticfeeds::{EntityKey, Error, GroupValue, Ranking};
    use serde_json::json;

    use super::*;
    use crate::test_support::{activity, at, context, group, network};

    #[test]
    fn query_has_one_sized_level() {
        let query = RecentType::new().query(&context(&network())).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
        assert_eq!(
            grouping.levels,
            [GroupLevel {
                key: GroupKey::Verb,
                size: 20
            }]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, None);
        assert_eq!(query.ranking, Ranking::Recency);
        // Every link of the network counts.
        assert_eq!(query.source, FeedQuery::network(&network()).source);
        assert!(matches!(&query.source, Source::Network(rules) if rules.len() == 1));
        assert_eq!(RecentType::default(), RecentType::new());

        let query = RecentType::new()
            .types(3)
            .unwrap()
            .hits_per_group(4)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.unwrap();
        assert_eq!(grouping.levels[0].size, 3);
        assert_eq!(grouping.hits_per_group, 4);
    }

    #[test]
    fn bad_sizes_are_typed_errors() {
        let agg = RecentType::new();
        for result in [
            agg.clone().types(0),
            agg.clone().types(MAX_GROUPS + 1),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        assert!(agg.clone().types(MAX_GROUPS).is_ok());
        assert!(agg.hits_per_group(MAX_HITS_PER_GROUP).is_ok());
    }

    #[test]
    fn shapes_the_groups() {
        let p1 = activity("p1", "like", ("p1", "post"), "2024-01-15T10:00:00Z");
        let p2 = activity("p2", "write", ("p2", "post"), "2024-02-01T10:00:00Z");
        let p4 = activity("p4", "write", ("p4", "post"), "2024-02-03T10:00:00Z");
        let result = FeedResult {
            hits: Vec::new(),
            more: false,
            groups: vec![
                group(
                    GroupValue::Verb("write".into()),
                    "2024-02-03T10:00:00Z",
                    vec![p4.clone(), p2.clone()],
                    vec![],
                ),
                group(
                    GroupValue::Verb("like".into()),
                    "2024-01-15T10:00:00Z",
                    vec![p1.clone()],
                    vec![],
                ),
            ],
        };
        let feed = RecentType::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            TypeGroup {
                verb: "write".into(),
                activities: vec![p4.clone(), p2.clone()],
            },
            TypeGroup {
                verb: "like".into(),
                activities: vec![p1.clone()],
            },
        ];
        assert_eq!(feed, expected);

        let value = serde_json::to_value(&feed).unwrap();
        assert_eq!(
            value,
            json!([
                {"type": "write", "activities": [
                    serde_json::to_value(&p4).unwrap(),
                    serde_json::to_value(&p2).unwrap(),
                ]},
                {"type": "like", "activities": [serde_json::to_value(&p1).unwrap()]},
            ])
        );
        let back: Vec<TypeGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);

        assert!(RecentType::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-02-03T10:00:00Z";
        let entity = GroupValue::Entity(Some(EntityKey::new("mark", "person").unwrap()));
        for value in [
            GroupValue::Year(2024),
            GroupValue::Month(2),
            GroupValue::Day(at(t).date_naive()),
            entity,
        ] {
            let result = FeedResult {
                groups: vec![group(value, t, vec![], vec![])],
                ..FeedResult::default()
            };
            match RecentType::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("RecentType expected a verb"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
