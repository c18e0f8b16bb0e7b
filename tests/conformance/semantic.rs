//! Semantic feeds: embeddings on activities, and the nearest activities to a query vector.
//!
//! Vectors are made by hand so that the nearest activities are known; the last case compares
//! against a brute force over 1,000 random vectors.

use elasticfeeds::query::GroupKey;
use elasticfeeds::{
    Activity, EmbeddingSpace, Error, FeedQuery, LinkClass, Manager, Order, Ranking, Similarity,
};
use elasticfeeds_aggregators::Semantic;

use super::{
    activity, add, all_activities, at, follow_at, ids, object, person, post, reaches, skip,
    watch_at, Made, OpenOptions, Random, Raw, Rules, Store, DAY, MIN,
};

fn space(dimensions: usize, similarity: Similarity) -> EmbeddingSpace {
    EmbeddingSpace::new(dimensions, similarity).unwrap()
}

/// A new store holding embeddings of `space`.
async fn open(store: &dyn Store, space: EmbeddingSpace) -> Manager {
    let name = store.new_name();
    store
        .open(&name, OpenOptions::embeddings(space))
        .await
        .unwrap()
}

/// `post(id, actor, published)` with an embedding.
fn embedded(id: &str, actor: &str, published_ms: i64, vector: &[f32]) -> Activity {
    post(id, actor, at(published_ms))
        .with_embedding(vector.to_vec())
        .unwrap()
}

/// `(id, score)` of a semantic feed, best first.
async fn nearest(m: &Manager, user: &str, semantic: &Semantic) -> Vec<(String, f64)> {
    m.get_feeds(user, semantic)
        .await
        .unwrap()
        .feed
        .into_iter()
        .map(|hit| (hit.activity.id().unwrap().to_owned(), hit.score))
        .collect()
}

fn names(scored: &[(String, f64)]) -> Vec<&str> {
    scored.iter().map(|(id, _)| id.as_str()).collect()
}

/// The cosine score of a stored vector, computed here in f64 as documented.
fn cosine(query: &[f32], stored: &[f32]) -> f64 {
    let dot: f64 = query
        .iter()
        .zip(stored)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    ((1.0 + dot / (norm(query) * norm(stored))) / 2.0).clamp(0.0, 1.0)
}

/// reader follows mark and watches topic:rust since t0; around them, activities that must and
/// must not compete.
async fn seed(m: &Manager) {
    follow_at(m, "reader", "mark", at(0)).await;
    watch_at(m, "reader", "rust", "topic", at(0)).await;
    let topic = || elasticfeeds::Target::new("rust", "topic").unwrap();
    let origin = || elasticfeeds::Origin::new("rust", "topic").unwrap();
    add(
        m,
        vec![
            // Before the follow: never in the network's results.
            embedded("m0", "mark", -MIN, &[1.0, 0.0, 0.0]),
            embedded("m1", "mark", MIN, &[1.0, 0.0, 0.0]),
            embedded("m2", "mark", 2 * MIN, &[0.9, 0.1, 0.0]),
            embedded("m3", "mark", 3 * MIN, &[0.0, 1.0, 0.0]),
            // No embedding: never a semantic result.
            post("m4", "mark", at(4 * MIN)),
            // Not followed.
            embedded("a1", "ana", MIN, &[1.0, 0.0, 0.0]),
            // Reaches the reader through the watched target.
            activity(
                "w1",
                "comment",
                person("bob"),
                object("c1", "comment"),
                at(MIN),
            )
            .with_target(topic())
            .with_embedding(vec![0.8, 0.2, 0.0])
            .unwrap(),
            // The origin never matches a watch.
            activity(
                "w0",
                "move",
                person("bob"),
                object("c2", "comment"),
                at(MIN),
            )
            .with_origin(origin())
            .with_embedding(vec![1.0, 0.0, 0.0])
            .unwrap(),
        ],
    )
    .await;
}

/// Within the network: link rules and "since" bounds hold, activities without an embedding never
/// come back, `k` cuts the list, a larger `k` returns every competitor.
pub async fn nearest_within_the_network(store: &dyn Store) {
    let m = open(store, space(3, Similarity::Cosine)).await;
    seed(&m).await;
    let query = [1.0, 0.0, 0.0];
    let all = nearest(&m, "reader", &Semantic::new(query.to_vec()).unwrap()).await;
    assert_eq!(names(&all), ["m1", "m2", "w1", "m3"]);
    assert_eq!(all[0].1, 1.0);
    assert!((all[1].1 - cosine(&query, &[0.9, 0.1, 0.0])).abs() < 1e-12);
    assert!((all[2].1 - cosine(&query, &[0.8, 0.2, 0.0])).abs() < 1e-12);
    assert_eq!(all[3].1, 0.5);

    let two = nearest(
        &m,
        "reader",
        &Semantic::new(query.to_vec()).unwrap().k(2).unwrap(),
    )
    .await;
    assert_eq!(two, all[..2]);
    let huge = Semantic::new(query.to_vec()).unwrap().k(10_000).unwrap();
    assert_eq!(nearest(&m, "reader", &huge).await, all);

    // The activities come back whole, embedding included.
    let feed = m.get_feeds("reader", &huge).await.unwrap().feed;
    assert_eq!(feed[1].activity, m.get_activity("m2").await.unwrap());
    assert_eq!(feed[1].activity.embedding(), Some(&[0.9, 0.1, 0.0][..]));

    // An approximate search may be asked for; on a handful of vectors it finds the same.
    let approximate = Semantic::new(query.to_vec())
        .unwrap()
        .k(2)
        .unwrap()
        .approximate(100)
        .unwrap();
    assert_eq!(
        names(&nearest(&m, "reader", &approximate).await),
        ["m1", "m2"]
    );

    // Filters narrow the competitors as on any feed: an entity, verbs, a time window.
    let filtered = |adjust: fn(FeedQuery) -> elasticfeeds::Result<FeedQuery>| {
        Raw(move |network: &_| {
            adjust(FeedQuery::network(network).nearest(vec![1.0, 0.0, 0.0], 10)?)
        })
    };
    for (adjust, expected) in [
        (
            (|q: FeedQuery| Ok(q.actor(elasticfeeds::EntityFilter::key("mark", "person")?)))
                as fn(FeedQuery) -> elasticfeeds::Result<FeedQuery>,
            vec!["m1", "m2", "m3"],
        ),
        (|q| q.verbs(["comment"]), vec!["w1"]),
        (|q| q.since(at(2 * MIN)), vec!["m2", "m3"]),
    ] {
        let result = m.get_feeds("reader", &filtered(adjust)).await.unwrap().feed;
        let found: Vec<&str> = result
            .hits
            .iter()
            .map(|hit| hit.activity.id().unwrap())
            .collect();
        assert_eq!(found, expected);
    }

    // Unfollowing leaves what the watch reaches; no links at all, no results.
    m.unfollow("reader", "mark").await.unwrap();
    assert_eq!(names(&nearest(&m, "reader", &huge).await), ["w1"]);
    assert!(nearest(&m, "nobody", &huge).await.is_empty());
}

/// Across every activity: the network does not matter, activities without an embedding still
/// never come back, and a search has one page.
pub async fn across_all_activities(store: &dyn Store) {
    let m = open(store, space(3, Similarity::Cosine)).await;
    seed(&m).await;
    let query = vec![1.0, 0.0, 0.0];
    let everywhere = Semantic::new(query.clone()).unwrap().all_activities();
    let found = nearest(&m, "nobody", &everywhere).await;
    // Four at 1.0: the three published at MIN by id, highest first, then the older m0.
    assert_eq!(names(&found), ["w0", "m1", "a1", "m0", "m2", "w1", "m3"]);
    assert_eq!(nearest(&m, "reader", &everywhere).await, found);

    // The same search without an aggregator; a nearest search has no next page.
    let page = m
        .search(FeedQuery::all().nearest(query, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&page.activities), ["w0", "m1"]);
    assert_eq!(page.next_cursor, None);
}

/// Equal scores list the newer activity first, then the higher id; scores a rounding apart are
/// still ordered by score.
pub async fn ties_and_near_ties(store: &dyn Store) {
    let m = open(store, space(2, Similarity::L2Norm)).await;
    follow_at(&m, "reader", "mark", at(0)).await;
    add(
        &m,
        vec![
            embedded("t1", "mark", MIN, &[1.0, 0.0]),
            embedded("t2", "mark", 2 * MIN, &[0.0, 1.0]),
            embedded("t3", "mark", 2 * MIN, &[-1.0, 0.0]),
            embedded("n1", "mark", 3 * MIN, &[1.0001, 0.0]),
            embedded("n2", "mark", 0, &[0.9999, 0.0]),
        ],
    )
    .await;
    let found = nearest(&m, "reader", &Semantic::new(vec![0.0, 0.0]).unwrap()).await;
    assert_eq!(names(&found), ["n2", "t3", "t2", "t1", "n1"]);
    assert!(found[0].1 > 0.5 && found[4].1 < 0.5, "{found:?}");
    assert!(found[1..4].iter().all(|(_, score)| *score == 0.5));
}

/// Every similarity reports the documented score in `[0, 1]`.
pub async fn one_score_scale_per_similarity(store: &dyn Store) {
    /// A similarity, a query vector, and stored vectors with the score each must get.
    type Case = (Similarity, [f32; 2], Vec<([f32; 2], f64)>);
    let cases: [Case; 3] = [
        (
            Similarity::Cosine,
            [1.0, 0.0],
            vec![([3.0, 0.0], 1.0), ([0.0, 2.0], 0.5), ([-1.0, 0.0], 0.0)],
        ),
        (
            Similarity::DotProduct,
            [1.0, 0.0],
            vec![
                ([0.6, 0.8], (1.0 + f64::from(0.6f32)) / 2.0),
                ([0.0, 1.0], 0.5),
                ([-1.0, 0.0], 0.0),
            ],
        ),
        (
            Similarity::L2Norm,
            [0.0, 0.0],
            vec![
                ([0.0, 0.0], 1.0),
                ([1.0, 0.0], 0.5),
                ([3.0, 4.0], 1.0 / 26.0),
            ],
        ),
    ];
    for (similarity, query, expected) in cases {
        let m = open(store, space(2, similarity)).await;
        let activities = expected
            .iter()
            .enumerate()
            .map(|(i, (vector, _))| embedded(&format!("v{i}"), "mark", i as i64 * MIN, vector))
            .collect();
        add(&m, activities).await;
        let found = nearest(
            &m,
            "nobody",
            &Semantic::new(query.to_vec()).unwrap().all_activities(),
        )
        .await;
        let wanted: Vec<(String, f64)> = expected
            .iter()
            .enumerate()
            .map(|(i, (_, score))| (format!("v{i}"), *score))
            .collect();
        assert_eq!(found.len(), wanted.len(), "{similarity:?}");
        for ((id, score), (want_id, want_score)) in found.iter().zip(&wanted) {
            assert_eq!(id, want_id, "{similarity:?}: {found:?}");
            assert!(
                (score - want_score).abs() < 1e-12,
                "{similarity:?}: {id} scored {score}, expected {want_score}"
            );
        }
    }
}

/// Bad embeddings are typed errors, and a batch holding one writes nothing.
pub async fn invalid_vectors_change_nothing(store: &dyn Store) {
    let plain = || post("p", "mark", at(0));
    for bad in [
        vec![],
        vec![f32::NAN, 0.0, 0.0],
        vec![0.0, f32::INFINITY, 0.0],
        vec![f32::NEG_INFINITY, 0.0, 0.0],
        vec![0.5; 4_097],
    ] {
        assert_err!(
            plain().with_embedding(bad),
            Error::InvalidVector {
                field: "embedding",
                ..
            }
        );
    }
    // Stored documents are checked as they are read: a list of numbers, or nothing.
    let mut doc = serde_json::to_value(plain()).unwrap();
    for bad in [
        serde_json::json!("nope"),
        serde_json::json!([1, "x"]),
        serde_json::json!([]),
    ] {
        doc["embedding"] = bad;
        assert!(serde_json::from_value::<Activity>(doc.clone()).is_err());
    }
    doc["embedding"] = serde_json::json!([1, 2.5, -3]);
    let read: Activity = serde_json::from_value(doc).unwrap();
    assert_eq!(read.embedding(), Some(&[1.0, 2.5, -3.0][..]));

    let m = open(store, space(3, Similarity::Cosine)).await;
    let good = embedded("good", "mark", 0, &[1.0, 0.0, 0.0]);
    for bad in [
        vec![1.0, 0.0],
        vec![1.0, 0.0, 0.0, 0.0],
        vec![0.0, 0.0, 0.0],
    ] {
        let bad = embedded("bad", "mark", MIN, &bad);
        assert_err!(
            m.add_activities(vec![good.clone(), bad.clone()]).await,
            Error::InvalidVector { .. }
        );
        assert_err!(m.add_activity(bad).await, Error::InvalidVector { .. });
    }
    assert!(all_activities(&m).await.is_empty());

    // Dot product compares unit vectors only: nothing is normalised behind your back.
    let m = open(store, space(2, Similarity::DotProduct)).await;
    assert_err!(
        m.add_activity(embedded("long", "mark", 0, &[1.0, 1.0]))
            .await,
        Error::InvalidVector { .. }
    );
    assert!(all_activities(&m).await.is_empty());
    m.add_activity(embedded("unit", "mark", 0, &[0.6, 0.8]))
        .await
        .unwrap();
    assert_eq!(ids(&all_activities(&m).await), ["unit"]);
}

/// Bad semantic reads are typed errors.
pub async fn invalid_semantic_reads(store: &dyn Store) {
    let m = open(store, space(3, Similarity::Cosine)).await;
    seed(&m).await;
    for bad in [vec![1.0, 0.0], vec![0.0, 0.0, 0.0]] {
        let semantic = Semantic::new(bad).unwrap();
        assert_err!(
            m.get_feeds("reader", &semantic).await,
            Error::InvalidVector {
                field: "query vector",
                ..
            }
        );
        // Even with nothing to search.
        assert_err!(
            m.get_feeds("nobody", &semantic).await,
            Error::InvalidVector { .. }
        );
    }
    assert_err!(Semantic::new(vec![f32::NAN]), Error::InvalidVector { .. });
    let semantic = Semantic::new(vec![1.0, 0.0, 0.0]).unwrap();
    assert_err!(semantic.clone().k(0), Error::InvalidSize { .. });
    assert_err!(semantic.clone().k(10_001), Error::InvalidSize { .. });
    assert_err!(semantic.clone().approximate(5), Error::InvalidSize { .. });

    // Queries built by hand: a vector query is one page, best first, nothing else.
    let vector = || FeedQuery::all().nearest(vec![1.0, 0.0, 0.0], 5).unwrap();
    let position = elasticfeeds::Position {
        published: at(0),
        id: "m1".into(),
    };
    let mut ranked = vector();
    ranked.ranking = Ranking::LinkWeight;
    let mut collapsed = vector();
    collapsed.collapse = Some(GroupKey::Object);
    let mut grouped = vector();
    grouped.grouping = FeedQuery::all()
        .group_by([(GroupKey::Verb, 5)], 5)
        .unwrap()
        .grouping;
    let mut not_finite = vector();
    not_finite.vector.as_mut().unwrap().vector[0] = f32::NAN;
    for (query, invalid_vector) in [
        (vector().older_than(position.clone()), false),
        (vector().order(Order::Asc), false),
        (ranked, false),
        (collapsed, false),
        (grouped, false),
        (not_finite, true),
    ] {
        let result = m
            .get_feeds("reader", &Raw(move |_: &_| Ok(query.clone())))
            .await;
        if invalid_vector {
            assert_err!(result, Error::InvalidVector { .. });
        } else {
            assert_err!(result, Error::InvalidQuery { .. });
        }
    }
    assert_err!(vector().approximate(4), Error::InvalidSize { .. });
    assert_err!(FeedQuery::all().approximate(10), Error::InvalidQuery { .. });
}

/// A store opened without an embedding space refuses embeddings and semantic reads, and still
/// takes activities without one.
pub async fn stores_without_embeddings(store: &dyn Store) {
    let m = store.fresh().await;
    assert_eq!(m.embeddings(), None);
    follow_at(&m, "reader", "mark", at(0)).await;
    let with = embedded("e1", "mark", MIN, &[1.0, 0.0]);
    assert_err!(
        m.add_activity(with.clone()).await,
        Error::EmbeddingsNotEnabled
    );
    assert_err!(
        m.add_activities(vec![post("p1", "mark", at(MIN)), with])
            .await,
        Error::EmbeddingsNotEnabled
    );
    assert!(all_activities(&m).await.is_empty());
    m.add_activity(post("p1", "mark", at(MIN))).await.unwrap();
    assert_err!(
        m.get_feeds("reader", &Semantic::new(vec![1.0, 0.0]).unwrap())
            .await,
        Error::EmbeddingsNotEnabled
    );
}

/// A store records its embedding space: reopening without one keeps it, reopening with another
/// is refused, and a store without one can take one later.
pub async fn embedding_space_is_recorded(store: &dyn Store) {
    if !store.capabilities().reopen {
        return skip("embedding_space_is_recorded", "cannot be opened again");
    }
    let cosine = space(3, Similarity::Cosine);
    let name = store.new_name();
    let m = store
        .open(&name, OpenOptions::embeddings(cosine))
        .await
        .unwrap();
    m.add_activity(embedded("e1", "mark", 0, &[1.0, 0.0, 0.0]))
        .await
        .unwrap();
    m.close().await.unwrap();
    drop(m);
    for other in [space(4, Similarity::Cosine), space(3, Similarity::L2Norm)] {
        assert_err!(
            store.open(&name, OpenOptions::embeddings(other)).await,
            Error::EmbeddingSpaceMismatch { .. }
        );
    }
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    assert_eq!(m.embeddings(), Some(cosine));
    assert_eq!(
        m.get_activity("e1").await.unwrap().embedding(),
        Some(&[1.0, 0.0, 0.0][..])
    );
    m.close().await.unwrap();
    drop(m);

    // Created without embeddings, given them later.
    let name = store.new_name();
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    m.add_activity(post("p1", "mark", at(0))).await.unwrap();
    m.close().await.unwrap();
    drop(m);
    if store.capabilities().read_only {
        let read_only = OpenOptions {
            embeddings: Some(cosine),
            ..OpenOptions::read_only()
        };
        assert_err!(
            store.open(&name, read_only).await,
            Error::EmbeddingSpaceMismatch { .. }
        );
    }
    let m = store
        .open(&name, OpenOptions::embeddings(cosine))
        .await
        .unwrap();
    m.add_activity(embedded("e1", "mark", MIN, &[0.0, 1.0, 0.0]))
        .await
        .unwrap();
    m.close().await.unwrap();
    drop(m);
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    assert_eq!(m.embeddings(), Some(cosine));
    let everywhere = Semantic::new(vec![0.0, 1.0, 0.0]).unwrap().all_activities();
    assert_eq!(names(&nearest(&m, "nobody", &everywhere).await), ["e1"]);
}

/// Embeddings survive reopening, and the merges of many small writes (twelve commits are enough
/// for the embedded backend's merge policy); a removed activity stays removed.
pub async fn survives_reopen_and_merges(store: &dyn Store) {
    if !store.capabilities().reopen {
        return skip("survives_reopen_and_merges", "cannot be opened again");
    }
    let name = store.new_name();
    let m = store
        .open(&name, OpenOptions::embeddings(space(4, Similarity::Cosine)))
        .await
        .unwrap();
    follow_at(&m, "reader", "mark", at(0)).await;
    for i in 0..12i64 {
        let x = i as f32;
        let actor = if i % 3 == 0 { "ana" } else { "mark" };
        m.add_activity(embedded(
            &format!("e{i}"),
            actor,
            i * MIN,
            &[1.0, x, x * x, 0.5],
        ))
        .await
        .unwrap();
    }
    m.remove_activity("e5").await.unwrap();
    let query = vec![1.0, 4.0, 16.0, 0.5];
    let within = Semantic::new(query.clone()).unwrap().k(5).unwrap();
    let everywhere = Semantic::new(query)
        .unwrap()
        .k(20)
        .unwrap()
        .all_activities();
    let before = (
        nearest(&m, "reader", &within).await,
        nearest(&m, "reader", &everywhere).await,
    );
    assert_eq!(before.0[0].0, "e4");
    assert_eq!(before.1.len(), 11);
    assert!(!names(&before.1).contains(&"e5"));
    m.close().await.unwrap();
    drop(m);

    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    let after = (
        nearest(&m, "reader", &within).await,
        nearest(&m, "reader", &everywhere).await,
    );
    assert_eq!(after, before);
    for i in [0, 7, 11] {
        let x = i as f32;
        assert_eq!(
            m.get_activity(&format!("e{i}")).await.unwrap().embedding(),
            Some(&[1.0, x, x * x, 0.5][..])
        );
    }
}

/// 1,000 random vectors on skewed data (a few busy actors, millisecond ties, link bounds,
/// watches, an actor type clash, removals, activities without embeddings): the backend's top `k`
/// equals a brute force in f64, in the same order, for the network and for all activities.
pub async fn matches_brute_force(store: &dyn Store) {
    const DIMENSIONS: usize = 8;
    let m = open(store, space(DIMENSIONS, Similarity::Cosine)).await;
    let mut random = Random(7);

    // reader follows u0..u19 and watches topics t0..t3, each since a random time.
    let mut follows = std::collections::HashMap::new();
    for u in 0..20 {
        let since = random.below(10 * DAY as u64) as i64;
        follow_at(&m, "reader", &format!("u{u}"), at(since)).await;
        follows.insert(format!("u{u}"), since);
    }
    let mut watches = std::collections::HashMap::new();
    for t in 0..4 {
        let since = random.below(10 * DAY as u64) as i64;
        watch_at(&m, "reader", &format!("t{t}"), "topic", at(since)).await;
        watches.insert(format!("t{t}"), since);
    }

    let mut made = Vec::new();
    let mut batch = Vec::new();
    for n in 0..1_000 {
        // Quadratic skew: low-numbered actors post far more.
        let u = (random.unit().powi(2) * 60.0) as usize;
        // Every fifth activity by u0..u9 comes from a bot of the same id: not followed.
        let kind = if n % 5 == 0 && u < 10 {
            "bot"
        } else {
            "person"
        };
        // Whole seconds over 20 days: many activities share a millisecond.
        let published = random.below(20 * DAY as u64 / 1_000) as i64 * 1_000;
        let object = match random.below(5) {
            0 => (format!("t{}", random.below(6)), "topic".to_owned()),
            _ => (format!("p{n}"), "post".to_owned()),
        };
        let target =
            (random.below(10) == 0).then(|| (format!("t{}", random.below(6)), "topic".to_owned()));
        let vector = match random.below(20) {
            0 => None,
            // Some exact duplicates of an earlier vector: exact ties.
            1 if !made.is_empty() => {
                let earlier: &Made = &made[random.below(made.len() as u64) as usize];
                earlier.vector.clone()
            }
            _ => Some(random.vector(DIMENSIONS)),
        };
        let id = format!("a{n:04}");
        let mut activity = Activity::new(
            "post",
            elasticfeeds::Actor::new(&format!("u{u}"), kind).unwrap(),
            elasticfeeds::Object::new(&object.0, &object.1).unwrap(),
        )
        .unwrap()
        .with_id(&id)
        .unwrap()
        .published_at(at(published))
        .unwrap();
        if let Some((id, kind)) = &target {
            activity = activity.with_target(elasticfeeds::Target::new(id, kind).unwrap());
        }
        if let Some(vector) = &vector {
            activity = activity.with_embedding(vector.clone()).unwrap();
        }
        batch.push(activity);
        made.push(Made {
            id,
            actor: (format!("u{u}"), kind.to_owned()),
            object,
            target,
            published,
            vector,
        });
        if batch.len() == 250 {
            add(&m, std::mem::take(&mut batch)).await;
        }
    }
    let mut removed = std::collections::HashSet::new();
    for _ in 0..30 {
        let id = made[random.below(made.len() as u64) as usize].id.clone();
        if removed.insert(id.clone()) {
            m.remove_activity(&id).await.unwrap();
        }
    }

    let rules: Rules = follows
        .iter()
        .map(|(u, since)| (LinkClass::Actor, (u.clone(), "person".to_owned()), *since))
        .chain(
            watches
                .iter()
                .map(|(t, since)| (LinkClass::Object, (t.clone(), "topic".to_owned()), *since)),
        )
        .collect();
    for q in 0..3 {
        let query = random.vector(DIMENSIONS);
        for network in [true, false] {
            let mut expected: Vec<(f64, i64, &str)> = made
                .iter()
                .filter(|a| !removed.contains(&a.id) && (!network || reaches(&rules, a)))
                .filter_map(|a| {
                    let score = cosine(&query, a.vector.as_ref()?);
                    Some((score, a.published, a.id.as_str()))
                })
                .collect();
            expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(a.2)));
            assert!(expected.len() > 100, "the data reaches enough activities");
            for k in [1, 10, 100, 1_000] {
                let mut semantic = Semantic::new(query.clone()).unwrap().k(k).unwrap();
                if !network {
                    semantic = semantic.all_activities();
                }
                let found = nearest(&m, "reader", &semantic).await;
                let want: Vec<&str> = expected.iter().take(k).map(|e| e.2).collect();
                assert_eq!(names(&found), want, "query {q}, network {network}, k {k}");
                for ((_, score), (want_score, _, id)) in found.iter().zip(&expected) {
                    assert!(
                        (score - want_score).abs() < 1e-12,
                        "{id}: {score} against {want_score}"
                    );
                }
            }
        }
    }
}

/// Adding an activity again under its id replaces its embedding too: the old vector never
/// comes back, and removing the embedding removes the activity from semantic results.
pub async fn replaced_embeddings(store: &dyn Store) {
    let m = open(store, space(2, Similarity::L2Norm)).await;
    follow_at(&m, "reader", "mark", at(0)).await;
    add(
        &m,
        vec![
            embedded("a", "mark", MIN, &[0.0, 0.0]),
            embedded("b", "mark", MIN, &[3.0, 0.0]),
        ],
    )
    .await;
    let near_origin = Semantic::new(vec![0.0, 0.0]).unwrap();
    assert_eq!(
        names(&nearest(&m, "reader", &near_origin).await),
        ["a", "b"]
    );

    m.add_activity(embedded("a", "mark", MIN, &[5.0, 0.0]))
        .await
        .unwrap();
    let found = nearest(&m, "reader", &near_origin).await;
    assert_eq!(names(&found), ["b", "a"]);
    assert_eq!(found[1].1, 1.0 / 26.0);
    assert_eq!(
        m.get_activity("a").await.unwrap().embedding(),
        Some(&[5.0, 0.0][..])
    );

    m.add_activity(post("b", "mark", at(MIN))).await.unwrap();
    assert_eq!(names(&nearest(&m, "reader", &near_origin).await), ["a"]);
    assert_eq!(m.get_activity("b").await.unwrap().embedding(), None);
}

/// A read-only open beside the writer finds the embeddings the writer adds after it opened.
pub async fn read_only_sees_new_embeddings(store: &dyn Store) {
    let caps = store.capabilities();
    if !(caps.reopen && caps.read_only) {
        return skip("read_only_sees_new_embeddings", "has no read-only opens");
    }
    let name = store.new_name();
    let l2 = space(2, Similarity::L2Norm);
    let writer = store
        .open(&name, OpenOptions::embeddings(l2))
        .await
        .unwrap();
    let reader = store.open(&name, OpenOptions::read_only()).await.unwrap();
    assert_eq!(reader.embeddings(), Some(l2));
    let everywhere = Semantic::new(vec![0.0, 0.0]).unwrap().all_activities();
    assert!(nearest(&reader, "nobody", &everywhere).await.is_empty());
    for (i, x) in [(0, 2.0), (1, 1.0), (2, 3.0)] {
        writer
            .add_activity(embedded(&format!("e{i}"), "mark", i * MIN, &[x, 0.0]))
            .await
            .unwrap();
        let expected: Vec<String> = match i {
            0 => vec!["e0".into()],
            1 => vec!["e1".into(), "e0".into()],
            _ => vec!["e1".into(), "e0".into(), "e2".into()],
        };
        let found = nearest(&reader, "nobody", &everywhere).await;
        assert_eq!(names(&found), expected);
    }
    assert_eq!(
        reader.get_activity("e2").await.unwrap().embedding(),
        Some(&[3.0, 0.0][..])
    );
}
