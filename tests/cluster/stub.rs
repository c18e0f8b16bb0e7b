//! A local HTTP server that answers like a fresh Elasticsearch or OpenSearch node, with bodies
//! taken from the engines' REST API documentation, so the real clients and our HTTP handling
//! (retries, error mapping, bulk items) can be tested without a cluster.
//!
//! It stands in for the network, never for an engine's behaviour: it knows indices, mappings,
//! documents by id and bulk `create`/`index`, nothing about searching. Each test adds a script
//! that answers chosen requests first (failures, partial bulk results).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Router;
use serde_json::{json, Value};

/// One request the stub received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    /// The path without the leading slash (`feeds/_search`).
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Seen {
    /// The body as JSON (`Null` when empty).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The body as newline-delimited JSON.
    pub(crate) fn lines(&self) -> Vec<Value> {
        self.body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect()
    }
}

/// What the stub holds: index mappings and documents.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) mappings: HashMap<String, Value>,
    /// Index settings as created (`settings.index`).
    pub(crate) settings: HashMap<String, Value>,
    pub(crate) docs: HashMap<(String, String), Value>,
}

impl State {
    /// Applies a `_bulk` body as the engines do: `create` of an existing id is a 409 version
    /// conflict for that item; `index` replaces.
    pub(crate) fn bulk(&mut self, lines: &[Value]) -> (u16, Value) {
        let mut items = Vec::new();
        let mut errors = false;
        for pair in lines.chunks(2) {
            let (op, meta) = pair[0].as_object().unwrap().iter().next().unwrap();
            let index = meta["_index"].as_str().unwrap().to_owned();
            let id = meta["_id"].as_str().unwrap().to_owned();
            let key = (index.clone(), id.clone());
            if op == "create" && self.docs.contains_key(&key) {
                errors = true;
                items.push(json!({op: {
                    "_index": index, "_id": id, "status": 409,
                    "error": {
                        "type": "version_conflict_engine_exception",
                        "reason": format!("[{id}]: version conflict, document already exists (current version [1])"),
                        "index": index
                    }
                }}));
                continue;
            }
            self.docs.insert(key, pair[1].clone());
            items.push(json!({op: {
                "_index": index, "_id": id, "_version": 1, "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": 0, "_primary_term": 1, "status": 201
            }}));
        }
        (200, json!({"took": 3, "errors": errors, "items": items}))
    }
}

/// Answers chosen requests: `(request, how many earlier requests had the same method and
/// path, state)` → a reply, or `None` for the stub's own answer.
pub(crate) type Script =
    Arc<dyn Fn(&Seen, usize, &mut State) -> Option<(u16, Value)> + Send + Sync>;

/// The engine the stub pretends to be, for `GET /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Elasticsearch,
    OpenSearch,
}

struct Shared {
    flavor: Flavor,
    script: Script,
    seen: Mutex<Vec<Seen>>,
    state: Mutex<State>,
}

/// A running stub; it stops when dropped.
pub(crate) struct Stub {
    pub(crate) url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    pub(crate) async fn start(
        flavor: Flavor,
        script: impl Fn(&Seen, usize, &mut State) -> Option<(u16, Value)> + Send + Sync + 'static,
    ) -> Stub {
        let shared = Arc::new(Shared {
            flavor,
            script: Arc::new(script),
            seen: Mutex::new(Vec::new()),
            state: Mutex::new(State::default()),
        });
        let handler_state = shared.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = handler_state.clone();
                async move { answer(&shared, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Stub { url, shared, task }
    }

    /// Every request received so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The requests with this method and path.
    pub(crate) fn requests(&self, method: Method, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect()
    }

    /// Changes what the stub holds (indices that exist before the test, say).
    pub(crate) fn with_state(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.shared.state.lock().unwrap());
    }

    /// How many documents an index holds.
    pub(crate) fn doc_count(&self, index: &str) -> usize {
        let state = self.shared.state.lock().unwrap();
        state.docs.keys().filter(|(i, _)| i == index).count()
    }
}

fn answer(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let seen = Seen {
        method: method.clone(),
        path: uri.path().trim_start_matches('/').to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let earlier = {
        let mut all = shared.seen.lock().unwrap();
        let n = all
            .iter()
            .filter(|s| s.method == seen.method && s.path == seen.path)
            .count();
        all.push(seen.clone());
        n
    };
    let mut state = shared.state.lock().unwrap();
    let (status, body) = (shared.script)(&seen, earlier, &mut state)
        .unwrap_or_else(|| default_answer(shared.flavor, &seen, &mut state));
    let status = StatusCode::from_u16(status).unwrap();
    let body = if seen.method == Method::HEAD {
        String::new()
    } else {
        body.to_string()
    };
    (
        status,
        [
            ("content-type", "application/json"),
            ("x-elastic-product", "Elasticsearch"),
        ],
        body,
    )
}

/// `GET /` as each engine documents it.
pub(crate) fn info(flavor: Flavor) -> Value {
    match flavor {
        Flavor::Elasticsearch => json!({
            "name": "es01",
            "cluster_name": "elasticfeeds-dev",
            "cluster_uuid": "9jDNZ2fhT2iAZzK7l1Zq9w",
            "version": {
                "number": "9.2.1",
                "build_flavor": "default",
                "build_type": "docker",
                "lucene_version": "10.3.1",
                "minimum_wire_compatibility_version": "8.19.0",
                "minimum_index_compatibility_version": "8.0.0"
            },
            "tagline": "You Know, for Search"
        }),
        Flavor::OpenSearch => json!({
            "name": "opensearch-node1",
            "cluster_name": "opensearch-cluster",
            "cluster_uuid": "3mC8pVxSQJ-ZpTq2mTvNnQ",
            "version": {
                "distribution": "opensearch",
                "number": "2.19.0",
                "build_type": "tar",
                "lucene_version": "9.12.1",
                "minimum_wire_compatibility_version": "7.10.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "The OpenSearch Project: https://opensearch.org/"
        }),
    }
}

/// The engines' error body for a missing index.
pub(crate) fn index_not_found(index: &str) -> Value {
    let cause = json!({
        "type": "index_not_found_exception",
        "reason": format!("no such index [{index}]"),
        "resource.type": "index_or_alias",
        "resource.id": index,
        "index_uuid": "_na_",
        "index": index
    });
    let mut error = cause.clone();
    error["root_cause"] = json!([cause]);
    json!({"error": error, "status": 404})
}

/// Answers the identity searches that look for links the Python library wrote (under random
/// ids) with "none": an empty search response, or one per search of an `_msearch`.
pub(crate) fn no_python_links(seen: &Seen) -> Option<(u16, Value)> {
    let empty = json!({
        "took": 1, "timed_out": false,
        "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []}
    });
    match seen.path.as_str() {
        "network/_search" => Some((200, empty)),
        "network/_msearch" => {
            let mut one = empty;
            one["status"] = json!(200);
            let searches = seen.lines().len() / 2;
            Some((200, json!({"took": 1, "responses": vec![one; searches]})))
        }
        _ => None,
    }
}

/// An error body of the engines' shape.
pub(crate) fn error(status: u16, kind: &str, reason: &str) -> Value {
    json!({
        "error": {
            "root_cause": [{"type": kind, "reason": reason}],
            "type": kind,
            "reason": reason
        },
        "status": status
    })
}

fn default_answer(flavor: Flavor, seen: &Seen, state: &mut State) -> (u16, Value) {
    let parts: Vec<&str> = seen.path.split('/').collect();
    match (&seen.method, parts.as_slice()) {
        (&Method::GET, [""]) => (200, info(flavor)),
        (&Method::HEAD, [index]) => {
            let found = state.mappings.contains_key(*index);
            (if found { 200 } else { 404 }, Value::Null)
        }
        (&Method::PUT, [index]) => {
            if state.mappings.contains_key(*index) {
                return (
                    400,
                    error(
                        400,
                        "resource_already_exists_exception",
                        &format!("index [{index}/abc] already exists"),
                    ),
                );
            }
            let mappings = seen.json()["mappings"].clone();
            state.mappings.insert((*index).to_owned(), mappings);
            let settings = seen.json()["settings"]["index"].clone();
            state.settings.insert((*index).to_owned(), settings);
            (
                200,
                json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
            )
        }
        (&Method::DELETE, [index]) => {
            if state.mappings.remove(*index).is_none() {
                return (404, index_not_found(index));
            }
            state.docs.retain(|(i, _), _| i != index);
            (200, json!({"acknowledged": true}))
        }
        (&Method::GET, [index, "_settings"]) => {
            // As Elasticsearch 9.2 answers with `include_defaults`: settings as strings, and
            // the defaults of a new index, which leave vectors out of `_source`.
            let Some(set) = state.settings.get(*index) else {
                return (404, index_not_found(index));
            };
            let mut settings = json!({});
            if let Some(exclude) = set.pointer("/mapping/exclude_source_vectors") {
                settings["mapping"] = json!({"exclude_source_vectors": exclude.to_string()});
            }
            (
                200,
                json!({ *index: {
                    "settings": {"index": settings},
                    "defaults": {"index": {"mapping": {"exclude_source_vectors": "true"}}}
                }}),
            )
        }
        (&Method::GET, [index, "_mapping"]) => match state.mappings.get(*index) {
            Some(mappings) => (200, json!({ *index: {"mappings": mappings} })),
            None => (404, index_not_found(index)),
        },
        (&Method::PUT, [index, "_mapping"]) => {
            let Some(mappings) = state.mappings.get_mut(*index) else {
                return (404, index_not_found(index));
            };
            let change = seen.json();
            if let Some(meta) = change.get("_meta") {
                mappings["_meta"] = meta.clone();
            }
            if let Some(properties) = change.get("properties").and_then(Value::as_object) {
                for (name, field) in properties {
                    mappings["properties"][name] = field.clone();
                }
            }
            (200, json!({"acknowledged": true}))
        }
        (&Method::POST, ["_bulk"]) => state.bulk(&seen.lines()),
        (&Method::POST, [_, "_refresh"]) => (
            200,
            json!({"_shards": {"total": 2, "successful": 1, "failed": 0}}),
        ),
        (&Method::POST, [index, "_mget"]) => {
            let ids = seen.json()["ids"].as_array().cloned().unwrap_or_default();
            let docs = ids
                .iter()
                .map(|id| {
                    let id = id.as_str().unwrap();
                    match state.docs.get(&((*index).to_owned(), id.to_owned())) {
                        Some(source) => json!({
                            "_index": index, "_id": id, "_version": 1,
                            "_seq_no": 0, "_primary_term": 1, "found": true,
                            "_source": source
                        }),
                        None => json!({"_index": index, "_id": id, "found": false}),
                    }
                })
                .collect::<Vec<_>>();
            (200, json!({ "docs": docs }))
        }
        (&Method::PUT, [index, op @ ("_doc" | "_create"), id]) => {
            // A single-document write: `_create` refuses an existing id; `_doc` replaces (the
            // stub keeps no versions, so any `if_seq_no` matches).
            let id = percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned();
            let key = ((*index).to_owned(), id.clone());
            if *op == "_create" && state.docs.contains_key(&key) {
                return (
                    409,
                    error(
                        409,
                        "version_conflict_engine_exception",
                        &format!("[{id}]: version conflict, document already exists (current version [1])"),
                    ),
                );
            }
            let created = state.docs.insert(key, seen.json()).is_none();
            (
                if created { 201 } else { 200 },
                json!({
                    "_index": index, "_id": id, "_version": 1,
                    "result": if created { "created" } else { "updated" },
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": 1, "_primary_term": 1
                }),
            )
        }
        (&Method::DELETE, [index, "_doc", id]) => {
            let id = percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned();
            let removed = state.docs.remove(&((*index).to_owned(), id.clone()));
            let (status, result) = match removed {
                Some(_) => (200, "deleted"),
                None => (404, "not_found"),
            };
            (
                status,
                json!({
                    "_index": index, "_id": id, "_version": 2, "result": result,
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": 1, "_primary_term": 1
                }),
            )
        }
        (&Method::GET, [index, "_doc", id]) => {
            let id = percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned();
            match state.docs.get(&((*index).to_owned(), id.clone())) {
                Some(source) => (
                    200,
                    json!({
                        "_index": index, "_id": id, "_version": 1, "_seq_no": 0,
                        "_primary_term": 1, "found": true, "_source": source
                    }),
                ),
                None => (404, json!({"_index": index, "_id": id, "found": false})),
            }
        }
        _ => (
            500,
            error(
                500,
                "stub_exception",
                &format!("the stub has no answer for {} /{}", seen.method, seen.path),
            ),
        ),
    }
}
