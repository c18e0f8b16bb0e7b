//! Vector queries on the embedded backend: an exact nearest-neighbour search within the feed's
//! candidates.
//!
//! Each segment's cursor yields every activity the query lets compete (network links with their
//! "since" bounds, filters, removals), exactly as for any feed; the walk cannot stop early,
//! since the nearest activity may be the oldest. Their embeddings live in a bytes column
//! (little-endian `f32`), which tantivy stores as a sorted dictionary: the competitors are sorted
//! by their dictionary ordinal and decoded in one forward pass, so each dictionary block is read
//! at most once. Each segment keeps its best `k`, and the segments' best are merged.
//!
//! Cost: every competing activity costs its column checks plus `4 × dimensions` bytes read and
//! one similarity computation (`f64`), whatever `k` is; activities without an embedding cost the
//! checks alone. A search over all activities reads every stored vector.

use tantivy::{DocAddress, Searcher};

use super::read::load_activity;
use super::schema::{feed, read_vector, FeedFields};
use super::walk::{backend, Candidate, Merge};
use crate::embedding::EmbeddingSpace;
use crate::error::{Error, Result};
use crate::query::FeedQuery;
use crate::result::{FeedResult, Hit};

/// One scored competitor, as kept across segments.
struct Scored {
    score: f64,
    published: i64,
    id: String,
    address: DocAddress,
}

/// The `query.page.size` nearest activities to `vector`, best first.
pub(super) fn nearest(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    vector: &[f32],
    space: EmbeddingSpace,
    merge: &mut Merge,
) -> Result<FeedResult> {
    let k = query.page.size;
    let mut best: Vec<Scored> = Vec::new();
    let mut competitors = 0usize;
    let mut stored = Vec::with_capacity(space.dimensions());
    let scorer = space.scorer(vector);
    for cursor in &mut merge.cursors {
        let Some(column) = cursor
            .reader()
            .fast_fields()
            .bytes(feed::EMBEDDING)
            .map_err(backend)?
        else {
            // No activity of this segment has an embedding.
            continue;
        };
        let mut entries: Vec<(u64, Candidate)> = Vec::new();
        while let Some(candidate) = cursor.next_passing()? {
            if let Some(ord) = column.ords().first(candidate.doc) {
                entries.push((ord, candidate));
            }
        }
        competitors += entries.len();
        entries.sort_unstable_by_key(|(ord, _)| *ord);
        let ords: Vec<u64> = entries.iter().map(|(ord, _)| *ord).collect();
        let mut scores = Vec::with_capacity(ords.len());
        let mut damaged = false;
        // Called once per ordinal given, repeats included, in order.
        let found = column
            .dictionary()
            .sorted_ords_to_term_cb(&ords, |bytes| {
                if read_vector(bytes, &mut stored) && stored.len() == space.dimensions() {
                    scores.push(scorer.score(&stored));
                } else {
                    damaged = true;
                    scores.push(f64::NAN);
                }
            })
            .map_err(|e| Error::backend("embedded", e))?;
        if !found || damaged || scores.len() != entries.len() {
            return Err(Error::backend(
                "embedded",
                "a stored embedding is damaged or missing from its column",
            ));
        }
        let mut segment: Vec<(f64, Candidate)> = scores
            .into_iter()
            .zip(entries)
            .map(|(score, (_, candidate))| (score, candidate))
            .collect();
        // Within a segment, id ordinals sort as the ids do.
        let order = |a: &(f64, Candidate), b: &(f64, Candidate)| {
            b.0.total_cmp(&a.0)
                .then(b.1.published.cmp(&a.1.published))
                .then(b.1.id_ord.cmp(&a.1.id_ord))
        };
        if segment.len() > k {
            segment.select_nth_unstable_by(k, order);
            segment.truncate(k);
        }
        for (score, candidate) in segment {
            best.push(Scored {
                score,
                published: candidate.published,
                id: cursor.id(&candidate)?,
                address: DocAddress::new(cursor.segment_ord, candidate.doc),
            });
        }
    }
    best.sort_unstable_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.published.cmp(&a.published))
            .then_with(|| b.id.cmp(&a.id))
    });
    best.truncate(k);
    let hits = best
        .into_iter()
        .map(|scored| {
            Ok(Hit {
                activity: load_activity(searcher, scored.address, fields)?,
                score: Some(scored.score),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FeedResult {
        hits,
        more: competitors > k,
        groups: Vec::new(),
    })
}
