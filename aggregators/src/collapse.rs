//! [`Collapse`]: the newest activity per object, or per actor.

use elasticfeeds::{
    Activity, Aggregator, Bound, FeedContext, FeedQuery, FeedResult, GroupKey, Position, Result,
};

/// A flat feed that keeps only the newest activity of each object (or of each actor), newest
/// first, one page at a time.
///
/// Ten comments on one post show up once, as the latest of them; with
/// [`by_actor`](Collapse::by_actor), a busy friend shows up once, with what they did last.
///
/// Output: `Vec<Activity>`, newest first. Serialised, that is a JSON list of activity documents.
///
/// | setting | default | set with |
/// |---|---|---|
/// | key | chosen when built: the object's `(type, id)` or the actor's `(type, id)` | [`Collapse::by_object`], [`Collapse::by_actor`] |
/// | page size | 20 (1 to 10,000) | [`Collapse::page_size`] |
/// | keyset position | none: start at the newest | [`Collapse::older_than`] |
///
/// An activity is listed only if it is the newest of its key in the whole feed (as the reader's
/// network reaches it), and every key is listed once over all pages: to scroll, pass the
/// [`Position`] of the last activity of a page to [`older_than`](Collapse::older_than), or page
/// with [`Cursor`](crate::Cursor). The order is always newest first, by `published` (a collapsed
/// feed cannot be read oldest first, ranked, or refreshed "newer than" a position).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object, Position};
/// use elasticfeeds_aggregators::Collapse;
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::memory().await?;
/// for followed in ["mark", "ana"] {
///     let follow = Link::new("carlos", "follow", LinkTarget::actor(followed, "person")?)?
///         .linked_at(at("2024-01-01T00:00:00Z"))?;
///     manager.add_link(follow).await?;
/// }
///
/// for (id, actor, verb, post, published) in [
///     ("a1", "mark", "write", "p1", "2024-02-01T10:00:00Z"),
///     ("a2", "ana", "comment", "p1", "2024-02-02T10:00:00Z"),
///     ("a3", "mark", "write", "p2", "2024-02-03T10:00:00Z"),
///     ("a4", "mark", "comment", "p1", "2024-02-04T10:00:00Z"),
///     ("a5", "ana", "write", "p3", "2024-02-05T10:00:00Z"),
/// ] {
///     let activity = Activity::new(verb, Actor::new(actor, "person")?, Object::new(post, "post")?)?
///         .with_id(id)?
///         .published_at(at(published))?;
///     manager.add_activity(activity).await?;
/// }
///
/// let ids = |feed: &[Activity]| -> Vec<String> {
///     feed.iter().filter_map(|a| a.id().map(str::to_owned)).collect()
/// };
///
/// // The newest activity per post: p3 (a5), p1 (a4, its latest comment), p2 (a3).
/// let per_post = manager.get_feeds("carlos", &Collapse::by_object()).await?.feed;
/// assert_eq!(ids(&per_post), ["a5", "a4", "a3"]);
///
/// // The newest activity per person.
/// let per_person = manager.get_feeds("carlos", &Collapse::by_actor()).await?.feed;
/// assert_eq!(ids(&per_person), ["a5", "a4"]);
///
/// // Pages of two: the second page goes on after the last activity shown, and never lists a
/// // post again.
/// let first = manager.get_feeds("carlos", &Collapse::by_object().page_size(2)?).await?.feed;
/// assert_eq!(ids(&first), ["a5", "a4"]);
/// let last = Position::of(&first[1]).expect("stored activities have ids");
/// let next = Collapse::by_object().page_size(2)?.older_than(last);
/// assert_eq!(ids(&manager.get_feeds("carlos", &next).await?.feed), ["a3"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Collapse {
    key: GroupKey,
    page_size: usize,
    older_than: Option<Position>,
}

impl Collapse {
    /// The default page size: 20 activities.
    pub const DEFAULT_PAGE_SIZE: usize = 20;

    /// The newest activity per object (its `(type, id)`), from the newest, a page of
    /// [`DEFAULT_PAGE_SIZE`](Self::DEFAULT_PAGE_SIZE) (20).
    pub fn by_object() -> Self {
        Self::by(GroupKey::Object)
    }

    /// The newest activity per actor (its `(type, id)`), from the newest, a page of
    /// [`DEFAULT_PAGE_SIZE`](Self::DEFAULT_PAGE_SIZE) (20).
    pub fn by_actor() -> Self {
        Self::by(GroupKey::Actor)
    }

    fn by(key: GroupKey) -> Self {
        Collapse {
            key,
            page_size: Self::DEFAULT_PAGE_SIZE,
            older_than: None,
        }
    }

    /// What activities are collapsed on: [`GroupKey::Object`] or [`GroupKey::Actor`].
    pub fn key(&self) -> GroupKey {
        self.key
    }

    /// Sets how many activities a page holds, 1 to
    /// [`MAX_PAGE_SIZE`](elasticfeeds::query::MAX_PAGE_SIZE); anything else is
    /// [`Error::InvalidSize`](elasticfeeds::Error::InvalidSize).
    pub fn page_size(mut self, size: usize) -> Result<Self> {
        FeedQuery::all().page_size(size)?;
        self.page_size = size;
        Ok(self)
    }

    /// Starts the page strictly older than a position: pass the last activity of the page
    /// before.
    pub fn older_than(mut self, position: Position) -> Self {
        self.older_than = Some(position);
        self
    }
}

impl Aggregator for Collapse {
    type Output = Vec<Activity>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let mut query = FeedQuery::network(feed.network()).page_size(self.page_size)?;
        query.collapse = Some(self.key);
        query.page.bound = self.older_than.clone().map(Bound::OlderThan);
        Ok(query)
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<Activity>> {
        Ok(result.hits.into_iter().map(|hit| hit.activity).collect())
    }
}

#[cfg(test)]
mod tests {
    use elasticfeeds::{Actor, Error, Hit, Object, Order, Ranking};

    use super::*;
    use crate::test_support::{at, context, network};

    #[test]
    fn defaults() {
        for (collapse, key) in [
            (Collapse::by_object(), GroupKey::Object),
            (Collapse::by_actor(), GroupKey::Actor),
        ] {
            assert_eq!(collapse.key(), key);
            let query = collapse.query(&context(&network())).unwrap();
            assert_eq!(query.collapse, Some(key));
            assert_eq!(query.order, Order::Desc);
            assert_eq!(query.ranking, Ranking::Recency);
            assert_eq!(query.page.size, Collapse::DEFAULT_PAGE_SIZE);
            assert_eq!(query.page.bound, None);
            assert!(query.filter.verbs.is_empty());
            assert!(query.grouping.is_none());
            query.validate().unwrap();
            let mut flat = query.clone();
            flat.collapse = None;
            assert_eq!(flat, FeedQuery::network(&network()));
        }
    }

    #[test]
    fn settings_reach_the_query() {
        let position = Position {
            published: at("2024-02-01T00:00:00Z"),
            id: "a1".into(),
        };
        let query = Collapse::by_actor()
            .page_size(5)
            .unwrap()
            .older_than(position.clone())
            .query(&context(&network()))
            .unwrap();
        assert_eq!(query.page.size, 5);
        assert_eq!(query.collapse, Some(GroupKey::Actor));
        assert_eq!(query.page.bound, Some(Bound::OlderThan(position)));
        query.validate().unwrap();
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        for size in [0, 10_001] {
            assert!(matches!(
                Collapse::by_object().page_size(size),
                Err(Error::InvalidSize { .. })
            ));
        }
        assert!(Collapse::by_object().page_size(10_000).is_ok());
        assert!(Collapse::by_object().page_size(1).is_ok());
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
                    score: None,
                },
                Hit {
                    activity: activity("a"),
                    score: None,
                },
            ],
            more: false,
            groups: Vec::new(),
        };
        let feed = Collapse::by_object()
            .shape(result, &context(&network()))
            .unwrap();
        assert_eq!(feed, [activity("b"), activity("a")]);
    }
}
