//! The vector log: every embedding written to an embedded store, as fixed-size records of
//! little-endian `f32`, in write order. An activity refers to its record by *slot* (the record's
//! index), kept in the activity index as a `u64` column, so tantivy carries the reference through
//! merges and index sorting, and a removed activity's record is simply never referred to again.
//!
//! Why not a column of the activity index: tantivy stores bytes columns as a sorted dictionary,
//! and reading a vector back decodes (copies) a dictionary block and the key itself; measured at
//! 1 million 384-dimension vectors, that copying cost more than scoring. A record here is read in
//! place from a memory map, at one `4 × dimensions` byte slice per vector.
//!
//! **Durability.** The writer appends a batch's records and syncs the file *before* the tantivy
//! commit that refers to them, so a committed slot is always on disk. A crash or a failed commit
//! leaves records nobody refers to; they are skipped, never reused (the next slot starts after the
//! file's end, rounded up to a whole record).
//!
//! **Removal.** A removed or replaced activity's record stays in the file, referred to by nothing
//! and never read again (as a removed activity's document stays in its tantivy segment until a
//! merge rewrites it). Records are never changed in place: a reader in this or another process
//! may be scoring them at any time. The log is not compacted yet, so it grows by one record per
//! embedding written, and a removed vector's bytes stay on disk until the store is rebuilt.
//!
//! **Readers** map the file through tantivy's `MmapDirectory` (no unsafe code here) and map it
//! again, larger, when they meet a slot past the end of their map: another process, or this
//! process's writer, appended since.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use tantivy::directory::{Directory, MmapDirectory, OwnedBytes};

use crate::error::{Error, Result};

/// The log file's name inside the store directory.
const FILE: &str = "embeddings.f32";

/// Where the records live.
enum Storage {
    /// A file, mapped by readers.
    Disk {
        dir: PathBuf,
        map: RwLock<OwnedBytes>,
        /// The writer's handle; `None` in a read-only store.
        file: Mutex<Option<File>>,
    },
    /// A buffer, for stores in RAM.
    Memory(RwLock<Vec<u8>>),
}

/// The vector log of one store.
pub(super) struct VectorLog {
    /// Bytes per record: 4 × dimensions.
    record: usize,
    storage: Storage,
}

/// A read view of the log, valid for one read.
pub(super) enum View<'a> {
    Mapped(OwnedBytes),
    Memory(RwLockReadGuard<'a, Vec<u8>>),
}

impl View<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            View::Mapped(bytes) => bytes.as_slice(),
            View::Memory(buffer) => buffer.as_slice(),
        }
    }
}

impl std::fmt::Debug for VectorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorLog")
            .field("record", &self.record)
            .finish()
    }
}

impl VectorLog {
    /// The log of the store in `dir` (created empty if missing, unless read-only).
    pub(super) fn open(dir: &Path, dimensions: usize, read_only: bool) -> Result<Self> {
        let io = |e: std::io::Error| Error::backend("embedded", e);
        let path = dir.join(FILE);
        // A read-only store never creates the file: until the writer has written to it, the map
        // is empty.
        let file = if read_only {
            None
        } else {
            let created = !path.exists();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            if created {
                // Commits will refer into it: its directory entry must outlive a power cut.
                sync_dir(dir).map_err(io)?;
            }
            Some(file)
        };
        let log = VectorLog {
            record: 4 * dimensions,
            storage: Storage::Disk {
                dir: dir.to_owned(),
                map: RwLock::new(OwnedBytes::empty()),
                file: Mutex::new(file),
            },
        };
        log.remap()?;
        Ok(log)
    }

    /// An empty log in RAM.
    pub(super) fn memory(dimensions: usize) -> Self {
        VectorLog {
            record: 4 * dimensions,
            storage: Storage::Memory(RwLock::new(Vec::new())),
        }
    }

    /// The first slot free for writing: after every record already in the log, a partial one
    /// (left by a crash) included.
    pub(super) fn end_slot(&self) -> Result<u64> {
        let len = match &self.storage {
            Storage::Disk { dir, .. } => fs::metadata(dir.join(FILE))
                .map_err(|e| Error::backend("embedded", e))?
                .len(),
            Storage::Memory(buffer) => buffer.read().map_err(|_| poisoned())?.len() as u64,
        };
        Ok(len.div_ceil(self.record as u64))
    }

    /// Writes records starting at `first_slot` and makes them durable. Called by the writer
    /// before the commit that refers to them.
    pub(super) fn write(&self, first_slot: u64, records: &[u8]) -> Result<()> {
        let offset = first_slot * self.record as u64;
        match &self.storage {
            Storage::Disk { file, .. } => {
                let io = |e: std::io::Error| Error::backend("embedded", e);
                let mut guard = file.lock().map_err(|_| poisoned())?;
                let file = guard.as_mut().ok_or(Error::ReadOnly)?;
                file.seek(SeekFrom::Start(offset)).map_err(io)?;
                file.write_all(records).map_err(io)?;
                file.sync_data().map_err(io)
            }
            Storage::Memory(buffer) => {
                let mut buffer = buffer.write().map_err(|_| poisoned())?;
                let (start, end) = (offset as usize, offset as usize + records.len());
                if buffer.len() < end {
                    // Slots of a batch that never committed stay zero-filled gaps.
                    buffer.resize(end, 0);
                }
                buffer[start..end].copy_from_slice(records);
                Ok(())
            }
        }
    }

    /// A view that holds every record up to `slot` if the log has it.
    pub(super) fn view(&self, slot: u64) -> Result<View<'_>> {
        match &self.storage {
            Storage::Disk { map, .. } => {
                let current = map.read().map_err(|_| poisoned())?.clone();
                if self.covers(current.len(), slot) {
                    return Ok(View::Mapped(current));
                }
                Ok(View::Mapped(self.remap()?))
            }
            Storage::Memory(buffer) => Ok(View::Memory(buffer.read().map_err(|_| poisoned())?)),
        }
    }

    /// The record of `slot` in a view, as bytes; `None` if the view does not hold it.
    pub(super) fn record<'v>(&self, view: &'v View<'_>, slot: u64) -> Option<&'v [u8]> {
        let start = usize::try_from(slot).ok()?.checked_mul(self.record)?;
        view.bytes().get(start..start.checked_add(self.record)?)
    }

    fn covers(&self, len: usize, slot: u64) -> bool {
        (slot as u128 + 1) * self.record as u128 <= len as u128
    }

    /// Maps the file again at its current length.
    fn remap(&self) -> Result<OwnedBytes> {
        let Storage::Disk { dir, map, .. } = &self.storage else {
            return Ok(OwnedBytes::empty());
        };
        let backend = |e: String| Error::backend("embedded", e);
        // A fresh directory each time: its cache would hand back the old, shorter map.
        let directory = MmapDirectory::open(dir).map_err(|e| backend(e.to_string()))?;
        let bytes = match directory.open_read(Path::new(FILE)) {
            Ok(slice) => slice.read_bytes().map_err(|e| backend(e.to_string()))?,
            Err(tantivy::directory::error::OpenReadError::FileDoesNotExist(_)) => {
                OwnedBytes::empty()
            }
            Err(e) => return Err(backend(e.to_string())),
        };
        *map.write().map_err(|_| poisoned())? = bytes.clone();
        Ok(bytes)
    }
}

/// Makes a directory's entries (a file created or renamed in it) durable. Only Unix can open a
/// directory to sync it; elsewhere this relies on the file system's own ordering.
pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A vector as the bytes of its record.
pub(super) fn to_record(vector: &[f32], out: &mut Vec<u8>) {
    out.extend(vector.iter().flat_map(|v| v.to_le_bytes()));
}

/// Reads a record back into `out`.
pub(super) fn from_record(record: &[u8], out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        record
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
}

fn poisoned() -> Error {
    Error::backend("embedded", "the vector log's lock was poisoned by a panic")
}
