//! Vector queries on a cluster, answered exactly in the client.
//!
//! The engines score vectors in 32-bit floats with their own rounding, in kNN search and in
//! `script_score` alike, so neither gives the documented scores and ties (see
//! [`Similarity`](crate::Similarity)). So the backend walks every competing activity, newest
//! first in pages (the query's network and filters, as for any feed), reads each embedding
//! from `_source`, and scores it here in `f64` with the scorer every backend uses; activities
//! without an embedding never compete. An approximate search ([`VectorQuery::candidates`]) is
//! a permission, so it is answered exactly too.
//!
//! Cost: every competing document crosses the network, whatever `k` is, as every competing
//! vector is read on the embedded backend.
//!
//! [`VectorQuery::candidates`]: crate::query::VectorQuery::candidates

use std::cmp::Ordering;

use crate::embedding::{EmbeddingSpace, Scorer};
use crate::error::{Error, Result};
use crate::result::Hit;

/// How many activities each search of the walk reads.
pub(crate) const CHUNK: usize = 1_000;

/// The best `k` activities met so far.
pub(crate) struct Nearest<'q> {
    space: EmbeddingSpace,
    scorer: Scorer<'q>,
    k: usize,
    best: Vec<(f64, Hit)>,
    /// How many activities with an embedding competed.
    competitors: usize,
}

/// Best first: the higher score, then the newer activity, then the higher id.
fn order(a: &(f64, Hit), b: &(f64, Hit)) -> Ordering {
    b.0.total_cmp(&a.0)
        .then_with(|| b.1.activity.published().cmp(&a.1.activity.published()))
        .then_with(|| b.1.activity.id().cmp(&a.1.activity.id()))
}

impl<'q> Nearest<'q> {
    /// A search for the `k` activities nearest `vector`, a query vector of `space`.
    pub(crate) fn new(space: EmbeddingSpace, vector: &'q [f32], k: usize) -> Self {
        Nearest {
            space,
            scorer: space.scorer(vector),
            k,
            best: Vec::with_capacity(2 * k + 1),
            competitors: 0,
        }
    }

    /// Scores the next hits of the walk. A stored embedding outside the space (written by
    /// another program) is an error, never a silent score.
    pub(crate) fn take(&mut self, backend: &'static str, hits: Vec<Hit>) -> Result<()> {
        for hit in hits {
            let Some(embedding) = hit.activity.embedding() else {
                continue;
            };
            if embedding.len() != self.space.dimensions() {
                return Err(Error::backend(
                    backend,
                    format!(
                        "activity {:?} holds an embedding of {} dimensions in a store of {}",
                        hit.activity.id().unwrap_or_default(),
                        embedding.len(),
                        self.space.dimensions()
                    ),
                ));
            }
            let score = self.scorer.score(embedding);
            if !score.is_finite() {
                return Err(Error::backend(backend, "a stored embedding scores NaN"));
            }
            self.best.push((score, hit));
            self.competitors += 1;
        }
        // Keep memory at a few pages' worth, whatever the walk reads.
        if self.best.len() > 2 * self.k {
            self.best.select_nth_unstable_by(self.k, order);
            self.best.truncate(self.k);
        }
        Ok(())
    }

    /// The nearest `k`, best first, each with its score, and whether more competed (as on
    /// the embedded backend; a vector query still has one page).
    pub(crate) fn finish(mut self) -> (Vec<Hit>, bool) {
        self.best.sort_unstable_by(order);
        self.best.truncate(self.k);
        let hits = self
            .best
            .into_iter()
            .map(|(score, hit)| Hit {
                score: Some(score),
                ..hit
            })
            .collect();
        (hits, self.competitors > self.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cluster::test_hit;
    use crate::embedding::Similarity;

    fn hit(id: &str, second: i64, embedding: Option<Vec<f32>>) -> Hit {
        let mut hit = test_hit(id, "mark", second);
        if let Some(embedding) = embedding {
            hit.activity = hit.activity.with_embedding(embedding).unwrap();
        }
        hit
    }

    #[test]
    fn keeps_the_nearest_with_ties_newest_then_highest_id() {
        let space = EmbeddingSpace::new(2, Similarity::L2Norm).unwrap();
        let query = [0.0, 0.0];
        let mut nearest = Nearest::new(space, &query, 3);
        // Met over several pages, in feed order; "far" would fit only without the limit.
        for page in [
            vec![hit("far", 9, Some(vec![3.0, 4.0])), hit("plain", 8, None)],
            vec![
                hit("b", 5, Some(vec![1.0, 0.0])),
                hit("c", 5, Some(vec![0.0, 1.0])),
            ],
            vec![
                hit("a", 7, Some(vec![0.0, 1.0])),
                hit("origin", 1, Some(vec![0.0, 0.0])),
            ],
        ] {
            nearest.take("elasticsearch", page).unwrap();
        }
        let (found, more) = nearest.finish();
        assert!(more, "five competed for three places");
        let found: Vec<(String, Option<f64>)> = found
            .into_iter()
            .map(|h| (h.activity.id().unwrap().to_owned(), h.score))
            .collect();
        // Equal scores of 0.5: "a" is newest; "c" and "b" share a second, the higher id first.
        assert_eq!(
            found,
            [
                ("origin".to_owned(), Some(1.0)),
                ("a".to_owned(), Some(0.5)),
                ("c".to_owned(), Some(0.5)),
            ]
        );
    }

    #[test]
    fn an_embedding_outside_the_space_is_an_error() {
        let space = EmbeddingSpace::new(3, Similarity::Cosine).unwrap();
        let query = [1.0, 0.0, 0.0];
        let mut nearest = Nearest::new(space, &query, 5);
        let result = nearest.take("opensearch", vec![hit("short", 0, Some(vec![1.0, 0.0]))]);
        assert!(matches!(result, Err(Error::Backend { .. })), "{result:?}");
    }
}
