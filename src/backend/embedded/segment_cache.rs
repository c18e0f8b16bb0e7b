//! Per-segment state kept across reads: columns opened once per segment, not once per read.
//!
//! Opening a column decodes its header, codec metadata and, for text columns, the dictionary's
//! block index; for a user with ten links that cost more than the feed read itself. A
//! segment's columns never change (deletes live in a separate bitset), so what was opened for
//! a segment stays valid for as long as the segment exists.

use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};
use tantivy::index::SegmentId;
use tantivy::SegmentReader;

use crate::error::Result;

/// Values of type `T` made once per segment.
pub(super) struct SegmentCache<T> {
    segments: Mutex<HashMap<SegmentId, Arc<T>>>,
}

impl<T> std::fmt::Debug for SegmentCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let segments = self.segments.lock().map_or(0, |s| s.len());
        f.debug_struct("SegmentCache")
            .field("segments", &segments)
            .finish()
    }
}

impl<T> Default for SegmentCache<T> {
    fn default() -> Self {
        SegmentCache {
            segments: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> SegmentCache<T> {
    /// The value for `reader`'s segment, made with `open` on first use. `live` is the caller's
    /// searcher's segments: entries of segments merged away are dropped once the cache holds
    /// twice as many (at least eight).
    pub(super) fn get(
        &self,
        reader: &SegmentReader,
        live: &[SegmentReader],
        open: impl FnOnce(&SegmentReader) -> Result<T>,
    ) -> Result<Arc<T>> {
        let id = reader.segment_id();
        if let Some(found) = self.lock().get(&id) {
            return Ok(Arc::clone(found));
        }
        // Opened outside the lock: another read may open the same segment meanwhile, and one
        // of the two copies is kept.
        let value = Arc::new(open(reader)?);
        let mut segments = self.lock();
        if segments.len() >= 2 * live.len().max(4) {
            segments.retain(|id, _| live.iter().any(|r| r.segment_id() == *id));
        }
        Ok(Arc::clone(segments.entry(id).or_insert(value)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<T>>> {
        // A panic while holding the lock leaves the map consistent (inserts are single calls).
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }
}
