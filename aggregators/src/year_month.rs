//! [`YearMonth`]: a feed grouped by year, then month.

use elasticfeeds::{
    Activity, Aggregator, Error, FeedContext, FeedQuery, FeedResult, Group, GroupKey, Result,
};
use serde::{Deserialize, Serialize};

use crate::shape;

/// A feed grouped by the UTC year, then the UTC month of its activities.
///
/// Output: `Vec<`[`YearMonthsGroup`]`>`, which serialises as
/// `[{"year", "months": [{"month", "activities": [...]}]}]`. Years are listed newest first, and
/// so are the months of a year; the activities of a month are listed newest first.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | years | 10 | 1 to 32,768 | [`YearMonth::years`] |
/// | months per year | 12 | 1 to 12 | [`YearMonth::months`] |
/// | activities per month | 20 | 1 to 100 | [`YearMonth::hits_per_group`] |
/// | months in all (the newest) | 12 | 1 to 65,535, or none | [`YearMonth::groups`], [`YearMonth::all_groups`] |
/// | one calendar year only | all years | 1 to 9998 | [`YearMonth::year`] |
///
/// The number of groups over all levels (`years × (1 + months)`) may not exceed
/// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS) (65,535); a setting that would break that rule
/// is refused when it is made (with 12 months per year, at most 5,041 years).
///
/// Calendar fields are UTC: an activity published at 23:30 on 31 December in New York belongs to
/// January of the next year.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::{YearMonth, YearMonthsGroup};
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
///     ("p1", "like", "2024-03-01T10:00:00Z"),
///     ("p2", "write", "2024-11-05T10:00:00Z"),
///     ("p3", "share", "2024-11-20T10:00:00Z"),
///     ("p4", "write", "2024-11-21T10:00:00Z"),
///     ("p5", "write", "2025-01-10T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, mark.clone(), Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// // (year, month, activity ids) for every month, in feed order.
/// let flatten = |feed: &[YearMonthsGroup]| {
///     let mut rows = Vec::new();
///     for y in feed {
///         for m in &y.months {
///             let ids: Vec<_> = m.activities.iter().filter_map(|a| a.id()).collect();
///             rows.push((y.year, m.month, ids.join(",")));
///         }
///     }
///     rows
/// };
///
/// let feed = manager.get_feeds("carlos", &YearMonth::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     [
///         (2025, 1, "p5".to_string()),
///         (2024, 11, "p4,p3,p2".to_string()),
///         (2024, 3, "p1".to_string()),
///     ]
/// );
///
/// // One year only, its newest month, at most two activities.
/// let only_2024 = YearMonth::new().year(2024)?.months(1)?.hits_per_group(2)?;
/// let feed = manager.get_feeds("carlos", &only_2024).await?.feed;
/// assert_eq!(flatten(&feed), [(2024, 11, "p4,p3".to_string())]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearMonth {
    year: Option<i32>,
    years: usize,
    months: usize,
    hits_per_group: usize,
    groups: Option<usize>,
}

impl Default for YearMonth {
    fn default() -> Self {
        Self::new()
    }
}

impl YearMonth {
    /// The default number of years: 10.
    pub const DEFAULT_YEARS: usize = 10;
    /// The default number of months per year: 12 (all of them).
    pub const DEFAULT_MONTHS: usize = 12;
    /// The default number of activities per month: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;
    /// The default number of months listed in all: 12.
    pub const DEFAULT_GROUPS: usize = 12;

    /// All years, with the default sizes: 10 years, 12 months per year, 20 activities per
    /// month, and the newest 12 months in all.
    pub fn new() -> Self {
        YearMonth {
            year: None,
            years: Self::DEFAULT_YEARS,
            months: Self::DEFAULT_MONTHS,
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

    /// How many years to list at most, newest first (1 to 32,768, within the limit on all
    /// groups).
    pub fn years(self, years: usize) -> Result<Self> {
        YearMonth { years, ..self }.checked()
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
        YearMonth { months, ..self }.checked()
    }

    /// How many activities to keep per month at most, newest first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        YearMonth {
            hits_per_group,
            ..self
        }
        .checked()
    }

    /// Lists only the newest `groups` months in all (1 to
    /// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS)), with the years and months holding them:
    /// a page of the grouped feed. The default, 12, lets a backend stop reading once those
    /// groups are complete, so the cost follows the groups shown rather than the reader's whole
    /// history.
    pub fn groups(self, groups: usize) -> Result<Self> {
        FeedQuery::all()
            .group_by(self.levels(), self.hits_per_group)?
            .group_limit(groups)?;
        Ok(YearMonth {
            groups: Some(groups),
            ..self
        })
    }

    /// Lists every group the level sizes allow, with no limit on months in all. Such a read goes
    /// through every activity the network reaches unless the level sizes fill up first: bound it
    /// with [`YearMonth::year`].
    pub fn all_groups(self) -> Self {
        YearMonth {
            groups: None,
            ..self
        }
    }

    fn levels(&self) -> [(GroupKey, usize); 2] {
        [(GroupKey::Year, self.years), (GroupKey::Month, self.months)]
    }

    /// Validates the sizes together, with the core's own limits, so a bad setting fails where it
    /// is made rather than when the feed is read.
    fn checked(self) -> Result<Self> {
        FeedQuery::all().group_by(self.levels(), self.hits_per_group)?;
        Ok(self)
    }
}

impl Aggregator for YearMonth {
    type Output = Vec<YearMonthsGroup>;

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

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<YearMonthsGroup>> {
        shape::each(result.groups, year_months_group)
    }
}

/// The activities of one UTC year, by month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearMonthsGroup {
    /// The UTC year.
    pub year: i32,
    /// Its months, newest first.
    pub months: Vec<MonthActivitiesGroup>,
}

/// The activities of one UTC month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthActivitiesGroup {
    /// The UTC month, 1 (January) to 12.
    pub month: u32,
    /// The activities, newest first.
    pub activities: Vec<Activity>,
}

const NAME: &str = "YearMonth";

fn year_months_group(group: Group) -> Result<YearMonthsGroup> {
    Ok(YearMonthsGroup {
        year: shape::year(NAME, group.value)?,
        months: shape::each(group.groups, |month| {
            Ok(MonthActivitiesGroup {
                month: shape::month(NAME, month.value)?,
                activities: shape::activities(month.hits),
            })
        })?,
    })
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MAX_GROUPS, MAX_HITS_PER_GROUP};
    use elasticfeeds::{EntityKey, GroupValue, Ranking};
    use serde_json::json;

    use super::*;
    use crate::test_support::{activity, at, context, group, network};

    #[test]
    fn query_has_two_sized_levels() {
        let query = YearMonth::new().query(&context(&network())).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
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
            ]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, Some(12));
        assert_eq!(query.ranking, Ranking::Recency);
        assert_eq!(query.source, FeedQuery::network(&network()).source);
        assert_eq!(query.filter.since, None);
        assert_eq!(query.filter.until, None);
        assert_eq!(YearMonth::default(), YearMonth::new());

        let query = YearMonth::new()
            .year(2024)
            .unwrap()
            .years(2)
            .unwrap()
            .months(3)
            .unwrap()
            .hits_per_group(5)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        query.validate().unwrap();
        assert_eq!(query.filter.since, Some(at("2024-01-01T00:00:00Z")));
        let limits = |aggregator: YearMonth| {
            aggregator
                .query(&context(&network()))
                .unwrap()
                .grouping
                .unwrap()
                .limit
        };
        assert_eq!(limits(YearMonth::new().groups(3).unwrap()), Some(3));
        assert_eq!(limits(YearMonth::new().all_groups()), None);
        assert!(matches!(
            YearMonth::new().groups(0),
            Err(Error::InvalidSize { .. })
        ));
        assert_eq!(query.filter.until, Some(at("2025-01-01T00:00:00Z")));
        let grouping = query.grouping.unwrap();
        let sizes: Vec<_> = grouping.levels.iter().map(|l| l.size).collect();
        assert_eq!(sizes, [2, 3]);
        assert_eq!(grouping.hits_per_group, 5);
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let agg = YearMonth::new();
        for result in [
            agg.clone().years(0),
            agg.clone().months(0),
            agg.clone().months(13),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
            // 5,042 years × (1 + 12 months) is more groups than any backend keeps.
            agg.clone().years(5_042),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        for year in [0, -1, 9_999] {
            assert!(matches!(
                agg.clone().year(year),
                Err(Error::InvalidTimestamp { .. })
            ));
        }
        assert!(agg.clone().year(1).is_ok() && agg.clone().year(9_998).is_ok());
        assert!(agg.clone().years(5_041).is_ok());
        // With one month per year, twice as many years fit.
        let one_month = agg.clone().months(1).unwrap();
        assert!(one_month.clone().years(MAX_GROUPS / 2).is_ok());
        assert!(one_month.years(MAX_GROUPS / 2 + 1).is_err());
        // Twelve months again would break the limit with 10,000 years: refused.
        let many_years = agg.clone().months(1).unwrap().years(10_000).unwrap();
        assert!(matches!(
            many_years.months(12),
            Err(Error::InvalidSize { .. })
        ));
        assert!(agg.hits_per_group(MAX_HITS_PER_GROUP).is_ok());
    }

    #[test]
    fn shapes_the_group_tree() {
        let p1 = activity("p1", "like", ("p1", "post"), "2024-03-01T10:00:00Z");
        let p2 = activity("p2", "write", ("p2", "post"), "2024-11-05T10:00:00Z");
        let p3 = activity("p3", "share", ("p3", "post"), "2024-11-20T10:00:00Z");
        let p5 = activity("p5", "write", ("p5", "post"), "2025-01-10T10:00:00Z");
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
                        vec![p5.clone()],
                        vec![],
                    )],
                ),
                group(
                    GroupValue::Year(2024),
                    "2024-11-20T10:00:00Z",
                    vec![],
                    vec![
                        group(
                            GroupValue::Month(11),
                            "2024-11-20T10:00:00Z",
                            vec![p3.clone(), p2.clone()],
                            vec![],
                        ),
                        group(
                            GroupValue::Month(3),
                            "2024-03-01T10:00:00Z",
                            vec![p1.clone()],
                            vec![],
                        ),
                    ],
                ),
            ],
        };
        let feed = YearMonth::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            YearMonthsGroup {
                year: 2025,
                months: vec![MonthActivitiesGroup {
                    month: 1,
                    activities: vec![p5.clone()],
                }],
            },
            YearMonthsGroup {
                year: 2024,
                months: vec![
                    MonthActivitiesGroup {
                        month: 11,
                        activities: vec![p3.clone(), p2.clone()],
                    },
                    MonthActivitiesGroup {
                        month: 3,
                        activities: vec![p1.clone()],
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
                {"year": 2025, "months": [{"month": 1, "activities": [json(&p5)]}]},
                {"year": 2024, "months": [
                    {"month": 11, "activities": [json(&p3), json(&p2)]},
                    {"month": 3, "activities": [json(&p1)]},
                ]},
            ])
        );
        let back: Vec<YearMonthsGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);

        assert!(YearMonth::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-11-21T10:00:00Z";
        let month = |m: u32| group(GroupValue::Month(m), t, vec![], vec![]);
        let year = |y: i32, groups| group(GroupValue::Year(y), t, vec![], groups);
        let entity = GroupValue::Entity(Some(EntityKey::new("mark", "person").unwrap()));
        let bad_trees = [
            // A month where a year belongs.
            vec![month(11)],
            // A verb where a year belongs.
            vec![group(GroupValue::Verb("write".into()), t, vec![], vec![])],
            // A year where a month belongs.
            vec![year(2024, vec![year(2024, vec![])])],
            // An entity where a month belongs.
            vec![year(2024, vec![group(entity, t, vec![], vec![])])],
            // A day where a month belongs.
            vec![year(
                2024,
                vec![group(
                    GroupValue::Day(at(t).date_naive()),
                    t,
                    vec![],
                    vec![],
                )],
            )],
            // Months out of range.
            vec![year(2024, vec![month(11), month(13)])],
            vec![year(2024, vec![month(0)])],
        ];
        for groups in bad_trees {
            let result = FeedResult {
                groups,
                ..FeedResult::default()
            };
            match YearMonth::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("YearMonth expected"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
