//! Embeddings: the vectors that let a feed be ranked by meaning (semantic feeds).
//!
//! An [`Activity`](crate::Activity) may carry an embedding, a list of `f32` computed by a model of
//! your choice from its text or image. A store that holds embeddings is opened with an
//! [`EmbeddingSpace`]: the vectors' length and the [`Similarity`] that compares them. Both are
//! fixed when the store first records them; every embedding written and every query vector is
//! checked against them on every backend, before anything is written or read.
//!
//! ```
//! use elasticfeeds::{EmbeddingSpace, Similarity};
//!
//! let space = EmbeddingSpace::new(3, Similarity::Cosine)?;
//! space.check("embedding", &[0.1, 0.2, 0.3])?;
//! assert!(space.check("embedding", &[0.1, 0.2]).is_err()); // wrong length
//! assert!(space.check("embedding", &[0.0, 0.0, 0.0]).is_err()); // no direction
//! // Identical directions score 1, opposite ones 0, orthogonal ones 0.5.
//! assert_eq!(space.score(&[1.0, 0.0, 0.0], &[2.0, 0.0, 0.0]), 1.0);
//! assert_eq!(space.score(&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]), 0.5);
//! # Ok::<(), elasticfeeds::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest embedding accepted: Elasticsearch's `dense_vector` limit, so a store valid on one
/// backend is valid on all.
pub const MAX_DIMENSIONS: usize = 4_096;

/// How far a vector's length may be from 1 under [`Similarity::DotProduct`] (Elasticsearch's
/// tolerance for unit vectors).
pub const UNIT_TOLERANCE: f64 = 1e-4;

/// How two embeddings are compared.
///
/// Every backend reports nearness as one **score** in `[0, 1]`, higher is nearer, on the scale
/// Elasticsearch and OpenSearch (Lucene engine) use for their vector searches:
///
/// | similarity | score of stored `v` for query `q` |
/// |---|---|
/// | `Cosine` | `(1 + cos(q, v)) / 2`: 1 for the same direction, 0.5 orthogonal, 0 opposite |
/// | `DotProduct` | `(1 + q·v) / 2`, for unit vectors (so the same order as `Cosine`, without the norms) |
/// | `L2Norm` | `1 / (1 + ‖q − v‖²)`: 1 for the same point, falling with the squared distance |
///
/// The embedded backend computes it in `f64` from the stored `f32` values, clamped to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// The angle between vectors; any non-zero vector.
    Cosine,
    /// The dot product of unit vectors: every vector must have length 1 (within
    /// [`UNIT_TOLERANCE`]); normalise them before storing. Nothing is normalised for you.
    DotProduct,
    /// The Euclidean distance; any vector.
    L2Norm,
}

impl Similarity {
    /// The name Elasticsearch gives it in a `dense_vector` mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            Similarity::Cosine => "cosine",
            Similarity::DotProduct => "dot_product",
            Similarity::L2Norm => "l2_norm",
        }
    }
}

/// The embeddings a store holds: their length and how they are compared.
///
/// Give it to [`ManagerBuilder::embeddings`](crate::ManagerBuilder::embeddings). A store records
/// it the first time; opening it later with another space is
/// [`Error::EmbeddingSpaceMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "SpaceDoc")]
pub struct EmbeddingSpace {
    dimensions: usize,
    similarity: Similarity,
}

/// The serialised form, checked by [`EmbeddingSpace::new`] when read back.
#[derive(Deserialize)]
struct SpaceDoc {
    dimensions: usize,
    similarity: Similarity,
}

impl TryFrom<SpaceDoc> for EmbeddingSpace {
    type Error = Error;
    fn try_from(doc: SpaceDoc) -> Result<Self> {
        EmbeddingSpace::new(doc.dimensions, doc.similarity)
    }
}

impl EmbeddingSpace {
    /// A space of vectors with `dimensions` values (1 to [`MAX_DIMENSIONS`]).
    pub fn new(dimensions: usize, similarity: Similarity) -> Result<Self> {
        crate::validate::size("embedding dimensions", dimensions, 1, MAX_DIMENSIONS)?;
        Ok(EmbeddingSpace {
            dimensions,
            similarity,
        })
    }

    /// How many values every vector has.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How vectors are compared.
    pub fn similarity(&self) -> Similarity {
        self.similarity
    }

    /// Checks that a vector belongs to this space: the right length, finite values, and what
    /// the similarity needs (a direction under cosine, length 1 under dot product). `field`
    /// names the vector in the error (`embedding`, `query vector`).
    pub fn check(&self, field: &'static str, vector: &[f32]) -> Result<()> {
        check_values(field, vector)?;
        let bad = |reason: String| Err(invalid(field, reason));
        if vector.len() != self.dimensions {
            return bad(format!(
                "it has {} dimensions; this store's vectors have {}",
                vector.len(),
                self.dimensions
            ));
        }
        let norm = sum_of_squares(vector).sqrt();
        match self.similarity {
            Similarity::Cosine if norm == 0.0 => {
                bad("a zero vector has no direction to compare under cosine similarity".into())
            }
            Similarity::DotProduct if (norm - 1.0).abs() > UNIT_TOLERANCE => bad(format!(
                "its length is {norm}; dot product similarity needs unit vectors (normalise it)"
            )),
            _ => Ok(()),
        }
    }

    /// The score of a stored vector for a query vector (see [`Similarity`]), both of this
    /// space's length.
    pub fn score(&self, query: &[f32], stored: &[f32]) -> f64 {
        self.scorer(query).score(stored)
    }

    /// Scores many stored vectors against one query vector, computing what depends on the query
    /// alone once.
    pub fn scorer<'q>(&self, query: &'q [f32]) -> Scorer<'q> {
        Scorer {
            similarity: self.similarity,
            query,
            query_squares: sum_of_squares(query),
        }
    }
}

/// Scores stored vectors against one query vector; made by [`EmbeddingSpace::scorer`].
#[derive(Debug, Clone, Copy)]
pub struct Scorer<'q> {
    similarity: Similarity,
    query: &'q [f32],
    query_squares: f64,
}

impl Scorer<'_> {
    /// The score of a stored vector (see [`Similarity`]), in `[0, 1]`.
    pub fn score(&self, stored: &[f32]) -> f64 {
        let (query, n) = (self.query, self.query.len().min(stored.len()));
        let score = match self.similarity {
            Similarity::Cosine => {
                // Two passes vectorise better than one that sums both; the second reads the
                // stored vector from cache.
                let dot = dot(&query[..n], &stored[..n]);
                // One square root of the product: a vector scored against itself gets exactly 1.
                let squares = self.query_squares * sum_of_squares(&stored[..n]);
                (1.0 + dot / squares.sqrt()) / 2.0
            }
            Similarity::DotProduct => (1.0 + dot(&query[..n], &stored[..n])) / 2.0,
            Similarity::L2Norm => 1.0 / (1.0 + squared_distance(&query[..n], &stored[..n])),
        };
        // Rounding can step just outside the documented range (a vector with itself).
        score.clamp(0.0, 1.0)
    }
}

// The sums below run in `f64` over eight independent partial sums, added at the end: a single
// running sum is a chain of dependent additions the compiler may not reorder, while independent
// lanes let it use vector instructions (about three times faster at 384 dimensions). A result
// can differ from a left-to-right sum in its last bits only.

const LANES: usize = 8;

/// Sums `term(a[i], b[i])` over both vectors, in `f64`, over `LANES` partial sums.
fn lane_sum(a: &[f32], b: &[f32], term: impl Fn(f64, f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut total: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| term(f64::from(*x), f64::from(*y)))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            lanes[i] += term(f64::from(x[i]), f64::from(y[i]));
        }
    }
    total += lanes.iter().sum::<f64>();
    total
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    lane_sum(a, b, |x, y| x * y)
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

fn sum_of_squares(a: &[f32]) -> f64 {
    dot(a, a)
}

impl fmt::Display for EmbeddingSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} dimensions, {}",
            self.dimensions,
            self.similarity.as_str()
        )
    }
}

/// The checks that need no store: 1 to [`MAX_DIMENSIONS`] values, none NaN or infinite.
pub(crate) fn check_values(field: &'static str, vector: &[f32]) -> Result<()> {
    if vector.is_empty() || vector.len() > MAX_DIMENSIONS {
        return Err(invalid(
            field,
            format!(
                "it has {} values; a vector has 1 to {MAX_DIMENSIONS}",
                vector.len()
            ),
        ));
    }
    if let Some((i, value)) = vector.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(invalid(
            field,
            format!("value {i} is {value}; every value must be a finite number"),
        ));
    }
    Ok(())
}

/// Checks a query's vector against a store's space; a store without one has nothing to search.
pub(crate) fn check_query(
    space: Option<EmbeddingSpace>,
    query: &crate::query::FeedQuery,
) -> Result<()> {
    let Some(vector) = &query.vector else {
        return Ok(());
    };
    space
        .ok_or(Error::EmbeddingsNotEnabled)?
        .check("query vector", &vector.vector)
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidVector { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_documented_scale() {
        let cosine = EmbeddingSpace::new(2, Similarity::Cosine).unwrap();
        assert_eq!(cosine.score(&[1.0, 0.0], &[-3.0, 0.0]), 0.0);
        assert_eq!(cosine.score(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        let dot = EmbeddingSpace::new(2, Similarity::DotProduct).unwrap();
        assert_eq!(dot.score(&[1.0, 0.0], &[0.0, 1.0]), 0.5);
        assert_eq!(
            dot.score(&[1.0, 0.0], &[0.6, 0.8]),
            (1.0 + f64::from(0.6f32)) / 2.0
        );
        // Rounding above 1 is clamped.
        assert_eq!(dot.score(&[0.6, 0.8], &[0.6, 0.8]), 1.0);
        let l2 = EmbeddingSpace::new(2, Similarity::L2Norm).unwrap();
        assert_eq!(l2.score(&[0.0, 0.0], &[1.0, 1.0]), 1.0 / 3.0);
        assert_eq!(l2.score(&[5.0, 5.0], &[5.0, 5.0]), 1.0);
    }

    #[test]
    fn vectors_outside_the_space_are_refused() {
        let dot = EmbeddingSpace::new(2, Similarity::DotProduct).unwrap();
        for bad in [
            vec![],
            vec![1.0],
            vec![f32::NAN, 0.0],
            vec![f32::INFINITY, 0.0],
            vec![1.0, 1.0],
            vec![0.0, 0.0],
        ] {
            assert!(
                matches!(
                    dot.check("embedding", &bad),
                    Err(Error::InvalidVector {
                        field: "embedding",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        dot.check("embedding", &[0.6, 0.8]).unwrap();
        let l2 = EmbeddingSpace::new(2, Similarity::L2Norm).unwrap();
        l2.check("embedding", &[0.0, 0.0]).unwrap();
        assert!(EmbeddingSpace::new(0, Similarity::Cosine).is_err());
        // Deserialising checks the same limits.
        for bad in [
            r#"{"dimensions": 0, "similarity": "cosine"}"#,
            r#"{"dimensions": 4097, "similarity": "l2_norm"}"#,
            r#"{"dimensions": 18446744073709551615, "similarity": "dot_product"}"#,
        ] {
            assert!(
                serde_json::from_str::<EmbeddingSpace>(bad).is_err(),
                "{bad}"
            );
        }
        let space: EmbeddingSpace =
            serde_json::from_str(r#"{"dimensions": 3, "similarity": "dot_product"}"#).unwrap();
        assert_eq!(
            space,
            EmbeddingSpace::new(3, Similarity::DotProduct).unwrap()
        );
        assert!(EmbeddingSpace::new(MAX_DIMENSIONS + 1, Similarity::Cosine).is_err());
    }
}
