//! The cluster backends without a cluster: request bodies for every query shape, the index
//! definitions, and the reading of documented response bodies.
//!
//! Every expected body below is written by hand from the engines' Query DSL documentation (bool
//! `filter`/`should` with `minimum_should_match`, `term`, `terms`, `range`, `sort`,
//! `search_after`, `terms`/`multi_terms` aggregations with `order` on a sub-aggregation, `max`,
//! `top_hits`), never captured from the compiler's own output. The compiler takes no engine:
//! both engines get these same bodies (the transport tests in `tests/cluster.rs` check what each
//! client puts on the wire).

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::compile::{leaf_clauses, plan, Plan, MAX_CLAUSES, MAX_TERMS, SCORE_SCRIPT};
use super::mapping::{self, Layout};
use super::parse;
use super::{Connection, Engine};
use crate::query::{GroupKey, Metric, Order, Position};
use crate::{
    EmbeddingSpace, EntityFilter, Error, FeedQuery, Link, LinkTarget, Network, Similarity,
};

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
}

/// carlos follows person:mark (since Jan 1) and watches project:proj_a (since Jan 2).
fn network() -> Network {
    let links = vec![
        Link::new(
            "carlos",
            "follow",
            LinkTarget::actor("mark", "person").unwrap(),
        )
        .unwrap()
        .linked_at(at(1))
        .unwrap(),
        Link::new(
            "carlos",
            "watch",
            LinkTarget::object("proj_a", "project").unwrap(),
        )
        .unwrap()
        .linked_at(at(2))
        .unwrap(),
    ];
    let total = links.len() as u64;
    Network::new("carlos", links, total)
}

/// The network part every body of [`network`] starts with.
fn network_clause() -> Value {
    json!({"bool": {
        "should": [
            {"bool": {"filter": [
                {"term": {"actor.id": "mark"}},
                {"term": {"actor.type": "person"}},
                {"range": {"published": {"gte": "2026-01-01T00:00:00.000Z"}}}
            ]}},
            {"bool": {"filter": [
                {"term": {"object.id": "proj_a"}},
                {"term": {"object.type": "project"}},
                {"range": {"published": {"gte": "2026-01-02T00:00:00.000Z"}}}
            ]}},
            {"bool": {"filter": [
                {"term": {"target.id": "proj_a"}},
                {"term": {"target.type": "project"}},
                {"range": {"published": {"gte": "2026-01-02T00:00:00.000Z"}}}
            ]}}
        ],
        "minimum_should_match": 1
    }})
}

fn flat_searches(query: &FeedQuery) -> Vec<Value> {
    match plan(query).unwrap() {
        Plan::Flat(flat) => flat.searches,
        other => panic!("expected a flat plan, got {other:?}"),
    }
}

fn grouped_body(query: &FeedQuery) -> Value {
    match plan(query).unwrap() {
        Plan::Grouped(grouped) => grouped.body,
        other => panic!("expected a grouped plan, got {other:?}"),
    }
}

#[test]
fn flat_first_page_with_follow_and_watch() {
    let query = FeedQuery::network(&network()).page_size(20).unwrap();
    assert_eq!(
        flat_searches(&query),
        vec![json!({
            "size": 21,
            "query": {"bool": {"filter": [network_clause()]}},
            "sort": [
                {"published": {"order": "desc"}},
                {"feed_id": {"order": "desc"}}
            ],
            "track_total_hits": false
        })]
    );
}

#[test]
fn keyset_page_continues_after_the_position() {
    let position = Position {
        published: Utc.timestamp_millis_opt(1_767_225_600_123).unwrap(),
        id: "a/1".into(),
    };
    let query = FeedQuery::network(&network())
        .page_size(20)
        .unwrap()
        .older_than(position);
    let searches = flat_searches(&query);
    assert_eq!(
        searches[0]["search_after"],
        json!([1_767_225_600_123_i64, "a/1"])
    );
    assert_eq!(
        searches[0]["sort"],
        json!([{"published": {"order": "desc"}}, {"feed_id": {"order": "desc"}}])
    );
    // Newer than a position of a newest-first feed walks up, then reverses.
    let position = Position {
        published: Utc.timestamp_millis_opt(5).unwrap(),
        id: "x".into(),
    };
    let query = FeedQuery::network(&network()).newer_than(position);
    let Plan::Flat(flat) = plan(&query).unwrap() else {
        panic!("flat")
    };
    assert!(!flat.older && flat.reverse);
    assert_eq!(
        flat.searches[0]["sort"],
        json!([{"published": {"order": "asc"}}, {"feed_id": {"order": "asc"}}])
    );
    assert_eq!(flat.searches[0]["search_after"], json!([5, "x"]));
}

#[test]
fn ascending_order_sorts_ascending() {
    let query = FeedQuery::network(&network()).order(Order::Asc);
    let Plan::Flat(flat) = plan(&query).unwrap() else {
        panic!("flat")
    };
    assert!(!flat.older && !flat.reverse);
    assert_eq!(
        flat.searches[0]["sort"],
        json!([{"published": {"order": "asc"}}, {"feed_id": {"order": "asc"}}])
    );
}

#[test]
fn year_verbs_and_exclusions_become_filters() {
    let query = FeedQuery::network(&network())
        .year(2026)
        .unwrap()
        .verbs(["post", "Share"])
        .unwrap()
        .actor(EntityFilter::key("mark", "person").unwrap());
    let mut query = query;
    query.filter.exclude_actors = vec![
        crate::EntityKey::new("spam", "bot").unwrap(),
        crate::EntityKey::new("troll", "person").unwrap(),
        crate::EntityKey::new("ham", "bot").unwrap(),
    ];
    assert_eq!(
        flat_searches(&query)[0]["query"],
        json!({"bool": {
            "filter": [
                network_clause(),
                {"term": {"actor.id": "mark"}},
                {"term": {"actor.type": "person"}},
                {"terms": {"type": ["post", "share"]}},
                {"range": {"published": {
                    "gte": "2026-01-01T00:00:00.000Z",
                    "lt": "2027-01-01T00:00:00.000Z"
                }}}
            ],
            "must_not": [
                {"bool": {"filter": [
                    {"terms": {"actor.id": ["spam", "ham"]}},
                    {"term": {"actor.type": "bot"}}
                ]}},
                {"bool": {"filter": [
                    {"terms": {"actor.id": ["troll"]}},
                    {"term": {"actor.type": "person"}}
                ]}}
            ]
        }})
    );
}

#[test]
fn search_without_network_has_no_network_clause() {
    assert_eq!(
        flat_searches(&FeedQuery::all())[0]["query"],
        json!({"match_all": {}})
    );
}

#[test]
fn empty_network_sends_nothing() {
    let empty = Network::new("nobody", vec![], 0);
    assert_eq!(plan(&FeedQuery::network(&empty)).unwrap(), Plan::Empty);
    let grouped = FeedQuery::network(&empty)
        .group_by([(GroupKey::Verb, 10)], 5)
        .unwrap();
    assert_eq!(plan(&grouped).unwrap(), Plan::Empty);
}

/// The sub-aggregations every level carries in a newest-first grouping without metrics.
fn edge_aggs() -> serde_json::Map<String, Value> {
    json!({
        "edge": {"max": {"field": "published"}},
        "edge_hit": {"top_hits": {
            "size": 1,
            "_source": false,
            "sort": [{"published": {"order": "desc"}}, {"feed_id": {"order": "desc"}}]
        }}
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn year_month_verb_grouping_sizes_every_level() {
    let query = FeedQuery::network(&network())
        .group_by(
            [
                (GroupKey::Year, 10),
                (GroupKey::Month, 12),
                (GroupKey::Verb, 20),
            ],
            3,
        )
        .unwrap();
    let order = json!([{"edge": "desc"}, {"_key": "asc"}]);
    // Each level asks for one bucket more than it keeps: the engines cut ties of the edge time
    // by key, the client by the edge activity's id (see `compile::Padding`).
    let mut verbs = edge_aggs();
    verbs.insert(
        "hits".into(),
        json!({"top_hits": {
            "size": 3,
            "sort": [{"published": {"order": "desc"}}, {"feed_id": {"order": "desc"}}]
        }}),
    );
    let mut months = edge_aggs();
    months.insert(
        "groups".into(),
        json!({"terms": {"field": "type", "size": 21, "order": order}, "aggs": verbs}),
    );
    let mut years = edge_aggs();
    years.insert(
        "groups".into(),
        json!({"terms": {"field": "published_month", "size": 13, "order": order}, "aggs": months}),
    );
    assert_eq!(
        grouped_body(&query),
        json!({
            "size": 0,
            "query": {"bool": {"filter": [network_clause()]}},
            "aggs": {"groups": {
                "terms": {"field": "published_year", "size": 11, "order": order},
                "aggs": years
            }},
            "track_total_hits": false
        })
    );
}

#[test]
fn entity_groups_and_metrics() {
    let mut query = FeedQuery::network(&network())
        .group_by([(GroupKey::Object, 50), (GroupKey::Target, 5)], 1)
        .unwrap();
    query.grouping.as_mut().unwrap().metrics = vec![
        Metric::Count,
        Metric::DistinctActors,
        Metric::RecentActors(3),
    ];
    let body = grouped_body(&query);
    let outer = &body["aggs"]["groups"];
    assert_eq!(
        outer["multi_terms"],
        json!({
            "terms": [{"field": "object.type"}, {"field": "object.id"}],
            "size": 51,
            "order": [{"edge": "desc"}, {"_key": "asc"}]
        })
    );
    assert_eq!(
        outer["aggs"]["groups"]["multi_terms"]["terms"],
        json!([
            {"field": "target.type", "missing": ""},
            {"field": "target.id", "missing": ""}
        ])
    );
    assert_eq!(
        outer["aggs"]["recent_actors"],
        json!({
            "multi_terms": {
                "terms": [{"field": "actor.type"}, {"field": "actor.id"}],
                "size": 4,
                "order": [{"edge": "desc"}, {"_key": "asc"}]
            },
            "aggs": {
                "edge": {"max": {"field": "published"}},
                "edge_hit": edge_aggs()["edge_hit"]
            }
        })
    );
    // Distinct actors are counted exactly, never by the approximate `cardinality`.
    assert!(outer["aggs"]["distinct_actors"]["scripted_metric"].is_object());
    assert!(!body.to_string().contains("cardinality"));
}

#[test]
fn too_many_buckets_are_refused_before_sending() {
    let mut query = FeedQuery::network(&network())
        .group_by([(GroupKey::Object, 1000), (GroupKey::Verb, 60)], 1)
        .unwrap();
    query.grouping.as_mut().unwrap().metrics = vec![Metric::RecentActors(5)];
    assert!(matches!(
        plan(&query),
        Err(Error::InvalidSize { what, .. }) if what.contains("groups")
    ));
}

/// Every aggregation that makes buckets or hits says how many.
fn assert_sizes_explicit(aggs: &Value) {
    let Some(map) = aggs.as_object() else { return };
    for (name, agg) in map {
        for kind in ["terms", "multi_terms", "top_hits"] {
            if let Some(inner) = agg.get(kind) {
                assert!(inner.get("size").is_some(), "{name}: {kind} without size");
            }
        }
        if let Some(sub) = agg.get("aggs") {
            assert_sizes_explicit(sub);
        }
    }
}

/// A network at `max_link_size` (1,000 links here: 600 follows, 400 watches) needs 3,400
/// plain leaves, beyond what the engines accept in one request.
fn big_network() -> Network {
    let links = (0..1000)
        .map(|i| {
            let target = if i % 5 < 3 {
                LinkTarget::actor(&format!("u{i}"), "person").unwrap()
            } else {
                LinkTarget::object(
                    &format!("p{i}"),
                    if i % 2 == 0 { "post" } else { "project" },
                )
                .unwrap()
            };
            Link::new("carlos", "follow", target)
                .unwrap()
                .linked_at(at(1) + chrono::Duration::minutes(i))
                .unwrap()
        })
        .collect::<Vec<_>>();
    let total = links.len() as u64;
    Network::new("carlos", links, total)
}

#[test]
fn thousand_link_network_fits_the_clause_limit() {
    let network = big_network();
    let query = FeedQuery::network(&network).verbs(["post"]).unwrap();
    let searches = flat_searches(&query);
    assert!(searches.len() >= 4, "{} searches", searches.len());
    let mut rules = 0;
    for search in &searches {
        let leaves = leaf_clauses(&search["query"]);
        assert!(leaves <= MAX_CLAUSES, "{leaves} leaves");
        assert_eq!(search["size"], json!(21));
        rules += search["query"]["bool"]["filter"][0]["bool"]["should"]
            .as_array()
            .unwrap()
            .len();
    }
    // Every rule's clauses are sent exactly once: 600 actor clauses, 2 × 400 object ones.
    assert_eq!(rules, 600 + 800);

    let grouped = FeedQuery::network(&network)
        .group_by(
            [
                (GroupKey::Year, 10),
                (GroupKey::Month, 12),
                (GroupKey::Verb, 20),
            ],
            3,
        )
        .unwrap();
    let body = grouped_body(&grouped);
    assert!(leaf_clauses(&body["query"]) <= MAX_CLAUSES);
    assert_eq!(body["size"], json!(0));
    assert_sizes_explicit(&body["aggs"]);
    // Packed: one clause per (field, entity type): actor/person, object+target × post, project.
    let should = body["query"]["bool"]["filter"][0]["bool"]["should"]
        .as_array()
        .unwrap();
    assert_eq!(should.len(), 5);
    let person = &should[0]["bool"]["filter"];
    assert_eq!(person[1], json!({"term": {"actor.type": "person"}}));
    assert_eq!(
        person[0]["terms"]["actor.id"].as_array().unwrap().len(),
        600
    );
    let params = &person[2]["script"]["script"]["params"];
    assert_eq!(params["field"], json!("actor.id"));
    assert_eq!(params["since"]["u0"], json!(at(1).timestamp_millis()));
}

#[test]
fn small_term_sets_count_per_term_and_large_ones_are_split_at_max_terms() {
    // A `terms` of up to 16 values may be rewritten into one clause per value.
    let few = json!({"terms": {"type": ["a", "b", "c"]}});
    let many = json!({"terms": {"actor.id": (0..40).map(|i| format!("u{i}")).collect::<Vec<_>>()}});
    assert_eq!(leaf_clauses(&few), 3);
    assert_eq!(leaf_clauses(&many), 16);
    // A date range is visited as two queries (points, and doc values).
    let range = json!({"range": {"published": {"gte": "2026-01-01T00:00:00.000Z"}}});
    assert_eq!(leaf_clauses(&range), 2);

    // 300 followed accounts: 4 leaves each, 1,200 in all, so a flat feed is split in two.
    let rules = |n: usize| -> Vec<crate::query::MatchRule> {
        (0..n)
            .map(|i| crate::query::MatchRule {
                class: crate::LinkClass::Actor,
                entity: crate::EntityKey::new(&format!("u{i}"), "person").unwrap(),
                since: at(1),
                weight: 1.0,
            })
            .collect()
    };
    let mut wide = FeedQuery::all();
    wide.source = crate::query::Source::Network(rules(300).into());
    let searches = flat_searches(&wide);
    assert_eq!(searches.len(), 2);
    for search in &searches {
        assert!(leaf_clauses(&search["query"]) <= MAX_CLAUSES);
    }

    // 70,000 followed accounts of one type: more ids than one `terms` may hold.
    let mut query = FeedQuery::all()
        .group_by([(GroupKey::Verb, 10)], 1)
        .unwrap();
    query.source = crate::query::Source::Network(rules(70_000).into());
    let body = grouped_body(&query);
    let should = body["query"]["bool"]["filter"][0]["bool"]["should"]
        .as_array()
        .unwrap();
    assert_eq!(should.len(), 2, "two chunks of person ids");
    let sizes: Vec<usize> = should
        .iter()
        .map(|clause| {
            let ids = clause["bool"]["filter"][0]["terms"]["actor.id"]
                .as_array()
                .unwrap()
                .len();
            let since = clause["bool"]["filter"][2]["script"]["script"]["params"]["since"]
                .as_object()
                .unwrap()
                .len();
            assert_eq!(ids, since, "each script checks the ids of its own clause");
            ids
        })
        .collect();
    assert_eq!(sizes, [MAX_TERMS, 70_000 - MAX_TERMS]);
    assert!(leaf_clauses(&body["query"]) <= MAX_CLAUSES);
}

#[test]
fn vector_and_collapsed_queries_are_walked_not_compiled() {
    // Neither fits one request: the backend walks the feed for them (`nearest`, `collapse`).
    let base = FeedQuery::network(&network());
    let vector = base.clone().nearest(vec![0.1, 0.2], 5).unwrap();
    let mut collapsed = base;
    collapsed.collapse = Some(GroupKey::Object);
    for query in [vector, collapsed] {
        assert!(
            matches!(plan(&query), Err(Error::Backend { .. })),
            "{query:?}"
        );
    }
}

/// [`network`] with weights: 2.5 on following mark, 0.5 on watching proj_a.
fn weighted_network() -> Network {
    let links = network()
        .links()
        .unwrap()
        .into_iter()
        .zip([2.5, 0.5])
        .map(|(link, weight)| link.with_weight(weight).unwrap())
        .collect();
    Network::new("carlos", links, 2)
}

/// The score sort with these script parameters, then newest first, then the higher id.
fn ranked_sort(params: Value) -> Value {
    json!([
        {"_script": {
            "type": "number",
            "order": "desc",
            "script": {"lang": "painless", "source": SCORE_SCRIPT, "params": params}
        }},
        {"published": {"order": "desc"}},
        {"feed_id": {"order": "desc"}}
    ])
}

/// The links of [`weighted_network`] as the score script looks them up: by type, then id.
fn weighted_links() -> Value {
    json!({
        "actors": {"person": {"mark": [[at(1).timestamp_millis(), 2.5]]}},
        "objects": {"project": {"proj_a": [[at(2).timestamp_millis(), 0.5]]}}
    })
}

#[test]
fn link_weight_ranking_sorts_by_the_score_script() {
    let mut query = FeedQuery::network(&weighted_network())
        .page_size(20)
        .unwrap();
    query.ranking = crate::Ranking::LinkWeight;
    let mut params = weighted_links();
    params["decay"] = json!(false);
    assert_eq!(
        flat_searches(&query),
        vec![json!({
            "size": 21,
            "query": {"bool": {"filter": [network_clause()]}},
            "sort": ranked_sort(params),
            "track_total_hits": false
        })]
    );
}

#[test]
fn decay_ranking_continues_below_a_scored_position() {
    let mut query = FeedQuery::network(&weighted_network())
        .page_size(5)
        .unwrap();
    query.ranking = crate::Ranking::Decay(crate::Decay {
        origin: at(10),
        scale_ms: 3_600_000,
        offset_ms: 60_000,
        decay: 0.5,
    });
    query.page.bound = Some(crate::Bound::RankedBelow(crate::ScoredPosition {
        score: 0.125,
        position: Position {
            published: Utc.timestamp_millis_opt(1_767_225_600_123).unwrap(),
            id: "a/1".into(),
        },
    }));
    let mut params = weighted_links();
    params["decay"] = json!(true);
    params["origin"] = json!(at(10).timestamp_millis());
    params["offset"] = json!(60_000.0);
    params["scale"] = json!(3_600_000.0);
    params["factor"] = json!(0.5);
    let searches = flat_searches(&query);
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0]["size"], json!(6));
    assert_eq!(searches[0]["sort"], ranked_sort(params));
    assert_eq!(
        searches[0]["search_after"],
        json!([0.125, 1_767_225_600_123_i64, "a/1"])
    );
}

#[test]
fn ranked_groups_sort_their_hits_by_score() {
    let mut query = FeedQuery::network(&weighted_network())
        .group_by([(GroupKey::Day, 7)], 3)
        .unwrap();
    query.ranking = crate::Ranking::LinkWeight;
    let mut params = weighted_links();
    params["decay"] = json!(false);
    let body = grouped_body(&query);
    let days = &body["aggs"]["groups"];
    assert_eq!(
        days["terms"],
        json!({"field": "published_date", "size": 8, "order": [{"edge": "desc"}, {"_key": "asc"}]})
    );
    // The group order stays by newest activity; only the hits inside are ranked.
    assert_eq!(days["aggs"]["edge"], json!({"max": {"field": "published"}}));
    assert_eq!(
        days["aggs"]["edge_hit"]["top_hits"]["sort"],
        json!([{"published": {"order": "desc"}}, {"feed_id": {"order": "desc"}}])
    );
    assert_eq!(
        days["aggs"]["hits"],
        json!({"top_hits": {"size": 3, "sort": ranked_sort(params)}})
    );
}

#[test]
fn ranked_thousand_link_network_is_one_search_within_the_clause_limit() {
    let mut query = FeedQuery::network(&big_network());
    query.ranking = crate::Ranking::LinkWeight;
    let searches = flat_searches(&query);
    assert_eq!(searches.len(), 1, "a score spans every link: one search");
    let leaves = leaf_clauses(&searches[0]["query"]);
    assert!(leaves <= MAX_CLAUSES, "{leaves} leaf clauses");
    let params = &searches[0]["sort"][0]["_script"]["script"]["params"];
    let links: usize = ["actors", "objects"]
        .iter()
        .flat_map(|class| params[class].as_object().unwrap().values())
        .flat_map(|ids| ids.as_object().unwrap().values())
        .map(|pairs| pairs.as_array().unwrap().len())
        .sum();
    assert_eq!(
        links,
        big_network().links().unwrap().len(),
        "every link is scored"
    );
}

#[test]
fn feed_index_matches_the_python_mapping() {
    let meta = json!({"format": 1});
    let body = mapping::feeds_index(
        Engine::Elasticsearch,
        &Layout {
            shards: 5,
            replicas: 1,
            refresh_interval: None,
            keep_source_vectors: false,
        },
        meta,
        None,
    );
    let entity = json!({"properties": {
        "id": {"type": "keyword"},
        "type": {"type": "keyword"},
        "extra": {"type": "object", "enabled": false}
    }});
    assert_eq!(
        body,
        json!({
            "settings": {"index": {"number_of_shards": 5, "number_of_replicas": 1}},
            "mappings": {
                "_meta": {"elasticfeeds": {"format": 1}},
                "properties": {
                    "published": {"type": "date"},
                    "published_date": {"type": "date", "format": "yyyy-MM-dd"},
                    "published_time": {"type": "date", "format": "HH:mm:ss"},
                    "published_year": {"type": "integer"},
                    "published_month": {"type": "integer"},
                    "type": {"type": "keyword"},
                    "actor": entity,
                    "object": entity,
                    "origin": entity,
                    "target": entity,
                    "extra": {"type": "object", "enabled": false},
                    "feed_id": {"type": "keyword"}
                }
            }
        })
    );
}

#[test]
fn network_index_matches_the_python_mapping() {
    let body = mapping::network_index(&Layout {
        shards: 1,
        replicas: 0,
        refresh_interval: Some("100ms".into()),
        keep_source_vectors: true,
    });
    assert_eq!(
        body["mappings"]["properties"],
        json!({
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
        })
    );
    // A refresh interval, when asked for; vector settings never (no vectors here).
    assert_eq!(
        body["settings"],
        json!({"index": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "100ms"}})
    );
}

#[test]
fn vector_mappings_store_without_indexing() {
    let space = EmbeddingSpace::new(8, Similarity::Cosine).unwrap();
    let layout = Layout {
        shards: 1,
        replicas: 1,
        refresh_interval: None,
        keep_source_vectors: false,
    };
    // Stored, not indexed: vector queries are scored in the client, so no HNSW is built.
    let es = mapping::feeds_index(Engine::Elasticsearch, &layout, json!({}), Some(space));
    assert_eq!(
        es["mappings"]["properties"]["embedding"],
        json!({"type": "dense_vector", "dims": 8, "index": false})
    );
    let os = mapping::feeds_index(Engine::OpenSearch, &layout, json!({}), Some(space));
    assert_eq!(
        os["mappings"]["properties"]["embedding"],
        json!({"type": "knn_vector", "dimension": 8})
    );
    // Neither needs a vector index setting; the similarity is the store's, kept in `_meta`.
    for body in [&es, &os] {
        assert_eq!(
            body["settings"],
            json!({"index": {"number_of_shards": 1, "number_of_replicas": 1}})
        );
    }
    for similarity in [Similarity::DotProduct, Similarity::L2Norm] {
        let other = EmbeddingSpace::new(8, similarity).unwrap();
        for engine in [Engine::Elasticsearch, Engine::OpenSearch] {
            assert_eq!(
                mapping::embedding_field(engine, other),
                mapping::embedding_field(engine, space)
            );
        }
    }
    // Elasticsearch 9.2 and later: vectors kept in `_source`, so they read back as written.
    let keep = Layout {
        keep_source_vectors: true,
        ..layout
    };
    let es = mapping::feeds_index(Engine::Elasticsearch, &keep, json!({}), None);
    assert_eq!(
        es["settings"]["index"]["mapping"],
        json!({"exclude_source_vectors": false})
    );
}

/// A search response as the engines document it (`hits.total` as an object, `_source`,
/// `sort`), holding one document the Python library wrote (zone-less `published`, no
/// `feed_id`) and one of ours.
fn search_response() -> Value {
    json!({
        "took": 3,
        "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {
            "total": {"value": 2, "relation": "eq"},
            "max_score": null,
            "hits": [
                {
                    "_index": "feeds",
                    "_id": "b1",
                    "_score": null,
                    "_source": {
                        "published": "2026-01-03T10:00:00.000Z",
                        "published_date": "2026-01-03",
                        "published_time": "10:00:00",
                        "published_year": 2026,
                        "published_month": 1,
                        "type": "add",
                        "actor": {"id": "mark", "type": "person"},
                        "object": {"id": "f2", "type": "form"},
                        "feed_id": "b1"
                    },
                    "sort": [1_767_434_400_000_i64, "b1"]
                },
                {
                    "_index": "feeds",
                    "_id": "3f1c0b9e-python",
                    "_score": null,
                    "_source": {
                        "published": "2026-01-02T09:30:00.250000",
                        "published_date": "2026-01-02",
                        "published_time": "09:30:00",
                        "published_year": 2026,
                        "published_month": 1,
                        "type": "add",
                        "actor": {"id": "mark", "type": "person", "extra": {"x": 1}},
                        "object": {"id": "50a808d3", "type": "project"}
                    },
                    "sort": [1_767_346_200_250_i64, null]
                }
            ]
        }
    })
}

#[test]
fn reads_hits_including_python_documents() {
    let response = search_response();
    assert_eq!(parse::total_of("elasticsearch", &response).unwrap(), 2);
    let (hits, more) = parse::merge_pages("elasticsearch", &[response], 1, true, false).unwrap();
    assert!(more);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].activity.id(), Some("b1"));
    let (hits, more) =
        parse::merge_pages("elasticsearch", &[search_response()], 5, true, false).unwrap();
    assert!(!more);
    let python = &hits[1].activity;
    assert_eq!(python.id(), Some("3f1c0b9e-python"));
    assert_eq!(
        python.published(),
        Utc.with_ymd_and_hms(2026, 1, 2, 9, 30, 0).unwrap() + chrono::Duration::milliseconds(250)
    );
    // Elasticsearch 6 answered a plain number.
    assert_eq!(
        parse::total_of("elasticsearch", &json!({"hits": {"total": 7, "hits": []}})).unwrap(),
        7
    );
}

#[test]
fn reads_ranked_hits_with_their_script_scores() {
    // A script sort puts the score first in each hit's `sort`, as a double.
    let mut response = search_response();
    response["hits"]["hits"][0]["sort"] = json!([2.5, 1_767_434_400_000_i64, "b1"]);
    response["hits"]["hits"][1]["sort"] =
        json!([8.019_413_139_855_523e-7, 1_767_346_200_250_i64, null]);
    let (hits, more) = parse::ranked_page("elasticsearch", &response, 1).unwrap();
    assert!(more);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].score, Some(2.5));
    let (hits, more) = parse::ranked_page("elasticsearch", &response, 5).unwrap();
    assert!(!more);
    assert_eq!(hits[1].activity.id(), Some("3f1c0b9e-python"));
    assert_eq!(hits[1].score, Some(8.019_413_139_855_523e-7));
    // A hit without a numeric first sort value is a malformed response, not a score of 0.
    response["hits"]["hits"][1]["sort"] = json!(["x"]);
    assert!(matches!(
        parse::ranked_page("elasticsearch", &response, 5),
        Err(Error::Backend { .. })
    ));
}

#[test]
fn merging_split_searches_keeps_each_activity_once() {
    // The same activity reached through two searches, and a page of one: the newest of the
    // union, no duplicate, `more` because a third distinct activity remains.
    let (hits, more) = parse::merge_pages(
        "opensearch",
        &[search_response(), search_response()],
        1,
        true,
        false,
    )
    .unwrap();
    assert_eq!(hits.len(), 1);
    assert!(more);
    let (hits, more) = parse::merge_pages(
        "opensearch",
        &[search_response(), search_response()],
        2,
        true,
        true,
    )
    .unwrap();
    assert!(!more);
    // Reversed into ascending order.
    assert_eq!(hits[0].activity.id(), Some("3f1c0b9e-python"));
    assert_eq!(hits[1].activity.id(), Some("b1"));
}

#[test]
fn reads_grouped_responses_in_feed_order() {
    let query = FeedQuery::network(&network())
        .group_by([(GroupKey::Verb, 10)], 1)
        .unwrap();
    let mut query = query;
    query.grouping.as_mut().unwrap().metrics = vec![Metric::Count, Metric::DistinctActors];
    let Plan::Grouped(grouped) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    let hit = |id: &str, ms: i64| stored_hit(id, "add", ms, json!([ms, id]));
    // Two verbs whose newest activities share a millisecond: the engine ordered them by key
    // ("add" < "like"); the feed orders them by the newest activity's id ("z" after "a").
    let response = json!({
        "hits": {"total": {"value": 3, "relation": "eq"}, "hits": []},
        "aggregations": {"groups": {
            "doc_count_error_upper_bound": 0,
            "sum_other_doc_count": 0,
            "buckets": [
                {
                    "key": "add", "doc_count": 2,
                    "edge": {"value": 1000.0, "value_as_string": "1970-01-01T00:00:01.000Z"},
                    "edge_hit": {"hits": {"hits": [{"_id": "a", "sort": [1000, "a"]}]}},
                    "distinct_actors": {"value": 1},
                    "hits": {"hits": {"total": {"value": 2, "relation": "eq"}, "hits": [hit("a", 1000)]}}
                },
                {
                    "key": "like", "doc_count": 1,
                    "edge": {"value": 1000.0, "value_as_string": "1970-01-01T00:00:01.000Z"},
                    "edge_hit": {"hits": {"hits": [{"_id": "z", "sort": [1000, "z"]}]}},
                    "distinct_actors": {"value": 1},
                    "hits": {"hits": {"total": {"value": 1, "relation": "eq"}, "hits": [hit("z", 1000)]}}
                }
            ]
        }}
    });
    let (result, unsure) = parse::groups("elasticsearch", &grouped, &response).unwrap();
    assert!(!unsure.any(), "{unsure:?}");
    let verbs: Vec<String> = result.groups.iter().map(|g| g.value.to_string()).collect();
    assert_eq!(verbs, ["like", "add"]);
    assert_eq!(result.groups[1].count, Some(2));
    assert_eq!(result.groups[1].distinct_actors, Some(1));
    assert_eq!(result.groups[0].hits[0].activity.id(), Some("z"));
    assert_eq!(
        result.groups[0].hits[0].score, None,
        "recency carries no score"
    );

    // Ranked, the same response's hits carry their score script's value (first sort value).
    query.ranking = crate::Ranking::LinkWeight;
    let Plan::Grouped(ranked) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    let mut response = response;
    for (bucket, score) in [(0, 3.0), (1, 0.25)] {
        let hit =
            &mut response["aggregations"]["groups"]["buckets"][bucket]["hits"]["hits"]["hits"][0];
        let sort = hit["sort"].as_array().unwrap().clone();
        hit["sort"] = json!([score, sort[0], sort[1]]);
    }
    let (result, _) = parse::groups("elasticsearch", &ranked, &response).unwrap();
    assert_eq!(result.groups[0].hits[0].score, Some(0.25));
    assert_eq!(result.groups[1].hits[0].score, Some(3.0));
}

#[test]
fn ranked_group_limit_keeps_groups_by_their_edge_not_their_best_hit() {
    let mut query = FeedQuery::network(&network())
        .group_by([(GroupKey::Verb, 10)], 1)
        .unwrap();
    query.ranking = crate::Ranking::LinkWeight;
    query.grouping.as_mut().unwrap().limit = Some(1);
    let Plan::Grouped(grouped) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    let hit = |id: &str, ms: i64, score: f64| stored_hit(id, "add", ms, json!([score, ms, id]));
    // Both groups' newest activities share a millisecond; "like" has the higher edge id ("z")
    // but the lower best hit ("b", older and heavier).
    let bucket = |key: &str, edge: &str, best: Value| {
        json!({
            "key": key, "doc_count": 2,
            "edge": {"value": 1000.0},
            "edge_hit": {"hits": {"hits": [{"_id": edge, "sort": [1000, edge]}]}},
            "hits": {"hits": {"total": {"value": 2, "relation": "eq"}, "hits": [best]}}
        })
    };
    let response = json!({
        "hits": {"total": {"value": 4, "relation": "eq"}, "hits": []},
        "aggregations": {"groups": {"buckets": [
            bucket("add", "a", hit("y", 500, 2.0)),
            bucket("like", "z", hit("b", 400, 3.0)),
        ]}}
    });
    let (result, unsure) = parse::groups("elasticsearch", &grouped, &response).unwrap();
    assert!(!unsure.any(), "{unsure:?}");
    let kept: Vec<String> = result.groups.iter().map(|g| g.value.to_string()).collect();
    assert_eq!(kept, ["like"]);
    assert_eq!(result.groups[0].hits[0].activity.id(), Some("b"));
}

/// A verb bucket whose newest activity is `edge` at `ms`, holding it as its one hit.
fn verb_bucket(key: &str, edge: &str, ms: i64) -> Value {
    json!({
        "key": key, "doc_count": 1,
        "edge": {"value": ms as f64},
        "edge_hit": {"hits": {"hits": [{"_id": edge, "sort": [ms, edge]}]}},
        "hits": {"hits": {
            "total": {"value": 1, "relation": "eq"},
            "hits": [stored_hit(edge, key, ms, json!([ms, edge]))]
        }}
    })
}

/// A search hit as the engines return it: mark's `verb` of `o`, published at `ms`, with these
/// sort values.
fn stored_hit(id: &str, verb: &str, ms: i64, sort: Value) -> Value {
    json!({
        "_index": "feeds", "_id": id, "_score": null,
        "_source": {
            "published": Utc.timestamp_millis_opt(ms).unwrap().to_rfc3339(),
            "type": verb,
            "actor": {"id": "mark", "type": "person"},
            "object": {"id": "o", "type": "post"},
            "feed_id": id
        },
        "sort": sort
    })
}

#[test]
fn ties_at_a_size_cut_are_ordered_by_edge_id_or_reported_unsure() {
    // One verb kept, two asked for (one of padding).
    let query = FeedQuery::network(&network())
        .group_by([(GroupKey::Verb, 1)], 1)
        .unwrap();
    let Plan::Grouped(grouped) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    assert_eq!(grouped.body["aggs"]["groups"]["terms"]["size"], json!(2));
    let answer = |buckets: Vec<Value>| json!({"aggregations": {"groups": {"buckets": buckets}}});
    let read = |buckets| parse::groups("opensearch", &grouped, &answer(buckets)).unwrap();
    let verbs = |result: &crate::FeedResult| -> Vec<String> {
        result.groups.iter().map(|g| g.value.to_string()).collect()
    };

    // The extra bucket is older: the cut is sure, whatever the engine left out.
    let (result, unsure) = read(vec![
        verb_bucket("add", "a", 2000),
        verb_bucket("like", "z", 1000),
    ]);
    assert_eq!(verbs(&result), ["add"]);
    assert!(!unsure.any());
    // Fewer buckets than asked: the engine left nothing out.
    let (result, unsure) = read(vec![verb_bucket("add", "a", 1000)]);
    assert_eq!(verbs(&result), ["add"]);
    assert!(!unsure.any());
    // A tie at the cut (the engine chose by key): the higher edge id wins, but a third
    // verb at the same millisecond may have been left out, so the answer is unsure.
    let (result, unsure) = read(vec![
        verb_bucket("add", "a", 1000),
        verb_bucket("like", "z", 1000),
    ]);
    assert_eq!(verbs(&result), ["like"]);
    assert_eq!(unsure.levels, [true]);
    // Asked again with more padding: twice the buckets.
    let wider = grouped
        .padding
        .widen(&grouped.grouping, &unsure.levels, unsure.recent);
    let Plan::Grouped(again) = super::compile::plan_padded(&query, Some(wider)).unwrap() else {
        panic!("grouped")
    };
    assert_eq!(again.body["aggs"]["groups"]["terms"]["size"], json!(4));
}

#[test]
fn ascending_ties_and_recent_actor_ties_are_checked_too() {
    // Oldest first: a level's edge is its oldest activity, ties go to the lower id.
    let query = FeedQuery::network(&network())
        .order(Order::Asc)
        .group_by([(GroupKey::Verb, 1)], 1)
        .unwrap();
    let Plan::Grouped(grouped) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    assert_eq!(
        grouped.body["aggs"]["groups"]["aggs"]["edge"],
        json!({"min": {"field": "published"}})
    );
    let answer = |buckets: Vec<Value>| json!({"aggregations": {"groups": {"buckets": buckets}}});
    let oldest_at = |like_ms: i64| {
        let buckets = vec![
            verb_bucket("add", "m", 1000),
            verb_bucket("like", "b", like_ms),
        ];
        parse::groups("opensearch", &grouped, &answer(buckets)).unwrap()
    };
    let (result, unsure) = oldest_at(1000);
    assert_eq!(
        result.groups[0].value.to_string(),
        "like",
        "the lower edge id"
    );
    assert_eq!(unsure.levels, [true]);
    let (_, unsure) = oldest_at(2000);
    assert!(!unsure.any(), "the extra bucket is newer: sure");

    // Recent actors: two asked for one kept; a tie at the cut goes to the higher edge id.
    let mut query = FeedQuery::network(&network())
        .group_by([(GroupKey::Verb, 5)], 1)
        .unwrap();
    query.grouping.as_mut().unwrap().metrics = vec![Metric::RecentActors(1)];
    let Plan::Grouped(grouped) = plan(&query).unwrap() else {
        panic!("grouped")
    };
    let actor = |id: &str, edge: &str| {
        json!({
            "key": ["person", id], "doc_count": 1,
            "edge": {"value": 1000.0},
            "edge_hit": {"hits": {"hits": [{"_id": edge, "sort": [1000, edge]}]}}
        })
    };
    let mut bucket = verb_bucket("add", "z", 1000);
    bucket["recent_actors"] = json!({"buckets": [actor("ann", "a"), actor("bob", "z")]});
    let (result, unsure) = parse::groups("opensearch", &grouped, &answer(vec![bucket])).unwrap();
    let recent = result.groups[0].recent_actors.as_ref().unwrap();
    assert_eq!(recent[0].id, "bob");
    assert!(unsure.recent && !unsure.levels[0], "{unsure:?}");
}

#[test]
fn connection_strings() {
    let options = crate::backend::cluster::ClusterOptions::default;
    let c = Connection::parse("http://localhost:9200", options()).unwrap();
    assert_eq!(c.engine, Engine::Elasticsearch);
    assert_eq!(c.nodes, ["http://localhost:9200/"]);
    assert!(c.auth.is_none());

    let c = Connection::parse(
        "opensearch+https://admin:p%40ss@os1:9200,https://os2:9200/prefix",
        options(),
    )
    .unwrap();
    assert_eq!(c.engine, Engine::OpenSearch);
    assert_eq!(c.nodes, ["https://os1:9200/", "https://os2:9200/prefix/"]);
    assert_eq!(
        c.auth,
        Some(crate::backend::cluster::ClusterAuth::Basic {
            user: "admin".into(),
            password: "p@ss".into()
        })
    );
    // Secrets are never shown.
    assert!(!format!("{:?}", c.auth).contains("p@ss"));

    for bad in [
        "ftp://x",
        "http://",
        "elasticsearch+http://a:9200,opensearch+http://b:9200",
        "http://a:9200,b:9200",
    ] {
        match Connection::parse(bad, options()) {
            Err(Error::InvalidConnection { value, .. }) => assert!(!value.contains("p@ss")),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let Err(Error::InvalidConnection { value, .. }) =
        Connection::parse("http://u:secret@a:9200,ftp://b", options())
    else {
        panic!("refused")
    };
    assert!(!value.contains("secret"), "{value}");
}
