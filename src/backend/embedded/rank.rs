//! Ranked feeds on the embedded backend: link weight, or a recency decay times link weight.
//!
//! The walk still meets activities newest first. A score never exceeds the best link weight
//! times the best decay still possible for older activities, so the walk stops as soon as the
//! page's worst kept score beats that bound: reading a decayed feed costs about as much as the
//! reader's recent activities, not their whole history. Ranking by weight alone can only stop
//! once every kept activity has the best weight, so it may read the whole feed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::{DocAddress, Searcher};

use super::cursor::Candidate;
use super::read::load_activity;
use super::schema::FeedFields;
use super::walk::Merge;
use crate::error::Result;
use crate::query::{Bound, Decay, FeedQuery, Ranking};
use crate::result::{FeedResult, Hit};

/// How a ranked query scores an activity.
pub(super) enum Score {
    /// The best weight of the links reaching it.
    LinkWeight,
    /// `weight × decay^((max(0, |published − origin| − offset) / scale)²)`, the Gaussian decay
    /// Elasticsearch and OpenSearch use for `gauss` functions.
    Decay {
        origin: i64,
        offset: f64,
        scale: f64,
        decay: f64,
    },
}

impl Score {
    /// The scoring of a query, `None` for plain recency.
    pub(super) fn new(query: &FeedQuery) -> Option<Score> {
        match &query.ranking {
            Ranking::Recency => None,
            Ranking::LinkWeight => Some(Score::LinkWeight),
            Ranking::Decay(Decay {
                origin,
                scale_ms,
                offset_ms,
                decay,
            }) => Some(Score::Decay {
                origin: origin.timestamp_millis(),
                offset: *offset_ms as f64,
                scale: *scale_ms as f64,
                decay: *decay,
            }),
        }
    }

    pub(super) fn of(&self, candidate: &Candidate) -> f64 {
        match self {
            Score::LinkWeight => candidate.weight,
            Score::Decay { .. } => candidate.weight * self.decay_at(candidate.published),
        }
    }

    fn decay_at(&self, published: i64) -> f64 {
        let Score::Decay {
            origin,
            offset,
            scale,
            decay,
        } = self
        else {
            return 1.0;
        };
        let distance = (published.abs_diff(*origin) as f64 - offset).max(0.0);
        decay.powf((distance / scale).powi(2))
    }

    /// The highest score any activity published at or before `published` can have, when no
    /// link weighs more than `max_weight`.
    pub(super) fn upper_bound(&self, published: i64, max_weight: f64) -> f64 {
        match self {
            Score::LinkWeight => max_weight,
            // Negative weights score at most 0 (their decay can approach 0).
            Score::Decay { .. } if max_weight <= 0.0 => 0.0,
            Score::Decay { origin, offset, .. } => {
                // Older activities decay further only once past the plateau around the origin.
                if (published as f64) >= *origin as f64 - offset {
                    max_weight
                } else {
                    max_weight * self.decay_at(published)
                }
            }
        }
    }
}

/// An activity kept for a ranked page, ordered by score, then `(published, id)`.
struct Ranked {
    score: f64,
    published: i64,
    id: String,
    address: DocAddress,
}

impl Ranked {
    fn cmp_key(&self, score: f64, published: i64, id: &str) -> Ordering {
        self.score
            .total_cmp(&score)
            .then(self.published.cmp(&published))
            .then_with(|| self.id.as_str().cmp(id))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_key(other.score, other.published, &other.id)
    }
}

/// A flat page of the best-scored activities strictly below the page's bound.
pub(super) fn ranked(
    searcher: &Searcher,
    fields: &FeedFields,
    query: &FeedQuery,
    score: &Score,
    merge: &mut Merge<'_>,
) -> Result<FeedResult> {
    let keep = query.page.size + 1;
    let below = match &query.page.bound {
        Some(Bound::RankedBelow(scored)) => Some((
            scored.score,
            scored.position.published.timestamp_millis(),
            scored.position.id.as_str(),
        )),
        _ => None,
    };
    // The kept activities, worst on top.
    let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(keep + 1);
    while let Some((i, candidate)) = merge.next()? {
        if best.len() == keep {
            let worst = &best.peek().expect("the heap is full").0;
            // Every later candidate is older (or, at this millisecond, has a lower id) than
            // every kept one, so a score equal to the worst kept one ranks below it too: `>=`,
            // or ranking by weight alone (whose bound is the best weight) could never stop.
            if worst.score >= score.upper_bound(candidate.published, merge.max_weight) {
                break;
            }
        }
        let value = score.of(&candidate);
        // Cheap rejections first: only a tie at the millisecond needs the id.
        if let Some((score, published, id)) = below {
            let order = value
                .total_cmp(&score)
                .then(candidate.published.cmp(&published));
            if order == Ordering::Greater
                || (order == Ordering::Equal && merge.cursors[i].id(&candidate)?.as_str() >= id)
            {
                continue;
            }
        }
        if best.len() == keep {
            let worst = &best.peek().expect("the heap is full").0;
            let order = value
                .total_cmp(&worst.score)
                .then(candidate.published.cmp(&worst.published));
            if order == Ordering::Less {
                continue;
            }
        }
        let id = merge.cursors[i].id(&candidate)?;
        let ranked = Ranked {
            score: value,
            published: candidate.published,
            id,
            address: merge.address((i, candidate)),
        };
        if best.len() == keep {
            if ranked <= best.peek().expect("the heap is full").0 {
                continue;
            }
            best.pop();
        }
        best.push(Reverse(ranked));
    }
    let mut kept: Vec<Ranked> = best.into_iter().map(|r| r.0).collect();
    kept.sort_unstable_by(|a, b| b.cmp(a));
    let more = kept.len() > query.page.size;
    kept.truncate(query.page.size);
    let hits = kept
        .into_iter()
        .map(|ranked| {
            Ok(Hit {
                activity: load_activity(searcher, ranked.address, fields)?,
                score: Some(ranked.score),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FeedResult {
        hits,
        more,
        groups: Vec::new(),
    })
}
