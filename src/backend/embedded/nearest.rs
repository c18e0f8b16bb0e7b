//! Vector queries on the embedded backend: an exact nearest-neighbour search within the feed's
//! candidates.
//!
//! Each segment's cursor yields every activity the query lets compete (network links with their
//! "since" bounds, filters, removals), exactly as for any feed; the walk cannot stop early,
//! since the nearest activity may be the oldest. Each competitor's vector is read in place from
//! the vector log (see `vectors`) through its slot column and scored in `f64`; each segment keeps
//! its best `k`, and the segments' best are merged.
//!
//! Cost: every competing activity costs its column checks plus `4 × dimensions` bytes read and
//! one similarity computation, whatever `k` is; activities without an embedding cost the checks
//! alone. A search over all activities reads every vector of a live activity.

use tantivy::{DocAddress, Searcher};

use super::cursor::Candidate;
use super::read::{damaged_vector, load_activity};
use super::schema::{feed, FeedFields};
use super::vectors::{from_record, VectorLog};
use super::walk::{backend, network_only, Merge};
use crate::embedding::EmbeddingSpace;
use crate::error::Result;
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
    log: &VectorLog,
    merge: &mut Merge<'_>,
) -> Result<FeedResult> {
    let k = query.page.size;
    let mut best: Vec<Scored> = Vec::new();
    let mut competitors = 0usize;
    let mut stored = Vec::with_capacity(space.dimensions());
    let scorer = space.scorer(vector);
    let network_only = network_only(query);
    for cursor in &mut merge.cursors {
        let slots = cursor
            .reader()
            .fast_fields()
            .u64(feed::EMBEDDING_SLOT)
            .map_err(backend)?;
        let candidates = if network_only {
            cursor.every_candidate()?
        } else {
            std::iter::from_fn(|| cursor.next_passing().transpose()).collect::<Result<Vec<_>>>()?
        };
        let mut entries: Vec<(u64, Candidate)> = candidates
            .into_iter()
            .filter_map(|candidate| Some((slots.first(candidate.doc)?, candidate)))
            .collect();
        competitors += entries.len();
        // In slot order the log is read front to back, whatever order the activities were
        // published in.
        entries.sort_unstable_by_key(|(slot, _)| *slot);
        let Some(&(last, _)) = entries.last() else {
            continue;
        };
        // One view for the whole segment, mapped again at most once.
        let view = log.view(last)?;
        let mut segment = entries
            .into_iter()
            .map(|(slot, candidate)| {
                let record = log.record(&view, slot).ok_or_else(damaged_vector)?;
                from_record(record, &mut stored);
                let score = scorer.score(&stored);
                // Only a damaged record can score NaN: every stored vector was checked.
                if !score.is_finite() {
                    return Err(damaged_vector());
                }
                Ok((score, candidate))
            })
            .collect::<Result<Vec<(f64, Candidate)>>>()?;
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
