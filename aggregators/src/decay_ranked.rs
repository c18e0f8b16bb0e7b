//! [`DecayRanked`]: the best activities first, by recency decay times follow weight.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use elasticfeeds::{
    Activity, Aggregator, Decay, Error, FeedContext, FeedQuery, FeedResult, Ranking, Result,
};

/// A flat feed ranked by how recent an activity is, times how much the reader cares about who
/// (or what) brought it: best first, one page at a time.
///
/// An activity scores `weight × decay^((max(0, |published − origin| − offset) / scale)²)`, the
/// Gaussian decay of Elasticsearch's `gauss` function, where `weight` is the highest weight of
/// the reader's links that reach it ([`Link::with_weight`](elasticfeeds::Link::with_weight);
/// 1 by default). Published within `offset` of `origin`, an activity keeps its whole weight;
/// `offset + scale` away, it keeps `decay` of it; twice that, `decay⁴`. Equal scores list the
/// newer activity first, then the higher id.
///
/// Output: `Vec<Activity>`, best first (the scores are not part of it). Serialised, that is a
/// JSON list of activity documents.
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | scale | 7 days | at least 1 ms | [`DecayRanked::scale`] |
/// | offset | 0 | 0 or more | [`DecayRanked::offset`] |
/// | decay (the score at `offset + scale`) | 0.5 | strictly between 0 and 1 | [`DecayRanked::decay`] |
/// | origin (the time that scores best) | now, when the query is built | years 1 to 9999 | [`DecayRanked::origin`] |
/// | page size | 20 | 1 to 10,000 | [`DecayRanked::page_size`] |
///
/// Durations and the origin are kept to the millisecond (finer digits are dropped), as every
/// backend scores them. A bad setting is refused when it is made: a scale, offset or decay out of
/// range is [`Error::InvalidQuery`], an origin out of range [`Error::InvalidTimestamp`], a page
/// size out of range [`Error::InvalidSize`].
///
/// The next page continues below the last score shown, which only a score can say, so page a
/// ranked feed with [`Cursor`](crate::Cursor): its cursor also keeps the origin of the first
/// page, so that "now" does not move under a reader scrolling down.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use chrono::Duration;
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
/// use elasticfeeds_aggregators::DecayRanked;
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// // carlos cares three times more about ana than about mark.
/// for (followed, weight) in [("mark", 1.0), ("ana", 3.0)] {
///     let follow = Link::new("carlos", "follow", LinkTarget::actor(followed, "person")?)?
///         .linked_at(at("2024-01-01T00:00:00Z"))?
///         .with_weight(weight)?;
///     manager.add_link(follow).await?;
/// }
///
/// for (id, actor, published) in [
///     ("m1", "mark", "2024-03-10T12:00:00Z"), // at the origin
///     ("a1", "ana", "2024-03-09T12:00:00Z"),  // one day before
///     ("m2", "mark", "2024-03-09T00:00:00Z"), // a day and a half before
///     ("a2", "ana", "2024-03-08T12:00:00Z"),  // two days before
/// ] {
///     let activity = Activity::new("write", Actor::new(actor, "person")?, Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// let ids = |feed: &[Activity]| -> Vec<String> {
///     feed.iter().filter_map(|a| a.id().map(str::to_owned)).collect()
/// };
///
/// // Half the score per day away from the origin (squared: a Gaussian):
/// // a1 = 3 × 0.5 = 1.5, m1 = 1, m2 = 0.5^2.25 ≈ 0.21, a2 = 3 × 0.5^4 ≈ 0.19.
/// let daily = DecayRanked::new()
///     .origin(at("2024-03-10T12:00:00Z"))?
///     .scale(Duration::days(1))?;
/// let feed = manager.get_feeds("carlos", &daily).await?.feed;
/// assert_eq!(ids(&feed), ["a1", "m1", "m2", "a2"]);
///
/// // Anything within a day of the origin keeps its whole weight:
/// // a1 = 3, a2 = 3 × 0.5 = 1.5, m1 = 1, m2 = 0.5^0.25 ≈ 0.84.
/// let a_day_flat = daily.clone().offset(Duration::days(1))?;
/// let feed = manager.get_feeds("carlos", &a_day_flat).await?.feed;
/// assert_eq!(ids(&feed), ["a1", "a2", "m1", "m2"]);
///
/// // The best two.
/// let top = daily.page_size(2)?;
/// assert_eq!(ids(&manager.get_feeds("carlos", &top).await?.feed), ["a1", "m1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DecayRanked {
    scale_ms: u64,
    offset_ms: u64,
    decay: f64,
    origin: Option<DateTime<Utc>>,
    page_size: usize,
}

impl Default for DecayRanked {
    fn default() -> Self {
        Self::new()
    }
}

impl DecayRanked {
    /// The default scale: 7 days.
    pub const DEFAULT_SCALE: Duration = Duration::days(7);
    /// The default offset: none.
    pub const DEFAULT_OFFSET: Duration = Duration::zero();
    /// The default decay: half the weight at `offset + scale` from the origin.
    pub const DEFAULT_DECAY: f64 = 0.5;
    /// The default page size: 20 activities.
    pub const DEFAULT_PAGE_SIZE: usize = 20;

    /// Half the weight a week away from now (the origin is taken when the query is built), no
    /// offset, a page of 20.
    pub fn new() -> Self {
        DecayRanked {
            scale_ms: Self::DEFAULT_SCALE.num_milliseconds() as u64,
            offset_ms: 0,
            decay: Self::DEFAULT_DECAY,
            origin: None,
            page_size: Self::DEFAULT_PAGE_SIZE,
        }
    }

    /// How far from `origin + offset` the score falls to [`decay`](Self::decay) times the
    /// weight: at least 1 millisecond (kept to the millisecond), else [`Error::InvalidQuery`].
    pub fn scale(mut self, scale: Duration) -> Result<Self> {
        let ms = scale.num_milliseconds();
        if ms < 1 {
            return Err(Error::InvalidQuery {
                reason: format!("the decay scale must be at least 1 millisecond, got {scale}"),
            });
        }
        self.scale_ms = ms as u64;
        Ok(self)
    }

    /// How far around the origin activities keep their whole weight: zero or more (kept to the
    /// millisecond), else [`Error::InvalidQuery`].
    pub fn offset(mut self, offset: Duration) -> Result<Self> {
        if offset < Duration::zero() {
            return Err(Error::InvalidQuery {
                reason: format!("the decay offset must not be negative, got {offset}"),
            });
        }
        self.offset_ms = offset.num_milliseconds() as u64;
        Ok(self)
    }

    /// The share of the weight left at `offset + scale` from the origin: strictly between 0 and
    /// 1, else [`Error::InvalidQuery`].
    pub fn decay(mut self, decay: f64) -> Result<Self> {
        if !(decay > 0.0 && decay < 1.0) {
            return Err(Error::InvalidQuery {
                reason: format!("the decay must lie strictly between 0 and 1, got {decay}"),
            });
        }
        self.decay = decay;
        Ok(self)
    }

    /// The time that scores best, instead of the time the query is built: within years 1 to
    /// 9999 (kept to the millisecond), else [`Error::InvalidTimestamp`].
    pub fn origin(mut self, origin: DateTime<Utc>) -> Result<Self> {
        let origin = origin.trunc_subsecs(3);
        let mut query = FeedQuery::all();
        query.ranking = Ranking::Decay(self.decay_at(origin));
        query.validate()?;
        self.origin = Some(origin);
        Ok(self)
    }

    /// Sets how many activities a page holds, 1 to
    /// [`MAX_PAGE_SIZE`](elasticfeeds::query::MAX_PAGE_SIZE); anything else is
    /// [`Error::InvalidSize`].
    pub fn page_size(mut self, size: usize) -> Result<Self> {
        FeedQuery::all().page_size(size)?;
        self.page_size = size;
        Ok(self)
    }

    fn decay_at(&self, origin: DateTime<Utc>) -> Decay {
        Decay {
            origin,
            scale_ms: self.scale_ms,
            offset_ms: self.offset_ms,
            decay: self.decay,
        }
    }
}

impl Aggregator for DecayRanked {
    type Output = Vec<Activity>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let origin = self.origin.unwrap_or_else(|| Utc::now().trunc_subsecs(3));
        let mut query = FeedQuery::network(feed.network()).page_size(self.page_size)?;
        query.ranking = Ranking::Decay(self.decay_at(origin));
        Ok(query)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<Activity>> {
        Ok(result.hits.into_iter().map(|hit| hit.activity).collect())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use elasticfeeds::{Actor, Hit, Object, Order};

    use super::*;
    use crate::test_support::{at, context, network};

    fn decay_of(query: &FeedQuery) -> &Decay {
        match &query.ranking {
            Ranking::Decay(decay) => decay,
            other => panic!("not a decay ranking: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let before = Utc::now().trunc_subsecs(3);
        let query = DecayRanked::new().query(&context(&network())).unwrap();
        let after = Utc::now();
        let decay = decay_of(&query);
        assert_eq!(decay.scale_ms, 7 * 24 * 3_600_000);
        assert_eq!(decay.offset_ms, 0);
        assert_eq!(decay.decay, 0.5);
        assert!(before <= decay.origin && decay.origin <= after, "{decay:?}");
        assert_eq!(decay.origin, decay.origin.trunc_subsecs(3));
        assert_eq!(query.order, Order::Desc);
        assert_eq!(query.page.size, DecayRanked::DEFAULT_PAGE_SIZE);
        assert_eq!(query.page.bound, None);
        assert_eq!(query.collapse, None);
        assert!(query.grouping.is_none());
        query.validate().unwrap();
        let mut plain = query.clone();
        plain.ranking = Ranking::Recency;
        assert_eq!(plain, FeedQuery::network(&network()));
        assert_eq!(DecayRanked::default(), DecayRanked::new());
        assert_eq!(DecayRanked::DEFAULT_SCALE, Duration::days(7));
        assert_eq!(DecayRanked::DEFAULT_OFFSET, Duration::zero());
    }

    #[test]
    fn settings_reach_the_query() {
        let origin = "2024-03-10T12:00:00.123456789Z".parse().unwrap();
        let query = DecayRanked::new()
            .scale(Duration::hours(6) + Duration::microseconds(1_500))
            .unwrap()
            .offset(Duration::minutes(30))
            .unwrap()
            .decay(0.25)
            .unwrap()
            .origin(origin)
            .unwrap()
            .page_size(7)
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        assert_eq!(
            decay_of(&query),
            &Decay {
                origin: at("2024-03-10T12:00:00.123Z"),
                scale_ms: 6 * 3_600_000 + 1,
                offset_ms: 30 * 60_000,
                decay: 0.25,
            }
        );
        assert_eq!(query.page.size, 7);
        query.validate().unwrap();

        // A fixed origin is the same on every query.
        let fixed = DecayRanked::new().origin(origin).unwrap();
        assert_eq!(
            fixed.query(&context(&network())).unwrap(),
            fixed.query(&context(&network())).unwrap()
        );
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        let invalid_query = |result: Result<DecayRanked>| {
            assert!(
                matches!(result, Err(Error::InvalidQuery { .. })),
                "{result:?}"
            )
        };
        for scale in [
            Duration::zero(),
            Duration::microseconds(999),
            Duration::days(-1),
        ] {
            invalid_query(DecayRanked::new().scale(scale));
        }
        assert!(DecayRanked::new().scale(Duration::milliseconds(1)).is_ok());
        invalid_query(DecayRanked::new().offset(Duration::milliseconds(-1)));
        invalid_query(DecayRanked::new().offset(Duration::microseconds(-1)));
        assert!(DecayRanked::new().offset(Duration::zero()).is_ok());
        for decay in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            invalid_query(DecayRanked::new().decay(decay));
        }
        assert!(DecayRanked::new().decay(f64::MIN_POSITIVE).is_ok());
        assert!(DecayRanked::new().decay(0.999_999).is_ok());
        for year in [0, 10_000] {
            let origin = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
            assert!(matches!(
                DecayRanked::new().origin(origin),
                Err(Error::InvalidTimestamp { .. })
            ));
        }
        for size in [0, 10_001] {
            assert!(matches!(
                DecayRanked::new().page_size(size),
                Err(Error::InvalidSize { .. })
            ));
        }
        assert!(DecayRanked::new().page_size(10_000).is_ok());
    }

    #[test]
    fn shape_keeps_the_hits_in_order() {
        let activity = |id: &str| {
            Activity::new(
                "write",
                Actor::new("mark", "person").unwrap(),
                Object::new(id, "post").unwrap(),
            )
            .unwrap()
            .with_id(id)
            .unwrap()
            .published_at(at("2024-02-01T10:00:00Z"))
            .unwrap()
        };
        let result = FeedResult {
            hits: vec![
                Hit {
                    activity: activity("b"),
                    score: Some(2.0),
                },
                Hit {
                    activity: activity("a"),
                    score: Some(1.0),
                },
            ],
            more: true,
            groups: Vec::new(),
        };
        let feed = DecayRanked::new()
            .shape(result, &context(&network()))
            .unwrap();
        assert_eq!(feed, [activity("b"), activity("a")]);
    }
}
