//! [`UnAggregated`]: the flat, chronological feed.

use elasticfeeds::{
    Activity, Aggregator, Bound, FeedContext, FeedQuery, FeedResult, Order, Position, Result,
};

/// The flat feed: the activities a user's network reaches, newest first, one page at a time.
///
/// Output: `Vec<Activity>`, in the configured [`Order`]. Serialised, that is a JSON list of
/// activity documents.
///
/// | setting | default | set with |
/// |---|---|---|
/// | order | newest first ([`Order::Desc`]) | [`UnAggregated::order`] |
/// | page size | 20 (1 to 10,000) | [`UnAggregated::page_size`] |
/// | keyset position | none: start at the newest (or, ascending, the oldest) | [`UnAggregated::older_than`], [`UnAggregated::newer_than`] |
/// | verbs | any | [`UnAggregated::verbs`] |
///
/// To scroll a newest-first feed, pass the [`Position`] of the last activity of a page to
/// [`older_than`](UnAggregated::older_than); to refresh the top of a feed already on screen, pass
/// the first one to [`newer_than`](UnAggregated::newer_than). In an oldest-first feed it is the
/// other way round: the next page is [`newer_than`](UnAggregated::newer_than) the last activity.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object, Position};
/// use elasticfeeds_aggregators::UnAggregated;
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .linked_at(at("2024-01-01T00:00:00Z"))?;
/// manager.add_link(follow).await?;
///
/// let mark = Actor::new("mark", "person")?;
/// for (id, verb, published) in [
///     ("a0", "write", "2023-12-31T23:59:59Z"), // before the follow: never in carlos's feed
///     ("a1", "write", "2024-02-01T10:00:00Z"),
///     ("a2", "share", "2024-02-02T10:00:00Z"),
///     ("a3", "write", "2024-02-03T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, mark.clone(), Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// let ids = |feed: &[Activity]| -> Vec<String> {
///     feed.iter().filter_map(|a| a.id().map(str::to_owned)).collect()
/// };
///
/// // Newest first.
/// let page = manager.get_feeds("carlos", &UnAggregated::new()).await?;
/// assert_eq!(ids(&page.feed), ["a3", "a2", "a1"]);
/// assert_eq!(page.links_left_out, 0);
///
/// // Pages of two, then the next page after the last activity shown.
/// let first = manager.get_feeds("carlos", &UnAggregated::new().page_size(2)?).await?.feed;
/// assert_eq!(ids(&first), ["a3", "a2"]);
/// let last = Position::of(&first[1]).expect("stored activities have ids");
/// let next = UnAggregated::new().page_size(2)?.older_than(last);
/// assert_eq!(ids(&manager.get_feeds("carlos", &next).await?.feed), ["a1"]);
///
/// // Only some verbs.
/// let writes = UnAggregated::new().verbs(["write"])?;
/// assert_eq!(ids(&manager.get_feeds("carlos", &writes).await?.feed), ["a3", "a1"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UnAggregated {
    order: Order,
    page_size: usize,
    bound: Option<Bound>,
    verbs: Vec<String>,
}

impl Default for UnAggregated {
    fn default() -> Self {
        Self::new()
    }
}

impl UnAggregated {
    /// The default page size: 20 activities.
    pub const DEFAULT_PAGE_SIZE: usize = 20;

    /// Newest first, a page of [`DEFAULT_PAGE_SIZE`](Self::DEFAULT_PAGE_SIZE) (20), any verb,
    /// from the newest activity.
    pub fn new() -> Self {
        UnAggregated {
            order: Order::Desc,
            page_size: Self::DEFAULT_PAGE_SIZE,
            bound: None,
            verbs: Vec::new(),
        }
    }

    /// Lists newest first ([`Order::Desc`], the default) or oldest first ([`Order::Asc`]).
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Sets how many activities a page holds, 1 to
    /// [`MAX_PAGE_SIZE`](elasticfeeds::query::MAX_PAGE_SIZE); anything else is
    /// [`Error::InvalidSize`](elasticfeeds::Error::InvalidSize).
    pub fn page_size(mut self, size: usize) -> Result<Self> {
        FeedQuery::all().page_size(size)?;
        self.page_size = size;
        Ok(self)
    }

    /// Starts the page strictly older than a position (scrolling down a newest-first feed).
    /// Replaces any [`newer_than`](Self::newer_than).
    pub fn older_than(mut self, position: Position) -> Self {
        self.bound = Some(Bound::OlderThan(position));
        self
    }

    /// Starts the page strictly newer than a position (refreshing the top of a feed on screen).
    /// Replaces any [`older_than`](Self::older_than).
    pub fn newer_than(mut self, position: Position) -> Self {
        self.bound = Some(Bound::NewerThan(position));
        self
    }

    /// Keeps only these verbs (validated and lower-cased; a bad verb is
    /// [`Error::InvalidKeyword`](elasticfeeds::Error::InvalidKeyword)). An empty list means any
    /// verb.
    pub fn verbs<I, S>(mut self, verbs: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.verbs = FeedQuery::all().verbs(verbs)?.filter.verbs;
        Ok(self)
    }
}

impl Aggregator for UnAggregated {
    type Output = Vec<Activity>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let mut query = FeedQuery::network(feed.network())
            .order(self.order)
            .page_size(self.page_size)?
            .verbs(&self.verbs)?;
        query.page.bound = self.bound.clone();
        Ok(query)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<Activity>> {
        Ok(result.hits.into_iter().map(|hit| hit.activity).collect())
    }
}

#[cfg(test)]
mod tests {
    use elasticfeeds::{Actor, Error, Hit, Object};

    use super::*;
    use crate::test_support::{at, context, network};

    #[test]
    fn defaults() {
        let query = UnAggregated::new().query(&context(&network())).unwrap();
        assert_eq!(query.order, Order::Desc);
        assert_eq!(query.page.size, UnAggregated::DEFAULT_PAGE_SIZE);
        assert_eq!(query.page.bound, None);
        assert!(query.filter.verbs.is_empty());
        assert!(query.grouping.is_none());
        assert_eq!(query, FeedQuery::network(&network()));
        assert_eq!(UnAggregated::default(), UnAggregated::new());
    }

    #[test]
    fn settings_reach_the_query() {
        let position = Position {
            published: at("2024-02-01T00:00:00Z"),
            id: "a1".into(),
        };
        let query = UnAggregated::new()
            .order(Order::Asc)
            .page_size(5)
            .unwrap()
            .verbs(["Write", "share"])
            .unwrap()
            .older_than(position.clone())
            .query(&context(&network()))
            .unwrap();
        assert_eq!(query.order, Order::Asc);
        assert_eq!(query.page.size, 5);
        assert_eq!(query.filter.verbs, ["write", "share"]);
        assert_eq!(query.page.bound, Some(Bound::OlderThan(position.clone())));
        query.validate().unwrap();

        let newer = UnAggregated::new()
            .older_than(position.clone())
            .newer_than(position.clone());
        let query = newer.query(&context(&network())).unwrap();
        assert_eq!(query.page.bound, Some(Bound::NewerThan(position)));
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        assert!(matches!(
            UnAggregated::new().page_size(0),
            Err(Error::InvalidSize { .. })
        ));
        assert!(matches!(
            UnAggregated::new().page_size(10_001),
            Err(Error::InvalidSize { .. })
        ));
        assert!(UnAggregated::new().page_size(10_000).is_ok());
        assert!(matches!(
            UnAggregated::new().verbs(["post_2"]),
            Err(Error::InvalidKeyword { .. })
        ));
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
            // A fixed time: two calls must build equal activities.
            .published_at(at("2024-02-01T10:00:00Z"))
            .unwrap()
        };
        let result = FeedResult {
            hits: vec![
                Hit {
                    activity: activity("b"),
                    score: None,
                },
                Hit {
                    activity: activity("a"),
                    score: Some(1.0),
                },
            ],
            more: true,
            groups: Vec::new(),
        };
        let feed = UnAggregated::new()
            .shape(result, &context(&network()))
            .unwrap();
        assert_eq!(feed, [activity("b"), activity("a")]);
        assert!(UnAggregated::new()
            .shape(FeedResult::default(), &context(&network()))
            .unwrap()
            .is_empty());
    }
}
