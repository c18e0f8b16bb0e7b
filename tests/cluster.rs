//! The cluster backends (Elasticsearch, OpenSearch).
//!
//! - `transport::*`: the real clients against a local stub server that replays documented
//!   responses: retries, error mapping, bulk items, what goes on the wire. No cluster needed.
//! - `conformance::elasticsearch::*` and `conformance::opensearch::*`: the shared suite against
//!   a real cluster, when `ELASTICFEEDS_ES_URL` or `ELASTICFEEDS_OPENSEARCH_URL` is set (for
//!   example `http://localhost:9200`, see `elasticsearch_docker/`). Without it each case says
//!   once that it skipped, and passes; with it set to a closed port every case fails.

#![cfg(feature = "cluster")]

#[macro_use]
#[path = "conformance/mod.rs"]
pub mod suite;
#[path = "cluster/stub.rs"]
mod stub;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::Method;
use chrono::{TimeZone, Utc};
use elasticfeeds::backend::cluster::{ClusterOptions, RetryPolicy};
use elasticfeeds::{Activity, Actor, Error, Link, LinkTarget, Manager, Object, Refresh, Result};
use serde_json::json;

// Either client's plain transport deletes the test indices; their APIs agree here.
#[cfg(feature = "elasticsearch")]
use elasticsearch as client;
#[cfg(all(feature = "opensearch", not(feature = "elasticsearch")))]
use opensearch as client;
use stub::{Flavor, Stub};
use suite::{Capabilities, OpenOptions, Store};

/// Fast retries, so the tests do not wait.
fn quick() -> ClusterOptions {
    ClusterOptions::default().retry(RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    })
}

fn scheme(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Elasticsearch => "elasticsearch+",
        Flavor::OpenSearch => "opensearch+",
    }
}

async fn open(stub: &Stub, flavor: Flavor) -> Result<Manager> {
    Manager::builder(&format!("{}{}", scheme(flavor), stub.url))
        .cluster(quick())
        .open()
        .await
}

/// An Elasticsearch store on `stub` holding embeddings of two dimensions compared by L2 norm.
async fn open_l2(stub: &Stub) -> Result<Manager> {
    let space = elasticfeeds::EmbeddingSpace::new(2, elasticfeeds::Similarity::L2Norm)?;
    Manager::builder(&stub.url)
        .cluster(quick())
        .embeddings(space)
        .open()
        .await
}

fn post(id: &str, actor: &str) -> Activity {
    Activity::new(
        "post",
        Actor::new(actor, "person").unwrap(),
        Object::new(id, "post").unwrap(),
    )
    .unwrap()
    .with_id(id)
    .unwrap()
    .published_at(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
    .unwrap()
}

const BOTH: [Flavor; 2] = [Flavor::Elasticsearch, Flavor::OpenSearch];

mod transport {
    use super::*;

    #[tokio::test]
    async fn opening_creates_both_indices_with_their_mappings() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |_, _, _| None).await;
            open(&stub, flavor).await.expect("open");
            let feeds = stub.requests(Method::PUT, "feeds");
            assert_eq!(feeds.len(), 1);
            let body = feeds[0].json();
            // The Elasticsearch stub is 9.2, which would drop vectors from `_source`.
            let mut settings = json!({"index": {"number_of_shards": 1, "number_of_replicas": 1}});
            if flavor == Flavor::Elasticsearch {
                settings["index"]["mapping"] = json!({"exclude_source_vectors": false});
            }
            assert_eq!(body["settings"], settings);
            assert_eq!(
                body["mappings"]["properties"]["feed_id"],
                json!({"type": "keyword"})
            );
            let key = body["mappings"]["_meta"]["elasticfeeds"]["cursor_key"]
                .as_str()
                .unwrap();
            assert_eq!(key.len(), 64);
            assert_eq!(stub.requests(Method::PUT, "network").len(), 1);
        }
    }

    #[tokio::test]
    async fn too_many_requests_and_unavailable_are_retried() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |seen, earlier, _| {
                (seen.method == Method::GET && seen.path.is_empty()).then_some(())?;
                match earlier {
                    0 => Some((
                        429,
                        stub::error(
                            429,
                            "es_rejected_execution_exception",
                            "rejected execution of coordinating operation",
                        ),
                    )),
                    1 => Some((
                        503,
                        stub::error(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"),
                    )),
                    _ => None,
                }
            })
            .await;
            open(&stub, flavor).await.expect("open after two retries");
            assert_eq!(stub.requests(Method::GET, "").len(), 3);
        }
    }

    #[tokio::test]
    async fn retries_stop_at_the_policy_limit() {
        let stub = Stub::start(Flavor::Elasticsearch, |seen, _, _| {
            seen.path
                .is_empty()
                .then(|| (503, stub::error(503, "unavailable", "not ready")))
        })
        .await;
        let result = open(&stub, Flavor::Elasticsearch).await;
        assert!(
            matches!(result, Err(Error::Rejected { status: 503, .. })),
            "{result:?}"
        );
        // The first attempt and three retries.
        assert_eq!(stub.requests(Method::GET, "").len(), 4);
    }

    #[tokio::test]
    async fn bad_request_and_unauthorized_are_not_retried() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |seen, _, _| {
                (seen.method == Method::PUT && seen.path == "feeds").then(|| {
                    (
                        400,
                        stub::error(
                            400,
                            "mapper_parsing_exception",
                            "Failed to parse mapping: unknown parameter [dims]",
                        ),
                    )
                })
            })
            .await;
            match open(&stub, flavor).await {
                Err(Error::Rejected {
                    status: 400,
                    kind,
                    reason,
                    ..
                }) => {
                    assert_eq!(kind, "mapper_parsing_exception");
                    assert!(reason.contains("dims"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(stub.requests(Method::PUT, "feeds").len(), 1);

            let stub = Stub::start(flavor, |_, _, _| {
                Some((
                    401,
                    stub::error(
                        401,
                        "security_exception",
                        "missing authentication credentials for REST request [/]",
                    ),
                ))
            })
            .await;
            let result = open(&stub, flavor).await;
            assert!(
                matches!(result, Err(Error::Rejected { status: 401, ref kind, .. }) if kind == "security_exception"),
                "{result:?}"
            );
            assert_eq!(stub.seen().len(), 1);
        }
    }

    #[tokio::test]
    async fn credentials_in_the_url_are_sent_as_basic_auth() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |_, _, _| None).await;
            let url = stub.url.replace("http://", "http://elastic:s%3Acret@");
            Manager::builder(&format!("{}{url}", scheme(flavor)))
                .cluster(quick())
                .open()
                .await
                .expect("open");
            let seen = stub.seen();
            let auth = seen[0].headers.get("authorization").expect("a header");
            // base64("elastic:s:cret")
            assert_eq!(auth, "Basic ZWxhc3RpYzpzOmNyZXQ=");
        }
    }

    #[tokio::test]
    async fn partial_bulk_failure_is_reported_per_item() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |seen, _, state| {
                (seen.path == "_bulk").then(|| {
                    let lines = seen.lines();
                    // The engine refuses the second document, stores the others.
                    let (_, mut reply) = state.bulk(&[&lines[..2], &lines[4..]].concat());
                    let items = reply["items"].as_array_mut().unwrap();
                    items.insert(
                        1,
                        json!({"create": {
                            "_index": "feeds", "_id": "a2", "status": 400,
                            "error": {
                                "type": "document_parsing_exception",
                                "reason": "[1:15] failed to parse field [published] of type [date] in document with id 'a2'"
                            }
                        }}),
                    );
                    reply["errors"] = json!(true);
                    (200, reply)
                })
            })
            .await;
            let manager = open(&stub, flavor).await.unwrap();
            let results = manager
                .add_activities(vec![
                    post("a1", "mark"),
                    post("a2", "mark"),
                    post("a3", "mark"),
                ])
                .await
                .expect("the batch as a whole is answered");
            assert_eq!(results[0].as_deref().ok(), Some("a1"));
            assert!(
                matches!(&results[1], Err(Error::Rejected { status: 400, kind, .. }) if kind == "document_parsing_exception"),
                "{:?}",
                results[1]
            );
            assert_eq!(results[2].as_deref().ok(), Some("a3"));
            let bulk = &stub.requests(Method::POST, "_bulk")[0];
            assert_eq!(
                bulk.headers.get("content-type").unwrap(),
                "application/x-ndjson"
            );
            // A batch does not wait for a refresh by default.
            assert!(!bulk.query.contains("refresh"), "{}", bulk.query);
        }
    }

    #[tokio::test]
    async fn retried_bulk_creates_no_duplicates() {
        for flavor in BOTH {
            // The first bulk is applied, then its answer is lost behind a 503.
            let stub = Stub::start(flavor, |seen, earlier, state| {
                // The first bulk (activities) and the third (links) lose their answer.
                if seen.path == "_bulk" && (earlier == 0 || earlier == 2) {
                    state.bulk(&seen.lines());
                    return Some((
                        503,
                        stub::error(503, "unavailable", "node is shutting down"),
                    ));
                }
                stub::no_python_links(seen)
            })
            .await;
            let manager = open(&stub, flavor).await.unwrap();
            let results = manager
                .add_activities(vec![post("a1", "mark"), post("a2", "ann")])
                .await
                .unwrap();
            assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
            let bulks = stub.requests(Method::POST, "_bulk");
            assert_eq!(bulks.len(), 2);
            assert_eq!(bulks[0].body, bulks[1].body, "the retry sends the same ids");
            assert_eq!(stub.doc_count("feeds"), 2);

            let link = Link::new(
                "carlos",
                "follow",
                LinkTarget::actor("mark", "person").unwrap(),
            )
            .unwrap();
            let links = manager
                .add_links(vec![link.clone(), link.clone()])
                .await
                .unwrap();
            assert!(links[0].is_ok(), "{links:?}");
            assert!(matches!(links[1], Err(Error::LinkExists { .. })));
            assert_eq!(stub.doc_count("network"), 1);
            // A retried create that meets its own first attempt is a success, not "exists".
            let watch =
                Link::new("carlos", "watch", LinkTarget::object("p1", "post").unwrap()).unwrap();
            let watched = manager.add_links(vec![watch]).await.unwrap();
            assert!(watched[0].is_ok(), "{watched:?}");
            assert_eq!(stub.requests(Method::POST, "_bulk").len(), 5);
            assert_eq!(stub.doc_count("network"), 2);
            // A real second follow is still refused.
            let again = manager.add_link(link).await;
            assert!(matches!(again, Err(Error::LinkExists { .. })), "{again:?}");
        }
    }

    #[tokio::test]
    async fn repeated_ids_in_one_batch_are_one_bulk_item() {
        let stub = Stub::start(Flavor::Elasticsearch, |_, _, _| None).await;
        let manager = open(&stub, Flavor::Elasticsearch).await.unwrap();
        let liked = Activity::new(
            "like",
            Actor::new("ann", "person").unwrap(),
            Object::new("o", "post").unwrap(),
        )
        .unwrap()
        .with_id("w")
        .unwrap();
        let results = manager
            .add_activities(vec![
                post("z", "ann"),
                post("z", "bob"),
                post("w", "ann"),
                liked,
            ])
            .await
            .unwrap();
        assert!(results[0].is_ok(), "{results:?}");
        assert!(
            matches!(&results[1], Err(Error::ActivityConflict { id, .. }) if id == "z"),
            "{results:?}"
        );
        assert!(results[2].is_ok() && results[3].is_ok(), "{results:?}");
        // Two items, not four: a second create of z or w would be refused by the engine.
        let lines = stub.requests(Method::POST, "_bulk")[0].lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["create"]["_id"], json!("z"));
        assert_eq!(lines[2]["create"]["_id"], json!("w"));
        assert_eq!(
            lines[3]["type"],
            json!("like"),
            "the later activity of w is sent"
        );
        assert_eq!(stub.doc_count("feeds"), 2);
    }

    #[tokio::test]
    async fn racing_writes_are_settled_as_if_they_came_after() {
        // Another writer stores `raced` between our read (`_mget` finds nothing) and our
        // create, which the engine then refuses as a version conflict.
        let stub = Stub::start(Flavor::Elasticsearch, |seen, _, _| {
            (seen.path == "feeds/_mget").then(|| {
                (
                    200,
                    json!({"docs": [{"_index": "feeds", "_id": "raced", "found": false}]}),
                )
            })
        })
        .await;
        let manager = open(&stub, Flavor::Elasticsearch).await.unwrap();
        let theirs = serde_json::to_value(post("raced", "ann")).unwrap();
        let store_theirs = |stub: &Stub| {
            stub.with_state(|state| {
                state
                    .docs
                    .insert(("feeds".into(), "raced".into()), theirs.clone());
            })
        };

        // Another actor's: ours is the conflict, theirs stays.
        store_theirs(&stub);
        let result = manager.add_activity(post("raced", "mark")).await;
        assert!(
            matches!(&result, Err(Error::ActivityConflict { id, .. }) if id == "raced"),
            "{result:?}"
        );
        assert_eq!(
            manager.get_activity("raced").await.unwrap().actor().id(),
            "ann"
        );

        // The same actor's: ours replaces theirs, guarded by the version read.
        let mut ours = post("raced", "ann");
        ours = ours.with_extra(json!({"edited": true})).unwrap();
        manager.add_activity(ours.clone()).await.unwrap();
        assert_eq!(manager.get_activity("raced").await.unwrap(), ours);
        let put = stub.requests(Method::PUT, "feeds/_doc/raced");
        assert_eq!(put.len(), 1);
        assert!(put[0].query.contains("if_seq_no=0") && put[0].query.contains("if_primary_term=1"));

        // The same document (a retried request meeting its own first write): done, no write,
        // but a refresh, since this write waits and the stored one may not have.
        manager.add_activity(ours).await.unwrap();
        assert_eq!(stub.requests(Method::PUT, "feeds/_doc/raced").len(), 1);
        assert_eq!(stub.requests(Method::POST, "feeds/_refresh").len(), 1);
        assert_eq!(stub.doc_count("feeds"), 1);
    }

    #[test]
    fn test_store_names_are_unique_across_parallel_tests() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..100).map(|_| unique_name()).collect::<Vec<_>>()))
            .collect();
        let names: std::collections::HashSet<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(names.len(), 800);
        assert!(names.iter().all(|n| n.starts_with("efct-")));
    }

    #[tokio::test]
    async fn a_read_only_open_cannot_give_a_store_its_space() {
        let stub = Stub::start(Flavor::OpenSearch, |_, _, _| None).await;
        open(&stub, Flavor::OpenSearch).await.unwrap();
        let space = elasticfeeds::EmbeddingSpace::new(3, elasticfeeds::Similarity::Cosine).unwrap();
        let result = Manager::builder(&format!("opensearch+{}", stub.url))
            .cluster(quick())
            .read_only(true)
            .embeddings(space)
            .open()
            .await;
        assert!(
            matches!(&result, Err(Error::EmbeddingSpaceMismatch { stored, .. }) if stored == "none"),
            "{result:?}"
        );
        assert!(
            stub.requests(Method::PUT, "feeds/_mapping").is_empty(),
            "nothing recorded"
        );
    }

    #[tokio::test]
    async fn refresh_interval_is_set_on_new_indices_and_checked() {
        let stub = Stub::start(Flavor::OpenSearch, |_, _, _| None).await;
        let zero = Manager::builder(&format!("opensearch+{}", stub.url))
            .cluster(quick().refresh_interval(Duration::ZERO))
            .open()
            .await;
        assert!(matches!(zero, Err(Error::InvalidSize { .. })), "{zero:?}");
        assert!(
            stub.requests(Method::PUT, "feeds").is_empty(),
            "nothing created"
        );
        Manager::builder(&format!("opensearch+{}", stub.url))
            .cluster(quick().refresh_interval(Duration::from_millis(250)))
            .open()
            .await
            .unwrap();
        for index in ["feeds", "network"] {
            let body = stub.requests(Method::PUT, index)[0].json();
            assert_eq!(
                body["settings"]["index"]["refresh_interval"],
                json!("250ms")
            );
        }
    }

    #[tokio::test]
    async fn a_short_msearch_answer_is_an_error_not_a_panic() {
        // Two identity searches sent, one answered.
        let stub = Stub::start(Flavor::OpenSearch, |seen, _, _| {
            (seen.path == "network/_msearch").then(|| {
                let one = json!({
                    "status": 200,
                    "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}
                });
                (200, json!({"took": 1, "responses": [one]}))
            })
        })
        .await;
        let manager = open(&stub, Flavor::OpenSearch).await.unwrap();
        let link = |id: &str| {
            Link::new("carlos", "follow", LinkTarget::actor(id, "person").unwrap()).unwrap()
        };
        let result = manager.add_links(vec![link("mark"), link("ana")]).await;
        assert!(matches!(result, Err(Error::Backend { .. })), "{result:?}");
        assert_eq!(stub.doc_count("network"), 0, "nothing written");
    }

    #[tokio::test]
    async fn refresh_is_chosen_per_call() {
        let stub = Stub::start(Flavor::OpenSearch, |seen, _, _| stub::no_python_links(seen)).await;
        let manager = open(&stub, Flavor::OpenSearch).await.unwrap();
        let waited = |method: Method, path: &str| -> Vec<bool> {
            stub.requests(method, path)
                .iter()
                .map(|seen| seen.query.contains("refresh=wait_for"))
                .collect()
        };
        let two = |a: &str, b: &str| vec![post(a, "mark"), post(b, "mark")];
        // The default: a single write waits, a batch does not.
        manager.add_activity(post("a1", "mark")).await.unwrap();
        manager.add_activities(two("a2", "a3")).await.unwrap();
        // Per call, either way.
        let waiting = manager.with_refresh(Refresh::Wait);
        waiting.add_activities(two("a4", "a5")).await.unwrap();
        let eager = manager.with_refresh(Refresh::NoWait);
        eager.add_activity(post("a6", "mark")).await.unwrap();
        assert_eq!(waited(Method::POST, "_bulk"), [true, false, true, false]);
        assert_eq!(manager.refresh(), Refresh::Auto, "the handle keeps its own");

        eager.remove_activity("a1").await.unwrap();
        manager.remove_activity("a2").await.unwrap();
        assert_eq!(waited(Method::DELETE, "feeds/_doc/a1"), [false]);
        assert_eq!(waited(Method::DELETE, "feeds/_doc/a2"), [true]);
        eager.follow("carlos", "mark").await.unwrap();
        assert_eq!(waited(Method::POST, "_bulk")[4..], [false]);

        // The store's default, from the builder.
        let stub = Stub::start(Flavor::Elasticsearch, |_, _, _| None).await;
        let manager = Manager::builder(&stub.url)
            .cluster(quick())
            .refresh(Refresh::Wait)
            .open()
            .await
            .unwrap();
        manager.add_activities(two("b1", "b2")).await.unwrap();
        let bulk = stub.requests(Method::POST, "_bulk");
        assert!(
            bulk[0].query.contains("refresh=wait_for"),
            "{}",
            bulk[0].query
        );
    }

    #[tokio::test]
    async fn a_second_follow_is_link_exists() {
        let stub = Stub::start(Flavor::Elasticsearch, |seen, _, _| {
            stub::no_python_links(seen)
        })
        .await;
        let manager = open(&stub, Flavor::Elasticsearch).await.unwrap();
        manager.follow("carlos", "mark").await.expect("first");
        let again = manager.follow("carlos", "mark").await;
        assert!(matches!(again, Err(Error::LinkExists { .. })), "{again:?}");
        // A single write waits until it is visible.
        let bulk = &stub.requests(Method::POST, "_bulk")[0];
        assert!(bulk.query.contains("refresh=wait_for"), "{}", bulk.query);
        let lines = bulk.lines();
        assert!(lines[0]["create"]["_id"].as_str().unwrap().len() == 64);
        assert_eq!(lines[1]["link_id"], lines[0]["create"]["_id"]);
    }

    #[tokio::test]
    async fn missing_index_is_a_typed_error() {
        for flavor in BOTH {
            let stub = Stub::start(flavor, |seen, _, _| {
                (seen.path == "feeds/_search").then(|| (404, stub::index_not_found("feeds")))
            })
            .await;
            let manager = open(&stub, flavor).await.unwrap();
            let result = manager.search(elasticfeeds::FeedQuery::all()).await;
            match result {
                Err(Error::IndexNotFound { index, .. }) => assert_eq!(index, "feeds"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn the_engine_must_match_the_scheme() {
        let stub = Stub::start(Flavor::OpenSearch, |_, _, _| None).await;
        let result = open(&stub, Flavor::Elasticsearch).await;
        assert!(
            matches!(&result, Err(Error::InvalidConnection { reason, .. }) if reason.contains("opensearch+http")),
            "{result:?}"
        );
        // Nothing was created on the wrong engine.
        assert!(stub.requests(Method::PUT, "feeds").is_empty());
    }

    #[tokio::test]
    async fn unsupported_server_versions_are_refused() {
        // OpenSearch 2.0 has no `multi_terms`, which grouped feeds need; Elasticsearch 7 is
        // older than the client's wire format.
        for (flavor, version) in [
            (Flavor::OpenSearch, "2.0.1"),
            (Flavor::OpenSearch, "1.3.19"),
            (Flavor::Elasticsearch, "7.17.25"),
        ] {
            let stub = Stub::start(flavor, move |seen, _, _| {
                seen.path.is_empty().then(|| {
                    let mut info = stub::info(flavor);
                    info["version"]["number"] = json!(version);
                    (200, info)
                })
            })
            .await;
            let result = open(&stub, flavor).await;
            assert!(
                matches!(&result, Err(Error::InvalidConnection { reason, .. }) if reason.contains(version)),
                "{version}: {result:?}"
            );
            assert!(stub.requests(Method::PUT, "feeds").is_empty());
        }
    }

    #[tokio::test]
    async fn python_indices_are_adopted() {
        for flavor in BOTH {
            // Indices as the Python library created them: no `_meta`, no `feed_id`.
            let pre = Stub::start(flavor, |_, _, _| None).await;
            pre.with_state(|state| {
                state.mappings.insert(
                    "feeds".into(),
                    json!({"properties": {"published": {"type": "date"}}}),
                );
                state.mappings.insert(
                    "network".into(),
                    json!({"properties": {"linked": {"type": "date"}}}),
                );
            });
            open(&pre, flavor).await.expect("adopt");
            assert!(pre.requests(Method::PUT, "feeds").is_empty());
            let put = pre.requests(Method::PUT, "feeds/_mapping");
            assert_eq!(put.len(), 1);
            assert_eq!(
                put[0].json()["properties"]["feed_id"],
                json!({"type": "keyword"})
            );
            assert_eq!(
                pre.requests(Method::PUT, "network/_mapping")[0].json()["properties"]["link_id"],
                json!({"type": "keyword"})
            );
        }
    }

    #[tokio::test]
    async fn indices_that_drop_vectors_from_source_are_refused_for_embeddings() {
        let space = elasticfeeds::EmbeddingSpace::new(3, elasticfeeds::Similarity::Cosine).unwrap();
        let with_space = |stub: &Stub| {
            Manager::builder(&stub.url)
                .cluster(quick())
                .embeddings(space)
                .open()
        };
        // An index Elasticsearch 9.2 created with its defaults (as the Python library's are).
        let python = Stub::start(Flavor::Elasticsearch, |_, _, _| None).await;
        python.with_state(|state| {
            for index in ["feeds", "network"] {
                state
                    .mappings
                    .insert(index.into(), json!({"properties": {}}));
                state
                    .settings
                    .insert(index.into(), json!({"number_of_shards": "1"}));
            }
        });
        let refused = with_space(&python).await;
        assert!(
            matches!(&refused, Err(Error::NotAStore { reason, .. }) if reason.contains("exclude_source_vectors")),
            "{refused:?}"
        );
        assert!(
            python.requests(Method::PUT, "feeds/_mapping").is_empty(),
            "nothing recorded"
        );
        // Without embeddings it opens: nothing is lost.
        open(&python, Flavor::Elasticsearch).await.unwrap();
        // Ours keep vectors in `_source`, so they open with embeddings.
        let ours = Stub::start(Flavor::Elasticsearch, |_, _, _| None).await;
        with_space(&ours).await.unwrap();
    }

    #[tokio::test]
    async fn a_feed_read_loads_the_network_then_searches_it() {
        for flavor in BOTH {
            // A link as the Python library stored it (random id, no link_id), and one
            // activity, answered as documented search responses.
            let stub = Stub::start(flavor, |seen, _, _| match seen.path.as_str() {
                "network/_search" => Some((
                    200,
                    json!({
                        "took": 1, "timed_out": false,
                        "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": null, "hits": [{
                            "_index": "network", "_id": "8c1e9d2a-5b1f", "_score": null,
                            "_source": {
                                "linked": "2026-01-01T00:00:00",
                                "actor_id": "carlos",
                                "link_type": "follow",
                                "linked_activity": {"activity_class": "actor", "id": "mark", "type": "person"},
                                "link_weight": 1
                            },
                            "sort": [1_767_225_600_000_i64, null]
                        }]}
                    }),
                )),
                "feeds/_search" => Some((
                    200,
                    json!({
                        "took": 2, "timed_out": false,
                        "hits": {"total": {"value": 1, "relation": "eq"}, "max_score": null, "hits": [{
                            "_index": "feeds", "_id": "a1", "_score": null,
                            "_source": {
                                "published": "2026-01-02T03:04:05.000Z",
                                "type": "post",
                                "actor": {"id": "mark", "type": "person"},
                                "object": {"id": "a1", "type": "post"},
                                "feed_id": "a1"
                            },
                            "sort": [1_767_323_045_000_i64, "a1"]
                        }]}
                    }),
                )),
                _ => None,
            })
            .await;
            let manager = open(&stub, flavor).await.unwrap();
            let network = manager.network("carlos").await.unwrap();
            assert_eq!(network.total(), 1);
            let page = manager
                .search(elasticfeeds::FeedQuery::network(&network))
                .await
                .unwrap();
            let ids: Vec<_> = page.activities.iter().filter_map(|a| a.id()).collect();
            assert_eq!(ids, ["a1"]);

            let links = &stub.requests(Method::POST, "network/_search")[0].json();
            assert_eq!(links["query"], json!({"term": {"actor_id": "carlos"}}));
            assert_eq!(links["track_total_hits"], json!(true));
            let feed = &stub.requests(Method::POST, "feeds/_search")[0].json();
            assert_eq!(
                feed["query"],
                json!({"bool": {"filter": [{"bool": {
                    "should": [{"bool": {"filter": [
                        {"term": {"actor.id": "mark"}},
                        {"term": {"actor.type": "person"}},
                        {"range": {"published": {"gte": "2026-01-01T00:00:00.000Z"}}}
                    ]}}],
                    "minimum_should_match": 1
                }}]}})
            );
            assert_eq!(feed["size"], json!(21));
        }
    }

    #[tokio::test]
    async fn vector_queries_walk_the_feed_and_score_exactly() {
        // A search hit for activity `n`, published `n` seconds after t0, its embedding `[n, 0]`
        // (or none, for every tenth).
        let hit = |n: i64| {
            let published = Utc.timestamp_opt(1_767_225_600 + n, 0).unwrap();
            let mut source = json!({
                "published": published.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "type": "post",
                "actor": {"id": "mark", "type": "person"},
                "object": {"id": format!("h{n}"), "type": "post"},
                "feed_id": format!("h{n:04}")
            });
            if n % 10 != 0 {
                source["embedding"] = json!([n as f32, 0.0]);
            }
            json!({
                "_index": "feeds", "_id": format!("h{n:04}"), "_score": null,
                "_source": source,
                "sort": [published.timestamp_millis(), format!("h{n:04}")]
            })
        };
        let page = move |numbers: Vec<i64>| {
            json!({"took": 1, "timed_out": false, "hits": {
                "total": {"value": numbers.len(), "relation": "eq"}, "max_score": null,
                "hits": numbers.into_iter().map(hit).collect::<Vec<_>>()
            }})
        };
        // 1,201 activities, newest first: the first page holds 1,001 (one more than a chunk),
        // the second page the rest.
        let stub = Stub::start(Flavor::Elasticsearch, move |seen, _, _| {
            (seen.path == "feeds/_search").then(|| {
                let after = &seen.json()["search_after"];
                let numbers: Vec<i64> = if after.is_null() {
                    (200..=1200).rev().collect()
                } else {
                    (0..201).rev().collect()
                };
                (200, page(numbers))
            })
        })
        .await;
        let manager = open_l2(&stub).await.unwrap();
        // Nearest to [3.5, 0]: h3 and h4 tie at distance 0.5 (h4 is newer first), then h5 and
        // h2 tie at 1.5 (h5 is newer).
        let query = elasticfeeds::FeedQuery::all()
            .nearest(vec![3.5, 0.0], 3)
            .unwrap();
        let found = manager.backend().query(&query).await.unwrap();
        let scored: Vec<(&str, f64)> = found
            .hits
            .iter()
            .map(|h| (h.activity.id().unwrap(), h.score.unwrap()))
            .collect();
        assert_eq!(
            scored,
            [("h0004", 0.8), ("h0003", 0.8), ("h0005", 1.0 / 3.25)]
        );
        assert!(found.more, "more than three competed");
        // Two plain feed searches, the second after the first page's last kept activity.
        let searches = stub.requests(Method::POST, "feeds/_search");
        assert_eq!(searches.len(), 2);
        let second = searches[1].json();
        assert_eq!(second["search_after"][1], json!("h0201"));
        assert!(second.get("knn").is_none() && second["query"].get("script_score").is_none());
    }

    #[tokio::test]
    async fn groups_tied_at_a_size_cut_are_asked_again_with_more() {
        // A verb bucket whose newest activity `edge` is at t0 + 1 s.
        let bucket = |key: &str, edge: &str| {
            json!({
                "key": key, "doc_count": 1,
                "edge": {"value": 1_767_225_601_000.0_f64},
                "edge_hit": {"hits": {"hits": [{"_id": edge, "sort": [1_767_225_601_000_i64, edge]}]}},
                "hits": {"hits": {"total": {"value": 1, "relation": "eq"}, "hits": [{
                    "_index": "feeds", "_id": edge, "_score": null,
                    "_source": {
                        "published": "2026-01-01T00:00:01.000Z", "type": key,
                        "actor": {"id": "mark", "type": "person"},
                        "object": {"id": edge, "type": "post"}, "feed_id": edge
                    },
                    "sort": [1_767_225_601_000_i64, edge]
                }]}}
            })
        };
        // Three verbs share the newest millisecond. Asked for 2 (1 kept + 1), the engine
        // answers the first two by key; asked for 4, all three.
        let stub = Stub::start(Flavor::OpenSearch, move |seen, _, _| {
            (seen.path == "feeds/_search").then(|| {
                let size = seen.json()["aggs"]["groups"]["terms"]["size"]
                    .as_u64()
                    .unwrap();
                let all = [
                    bucket("add", "b"),
                    bucket("like", "a"),
                    bucket("share", "c"),
                ];
                let buckets: Vec<_> = all.into_iter().take(size as usize).collect();
                (
                    200,
                    json!({"hits": {"hits": []}, "aggregations": {"groups": {"buckets": buckets}}}),
                )
            })
        })
        .await;
        let manager = open(&stub, Flavor::OpenSearch).await.unwrap();
        let query = elasticfeeds::FeedQuery::all()
            .group_by([(elasticfeeds::GroupKey::Verb, 1)], 1)
            .unwrap();
        let result = manager.backend().query(&query).await.unwrap();
        let verbs: Vec<String> = result.groups.iter().map(|g| g.value.to_string()).collect();
        // "share" holds the highest edge id, which only the second answer shows.
        assert_eq!(verbs, ["share"]);
        let sizes: Vec<u64> = stub
            .requests(Method::POST, "feeds/_search")
            .iter()
            .map(|s| {
                s.json()["aggs"]["groups"]["terms"]["size"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(sizes, [2, 4]);
    }

    #[tokio::test]
    async fn walks_drop_repeats_and_stop_on_pages_of_nothing_new() {
        // Activities as the Python library wrote them: no `feed_id`, so each sorts after every
        // id within its millisecond, and a page after one of them may start with it again.
        // Activity `n` at second `at`.
        let hit = |(n, at): (i64, i64)| {
            let published = Utc.timestamp_opt(1_767_225_600 + at, 0).unwrap();
            json!({
                "_index": "feeds", "_id": format!("p{n:04}"), "_score": null,
                "_source": {
                    "published": published.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "type": "post",
                    "actor": {"id": "mark", "type": "person"},
                    "object": {"id": format!("p{n}"), "type": "post"},
                    "embedding": [n as f32, 0.0]
                },
                "sort": [published.timestamp_millis(), null]
            })
        };
        let answer = move |numbers: Vec<(i64, i64)>| json!({"hits": {"hits": numbers.into_iter().map(hit).collect::<Vec<_>>()}});
        for stuck in [false, true] {
            // Page one: 1,200 down to 200 (one more than a chunk); page two starts again at
            // 200. When `stuck`, 1,001 activities share one second, and both pages are them.
            let stub = Stub::start(Flavor::Elasticsearch, move |seen, _, _| {
                (seen.path == "feeds/_search").then(|| {
                    let first = seen.json()["search_after"].is_null();
                    let numbers: Vec<(i64, i64)> = match (first, stuck) {
                        (_, true) => (0..=1000).map(|n| (n, 200)).collect(),
                        (true, false) => (200..=1200).rev().map(|n| (n, n)).collect(),
                        (false, false) => (0..=200).rev().map(|n| (n, n)).collect(),
                    };
                    (200, answer(numbers))
                })
            })
            .await;
            let manager = open_l2(&stub).await.unwrap();
            let query = elasticfeeds::FeedQuery::all()
                .nearest(vec![200.0, 0.0], 3)
                .unwrap();
            let result = manager.backend().query(&query).await;
            if stuck {
                assert!(
                    matches!(&result, Err(Error::Backend { source, .. }) if source.to_string().contains("migrate_feed_ids")),
                    "{result:?}"
                );
            } else {
                let ids: Vec<String> = result
                    .unwrap()
                    .hits
                    .iter()
                    .map(|h| h.activity.id().unwrap().to_owned())
                    .collect();
                assert_eq!(ids, ["p0200", "p0201", "p0199"], "p0200 once");
            }
        }
    }

    #[tokio::test]
    async fn migration_gives_python_activities_a_feed_id() {
        let stub = Stub::start(Flavor::OpenSearch, |seen, _, _| {
            (seen.path == "feeds/_update_by_query").then(|| {
                (
                    200,
                    json!({
                        "took": 12, "timed_out": false, "total": 3, "updated": 3,
                        "deleted": 0, "batches": 1, "version_conflicts": 0, "noops": 0,
                        "failures": []
                    }),
                )
            })
        })
        .await;
        let backend = elasticfeeds::backend::cluster::ClusterBackend::open(
            &format!("opensearch+{}", stub.url),
            "feeds",
            "network",
            quick(),
        )
        .await
        .unwrap();
        assert_eq!(backend.migrate_feed_ids().await.unwrap(), 3);
        let sent = &stub.requests(Method::POST, "feeds/_update_by_query")[0];
        assert_eq!(
            sent.json(),
            json!({
                "query": {"bool": {"must_not": [{"exists": {"field": "feed_id"}}]}},
                "script": {"lang": "painless", "source": "ctx._source.feed_id = ctx._id"}
            })
        );
        assert!(sent.query.contains("conflicts=proceed"), "{}", sent.query);
    }

    #[tokio::test]
    async fn a_closed_port_fails_fast_with_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let started = Instant::now();
        let result = Manager::open(&format!("http://127.0.0.1:{port}")).await;
        match result {
            Err(Error::Unreachable { nodes, .. }) => {
                assert_eq!(nodes, format!("http://127.0.0.1:{port}/"))
            }
            other => panic!("{other:?}"),
        }
        // The default policy: three retries, 100 + 200 + 400 ms apart.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}

/// Unique index names for this run, and their removal when the test ends.
struct ClusterStore {
    url: String,
    /// The URL without the engine prefix, for cleaning up.
    http_url: String,
    made: Mutex<Vec<String>>,
}

/// A name no other store of this process (every test makes its own store, and tests run in
/// parallel) or of another run has used: the process id and start time, and a counter shared
/// by the whole process.
fn unique_name() -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.get_or_init(|| {
        format!(
            "efct-{}-{}",
            std::process::id(),
            Utc::now().timestamp_millis() % 1_000_000_000
        )
    });
    format!("{run}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl ClusterStore {
    /// The store for the cluster named by `variable`, or `None` (after saying so once) when it
    /// is not set.
    fn from_env(variable: &str, scheme: &str) -> Option<ClusterStore> {
        static SKIPPED: Once = Once::new();
        let Ok(url) = std::env::var(variable) else {
            SKIPPED.call_once(|| {
                suite::notice(
                    "conformance: skipped on the cluster backends (set ELASTICFEEDS_ES_URL or \
                     ELASTICFEEDS_OPENSEARCH_URL to run them)",
                );
            });
            return None;
        };
        let http_url = url
            .strip_prefix("elasticsearch+")
            .or_else(|| url.strip_prefix("opensearch+"))
            .unwrap_or(&url)
            .to_owned();
        Some(ClusterStore {
            url: format!("{scheme}{http_url}"),
            http_url,
            made: Mutex::new(Vec::new()),
        })
    }
}

impl Drop for ClusterStore {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.made.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let url = self.http_url.clone();
        // Each case's indices are deleted when it ends, through the client's plain transport,
        // from a thread of its own (this runs inside the test's runtime).
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                use client::http::headers::HeaderMap;
                use client::http::transport::Transport;
                use client::http::Method;
                let Ok(transport) = Transport::single_node(&url) else {
                    return;
                };
                for name in names {
                    for index in [format!("{name}-feeds"), format!("{name}-network")] {
                        let _ = transport
                            .send(
                                Method::Delete,
                                &format!("/{index}"),
                                HeaderMap::new(),
                                None::<&()>,
                                None::<()>,
                                None,
                            )
                            .await;
                    }
                }
            })
        })
        .join();
    }
}

#[async_trait]
impl Store for ClusterStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reopen: true,
            single_writer: false,
            read_only: true,
        }
    }

    fn new_name(&self) -> String {
        unique_name()
    }

    async fn open(&self, name: &str, options: OpenOptions) -> Result<Manager> {
        self.made.lock().unwrap().push(name.to_owned());
        let builder = Manager::builder(&self.url)
            .feeds_index(&format!("{name}-feeds"))
            .network_index(&format!("{name}-network"))
            // Waited writes return at the next refresh: every 100 ms, not every second.
            .cluster(
                ClusterOptions::default()
                    .layout(1, 0)
                    .refresh_interval(Duration::from_millis(100)),
            )
            // The suite reads right after every write, batches included.
            .refresh(Refresh::Wait);
        options.configure(builder).open().await
    }
}

mod conformance {
    //! The shared suite on each cluster named in the environment.

    #[cfg(feature = "elasticsearch")]
    mod elasticsearch {
        crate::suite::conformance_suite!({
            match crate::ClusterStore::from_env("ELASTICFEEDS_ES_URL", "elasticsearch+") {
                Some(store) => store,
                None => return,
            }
        });
    }

    #[cfg(feature = "opensearch")]
    mod opensearch {
        crate::suite::conformance_suite!({
            match crate::ClusterStore::from_env("ELASTICFEEDS_OPENSEARCH_URL", "opensearch+") {
                Some(store) => store,
                None => return,
            }
        });
    }
}
