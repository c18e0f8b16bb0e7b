//! The index definitions: the Python ElasticFeeds mappings, field for field, plus what this
//! library adds (`feed_id` on activities, `link_id` on links, the optional `embedding`, and the
//! store's own metadata in the mapping's `_meta`).

use serde_json::{json, Value};

use super::Engine;
use crate::embedding::EmbeddingSpace;

/// The `_meta` key under which a store keeps its metadata (cursor key, embedding space).
pub(crate) const META_KEY: &str = "elasticfeeds";

/// The version of the documents and mappings this build writes.
pub(crate) const FORMAT: u64 = 1;

/// Shards and replicas for a new index.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) shards: u32,
    pub(crate) replicas: u32,
    /// `index.refresh_interval` (such as `"100ms"`), or `None` for the engine's default (1 s).
    pub(crate) refresh_interval: Option<String>,
    /// Set `index.mapping.exclude_source_vectors: false` (Elasticsearch 9.2 and later), so an
    /// activity's embedding is kept in `_source` and read back exactly as written.
    pub(crate) keep_source_vectors: bool,
}

/// An entity (`actor`, `object`, `origin`, `target`): two keywords and extra data that is kept
/// but never indexed.
fn entity() -> Value {
    json!({
        "properties": {
            "id": {"type": "keyword"},
            "type": {"type": "keyword"},
            "extra": {"type": "object", "enabled": false}
        }
    })
}

/// The feeds index: one document per activity.
pub(crate) fn feeds_index(
    engine: Engine,
    layout: &Layout,
    meta: Value,
    space: Option<EmbeddingSpace>,
) -> Value {
    let mut properties = json!({
        "published": {"type": "date"},
        "published_date": {"type": "date", "format": "yyyy-MM-dd"},
        "published_time": {"type": "date", "format": "HH:mm:ss"},
        "published_year": {"type": "integer"},
        "published_month": {"type": "integer"},
        "type": {"type": "keyword"},
        "actor": entity(),
        "object": entity(),
        "origin": entity(),
        "target": entity(),
        "extra": {"type": "object", "enabled": false},
        "feed_id": {"type": "keyword"}
    });
    let mut settings = settings(layout);
    if layout.keep_source_vectors {
        // Set whether or not the store holds embeddings yet: it is fixed at creation.
        settings["mapping"] = json!({"exclude_source_vectors": false});
    }
    if let Some(space) = space {
        properties["embedding"] = embedding_field(engine, space);
    }
    json!({
        "settings": {"index": settings},
        "mappings": {
            "_meta": {META_KEY: meta},
            "properties": properties
        }
    })
}

/// The index settings both indices share.
fn settings(layout: &Layout) -> Value {
    let mut settings = json!({
        "number_of_shards": layout.shards,
        "number_of_replicas": layout.replicas
    });
    if let Some(interval) = &layout.refresh_interval {
        settings["refresh_interval"] = json!(interval);
    }
    settings
}

/// The network index: one document per link.
pub(crate) fn network_index(layout: &Layout) -> Value {
    json!({
        "settings": {"index": settings(layout)},
        "mappings": {
            "properties": {
                "linked": {"type": "date"},
                "actor_id": {"type": "keyword"},
                "link_type": {"type": "keyword"},
                "linked_activity": {"properties": {
                    "activity_class": {"type": "keyword"},
                    "id": {"type": "keyword"},
                    "type": {"type": "keyword"}
                }},
                "link_weight": {"type": "float"},
                "extra": {"type": "object", "enabled": false},
                "link_id": {"type": "keyword"}
            }
        }
    })
}

/// The `embedding` field: stored, not indexed. Vector queries are scored exactly in the client
/// (see the backend's `nearest`), so an engine-side vector index (HNSW, with its ingest cost
/// and memory) would be built for nothing. The engines differ in the type's name:
/// Elasticsearch has `dense_vector` with `index: false`; OpenSearch has `knn_vector`, stored
/// without a search method in an index without `index.knn` (which also needs no particular
/// k-NN engine or OpenSearch version).
pub(crate) fn embedding_field(engine: Engine, space: EmbeddingSpace) -> Value {
    match engine {
        Engine::Elasticsearch => json!({
            "type": "dense_vector",
            "dims": space.dimensions(),
            "index": false
        }),
        Engine::OpenSearch => json!({
            "type": "knn_vector",
            "dimension": space.dimensions()
        }),
    }
}
