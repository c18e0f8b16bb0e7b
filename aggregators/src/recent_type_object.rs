//! [`RecentTypeObject`]: a feed grouped by verb, then by object.

use elasticfeeds::{
    Activity, Aggregator, FeedContext, FeedQuery, FeedResult, Group, GroupKey, Result,
};
use serde::{Deserialize, Serialize};

use crate::shape;

/// A feed grouped by the verb ("type") of its activities, then by their object.
///
/// Output: `Vec<`[`TypeObjectsGroup`]`>`, which serialises as
/// `[{"type", "ids": [{"id", "object_type", "activities": [...]}]}]`. Verbs are listed by their
/// newest activity, newest first, and so are the objects of a verb; the activities of an object
/// are listed newest first. Objects are grouped by their `(type, id)`: `post:p1` and `blog:p1`
/// are two groups, which is why each one carries its `object_type` next to its `id`.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | verbs | 20 | 1 to 65,535 | [`RecentTypeObject::types`] |
/// | objects per verb | 20 | 1 to 65,535 | [`RecentTypeObject::objects`] |
/// | activities per object | 20 | 1 to 100 | [`RecentTypeObject::hits_per_group`] |
///
/// The number of groups over all levels (`types × (1 + objects)`) may not exceed
/// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS) (65,535); a setting that would break that rule
/// is refused when it is made.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{RecentTypeObject, TypeObjectsGroup};
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
/// // "verb object_type:id activity-ids" for every object group, in feed order.
/// let flatten = |feed: &[TypeObjectsGroup]| {
///     let mut rows = Vec::new();
///     for t in feed {
///         for o in &t.ids {
///             let ids: Vec<_> = o.activities.iter().filter_map(|a| a.id()).collect();
///             rows.push(format!("{} {}:{} {}", t.verb, o.object_type, o.id, ids.join(",")));
///         }
///     }
///     rows
/// };
///
/// let feed = manager.get_feeds("carlos", &RecentTypeObject::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     [
///         "write blog:p1 a6",
///         "write post:p1 a5,a1",
///         "write post:p2 a3",
///         "comment project:project-a a4",
///         "comment post:p1 a2",
///     ]
/// );
///
/// // The newest verb only, with its two most recent objects.
/// let newest = RecentTypeObject::new().types(1)?.objects(2)?;
/// let feed = manager.get_feeds("carlos", &newest).await?.feed;
/// assert_eq!(flatten(&feed), ["write blog:p1 a6", "write post:p1 a5,a1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentTypeObject {
    types: usize,
    objects: usize,
    hits_per_group: usize,
}

impl Default for RecentTypeObject {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentTypeObject {
    /// The default number of verbs: 20.
    pub const DEFAULT_TYPES: usize = 20;
    /// The default number of objects per verb: 20.
    pub const DEFAULT_OBJECTS: usize = 20;
    /// The default number of activities per object: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;

    /// The default sizes: 20 verbs, 20 objects per verb and 20 activities per object.
    pub fn new() -> Self {
        RecentTypeObject {
            types: Self::DEFAULT_TYPES,
            objects: Self::DEFAULT_OBJECTS,
            hits_per_group: Self::DEFAULT_HITS_PER_GROUP,
        }
    }

    /// How many verbs ("types") to list at most, the one with the newest activity first (1 to
    /// 65,535, within the limit on all groups).
    pub fn types(self, types: usize) -> Result<Self> {
        RecentTypeObject { types, ..self }.checked()
    }

    /// How many objects to list per verb at most, the one with the newest activity first (1 to
    /// 65,535, within the limit on all groups).
    pub fn objects(self, objects: usize) -> Result<Self> {
        RecentTypeObject { objects, ..self }.checked()
    }

    /// How many activities to keep per object at most, newest first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        RecentTypeObject {
            hits_per_group,
            ..self
        }
        .checked()
    }

    fn levels(&self) -> [(GroupKey, usize); 2] {
        [
            (GroupKey::Verb, self.types),
            (GroupKey::Object, self.objects),
        ]
    }

    /// Validates the sizes together, with the core's own limits, so a bad setting fails where it
    /// is made rather than when the feed is read.
    fn checked(self) -> Result<Self> {
        FeedQuery::all().group_by(self.levels(), self.hits_per_group)?;
        Ok(self)
    }
}

impl Aggregator for RecentTypeObject {
    type Output = Vec<TypeObjectsGroup>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        FeedQuery::network(feed.network()).group_by(self.levels(), self.hits_per_group)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<TypeObjectsGroup>> {
        shape::each(result.groups, type_objects_group)
    }
}

/// The activities of one verb, by object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeObjectsGroup {
    /// The verb (serialised as `type`, like the activity's own verb field).
    #[serde(rename = "type")]
    pub verb: String,
    /// Its objects, the one with the newest activity first.
    pub ids: Vec<ObjectGroup>,
}

/// The activities on one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectGroup {
    /// The object's id.
    pub id: String,
    /// The object's type: objects are grouped by `(type, id)`.
    pub object_type: String,
    /// The activities, newest first.
    pub activities: Vec<Activity>,
}

const NAME: &str = "RecentTypeObject";

fn type_objects_group(group: Group) -> Result<TypeObjectsGroup> {
    Ok(TypeObjectsGroup {
        verb: shape::verb(NAME, group.value)?,
        ids: shape::each(group.groups, |g| shape::object_group(NAME, g))?,
    })
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MAX_GROUPS, MAX_HITS_PER_GROUP};
    use elasticfeeds::{EntityKey, Error, GroupValue, Ranking};
    use serde_json::json;

    use super::*;
    use crate::test_support::{activity, at, context, group, network};

    fn object(id: &str, kind: &str) -> GroupValue {
        GroupValue::Entity(Some(EntityKey::new(id, kind).unwrap()))
    }

    #[test]
    fn query_has_two_sized_levels() {
        let query = RecentTypeObject::new().query(&context(&network())).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
        assert_eq!(
            grouping.levels,
            [
                GroupLevel {
                    key: GroupKey::Verb,
                    size: 20
                },
                GroupLevel {
                    key: GroupKey::Object,
                    size: 20
                },
            ]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, None);
        assert_eq!(query.ranking, Ranking::Recency);
        assert_eq!(query.source, FeedQuery::network(&network()).source);
        assert_eq!(RecentTypeObject::default(), RecentTypeObject::new());

        let query = RecentTypeObject::new()
            .types(2)
            .unwrap()
            .objects(3)
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
        let agg = RecentTypeObject::new();
        for result in [
            agg.clone().types(0),
            agg.clone().objects(0),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
            // 20 verbs × (1 + 5,000 objects) is more groups than any backend keeps.
            agg.clone().objects(5_000),
            agg.clone().types(5_000),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        // The largest allowed: one verb with MAX_GROUPS - 1 objects, or the other way round.
        let one = agg.clone().types(1).unwrap();
        assert!(one.clone().objects(MAX_GROUPS - 1).is_ok());
        assert!(one.objects(MAX_GROUPS).is_err());
        let wide = agg.objects(1).unwrap();
        assert!(wide.clone().types(MAX_GROUPS / 2).is_ok());
        assert!(wide.types(MAX_GROUPS / 2 + 1).is_err());
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
                    GroupValue::Verb("write".into()),
                    "2024-02-06T10:00:00Z",
                    vec![],
                    vec![
                        group(
                            object("p1", "blog"),
                            "2024-02-06T10:00:00Z",
                            vec![a6.clone()],
                            vec![],
                        ),
                        group(
                            object("p1", "post"),
                            "2024-02-05T10:00:00Z",
                            vec![a5.clone(), a1.clone()],
                            vec![],
                        ),
                    ],
                ),
                group(
                    GroupValue::Verb("comment".into()),
                    "2024-02-02T10:00:00Z",
                    vec![],
                    vec![group(
                        object("p1", "post"),
                        "2024-02-02T10:00:00Z",
                        vec![a2.clone()],
                        vec![],
                    )],
                ),
            ],
        };
        let feed = RecentTypeObject::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            TypeObjectsGroup {
                verb: "write".into(),
                ids: vec![
                    ObjectGroup {
                        id: "p1".into(),
                        object_type: "blog".into(),
                        activities: vec![a6.clone()],
                    },
                    ObjectGroup {
                        id: "p1".into(),
                        object_type: "post".into(),
                        activities: vec![a5.clone(), a1.clone()],
                    },
                ],
            },
            TypeObjectsGroup {
                verb: "comment".into(),
                ids: vec![ObjectGroup {
                    id: "p1".into(),
                    object_type: "post".into(),
                    activities: vec![a2.clone()],
                }],
            },
        ];
        assert_eq!(feed, expected);

        let value = serde_json::to_value(&feed).unwrap();
        let json = |a: &Activity| serde_json::to_value(a).unwrap();
        assert_eq!(
            value,
            json!([
                {"type": "write", "ids": [
                    {"id": "p1", "object_type": "blog", "activities": [json(&a6)]},
                    {"id": "p1", "object_type": "post", "activities": [json(&a5), json(&a1)]},
                ]},
                {"type": "comment", "ids": [
                    {"id": "p1", "object_type": "post", "activities": [json(&a2)]},
                ]},
            ])
        );
        let back: Vec<TypeObjectsGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);

        assert!(RecentTypeObject::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-02-06T10:00:00Z";
        let verb = |v: &str, groups| group(GroupValue::Verb(v.into()), t, vec![], groups);
        let leaf = |value| group(value, t, vec![], vec![]);
        let bad_trees = [
            // An object where a verb belongs.
            vec![group(object("p1", "post"), t, vec![], vec![])],
            // A verb where an object belongs.
            vec![verb("write", vec![leaf(GroupValue::Verb("write".into()))])],
            // No entity where an object belongs.
            vec![verb("write", vec![leaf(GroupValue::Entity(None))])],
            // A day where an object belongs, after a good object group.
            vec![verb(
                "write",
                vec![
                    leaf(object("p1", "post")),
                    leaf(GroupValue::Day(at(t).date_naive())),
                ],
            )],
        ];
        for groups in bad_trees {
            let result = FeedResult {
                groups,
                ..FeedResult::default()
            };
            match RecentTypeObject::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("RecentTypeObject expected"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
