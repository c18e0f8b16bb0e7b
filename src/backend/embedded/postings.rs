//! Posting lists of one activity segment read in document order: a query's matches, or the
//! lists of a network's entity hashes merged into one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tantivy::columnar::Column;
use tantivy::postings::{SegmentPostings, TermInfo};
use tantivy::query::Scorer;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Term, TERMINATED};

use super::columns::Columns;
use super::reach::{Reach, TABLE_OF_SLOT};
use crate::error::{Error, Result};

/// Posting lists read in document order.
pub(super) enum Postings {
    /// A tantivy query's matches.
    Query(Box<dyn Scorer>),
    /// The network's hash posting lists, merged.
    Network(NetworkUnion),
}

impl Postings {
    pub(super) fn doc(&self) -> DocId {
        match self {
            Postings::Query(scorer) => scorer.doc(),
            Postings::Network(union) => union.doc,
        }
    }

    pub(super) fn advance(&mut self) -> DocId {
        match self {
            Postings::Query(scorer) => scorer.advance(),
            Postings::Network(union) => union.advance(),
        }
    }

    pub(super) fn seek(&mut self, target: DocId) {
        if self.doc() == TERMINATED || self.doc() >= target {
            return;
        }
        match self {
            Postings::Query(scorer) => {
                scorer.seek(target);
            }
            Postings::Network(union) => union.seek(target),
        }
    }
}

/// The posting lists of a network's entity hashes in one segment, merged in document order.
/// A list leaves the merge once it reaches documents older than the earliest link to its
/// entity: everything after it is older still.
pub(super) struct NetworkUnion {
    lists: Vec<(SegmentPostings, i64)>,
    heap: BinaryHeap<Reverse<(DocId, u32)>>,
    published: Column<i64>,
    doc: DocId,
}

/// The network's posting lists in one segment, looked up (their documents counted) but not
/// yet read.
pub(super) struct Lists {
    /// `(slot, term info, earliest link time)` of every linked hash the segment holds.
    found: Vec<(usize, TermInfo, i64)>,
    /// How many documents they hold in all.
    pub(super) documents: u64,
}

impl Lists {
    pub(super) fn look_up(columns: &Columns, reach: &Reach) -> Result<Lists> {
        let mut lists = Lists {
            found: Vec::new(),
            documents: 0,
        };
        for (slot, table) in TABLE_OF_SLOT.into_iter().enumerate() {
            for (hash, bucket) in reach.buckets(table) {
                let term = Term::from_field_u64(columns.hash_fields[slot], hash);
                if let Some(info) = columns.postings[slot]
                    .get_term_info(&term)
                    .map_err(|e| Error::backend("embedded", e))?
                {
                    lists.documents += u64::from(info.doc_freq);
                    lists.found.push((slot, info, bucket.earliest));
                }
            }
        }
        Ok(lists)
    }
}

impl NetworkUnion {
    /// Reads the lists from `start` on.
    pub(super) fn open(columns: &Columns, lists: Lists, start: DocId) -> Result<NetworkUnion> {
        let mut union = NetworkUnion {
            lists: Vec::with_capacity(lists.found.len()),
            heap: BinaryHeap::with_capacity(lists.found.len()),
            published: columns.published.clone(),
            doc: TERMINATED,
        };
        for (slot, info, earliest) in lists.found {
            let mut postings = columns.postings[slot]
                .read_postings_from_terminfo(&info, IndexRecordOption::Basic)
                .map_err(|e| Error::backend("embedded", e))?;
            if postings.doc() < start {
                postings.seek(start);
            }
            union.lists.push((postings, earliest));
            union.push(union.lists.len() - 1);
        }
        union.doc = union.top();
        Ok(union)
    }

    /// Puts list `i` back in the merge at its current document, unless it is done.
    fn push(&mut self, i: usize) {
        let (postings, earliest) = &self.lists[i];
        let doc = postings.doc();
        if doc != TERMINATED && self.published.first(doc).unwrap_or(i64::MIN) >= *earliest {
            self.heap.push(Reverse((doc, i as u32)));
        }
    }

    fn top(&self) -> DocId {
        self.heap
            .peek()
            .map_or(TERMINATED, |Reverse((doc, _))| *doc)
    }

    fn advance(&mut self) -> DocId {
        let current = self.doc;
        while let Some(&Reverse((doc, i))) = self.heap.peek() {
            if doc != current {
                break;
            }
            self.heap.pop();
            self.lists[i as usize].0.advance();
            self.push(i as usize);
        }
        self.doc = self.top();
        self.doc
    }

    fn seek(&mut self, target: DocId) {
        while let Some(&Reverse((doc, i))) = self.heap.peek() {
            if doc >= target {
                break;
            }
            self.heap.pop();
            self.lists[i as usize].0.seek(target);
            self.push(i as usize);
        }
        self.doc = self.top();
    }
}
