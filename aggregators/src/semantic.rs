//! [`Semantic`]: the activities nearest in meaning to a query vector.

use elasticfeeds::{Activity, Aggregator, Error, FeedContext, FeedQuery, FeedResult, Result};
use serde::{Deserialize, Serialize};

/// A feed ranked by meaning (the Python library's `SemanticAggregator`, a "For You" feed): the
/// `k` activities whose embeddings are nearest to a query vector, best first, within the
/// reader's network or across every activity.
///
/// Within the network, the same link rules as every other feed apply: an activity competes only
/// if a link reaches it (follows by actor, watches by object or target) and it was published at
/// or after that link was made. Activities without an embedding never compete.
///
/// Output: `Vec<`[`ScoredActivity`]`>`, best first; equal scores list the newer activity first,
/// then the higher id. Serialised: `[{"activity": {...}, "score": 0.97}, …]`. The score is the
/// same on every backend: `[0, 1]`, higher is nearer, as documented on
/// [`Similarity`](elasticfeeds::Similarity).
///
/// | setting | default | allowed | set with |
/// |---|---|---|---|
/// | query vector | required | 1 to 4,096 finite values; the store checks its length and similarity | [`Semantic::new`] |
/// | k | 10 | 1 to 10,000 | [`Semantic::k`] |
/// | scope | the reader's network | network or every activity | [`Semantic::all_activities`] |
/// | search | exact | exact, or approximate with `n` candidates (k to 10,000) | [`Semantic::approximate`] |
///
/// The store must hold embeddings ([`ManagerBuilder::embeddings`](elasticfeeds::ManagerBuilder::embeddings)),
/// else reading the feed is [`Error::EmbeddingsNotEnabled`]; a query vector of the wrong length,
/// or one its similarity cannot compare, is [`Error::InvalidVector`] when the feed is read. The
/// search is exact by default: every competing activity is compared. An approximate search
/// trades exactness for speed on backends with a vector index; the embedded backend has none and
/// always searches exactly. There is one page: a semantic feed has no cursor.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Activity, Actor, EmbeddingSpace, Link, LinkTarget, Manager, Object, Similarity};
/// use elasticfeeds_aggregators::Semantic;
///
/// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let manager = Manager::builder("memory:")
///     .embeddings(EmbeddingSpace::new(3, Similarity::Cosine)?)
///     .open()
///     .await?;
/// let follow = Link::new("carlos", "follow", LinkTarget::actor("mark", "person")?)?
///     .linked_at(at("2024-01-01T00:00:00Z"))?;
/// manager.add_link(follow).await?;
///
/// // Embeddings from your model; here by hand: (sport, cooking, music).
/// for (id, actor, embedding) in [
///     ("football", "mark", [0.9, 0.1, 0.0]),
///     ("pasta", "mark", [0.0, 1.0, 0.1]),
///     ("tennis", "ana", [1.0, 0.0, 0.0]), // carlos does not follow ana
/// ] {
///     let post = Activity::new("post", Actor::new(actor, "person")?, Object::new(id, "post")?)?
///         .with_id(id)?
///         .published_at(at("2024-02-01T10:00:00Z"))?
///         .with_embedding(embedding.to_vec())?;
///     manager.add_activity(post).await?;
/// }
///
/// let sport = Semantic::new(vec![1.0, 0.0, 0.0])?.k(2)?;
/// let feed = manager.get_feeds("carlos", &sport).await?.feed;
/// let ids: Vec<_> = feed.iter().map(|hit| hit.activity.id().unwrap()).collect();
/// assert_eq!(ids, ["football", "pasta"]);
/// assert!(feed[0].score > 0.99 && feed[1].score < 0.55);
///
/// // Across every activity, followed or not.
/// let everyone = Semantic::new(vec![1.0, 0.0, 0.0])?.k(1)?.all_activities();
/// let best = &manager.get_feeds("carlos", &everyone).await?.feed[0];
/// assert_eq!((best.activity.id(), best.score), (Some("tennis"), 1.0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Semantic {
    vector: Vec<f32>,
    k: usize,
    all: bool,
    candidates: Option<usize>,
}

/// One activity of a [`Semantic`] feed, with how near it is to the query vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredActivity {
    /// The activity, with its embedding.
    pub activity: Activity,
    /// Its similarity to the query vector: `[0, 1]`, higher is nearer (see
    /// [`Similarity`](elasticfeeds::Similarity)).
    pub score: f64,
}

impl Semantic {
    /// The default number of activities: 10, as in the Python library.
    pub const DEFAULT_K: usize = 10;

    /// The nearest activities to `vector`, within the reader's network, exactly. A vector that
    /// is empty, longer than 4,096 values or has a NaN or infinite value is
    /// [`Error::InvalidVector`].
    pub fn new(vector: Vec<f32>) -> Result<Self> {
        FeedQuery::all().nearest(vector.clone(), Self::DEFAULT_K)?;
        Ok(Semantic {
            vector,
            k: Self::DEFAULT_K,
            all: false,
            candidates: None,
        })
    }

    /// How many activities, 1 to [`MAX_PAGE_SIZE`](elasticfeeds::query::MAX_PAGE_SIZE); anything
    /// else is [`Error::InvalidSize`]. Fewer come back when fewer compete.
    pub fn k(mut self, k: usize) -> Result<Self> {
        FeedQuery::all().page_size(k)?;
        self.check_candidates(k, self.candidates)?;
        self.k = k;
        Ok(self)
    }

    /// Searches every stored activity instead of the reader's network.
    pub fn all_activities(mut self) -> Self {
        self.all = true;
        self
    }

    /// Allows an approximate search that considers `candidates` activities per shard (k to
    /// 10,000, else [`Error::InvalidSize`]) on backends with a vector index. The embedded backend
    /// searches exactly anyway.
    pub fn approximate(mut self, candidates: usize) -> Result<Self> {
        self.check_candidates(self.k, Some(candidates))?;
        self.candidates = Some(candidates);
        Ok(self)
    }

    fn check_candidates(&self, k: usize, candidates: Option<usize>) -> Result<()> {
        if let Some(candidates) = candidates {
            // The core's range check; the vector itself was checked by `new`.
            FeedQuery::all()
                .nearest(vec![1.0], k)?
                .approximate(candidates)?;
        }
        Ok(())
    }
}

impl Aggregator for Semantic {
    type Output = Vec<ScoredActivity>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        let query = if self.all {
            FeedQuery::all()
        } else {
            FeedQuery::network(feed.network())
        };
        let query = query.nearest(self.vector.clone(), self.k)?;
        match self.candidates {
            Some(candidates) => query.approximate(candidates),
            None => Ok(query),
        }
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Self::Output> {
        result
            .hits
            .into_iter()
            .map(|hit| match hit.score {
                Some(score) => Ok(ScoredActivity {
                    activity: hit.activity,
                    score,
                }),
                None => Err(Error::InvalidQuery {
                    reason: "the backend answered a vector query without scores".into(),
                }),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use elasticfeeds::query::Source;
    use elasticfeeds::{Hit, Order};

    use super::*;
    use crate::test_support::{activity, context, network};

    #[test]
    fn the_query_is_a_nearest_search_of_the_network() {
        let query = Semantic::new(vec![0.5, 0.5])
            .unwrap()
            .query(&context(&network()))
            .unwrap();
        let vector = query.vector.as_ref().expect("a vector query");
        assert_eq!(vector.vector, [0.5, 0.5]);
        assert_eq!(vector.candidates, None);
        assert_eq!(query.page.size, Semantic::DEFAULT_K);
        assert_eq!(query.order, Order::Desc);
        assert!(matches!(&query.source, Source::Network(rules) if rules.len() == 1));
        query.validate().unwrap();

        let everywhere = Semantic::new(vec![1.0])
            .unwrap()
            .k(3)
            .unwrap()
            .approximate(50)
            .unwrap()
            .all_activities()
            .query(&context(&network()))
            .unwrap();
        assert_eq!(everywhere.source, Source::All);
        assert_eq!(everywhere.page.size, 3);
        assert_eq!(everywhere.vector.unwrap().candidates, Some(50));
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        for bad in [
            vec![],
            vec![f32::NAN],
            vec![1.0, f32::INFINITY],
            vec![0.0; 4_097],
        ] {
            assert!(
                matches!(Semantic::new(bad), Err(Error::InvalidVector { .. })),
                "vector refused"
            );
        }
        let semantic = Semantic::new(vec![1.0]).unwrap();
        for k in [0, 10_001] {
            assert!(matches!(
                semantic.clone().k(k),
                Err(Error::InvalidSize { .. })
            ));
        }
        for candidates in [9, 10_001] {
            assert!(matches!(
                semantic.clone().approximate(candidates),
                Err(Error::InvalidSize { .. })
            ));
        }
        // k may not grow past the candidates already allowed.
        let approximate = semantic.approximate(20).unwrap();
        assert!(matches!(approximate.k(21), Err(Error::InvalidSize { .. })));
    }

    #[test]
    fn shape_keeps_the_order_and_the_scores() {
        let network = network();
        let hit = |id: &str, score| Hit {
            activity: activity(id, "post", (id, "post"), "2024-02-01T00:00:00Z"),
            score,
        };
        let semantic = Semantic::new(vec![1.0]).unwrap();
        let result = FeedResult {
            hits: vec![hit("a", Some(0.9)), hit("b", Some(0.4))],
            more: false,
            groups: Vec::new(),
        };
        let shaped = semantic.shape(result, &context(&network)).unwrap();
        let pairs: Vec<_> = shaped
            .iter()
            .map(|s| (s.activity.id().unwrap(), s.score))
            .collect();
        assert_eq!(pairs, [("a", 0.9), ("b", 0.4)]);
        let json = serde_json::to_value(&shaped[0]).unwrap();
        assert_eq!(json["score"], 0.9);
        assert_eq!(json["activity"]["feed_id"], "a");

        let unscored = FeedResult {
            hits: vec![hit("a", None)],
            more: false,
            groups: Vec::new(),
        };
        assert!(semantic.shape(unscored, &context(&network)).is_err());
    }
}
