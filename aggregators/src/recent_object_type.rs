//! [`RecentObjectType`]: a feed grouped by object, then by verb.

use elasticfeeds::{Aggregator, FeedContext, FeedQuery, FeedResult, Group, GroupKey, Result};
use serde::{Deserialize, Serialize};

use crate::shape;
use crate::year_month_type::TypeGroup;

/// A feed grouped by the object of its activities, then by their verb ("type").
///
/// Output: `Vec<`[`ObjectTypesGroup`]`>`, which serialises as
/// `[{"id", "object_type", "types": [{"type", "activities": [...]}]}]`. Objects are listed by
/// their newest activity, newest first, and so are the verbs of an object; the activities of a
/// verb are listed newest first. Objects are grouped by their `(type, id)`: `post:p1` and
/// `blog:p1` are two groups, which is why each one carries its `object_type` next to its `id`.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | objects | 20 | 1 to 65,535 | [`RecentObjectType::objects`] |
/// | verbs per object | 20 | 1 to 65,535 | [`RecentObjectType::types`] |
/// | activities per verb group | 20 | 1 to 100 | [`RecentObjectType::hits_per_group`] |
///
/// The number of groups over all levels (`objects × (1 + types)`) may not exceed
/// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS) (65,535); a setting that would break that rule
/// is refused when it is made.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{ObjectTypesGroup, RecentObjectType};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// // carlos follows mark and watches the project project-a.
/// for target in [
///     LinkTarget::actor("mark", "person")?,
///     LinkTarget::object("project-a", "project")?,
/// ] {
///     let link = Link::new("carlos", "follow", target)?.linked_at(at("2024-01-01T00:00:00Z"))?;
///     manager.add_link(link).await?;
/// }
///
/// for (id, actor, verb, object, published) in [
///     ("a1", "mark", "write", ("p1", "post"), "2024-02-01T10:00:00Z"),
///     ("a2", "mark", "comment", ("p1", "post"), "2024-02-02T10:00:00Z"),
///     ("a3", "mark", "write", ("p2", "post"), "2024-02-03T10:00:00Z"),
///     ("a4", "jane", "comment", ("project-a", "project"), "2024-02-04T10:00:00Z"),
///     ("a5", "mark", "write", ("p1", "post"), "2024-02-05T10:00:00Z"),
///     ("a6", "mark", "write", ("p1", "blog"), "2024-02-06T10:00:00Z"),
/// ] {
///     let activity =
///         Activity::new(verb, Actor::new(actor, "person")?, Object::new(object.0, object.1)?)?
///             .with_id(id)?
///             .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// // "object_type:id verb activity-ids" for every verb group, in feed order.
/// let flatten = |feed: &[ObjectTypesGroup]| {
///     let mut rows = Vec::new();
///     for o in feed {
///         for t in &o.types {
///             let ids: Vec<_> = t.activities.iter().filter_map(|a| a.id()).collect();
///             rows.push(format!("{}:{} {} {}", o.object_type, o.id, t.verb, ids.join(",")));
///         }
///     }
///     rows
/// };
///
/// let feed = manager.get_feeds("carlos", &RecentObjectType::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     [
///         "blog:p1 write a6",
///         "post:p1 write a5,a1",
///         "post:p1 comment a2",
///         "project:project-a comment a4",
///         "post:p2 write a3",
///     ]
/// );
///
/// // The two most recent objects, one verb and one activity each.
/// let newest = RecentObjectType::new().objects(2)?.types(1)?.hits_per_group(1)?;
/// let feed = manager.get_feeds("carlos", &newest).await?.feed;
/// assert_eq!(flatten(&feed), ["blog:p1 write a6", "post:p1 write a5"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentObjectType {
    objects: usize,
    types: usize,
    hits_per_group: usize,
}

impl Default for RecentObjectType {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentObjectType {
    /// The default number of objects: 20.
    pub const DEFAULT_OBJECTS: usize = 20;
    /// The default number of verbs per object: 20.
    pub const DEFAULT_TYPES: usize = 20;
    /// The default number of activities per verb group: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;

    /// The default sizes: 20 objects, 20 verbs per object and 20 activities per verb group.
    pub fn new() -> Self {
        RecentObjectType {
            objects: Self::DEFAULT_OBJECTS,
            types: Self::DEFAULT_TYPES,
            hits_per_group: Self::DEFAULT_HITS_PER_GROUP,
        }
    }

    /// How many objects to list at most, the one with the newest activity first (1 to 65,535,
    /// within the limit on all groups).
    pub fn objects(self, objects: usize) -> Result<Self> {
        RecentObjectType { objects, ..self }.checked()
    }

    /// How many verbs ("types") to list per object at most, the one with the newest activity
    /// first (1 to 65,535, within the limit on all groups).
    pub fn types(self, types: usize) -> Result<Self> {
        RecentObjectType { types, ..self }.checked()
    }

    /// How many activities to keep per verb group at most, newest first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        RecentObjectType {
            hits_per_group,
            ..self
        }
        .checked()
    }

    fn levels(&self) -> [(GroupKey, usize); 2] {
        [
            (GroupKey::Object, self.objects),
            (GroupKey::Verb, self.types),
        ]
    }

    /// Validates the sizes together, with the core's own limits, so a bad setting fails where it
    /// is made rather than when the feed is read.
    fn checked(self) -> Result<Self> {
        FeedQuery::all().group_by(self.levels(), self.hits_per_group)?;
        Ok(self)
    }
}

impl Aggregator for RecentObjectType {
    type Output = Vec<ObjectTypesGroup>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        FeedQuery::network(feed.network()).group_by(self.levels(), self.hits_per_group)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<ObjectTypesGroup>> {
        shape::each(result.groups, object_types_group)
    }
}

/// The activities on one object, by verb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectTypesGroup {
    /// The object's id.
    pub id: String,
    /// The object's type: objects are grouped by `(type, id)`.
    pub object_type: String,
    /// Its verbs, the one with the newest activity first.
    pub types: Vec<TypeGroup>,
}

const NAME: &str = "RecentObjectType";

fn object_types_group(group: Group) -> Result<ObjectTypesGroup> {
    let key = shape::object(NAME, group.value)?;
    Ok(ObjectTypesGroup {
        id: key.id,
        object_type: key.kind,
        types: shape::each(group.groups, |g| shape::type_group(NAME, g))?,
    })
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MAX_GROUPS, MAX_HITS_PER_GROUP};
    use elasticfeeds::{Activity, EntityKey, Error, GroupValue, Ranking};
    use serde_json::json;

    use super::*;
    use crate::test_support::{activity, context, group, network};

    fn object(id: &str, kind: &str) -> GroupValue {
        GroupValue::Entity(Some(EntityKey::new(id, kind).unwrap()))
    }

    #[test]
    fn query_has_two_sized_levels() {
        let query = RecentObjectType::new().query(&context(&network())).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
        assert_eq!(
            grouping.levels,
            [
                GroupLevel {
                    key: GroupKey::Object,
                    size: 20
                },
                GroupLevel {
                    key: GroupKey::Verb,
                    size: 20
                },
            ]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, None);
        assert_eq!(query.ranking, Ranking::Recency);
        assert_eq!(query.source, FeedQuery::network(&network()).source);
        assert_eq!(RecentObjectType::default(), RecentObjectType::new());

        let query = RecentObjectType::new()
            .objects(2)
            .unwrap()
            .types(3)
            .unwrap()
            .hits_per_group(4)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.unwrap();
        let sizes: Vec<_> = grouping.levels.iter().map(|l| l.size).collect();
        assert_eq!(sizes, [2, 3]);
        assert_eq!(grouping.hits_per_group, 4);
    }

    #[test]
    fn bad_sizes_are_typed_errors() {
        let agg = RecentObjectType::new();
        for result in [
            agg.clone().objects(0),
            agg.clone().types(0),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
            // 20 objects × (1 + 5,000 verbs) is more groups than any backend keeps.
            agg.clone().types(5_000),
            agg.clone().objects(5_000),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        let one = agg.clone().objects(1).unwrap();
        assert!(one.clone().types(MAX_GROUPS - 1).is_ok());
        assert!(one.types(MAX_GROUPS).is_err());
        let narrow = agg.types(1).unwrap();
        assert!(narrow.clone().objects(MAX_GROUPS / 2).is_ok());
        assert!(narrow.objects(MAX_GROUPS / 2 + 1).is_err());
    }

    #[test]
    fn shapes_the_group_tree() {
        let a1 = activity("a1", "write", ("p1", "post"), "2024-02-01T10:00:00Z");
        let a2 = activity("a2", "comment", ("p1", "post"), "2024-02-02T10:00:00Z");
        let a5 = activity("a5", "write", ("p1", "post"), "2024-02-05T10:00:00Z");
        let a6 = activity("a6", "write", ("p1", "blog"), "2024-02-06T10:00:00Z");
        let result = FeedResult {
            hits: Vec::new(),
            more: false,
            groups: vec![
                group(
                    object("p1", "blog"),
                    "2024-02-06T10:00:00Z",
                    vec![],
                    vec![group(
                        GroupValue::Verb("write".into()),
                        "2024-02-06T10:00:00Z",
                        vec![a6.clone()],
                        vec![],
                    )],
                ),
                group(
                    object("p1", "post"),
                    "2024-02-05T10:00:00Z",
                    vec![],
                    vec![
                        group(
                            GroupValue::Verb("write".into()),
                            "2024-02-05T10:00:00Z",
                            vec![a5.clone(), a1.clone()],
                            vec![],
                        ),
                        group(
                            GroupValue::Verb("comment".into()),
                            "2024-02-02T10:00:00Z",
                            vec![a2.clone()],
                            vec![],
                        ),
                    ],
                ),
            ],
        };
        let feed = RecentObjectType::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            ObjectTypesGroup {
                id: "p1".into(),
                object_type: "blog".into(),
                types: vec![TypeGroup {
                    verb: "write".into(),
                    activities: vec![a6.clone()],
                }],
            },
            ObjectTypesGroup {
                id: "p1".into(),
                object_type: "post".into(),
                types: vec![
                    TypeGroup {
                        verb: "write".into(),
                        activities: vec![a5.clone(), a1.clone()],
                    },
                    TypeGroup {
                        verb: "comment".into(),
                        activities: vec![a2.clone()],
                    },
                ],
            },
        ];
        assert_eq!(feed, expected);

        let value = serde_json::to_value(&feed).unwrap();
        let json = |a: &Activity| serde_json::to_value(a).unwrap();
        assert_eq!(
            value,
            json!([
                {"id": "p1", "object_type": "blog", "types": [
                    {"type": "write", "activities": [json(&a6)]},
                ]},
                {"id": "p1", "object_type": "post", "types": [
                    {"type": "write", "activities": [json(&a5), json(&a1)]},
                    {"type": "comment", "activities": [json(&a2)]},
                ]},
            ])
        );
        let back: Vec<ObjectTypesGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);

        assert!(RecentObjectType::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-02-06T10:00:00Z";
        let leaf = |value| group(value, t, vec![], vec![]);
        let bad_trees = [
            // A verb where an object belongs.
            vec![group(
                GroupValue::Verb("write".into()),
                t,
                vec![],
                vec![leaf(GroupValue::Verb("write".into()))],
            )],
            // No entity where an object belongs.
            vec![leaf(GroupValue::Entity(None))],
            // An object where a verb belongs.
            vec![group(
                object("p1", "post"),
                t,
                vec![],
                vec![leaf(object("p1", "post"))],
            )],
            // A year where a verb belongs.
            vec![group(
                object("p1", "post"),
                t,
                vec![],
                vec![leaf(GroupValue::Year(2024))],
            )],
        ];
        for groups in bad_trees {
            let result = FeedResult {
                groups,
                ..FeedResult::default()
            };
            match RecentObjectType::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("RecentObjectType expected"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
