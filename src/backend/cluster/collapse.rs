//! Collapse on a cluster: the newest activity of each key value, over the whole feed.
//!
//! The engines' own `collapse` keeps the best hit per value *of the hits it is asked for*, and
//! with `search_after` only when sorting on the collapsed field, so a second page would list a
//! value again with its next activity. A key that is an entity is also two fields (type and
//! id), which `collapse` cannot take. So the backend walks the feed from its top in pages, as
//! the embedded backend does, and keeps here the first activity of every value: page *n* reads
//! the feed down to the end of page *n*.

use std::collections::HashSet;

use crate::query::{GroupKey, GroupValue, Position};
use crate::result::Hit;

/// How many activities each search of the walk reads.
pub(crate) const CHUNK: usize = 1_000;

/// The page being collected while the feed is walked newest first.
pub(crate) struct Collapse {
    key: GroupKey,
    /// The page lists only values whose newest activity lies strictly below this position.
    below: Option<Position>,
    size: usize,
    seen: HashSet<GroupValue>,
    kept: Vec<Hit>,
}

impl Collapse {
    /// A page of `size` below `below` (the page's "older than" position), collapsed on `key`.
    pub(crate) fn new(key: GroupKey, below: Option<Position>, size: usize) -> Self {
        Collapse {
            key,
            below,
            size,
            seen: HashSet::new(),
            kept: Vec::with_capacity(size + 1),
        }
    }

    /// Takes the next hits of the walk, in feed order; `true` once the page and the one
    /// activity that tells whether more follow are found, so the walk can stop.
    pub(crate) fn take(&mut self, hits: Vec<Hit>) -> bool {
        for hit in hits {
            if !self.seen.insert(self.key.value_of(&hit.activity)) {
                continue;
            }
            if let Some(below) = &self.below {
                let at = (hit.activity.published(), hit.activity.id());
                if at >= (below.published, Some(below.id.as_str())) {
                    continue;
                }
            }
            self.kept.push(hit);
            if self.kept.len() > self.size {
                return true;
            }
        }
        false
    }

    /// The page, and whether more follow it.
    pub(crate) fn finish(mut self) -> (Vec<Hit>, bool) {
        let more = self.kept.len() > self.size;
        self.kept.truncate(self.size);
        (self.kept, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cluster::test_hit as hit;

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.activity.id().unwrap()).collect()
    }

    /// Newest first: a5 (ann), a4 (bob), a3 (ann), a2 (cy), a1 (bob), a0 (dee).
    fn feed() -> Vec<Hit> {
        vec![
            hit("a5", "ann", 5),
            hit("a4", "bob", 4),
            hit("a3", "ann", 3),
            hit("a2", "cy", 2),
            hit("a1", "bob", 1),
            hit("a0", "dee", 0),
        ]
    }

    #[test]
    fn first_page_keeps_the_newest_per_value() {
        let mut page = Collapse::new(GroupKey::Actor, None, 2);
        assert!(page.take(feed()), "a page of 2 and one more are found");
        let (hits, more) = page.finish();
        assert_eq!(ids(&hits), ["a5", "a4"]);
        assert!(more);
    }

    #[test]
    fn later_page_skips_values_listed_above_it() {
        // Below a4: ann and bob were listed on the page above, so only cy and dee remain.
        let below = Position::of(&feed()[1].activity).unwrap();
        let mut page = Collapse::new(GroupKey::Actor, Some(below), 2);
        let mut chunks = feed();
        let rest = chunks.split_off(3);
        assert!(
            !page.take(chunks),
            "nothing below a4 is kept from the first chunk"
        );
        assert!(!page.take(rest), "the walk ends without a third value");
        let (hits, more) = page.finish();
        assert_eq!(ids(&hits), ["a2", "a0"]);
        assert!(!more);
    }

    #[test]
    fn ties_at_the_bound_use_the_id() {
        // Two activities at one second: only the lower id lies below a position at the higher.
        let hits = vec![hit("b", "ann", 7), hit("a", "bob", 7)];
        let below = Position::of(&hits[0].activity).unwrap();
        let mut page = Collapse::new(GroupKey::Actor, Some(below), 5);
        page.take(hits);
        assert_eq!(ids(&page.finish().0), ["a"]);
    }
}
