//! The crate's one error type.
//!
//! Every variant names the value that was refused, so a caller can report it without guessing.
//! Validation errors are raised before anything is written: an input that fails leaves the store
//! exactly as it was.

use std::path::PathBuf;

/// The result type of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in elasticfeeds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An id is empty, contains whitespace or a control character, or is longer than 512 bytes.
    #[error("invalid {field} id {value:?}: {reason}")]
    InvalidId {
        /// Which id (for example `actor`, `object`, `user`).
        field: &'static str,
        /// The id as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A type or verb is empty, longer than 512 bytes, or has characters other than letters.
    #[error("invalid {field} {value:?}: only letters are allowed (1 to 512 bytes)")]
    InvalidKeyword {
        /// Which keyword (for example `verb`, `actor type`, `link type`).
        field: &'static str,
        /// The keyword as given.
        value: String,
    },

    /// An `extra` value is not a JSON object.
    #[error("invalid extra on {field}: expected a JSON object, got {found}")]
    InvalidExtra {
        /// Where the extra was given.
        field: &'static str,
        /// The JSON kind that was given instead (`array`, `string`, …).
        found: &'static str,
    },

    /// A link weight is NaN or infinite.
    #[error("invalid link weight {value}: it must be a finite number")]
    InvalidWeight {
        /// The weight as given.
        value: f64,
    },

    /// An embedding or query vector cannot be used: empty or too long, a NaN or infinite value,
    /// the wrong length for the store, a zero vector under cosine similarity, or a vector that is
    /// not of unit length under dot product similarity.
    #[error("invalid {field}: {reason}")]
    InvalidVector {
        /// Which vector (`embedding`, `query vector`).
        field: &'static str,
        /// Why it was refused, naming the bad value.
        reason: String,
    },

    /// An embedding was written, or a vector query run, on a store opened without an
    /// [`EmbeddingSpace`](crate::EmbeddingSpace).
    #[error(
        "this store has no embeddings: open it with ManagerBuilder::embeddings to store and search them"
    )]
    EmbeddingsNotEnabled,

    /// A store was opened with another embedding space than the one it records.
    #[error("store {store} holds embeddings of {stored}, not {requested}")]
    EmbeddingSpaceMismatch {
        /// The store's location.
        store: String,
        /// The space the store records.
        stored: String,
        /// The space it was opened with.
        requested: String,
    },

    /// A link class is neither `actor` nor `object`.
    #[error("invalid link class {value:?}: expected \"actor\" or \"object\"")]
    InvalidLinkClass {
        /// The class as given.
        value: String,
    },

    /// A timestamp lies outside the range every backend can store
    /// (years 1 to 9999, to the millisecond).
    #[error("invalid {field} timestamp {value}: it must lie within years 1 to 9999")]
    InvalidTimestamp {
        /// Which timestamp.
        field: &'static str,
        /// The timestamp as given.
        value: String,
    },

    /// A size, limit or count is out of its allowed range.
    #[error("invalid {what} {value}: it must be between {min} and {max}")]
    InvalidSize {
        /// What the number sizes (for example `page size`, `hits per group`).
        what: &'static str,
        /// The number as given.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },

    /// A feed query is inconsistent in a way no single number explains.
    #[error("invalid feed query: {reason}")]
    InvalidQuery {
        /// What is wrong with it.
        reason: String,
    },

    /// An index name does not follow the rules shared by every backend.
    #[error("invalid index name {value:?}: {reason}")]
    InvalidIndexName {
        /// The name as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A cursor string could not be decoded.
    #[error("invalid cursor {value:?}: {reason}")]
    InvalidCursor {
        /// The cursor as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A connection string names no backend this build can open.
    #[error("invalid connection string {value:?}: {reason}")]
    InvalidConnection {
        /// The connection string as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// The link being added is already stored.
    #[error("link already exists: {link}")]
    LinkExists {
        /// The link's identity, `user -link_type-> class:type:id`.
        link: String,
    },

    /// The link being removed or changed is not stored.
    #[error("link not found: {link}")]
    LinkNotFound {
        /// The link's identity, `user -link_type-> class:type:id`.
        link: String,
    },

    /// No activity has this id.
    #[error("activity not found: {id:?}")]
    ActivityNotFound {
        /// The id that was looked up.
        id: String,
    },

    /// An activity id given by the caller is already used by another actor's activity.
    #[error("activity id {id:?} belongs to actor {stored_actor}, not to {given_actor}")]
    ActivityConflict {
        /// The id.
        id: String,
        /// The actor (`type:id`) of the stored activity.
        stored_actor: String,
        /// The actor (`type:id`) of the activity that was refused.
        given_actor: String,
    },

    /// Another `Manager` (in this process or another) holds the store's writer.
    #[error("store {path} is locked by another writer; open it read-only or close the other one")]
    StoreLocked {
        /// The store's location.
        path: PathBuf,
    },

    /// The store was written in a format this version cannot read.
    #[error("store {path} has format version {found}; this version reads version {expected}")]
    StoreVersion {
        /// The store's location.
        path: PathBuf,
        /// The version recorded in the store.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },

    /// The location is not a store and cannot become one (a non-empty directory without store
    /// metadata, or a missing store opened read-only).
    #[error("{path} is not an elasticfeeds store: {reason}")]
    NotAStore {
        /// The location.
        path: PathBuf,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A write was attempted through a read-only `Manager`.
    #[error("this store was opened read-only")]
    ReadOnly,

    /// A write was attempted after [`Manager::close`](crate::Manager::close) released the store.
    #[error("this store was closed")]
    StoreClosed,

    /// The backend cannot do what the query asks; nothing was approximated.
    #[error("the {backend} backend does not support {feature}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// What it cannot do.
        feature: &'static str,
    },

    /// No node of the cluster answered (connection refused or reset, a TLS failure, a
    /// timeout), after the retries the policy allows.
    #[error("cannot reach the {backend} cluster at {nodes}: {reason}")]
    Unreachable {
        /// The backend's name.
        backend: &'static str,
        /// The node URLs tried (without credentials).
        nodes: String,
        /// The client's description of the last failure.
        reason: String,
    },

    /// The cluster refused a request (or one item of a bulk request) with an error status.
    #[error("the {backend} cluster refused the request ({status} {kind}): {reason}")]
    Rejected {
        /// The backend's name.
        backend: &'static str,
        /// The HTTP status (or the bulk item's status).
        status: u16,
        /// The engine's error type (`mapper_parsing_exception`, `security_exception`, …).
        kind: String,
        /// The engine's reason.
        reason: String,
    },

    /// An index the store needs is missing on the cluster (deleted after the store opened).
    #[error("the {backend} index {index:?} does not exist")]
    IndexNotFound {
        /// The backend's name.
        backend: &'static str,
        /// The index name the engine reported.
        index: String,
    },

    /// The engine failed (I/O, a corrupt index, a closed writer).
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// The engine's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps an engine error from the named backend.
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            backend,
            source: source.into(),
        }
    }
}
