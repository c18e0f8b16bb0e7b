//! The terms of a text column by ordinal, decoded a chunk at a time and kept for as long as the
//! segment lives.
//!
//! A column's dictionary is a sorted string table in blocks of about 4 KB: finding the term of
//! one ordinal decodes its block from the start, a few microseconds. Feed reads ask for the
//! terms of the entities they meet (to confirm a hash match exactly, or to name a group), and
//! across reads they meet the same popular entities again, so each chunk of 64 neighbouring
//! terms is decoded once, in one pass, and kept. A segment never changes, so neither do its
//! terms; the memory is that of the chunks read, at most the dictionary's own size.

use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};
use tantivy::columnar::StrColumn;

use crate::error::{Error, Result};

/// Terms per chunk.
const CHUNK: u64 = 64;

/// A text column and the chunks of its dictionary decoded so far.
pub(super) struct CachedTerms {
    column: StrColumn,
    chunks: Mutex<HashMap<u64, Arc<[Box<str>]>>>,
}

impl CachedTerms {
    pub(super) fn new(column: StrColumn) -> Self {
        CachedTerms {
            column,
            chunks: Mutex::new(HashMap::new()),
        }
    }

    /// The column itself (ordinals, dictionary).
    pub(super) fn column(&self) -> &StrColumn {
        &self.column
    }

    /// The term of ordinal `ord`.
    fn chunk(&self, ord: u64) -> Result<Arc<[Box<str>]>> {
        let chunk = ord / CHUNK;
        if let Some(found) = self.lock().get(&chunk) {
            return Ok(Arc::clone(found));
        }
        // Decoded outside the lock: another read may decode the same chunk meanwhile, and one
        // of the two copies is kept.
        let dictionary = self.column.dictionary();
        let first = chunk * CHUNK;
        let end = (first + CHUNK).min(dictionary.num_terms() as u64);
        let ords: Vec<u64> = (first..end).collect();
        let mut terms = Vec::with_capacity(ords.len());
        let mut broken = false;
        let complete = dictionary
            .sorted_ords_to_term_cb(&ords, |bytes| match std::str::from_utf8(bytes) {
                Ok(text) => terms.push(Box::from(text)),
                Err(_) => broken = true,
            })
            .map_err(|e| Error::backend("embedded", e))?;
        if !complete || broken || terms.len() != ords.len() {
            return Err(Error::backend(
                "embedded",
                "a column's dictionary is damaged",
            ));
        }
        let terms: Arc<[Box<str>]> = terms.into();
        Ok(Arc::clone(self.lock().entry(chunk).or_insert(terms)))
    }

    /// Calls `with` on the term of ordinal `ord`.
    pub(super) fn with_term<T>(&self, ord: u64, with: impl FnOnce(&str) -> T) -> Result<T> {
        let chunk = self.chunk(ord)?;
        let term = chunk
            .get((ord % CHUNK) as usize)
            .ok_or_else(|| Error::backend("embedded", "an ordinal past its column's dictionary"))?;
        Ok(with(term))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<[Box<str>]>>> {
        // A panic while holding the lock leaves the map consistent (inserts are single calls).
        self.chunks.lock().unwrap_or_else(|e| e.into_inner())
    }
}
