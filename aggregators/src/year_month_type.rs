//! [`YearMonthType`]: a feed grouped by year, then month, then verb.

use elasticfeeds::{
    Activity, Aggregator, Error, FeedContext, FeedQuery, FeedResult, Group, GroupKey, Result,
};
use serde::{Deserialize, Serialize};

use crate::shape;

/// A feed grouped by the UTC year, then the UTC month, then the verb ("type") of its activities.
///
/// Output: `Vec<`[`YearGroup`]`>`, which serialises as
/// `[{"year", "months": [{"month", "types": [{"type", "activities": [...]}]}]}]`. Years are
/// listed newest first, and so are the months of a year and the verbs of a month: each group is
/// ordered by its newest activity. The activities of a verb group are listed newest first.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | years | 10 | 1 to 65,535 | [`YearMonthType::years`] |
/// | months per year | 12 | 1 to 12 | [`YearMonthType::months`] |
/// | verbs per month | 20 | 1 to 65,535 | [`YearMonthType::types`] |
/// | activities per verb group | 20 | 1 to 100 | [`YearMonthType::hits_per_group`] |
/// | verb groups in all (the newest) | 20 | 1 to 65,535, or none | [`YearMonthType::groups`], [`YearMonthType::all_groups`] |
/// | one calendar year only | all years | 1 to 9998 | [`YearMonthType::year`] |
///
/// The number of groups over all levels (`years × (1 + months × (1 + types))`) may not exceed
/// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS) (65,535); a setting that would break that rule is refused when it is made.
///
/// Calendar fields are UTC: an activity published at 23:30 on 31 December in New York belongs to
/// January of the next year.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{YearGroup, YearMonthType};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .linked_at(at("2024-01-01T00:00:00Z"))?;
/// manager.add_link(follow).await?;
///
/// let mark = Actor::new("mark", "person")?;
/// for (id, verb, published) in [
///     ("p0", "write", "2023-12-31T23:59:59Z"), // before the follow: never in carlos's feed
///     ("p1", "write", "2024-11-05T10:00:00Z"),
///     ("p2", "share", "2024-11-20T10:00:00Z"),
///     ("p3", "write", "2024-11-21T10:00:00Z"),
///     ("p4", "write", "2025-01-10T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, mark.clone(), Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// // (year, month, verb, activity ids) for every verb group, in feed order.
/// let flatten = |feed: &[YearGroup]| {
///     let mut rows = Vec::new();
///     for y in feed {
///         for m in &y.months {
///             for t in &m.types {
///                 let ids: Vec<_> = t.activities.iter().filter_map(|a| a.id()).collect();
///                 rows.push((y.year, m.month, t.verb.clone(), ids.join(",")));
///             }
///         }
///     }
///     rows
/// };
///
/// let feed = manager.get_feeds("carlos", &YearMonthType::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     [
///         (2025, 1, "write".to_string(), "p4".to_string()),
///         (2024, 11, "write".to_string(), "p3,p1".to_string()),
///         (2024, 11, "share".to_string(), "p2".to_string()),
///     ]
/// );
///
/// // One year only, at most one activity per verb group.
/// let only_2024 = YearMonthType::new().year(2024)?.hits_per_group(1)?;
/// let feed = manager.get_feeds("carlos", &only_2024).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     [
///         (2024, 11, "write".to_string(), "p3".to_string()),
///         (2024, 11, "share".to_string(), "p2".to_string()),
///     ]
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearMonthType {
    year: Option<i32>,
    years: usize,
    months: usize,
    types: usize,
    hits_per_group: usize,
    groups: Option<usize>,
}

impl Default for YearMonthType {
    fn default() -> Self {
        Self::new()
    }
}

impl YearMonthType {
    /// The default number of years: 10.
    pub const DEFAULT_YEARS: usize = 10;
    /// The default number of months per year: 12 (all of them).
    pub const DEFAULT_MONTHS: usize = 12;
    /// The default number of verbs per month: 20.
    pub const DEFAULT_TYPES: usize = 20;
    /// The default number of activities per verb group: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;
    /// The default number of verb groups listed in all: 20.
    pub const DEFAULT_GROUPS: usize = 20;

    /// All years, with the default sizes: 10 years, 12 months per year, 20 verbs per month,
    /// 20 activities per verb group, and the newest 20 verb groups in all.
    pub fn new() -> Self {
        YearMonthType {
            year: None,
            years: Self::DEFAULT_YEARS,
            months: Self::DEFAULT_MONTHS,
            types: Self::DEFAULT_TYPES,
            hits_per_group: Self::DEFAULT_HITS_PER_GROUP,
            groups: Some(Self::DEFAULT_GROUPS),
        }
    }

    /// Keeps only activities published in this UTC calendar year (1 to 9998; anything else is
    /// [`Error::InvalidTimestamp`]).
    pub fn year(mut self, year: i32) -> Result<Self> {
        FeedQuery::all().year(year)?;
        self.year = Some(year);
        Ok(self)
    }

    /// How many years to list at most, newest first (1 to 65,535).
    pub fn years(self, years: usize) -> Result<Self> {
        YearMonthType { years, ..self }.checked()
    }

    /// How many months to list per year at most, newest first (1 to 12).
    pub fn months(self, months: usize) -> Result<Self> {
        if !(1..=12).contains(&months) {
            return Err(Error::InvalidSize {
                what: "months per year",
                value: months as u64,
                min: 1,
                max: 12,
            });
        }
        YearMonthType { months, ..self }.checked()
    }

    /// How many verbs ("types") to list per month at most, newest first (1 to 65,535).
    pub fn types(self, types: usize) -> Result<Self> {
        YearMonthType { types, ..self }.checked()
    }

    /// How many activities to keep per verb group at most, newest first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        YearMonthType {
            hits_per_group,
            ..self
        }
        .checked()
    }

    /// Lists only the newest `groups` (year, month, verb) groups in all (1 to
    /// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS)), with the years and months holding them:
    /// a page of the grouped feed. The default, 20, lets a backend stop reading once those
    /// groups are complete, so the cost follows the groups shown rather than the reader's whole
    /// history.
    pub fn groups(self, groups: usize) -> Result<Self> {
        FeedQuery::all()
            .group_by(self.levels(), self.hits_per_group)?
            .group_limit(groups)?;
        Ok(YearMonthType {
            groups: Some(groups),
            ..self
        })
    }

    /// Lists every group the level sizes allow, with no limit on (year, month, verb) groups in all. Such a read goes
    /// through every activity the network reaches unless the level sizes fill up first: bound it
    /// with [`YearMonthType::year`].
    pub fn all_groups(self) -> Self {
        YearMonthType {
            groups: None,
            ..self
        }
    }

    fn levels(&self) -> [(GroupKey, usize); 3] {
        [
            (GroupKey::Year, self.years),
            (GroupKey::Month, self.months),
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

impl Aggregator for YearMonthType {
    type Output = Vec<YearGroup>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let mut query = FeedQuery::network(feed.network());
        if let Some(year) = self.year {
            query = query.year(year)?;
        }
        let query = query.group_by(self.levels(), self.hits_per_group)?;
        match self.groups {
            Some(groups) => query.group_limit(groups),
            None => Ok(query),
        }
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<YearGroup>> {
        shape::each(result.groups, year_group)
    }
}

/// The activities of one UTC year, by month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearGroup {
    /// The UTC year.
    pub year: i32,
    /// Its months, newest first.
    pub months: Vec<MonthGroup>,
}

/// The activities of one UTC month, by verb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthGroup {
    /// The UTC month, 1 (January) to 12.
    pub month: u32,
    /// Its verbs, the one with the newest activity first.
    pub types: Vec<TypeGroup>,
}

/// The activities of one verb in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeGroup {
    /// The verb (serialised as `type`, like the activity's own verb field).
    #[serde(rename = "type")]
    pub verb: String,
    /// The activities, newest first.
    pub activities: Vec<Activity>,
}

const NAME: &str = "YearMonthType";

fn year_group(group: Group) -> Result<YearGroup> {
    Ok(YearGroup {
        year: shape::year(NAME, group.value)?,
        months: shape::each(group.groups, month_group)?,
    })
}

fn month_group(group: Group) -> Result<MonthGroup> {
    Ok(MonthGroup {
        month: shape::month(NAME, group.value)?,
        types: shape::each(group.groups, |g| shape::type_group(NAME, g))?,
    })
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MAX_HITS_PER_GROUP};
    use elasticfeeds::{Actor, EntityKey, GroupValue, Hit, Object};
    use serde_json::json;

    use super::*;
    use crate::test_support::{at, context, network};

    fn activity(id: &str, verb: &str, published: &str) -> Activity {
        Activity::new(
            verb,
            Actor::new("mark", "person").unwrap(),
            Object::new(id, "post").unwrap(),
        )
        .unwrap()
        .with_id(id)
        .unwrap()
        .published_at(at(published))
        .unwrap()
    }

    fn group(value: GroupValue, newest: &str, hits: Vec<Activity>, groups: Vec<Group>) -> Group {
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

    #[test]
    fn query_has_three_sized_levels() {
        let query = YearMonthType::new().query(&context(&network())).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.unwrap();
        assert_eq!(
            grouping.levels,
            [
                GroupLevel {
                    key: GroupKey::Year,
                    size: 10
                },
                GroupLevel {
                    key: GroupKey::Month,
                    size: 12
                },
                GroupLevel {
                    key: GroupKey::Verb,
                    size: 20
                },
            ]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, Some(YearMonthType::DEFAULT_GROUPS));
        let unlimited = YearMonthType::new().all_groups();
        let query = unlimited.query(&context(&network())).unwrap();
        assert_eq!(query.grouping.unwrap().limit, None);
        assert!(matches!(
            YearMonthType::new().groups(0),
            Err(Error::InvalidSize { .. })
        ));
        assert_eq!(query.filter.since, None);
        assert_eq!(query.filter.until, None);

        let query = YearMonthType::new()
            .year(2024)
            .unwrap()
            .years(2)
            .unwrap()
            .months(3)
            .unwrap()
            .types(4)
            .unwrap()
            .hits_per_group(5)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        query.validate().unwrap();
        assert_eq!(query.filter.since, Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(query.filter.until, Some(at("2025-01-01T00:00:00Z")));
        let grouping = query.grouping.unwrap();
        let sizes: Vec<_> = grouping.levels.iter().map(|l| l.size).collect();
        assert_eq!(sizes, [2, 3, 4]);
        assert_eq!(grouping.hits_per_group, 5);
    }

    #[test]
    fn bad_sizes_are_typed_errors() {
        let agg = YearMonthType::new();
        for result in [
            agg.clone().years(0),
            agg.clone().months(0),
            agg.clone().months(13),
            agg.clone().types(0),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
            // 10 years × 12 months × 1,000 verbs is more groups than any backend keeps.
            agg.clone().types(1_000),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        assert!(matches!(
            agg.clone().year(0),
            Err(Error::InvalidTimestamp { .. })
        ));
        assert!(agg.clone().years(1).unwrap().types(1_000).is_ok());
        assert!(agg.hits_per_group(MAX_HITS_PER_GROUP).is_ok());
    }

    #[test]
    fn shapes_the_group_tree() {
        let p1 = activity("p1", "write", "2024-11-05T10:00:00Z");
        let p2 = activity("p2", "share", "2024-11-20T10:00:00Z");
        let p3 = activity("p3", "write", "2024-11-21T10:00:00Z");
        let p4 = activity("p4", "write", "2025-01-10T10:00:00Z");
        let result = FeedResult {
            hits: Vec::new(),
            more: false,
            groups: vec![
                group(
                    GroupValue::Year(2025),
                    "2025-01-10T10:00:00Z",
                    vec![],
                    vec![group(
                        GroupValue::Month(1),
                        "2025-01-10T10:00:00Z",
                        vec![],
                        vec![group(
                            GroupValue::Verb("write".into()),
                            "2025-01-10T10:00:00Z",
                            vec![p4.clone()],
                            vec![],
                        )],
                    )],
                ),
                group(
                    GroupValue::Year(2024),
                    "2024-11-21T10:00:00Z",
                    vec![],
                    vec![group(
                        GroupValue::Month(11),
                        "2024-11-21T10:00:00Z",
                        vec![],
                        vec![
                            group(
                                GroupValue::Verb("write".into()),
                                "2024-11-21T10:00:00Z",
                                vec![p3.clone(), p1.clone()],
                                vec![],
                            ),
                            group(
                                GroupValue::Verb("share".into()),
                                "2024-11-20T10:00:00Z",
                                vec![p2.clone()],
                                vec![],
                            ),
                        ],
                    )],
                ),
            ],
        };
        let feed = YearMonthType::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            YearGroup {
                year: 2025,
                months: vec![MonthGroup {
                    month: 1,
                    types: vec![TypeGroup {
                        verb: "write".into(),
                        activities: vec![p4.clone()],
                    }],
                }],
            },
            YearGroup {
                year: 2024,
                months: vec![MonthGroup {
                    month: 11,
                    types: vec![
                        TypeGroup {
                            verb: "write".into(),
                            activities: vec![p3.clone(), p1.clone()],
                        },
                        TypeGroup {
                            verb: "share".into(),
                            activities: vec![p2.clone()],
                        },
                    ],
                }],
            },
        ];
        assert_eq!(feed, expected);

        // The serialised shape, field names included, and back.
        let value = serde_json::to_value(&feed).unwrap();
        assert_eq!(
            value,
            json!([
                {"year": 2025, "months": [
                    {"month": 1, "types": [
                        {"type": "write", "activities": [serde_json::to_value(&p4).unwrap()]},
                    ]},
                ]},
                {"year": 2024, "months": [
                    {"month": 11, "types": [
                        {"type": "write", "activities": [
                            serde_json::to_value(&p3).unwrap(),
                            serde_json::to_value(&p1).unwrap(),
                        ]},
                        {"type": "share", "activities": [serde_json::to_value(&p2).unwrap()]},
                    ]},
                ]},
            ])
        );
        let back: Vec<YearGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);
    }

    #[test]
    fn empty_result_is_an_empty_feed() {
        assert!(YearMonthType::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-11-21T10:00:00Z";
        let verb = |v: &str| group(GroupValue::Verb(v.into()), t, vec![], vec![]);
        let month = |m: u32, groups| group(GroupValue::Month(m), t, vec![], groups);
        let year = |y: i32, groups| group(GroupValue::Year(y), t, vec![], groups);
        let entity = GroupValue::Entity(Some(EntityKey::new("mark", "person").unwrap()));
        let bad_trees = [
            // A month where a year belongs.
            vec![month(11, vec![verb("write")])],
            // A verb where a month belongs.
            vec![year(2024, vec![verb("write")])],
            // An entity where a verb belongs.
            vec![year(
                2024,
                vec![month(11, vec![group(entity, t, vec![], vec![])])],
            )],
            // A year where a verb belongs.
            vec![year(2024, vec![month(11, vec![year(2024, vec![])])])],
            // A month out of range.
            vec![year(2024, vec![month(13, vec![verb("write")])])],
            vec![year(2024, vec![month(0, vec![])])],
        ];
        for groups in bad_trees {
            let result = FeedResult {
                groups,
                ..FeedResult::default()
            };
            match YearMonthType::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("YearMonthType expected"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
