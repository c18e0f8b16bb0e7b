//! [`DateWeight`]: a feed grouped by day, each day ranked by the weight of the follows.

use elasticfeeds::query::Source;
use elasticfeeds::{
    Activity, Aggregator, FeedContext, FeedQuery, FeedResult, Group, GroupKey, LinkClass, Ranking,
    Result,
};
use serde::{Deserialize, Serialize};

use crate::shape;

/// A feed grouped by the UTC day of its activities, each day's activities ranked by the weight
/// of the follow that brought them.
///
/// Output: `Vec<`[`DateGroup`]`>`, which serialises as `[{"date": "YYYY-MM-DD", "activities":
/// [...]}]`. Days are listed newest first. Within a day, activities are listed by the
/// [weight](elasticfeeds::Link::with_weight) of the follow that brought them, highest first (the
/// highest of them when several links reach one activity), then newest first.
///
/// As in the original ElasticFeeds, only actor links (follows) count: watches of objects are
/// ignored, so a network of watches alone gives an empty feed.
///
/// Every level has an explicit size, so nothing is cut silently to a backend's default:
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | days | 10 | 1 to 65,535 | [`DateWeight::days`] |
/// | activities per day | 20 | 1 to 100 | [`DateWeight::hits_per_group`] |
///
/// Days are UTC: an activity published at 23:30 on 1 February in New York belongs to 2 February.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object, Target};
/// use elasticfeeds_aggregators::{DateGroup, DateWeight};
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let since = at("2024-01-01T00:00:00Z");
/// let manager = Manager::memory().await?;
/// // carlos follows mark (weight 1, the default) and jane (weight 5), and watches project-a
/// // with a high weight: DateWeight ignores watches.
/// let links = [
///     Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?.linked_at(since)?,
///     Link::new("carlos", "follow", LinkTarget::actor("jane", "person")?)?
///         .linked_at(since)?
///         .with_weight(5.0)?,
///     Link::new("carlos", "watch", LinkTarget::object("project-a", "project")?)?
///         .linked_at(since)?
///         .with_weight(10.0)?,
///     // ann only watches.
///     Link::new("ann", "watch", LinkTarget::object("project-a", "project")?)?.linked_at(since)?,
/// ];
/// for link in links {
///     manager.add_link(link).await?;
/// }
///
/// for (id, actor, published) in [
///     ("a1", "mark", "2024-02-01T08:00:00Z"),
///     ("a2", "jane", "2024-02-01T07:00:00Z"),
///     ("a3", "mark", "2024-02-01T09:00:00Z"), // on project-a: the watch does not raise it
///     ("a4", "bob", "2024-02-01T10:00:00Z"),  // on project-a, by someone carlos does not follow
///     ("a5", "mark", "2024-02-02T10:00:00Z"),
///     ("a6", "mark", "2024-02-03T09:00:00Z"),
///     ("a7", "jane", "2024-02-03T08:00:00Z"),
/// ] {
///     let mut activity =
///         Activity::new("write", Actor::new(actor, "person")?, Object::new(id, "post")?)?
///             .with_id(id)?
///             .published_at(at(published))?;
///     if id == "a3" || id == "a4" {
///         activity = activity.with_target(Target::new("project-a", "project")?);
///     }
///     manager.add_activity(activity).await?;
/// }
///
/// // (date, activity ids) for every day, in feed order.
/// let flatten = |feed: &[DateGroup]| -> Vec<(String, String)> {
///     feed.iter()
///         .map(|d| {
///             let ids: Vec<_> = d.activities.iter().filter_map(|a| a.id()).collect();
///             (d.date.clone(), ids.join(","))
///         })
///         .collect()
/// };
/// let rows = |rows: &[(&str, &str)]| -> Vec<(String, String)> {
///     rows.iter().map(|(d, ids)| (d.to_string(), ids.to_string())).collect()
/// };
///
/// let feed = manager.get_feeds("carlos", &DateWeight::new()).await?.feed;
/// assert_eq!(
///     flatten(&feed),
///     rows(&[
///         ("2024-02-03", "a7,a6"),    // jane's weight 5 first, though older
///         ("2024-02-02", "a5"),
///         ("2024-02-01", "a2,a3,a1"), // then mark's, newest first; bob's a4 only matched the watch
///     ])
/// );
///
/// // The two newest days, their best activity only.
/// let best = DateWeight::new().days(2)?.hits_per_group(1)?;
/// let feed = manager.get_feeds("carlos", &best).await?.feed;
/// assert_eq!(flatten(&feed), rows(&[("2024-02-03", "a7"), ("2024-02-02", "a5")]));
///
/// // Watches alone give an empty feed.
/// assert!(manager.get_feeds("ann", &DateWeight::new()).await?.feed.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateWeight {
    days: usize,
    hits_per_group: usize,
}

impl Default for DateWeight {
    fn default() -> Self {
        Self::new()
    }
}

impl DateWeight {
    /// The default number of days: 10.
    pub const DEFAULT_DAYS: usize = 10;
    /// The default number of activities per day: 20.
    pub const DEFAULT_HITS_PER_GROUP: usize = 20;

    /// The default sizes: 10 days, 20 activities per day.
    pub fn new() -> Self {
        DateWeight {
            days: Self::DEFAULT_DAYS,
            hits_per_group: Self::DEFAULT_HITS_PER_GROUP,
        }
    }

    /// How many days to list at most, newest first (1 to
    /// [`MAX_GROUPS`](elasticfeeds::query::MAX_GROUPS), which is 65,535). Days without
    /// activities are not listed.
    pub fn days(self, days: usize) -> Result<Self> {
        DateWeight { days, ..self }.checked()
    }

    /// How many activities to keep per day at most, the best ranked first (1 to
    /// [`MAX_HITS_PER_GROUP`](elasticfeeds::query::MAX_HITS_PER_GROUP), which is 100).
    pub fn hits_per_group(self, hits_per_group: usize) -> Result<Self> {
        DateWeight {
            hits_per_group,
            ..self
        }
        .checked()
    }

    fn levels(&self) -> [(GroupKey, usize); 1] {
        [(GroupKey::Day, self.days)]
    }

    /// Validates the sizes with the core's own limits, so a bad setting fails where it is made.
    fn checked(self) -> Result<Self> {
        FeedQuery::all().group_by(self.levels(), self.hits_per_group)?;
        Ok(self)
    }
}

impl Aggregator for DateWeight {
    type Output = Vec<DateGroup>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let mut query = FeedQuery::network(feed.network());
        // Only follows of actors count; watches of objects are left out.
        if let Source::Network(rules) = query.source {
            query.source = Source::Network(rules.only(LinkClass::Actor));
        }
        query.ranking = Ranking::LinkWeight;
        query.group_by(self.levels(), self.hits_per_group)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<DateGroup>> {
        shape::each(result.groups, date_group)
    }
}

/// The activities of one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateGroup {
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// The activities, by the weight of the follow that brought them, then newest first.
    pub activities: Vec<Activity>,
}

fn date_group(group: Group) -> Result<DateGroup> {
    Ok(DateGroup {
        date: shape::date("DateWeight", group.value)?,
        activities: shape::activities(group.hits),
    })
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::{GroupLevel, MatchRule, MAX_GROUPS, MAX_HITS_PER_GROUP};
    use elasticfeeds::{EntityKey, Error, GroupValue, Link, LinkTarget, Network};
    use serde_json::json;

    use super::*;
    use crate::test_support::{activity, at, context, group, network};

    fn rules(query: &FeedQuery) -> Vec<MatchRule> {
        match &query.source {
            Source::Network(rules) => rules.to_vec().unwrap(),
            Source::All => panic!("a feed reads a network"),
        }
    }

    /// carlos follows mark (weight 1) and jane (weight 5) and watches project-a (weight 10).
    fn mixed_network() -> Network {
        let since = at("2024-01-01T00:00:00Z");
        let link = |link_type: &str, target: LinkTarget, weight: f64| {
            Link::new("carlos", link_type, target)
                .unwrap()
                .linked_at(since)
                .unwrap()
                .with_weight(weight)
                .unwrap()
        };
        let links = vec![
            link(
                "watch",
                LinkTarget::object("project-a", "project").unwrap(),
                10.0,
            ),
            link("follow", LinkTarget::actor("jane", "person").unwrap(), 5.0),
            link("follow", LinkTarget::actor("mark", "person").unwrap(), 1.0),
        ];
        let total = links.len() as u64;
        Network::new("carlos", links, total)
    }

    #[test]
    fn query_ranks_by_link_weight_over_follows_only() {
        let network = mixed_network();
        let query = DateWeight::new().query(&context(&network)).unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.clone().unwrap();
        assert_eq!(
            grouping.levels,
            [GroupLevel {
                key: GroupKey::Day,
                size: 10
            }]
        );
        assert_eq!(grouping.hits_per_group, 20);
        assert!(grouping.metrics.is_empty());
        assert_eq!(grouping.limit, None);
        assert_eq!(query.ranking, Ranking::LinkWeight);
        assert_eq!(DateWeight::default(), DateWeight::new());

        // The watch is gone; the follows keep their entity, time and weight, in network order.
        let all = FeedQuery::network(&network);
        assert_eq!(rules(&query), rules(&all)[1..]);
        let kept: Vec<_> = rules(&query)
            .iter()
            .map(|r| (r.class, r.entity.to_string(), r.weight))
            .collect();
        assert_eq!(
            kept,
            [
                (LinkClass::Actor, "person:jane".to_string(), 5.0),
                (LinkClass::Actor, "person:mark".to_string(), 1.0),
            ]
        );
        assert!(rules(&query)
            .iter()
            .all(|r| r.since == at("2024-01-01T00:00:00Z")));

        let query = DateWeight::new()
            .days(3)
            .unwrap()
            .hits_per_group(4)
            .unwrap()
            .query(&context(&network))
            .unwrap();
        query.validate().unwrap();
        let grouping = query.grouping.unwrap();
        assert_eq!(grouping.levels[0].size, 3);
        assert_eq!(grouping.hits_per_group, 4);
    }

    #[test]
    fn watches_alone_match_nothing() {
        let mut links = mixed_network().links().unwrap();
        links.retain(|l| l.target().class == LinkClass::Object);
        let network = Network::new("carlos", links, 1);
        let query = DateWeight::new().query(&context(&network)).unwrap();
        query.validate().unwrap();
        assert!(rules(&query).is_empty());
        // The shared fixture's one follow is kept.
        let query = DateWeight::new().query(&context(&crate::test_support::network()));
        assert_eq!(rules(&query.unwrap()).len(), 1);
    }

    #[test]
    fn bad_sizes_are_typed_errors() {
        let agg = DateWeight::new();
        for result in [
            agg.clone().days(0),
            agg.clone().days(MAX_GROUPS + 1),
            agg.clone().hits_per_group(0),
            agg.clone().hits_per_group(MAX_HITS_PER_GROUP + 1),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidSize { .. })),
                "{result:?}"
            );
        }
        assert!(agg.clone().days(MAX_GROUPS).is_ok());
        assert!(agg.hits_per_group(MAX_HITS_PER_GROUP).is_ok());
    }

    #[test]
    fn shapes_the_days_and_drops_the_scores() {
        let a7 = activity("a7", "write", ("a7", "post"), "2024-02-03T08:00:00Z");
        let a6 = activity("a6", "write", ("a6", "post"), "2024-02-03T09:00:00Z");
        let a5 = activity("a5", "write", ("a5", "post"), "2024-02-02T10:00:00Z");
        let day = |s: &str| GroupValue::Day(at(s).date_naive());
        let mut newest = group(
            day("2024-02-03T00:00:00Z"),
            "2024-02-03T09:00:00Z",
            vec![a7.clone(), a6.clone()],
            vec![],
        );
        newest.hits[0].score = Some(5.0);
        newest.hits[1].score = Some(1.0);
        let mut older = group(
            day("2024-02-02T00:00:00Z"),
            "2024-02-02T10:00:00Z",
            vec![a5.clone()],
            vec![],
        );
        older.hits[0].score = Some(1.0);
        let result = FeedResult {
            hits: Vec::new(),
            more: false,
            groups: vec![newest, older],
        };
        let feed = DateWeight::new()
            .shape(result, &context(&network()))
            .unwrap();
        let expected = vec![
            DateGroup {
                date: "2024-02-03".into(),
                activities: vec![a7.clone(), a6.clone()],
            },
            DateGroup {
                date: "2024-02-02".into(),
                activities: vec![a5.clone()],
            },
        ];
        assert_eq!(feed, expected);

        let value = serde_json::to_value(&feed).unwrap();
        let json = |a: &Activity| serde_json::to_value(a).unwrap();
        assert_eq!(
            value,
            json!([
                {"date": "2024-02-03", "activities": [json(&a7), json(&a6)]},
                {"date": "2024-02-02", "activities": [json(&a5)]},
            ])
        );
        let back: Vec<DateGroup> = serde_json::from_value(value).unwrap();
        assert_eq!(back, expected);

        assert!(DateWeight::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_group_values_are_errors() {
        let t = "2024-02-03T10:00:00Z";
        let entity = GroupValue::Entity(Some(EntityKey::new("mark", "person").unwrap()));
        let day = group(GroupValue::Day(at(t).date_naive()), t, vec![], vec![]);
        for value in [
            GroupValue::Year(2024),
            GroupValue::Month(2),
            GroupValue::Verb("write".into()),
            entity,
        ] {
            let result = FeedResult {
                groups: vec![day.clone(), group(value, t, vec![], vec![])],
                ..FeedResult::default()
            };
            match DateWeight::new().shape(result, &context(&network())) {
                Err(Error::InvalidQuery { reason }) => {
                    assert!(reason.contains("DateWeight expected a day"), "{reason}")
                }
                other => panic!("expected InvalidQuery, got {other:?}"),
            }
        }
    }
}
