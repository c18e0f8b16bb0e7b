//! Every validation rule gives its typed error, and nothing is written.
//!
//! Each case seeds a small store, runs the refused inputs (through the [`Manager`] wherever the
//! input reaches it), and checks that the store reads exactly as before.

use chrono::{TimeZone, Utc};
use elasticfeeds::{
    Activity, Bound, EntityFilter, EntityKey, Error, FeedQuery, GroupKey, Link, LinkChange,
    LinkClass, LinkKey, LinkTarget, Manager, Metric, Network, Object, Order, Origin, Target,
    MAX_ID_BYTES,
};
use serde_json::json;

use super::{
    activity, add, all_activities, at, follow_at, object, person, post, watch_at, HitIds,
    OpenOptions, Raw, Store, SEC,
};

/// What the seeded store reads as; compared before and after the refused inputs.
#[derive(Debug, PartialEq)]
struct Snapshot {
    activities: Vec<Activity>,
    carlos: Network,
    mark: Network,
    mark_followers: u64,
    carlos_feed: Vec<String>,
}

async fn seed(store: &dyn Store) -> (Manager, Snapshot) {
    let manager = store.fresh().await;
    follow_at(&manager, "carlos", "mark", at(0)).await;
    watch_at(&manager, "carlos", "p", "project", at(0)).await;
    add(
        &manager,
        vec![
            post("a1", "mark", at(SEC)),
            activity(
                "a2",
                "add",
                person("ann"),
                object("p", "project"),
                at(2 * SEC),
            ),
        ],
    )
    .await;
    let snapshot = snapshot(&manager).await;
    assert_eq!(snapshot.activities.len(), 2);
    assert_eq!(snapshot.carlos.total(), 2);
    assert_eq!(snapshot.carlos_feed, ["a2", "a1"]);
    (manager, snapshot)
}

async fn snapshot(manager: &Manager) -> Snapshot {
    let mark = LinkTarget::actor("mark", "person").unwrap();
    Snapshot {
        activities: all_activities(manager).await,
        carlos: manager.network("carlos").await.unwrap(),
        mark: manager.network("mark").await.unwrap(),
        mark_followers: manager.follower_count(&mark).await.unwrap(),
        carlos_feed: super::feed_ids(manager, "carlos").await,
    }
}

/// Empty ids, ids with whitespace or control characters, and ids over 512 bytes.
pub async fn invalid_ids(store: &dyn Store) {
    let (m, before) = seed(store).await;
    let long = "x".repeat(MAX_ID_BYTES + 1);
    for bad in [
        "",
        "two words",
        "tab\there",
        "new\nline",
        " lead",
        ".",
        "..",
        long.as_str(),
    ] {
        assert_err!(m.follow(bad, "mark").await, Error::InvalidId { .. });
        assert_err!(m.follow("carlos", bad).await, Error::InvalidId { .. });
        assert_err!(m.unfollow("carlos", bad).await, Error::InvalidId { .. });
        assert_err!(m.watch(bad, "p", "project").await, Error::InvalidId { .. });
        assert_err!(
            m.watch("carlos", bad, "project").await,
            Error::InvalidId { .. }
        );
        assert_err!(
            m.unwatch("carlos", bad, "project").await,
            Error::InvalidId { .. }
        );
        assert_err!(m.get_activity(bad).await, Error::InvalidId { .. });
        assert_err!(m.remove_activity(bad).await, Error::InvalidId { .. });
        assert_err!(m.network(bad).await, Error::InvalidId { .. });
        assert_err!(m.following_count(bad).await, Error::InvalidId { .. });
        // An erase with a hand-built key is validated again before anything is removed.
        let key = EntityKey {
            kind: "person".into(),
            id: bad.to_owned(),
        };
        assert_err!(m.erase_actor(&key).await, Error::InvalidId { .. });

        assert_err!(
            elasticfeeds::Actor::new(bad, "person"),
            Error::InvalidId { field: "actor", .. }
        );
        assert_err!(
            Object::new(bad, "post"),
            Error::InvalidId {
                field: "object",
                ..
            }
        );
        assert_err!(
            Origin::new(bad, "project"),
            Error::InvalidId {
                field: "origin",
                ..
            }
        );
        assert_err!(
            Target::new(bad, "project"),
            Error::InvalidId {
                field: "target",
                ..
            }
        );
        assert_err!(
            post("x", "mark", at(0)).with_id(bad),
            Error::InvalidId { .. }
        );
        assert_err!(LinkTarget::actor(bad, "person"), Error::InvalidId { .. });
        assert_err!(
            LinkKey::follow(bad, LinkTarget::actor("mark", "person").unwrap()),
            Error::InvalidId { .. }
        );
        assert_err!(EntityFilter::id(bad), Error::InvalidId { .. });
        assert_err!(EntityFilter::key(bad, "person"), Error::InvalidId { .. });
        assert_err!(EntityKey::new(bad, "person"), Error::InvalidId { .. });
    }
    // The error names the refused value.
    match m.follow("carlos", "two words").await {
        Err(Error::InvalidId { value, .. }) => assert_eq!(value, "two words"),
        other => panic!("expected InvalidId, got {other:?}"),
    }
    assert_eq!(snapshot(&m).await, before);

    // 512 bytes is the limit, not over it.
    let longest = "y".repeat(MAX_ID_BYTES);
    let a = post("z", "mark", at(3 * SEC)).with_id(&longest).unwrap();
    assert_eq!(m.add_activity(a).await.unwrap(), longest);
    assert_eq!(
        m.get_activity(&longest).await.unwrap().id(),
        Some(longest.as_str())
    );
}

/// Verbs and types: letters only, not empty; stored lower-case.
pub async fn invalid_keywords(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in ["", "post2", "two words", "a-b", "under_score", "dot.ted"] {
        assert_err!(
            Activity::new(bad, person("mark"), object("o", "post")),
            Error::InvalidKeyword { field: "verb", .. }
        );
        assert_err!(
            elasticfeeds::Actor::new("mark", bad),
            Error::InvalidKeyword { .. }
        );
        assert_err!(Object::new("o", bad), Error::InvalidKeyword { .. });
        assert_err!(Origin::new("o", bad), Error::InvalidKeyword { .. });
        assert_err!(Target::new("o", bad), Error::InvalidKeyword { .. });
        assert_err!(
            m.follow_as("carlos", "mark", bad).await,
            Error::InvalidKeyword { .. }
        );
        assert_err!(
            m.unfollow_as("carlos", "mark", bad).await,
            Error::InvalidKeyword { .. }
        );
        assert_err!(
            m.watch("carlos", "p", bad).await,
            Error::InvalidKeyword { .. }
        );
        assert_err!(
            m.unwatch("carlos", "p", bad).await,
            Error::InvalidKeyword { .. }
        );
        assert_err!(
            Link::new("carlos", bad, LinkTarget::actor("mark", "person").unwrap()),
            Error::InvalidKeyword { .. }
        );
        assert_err!(
            FeedQuery::all().verbs(["post", bad]),
            Error::InvalidKeyword { .. }
        );
        assert_err!(EntityFilter::key("mark", bad), Error::InvalidKeyword { .. });
        let key = EntityKey {
            kind: bad.to_owned(),
            id: "mark".into(),
        };
        assert_err!(m.erase_actor(&key).await, Error::InvalidKeyword { .. });
    }
    assert_eq!(snapshot(&m).await, before);

    // Letters in any case are accepted and stored lower-case.
    let a = activity(
        "up",
        "POST",
        person("mark"),
        object("o", "BlogPost"),
        at(3 * SEC),
    );
    assert_eq!(a.verb(), "post");
    assert_eq!(a.object().kind(), "blogpost");
    m.add_activity(a).await.unwrap();
    let stored = m.get_activity("up").await.unwrap();
    assert_eq!(stored.verb(), "post");
    assert_eq!(stored.object().kind(), "blogpost");
}

/// `extra` must be a JSON object, wherever it is given.
pub async fn invalid_extra(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in [
        json!([1, 2]),
        json!("text"),
        json!(3),
        json!(true),
        json!(null),
    ] {
        assert_err!(
            post("x", "mark", at(0)).with_extra(bad.clone()),
            Error::InvalidExtra {
                field: "activity",
                ..
            }
        );
        assert_err!(
            person("mark").with_extra(bad.clone()),
            Error::InvalidExtra { field: "actor", .. }
        );
        assert_err!(
            object("o", "post").with_extra(bad.clone()),
            Error::InvalidExtra { .. }
        );
        assert_err!(
            Target::new("t", "project").unwrap().with_extra(bad.clone()),
            Error::InvalidExtra { .. }
        );
        assert_err!(
            Link::new(
                "carlos",
                "follow",
                LinkTarget::actor("bob", "person").unwrap()
            )
            .unwrap()
            .with_extra(bad.clone()),
            Error::InvalidExtra { .. }
        );
        if !bad.is_null() {
            // `null` removes a link's extra; anything else must be an object.
            assert_err!(
                LinkChange::new().extra(bad.clone()),
                Error::InvalidExtra { .. }
            );
        }
    }
    match post("x", "mark", at(0)).with_extra(json!([1])) {
        Err(Error::InvalidExtra { found, .. }) => assert_eq!(found, "an array"),
        other => panic!("expected InvalidExtra, got {other:?}"),
    }
    assert!(LinkChange::new().extra(json!(null)).is_ok());
    assert_eq!(snapshot(&m).await, before);
}

/// Link weights must be finite.
pub async fn invalid_weight(store: &dyn Store) {
    let (m, before) = seed(store).await;
    let key = LinkKey::follow("carlos", LinkTarget::actor("mark", "person").unwrap()).unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_err!(
            Link::new(
                "carlos",
                "follow",
                LinkTarget::actor("bob", "person").unwrap()
            )
            .unwrap()
            .with_weight(bad),
            Error::InvalidWeight { .. }
        );
        assert_err!(LinkChange::new().weight(bad), Error::InvalidWeight { .. });
    }
    assert_eq!(snapshot(&m).await, before);
    // Any finite number is a weight, negative ones too.
    let changed = m
        .update_link(&key, LinkChange::new().weight(-2.5).unwrap())
        .await
        .unwrap();
    assert_eq!(changed.weight(), -2.5);
}

/// A link class is `actor` or `object`, exactly.
pub async fn invalid_link_class(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in ["", "Actor", "OBJECT", "actors", "origin", "target"] {
        match LinkClass::parse(bad) {
            Err(Error::InvalidLinkClass { value }) => assert_eq!(value, bad),
            other => panic!("{bad:?}: expected InvalidLinkClass, got {other:?}"),
        }
    }
    assert_eq!(LinkClass::parse("actor").unwrap(), LinkClass::Actor);
    assert_eq!(LinkClass::parse("object").unwrap(), LinkClass::Object);
    assert_eq!(snapshot(&m).await, before);
}

/// Timestamps lie within years 1 to 9999.
pub async fn invalid_timestamps(store: &dyn Store) {
    let (m, before) = seed(store).await;
    let too_late = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let too_early = Utc.with_ymd_and_hms(0, 12, 31, 23, 59, 59).unwrap();
    for bad in [too_late, too_early] {
        assert_err!(
            post("x", "mark", at(0)).published_at(bad),
            Error::InvalidTimestamp {
                field: "published",
                ..
            }
        );
        assert_err!(
            Link::new(
                "carlos",
                "follow",
                LinkTarget::actor("bob", "person").unwrap()
            )
            .unwrap()
            .linked_at(bad),
            Error::InvalidTimestamp {
                field: "linked",
                ..
            }
        );
        assert_err!(FeedQuery::all().since(bad), Error::InvalidTimestamp { .. });
        assert_err!(FeedQuery::all().until(bad), Error::InvalidTimestamp { .. });
    }
    for bad in [0, -1, 9_999, 10_000] {
        assert_err!(FeedQuery::all().year(bad), Error::InvalidTimestamp { .. });
    }
    assert_eq!(snapshot(&m).await, before);

    // The limits themselves are storable.
    let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
    let last = Utc.with_ymd_and_hms(9_999, 12, 31, 23, 59, 59).unwrap();
    add(
        &m,
        vec![post("first", "ann", first), post("last", "ann", last)],
    )
    .await;
    assert_eq!(m.get_activity("first").await.unwrap().published(), first);
    assert_eq!(m.get_activity("last").await.unwrap().published(), last);
}

/// Page size, hits per group, level sizes, recent actors, followers limit, max_link_size.
pub async fn invalid_sizes(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in [0, 10_001] {
        assert_err!(
            FeedQuery::all().page_size(bad),
            Error::InvalidSize {
                what: "page size",
                ..
            }
        );
        // A query built field by field is checked by the manager before any backend sees it.
        let mut query = FeedQuery::all();
        query.page.size = bad;
        assert_err!(
            m.search(query).await,
            Error::InvalidSize {
                what: "page size",
                ..
            }
        );
        let aggregator = HitIds(move |network: &Network| {
            let mut query = FeedQuery::network(network);
            query.page.size = bad;
            Ok(query)
        });
        assert_err!(
            m.get_feeds("carlos", &aggregator).await,
            Error::InvalidSize {
                what: "page size",
                ..
            }
        );
    }
    for bad in [0, 101] {
        assert_err!(
            FeedQuery::all().group_by([(GroupKey::Verb, 10)], bad),
            Error::InvalidSize {
                what: "hits per group",
                ..
            }
        );
        let aggregator = Raw(move |network: &Network| {
            let mut query = FeedQuery::network(network).group_by([(GroupKey::Verb, 10)], 10)?;
            query.grouping.as_mut().unwrap().hits_per_group = bad;
            Ok(query)
        });
        assert_err!(
            m.get_feeds("carlos", &aggregator).await,
            Error::InvalidSize {
                what: "hits per group",
                ..
            }
        );
    }
    assert_err!(
        FeedQuery::all().group_by([(GroupKey::Verb, 0)], 10),
        Error::InvalidSize { .. }
    );
    assert_err!(
        FeedQuery::all().group_by([(GroupKey::Year, 1_000), (GroupKey::Verb, 1_000)], 10),
        Error::InvalidSize { .. }
    );
    assert_err!(
        FeedQuery::all().group_by(Vec::<(GroupKey, usize)>::new(), 10),
        Error::InvalidSize { .. }
    );
    let recent_zero = Raw(|network: &Network| {
        let mut query = FeedQuery::network(network).group_by([(GroupKey::Verb, 10)], 10)?;
        query.grouping.as_mut().unwrap().metrics = vec![Metric::RecentActors(0)];
        Ok(query)
    });
    assert_err!(
        m.get_feeds("carlos", &recent_zero).await,
        Error::InvalidSize { .. }
    );
    let mark = LinkTarget::actor("mark", "person").unwrap();
    assert_err!(m.followers(&mark, 10_001).await, Error::InvalidSize { .. });

    for bad in [0, 100_001] {
        let name = store.new_name();
        assert_err!(
            store.open(&name, OpenOptions::max_link_size(bad)).await,
            Error::InvalidSize { .. }
        );
        assert_err!(
            Manager::from_backend(m.backend().clone(), bad),
            Error::InvalidSize { .. }
        );
    }
    assert_eq!(snapshot(&m).await, before);
}

/// Index names follow the rules every backend shares, and the two indices differ.
pub async fn invalid_index_names(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in ["", "Feeds", "_feeds", "-feeds", "my feeds", "a.b", "feeds*"] {
        let name = store.new_name();
        let options = OpenOptions {
            feeds_index: Some(bad.to_owned()),
            ..OpenOptions::default()
        };
        match store.open(&name, options).await {
            Err(Error::InvalidIndexName { value, .. }) => assert_eq!(value, bad),
            other => panic!("feeds index {bad:?}: expected InvalidIndexName, got {other:?}"),
        }
        let options = OpenOptions {
            network_index: Some(bad.to_owned()),
            ..OpenOptions::default()
        };
        assert_err!(
            store.open(&name, options).await,
            Error::InvalidIndexName { .. }
        );
    }
    let name = store.new_name();
    let same = OpenOptions {
        feeds_index: Some("same".into()),
        network_index: Some("same".into()),
        ..OpenOptions::default()
    };
    assert_err!(
        store.open(&name, same).await,
        Error::InvalidIndexName { .. }
    );
    assert_eq!(snapshot(&m).await, before);
}

/// A cursor string that was not made by the library is refused, never a panic.
pub async fn invalid_cursors(store: &dyn Store) {
    let (m, before) = seed(store).await;
    for bad in [
        "",
        "!!!",
        "bm90IGEgY3Vyc29y",
        "o.1767225600000.a1",
        "eC4xLmE",
    ] {
        assert_err!(FeedQuery::all().cursor(bad), Error::InvalidCursor { .. });
        assert_err!(Bound::from_cursor(bad), Error::InvalidCursor { .. });
    }
    // A real cursor still works after those.
    let page = m
        .search(FeedQuery::all().page_size(1).unwrap())
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("two activities, pages of one");
    let next = m
        .search(
            FeedQuery::all()
                .page_size(1)
                .unwrap()
                .cursor(&cursor)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(super::ids(&next.activities), ["a1"]);
    assert_eq!(snapshot(&m).await, before);
}

/// Queries inconsistent as a whole: `since` after `until`, grouping in a flat search.
pub async fn invalid_queries(store: &dyn Store) {
    let (m, before) = seed(store).await;
    let query = FeedQuery::all()
        .since(at(2 * SEC))
        .unwrap()
        .until(at(SEC))
        .unwrap();
    assert_err!(m.search(query).await, Error::InvalidQuery { .. });
    let grouped = FeedQuery::all()
        .group_by([(GroupKey::Verb, 10)], 10)
        .unwrap()
        .order(Order::Desc);
    assert_err!(m.search(grouped).await, Error::InvalidQuery { .. });
    assert_eq!(snapshot(&m).await, before);
}

/// Values built from public fields (or deserialised) skip the constructors; the `Manager` and
/// the backend check them all the same, and the store stays as it was.
pub async fn public_fields_are_validated(store: &dyn Store) {
    let (m, before) = seed(store).await;
    let bad_target = LinkTarget {
        class: LinkClass::Actor,
        id: "two words".into(),
        kind: "person".into(),
    };
    let upper_type = LinkKey {
        user: "carlos".into(),
        link_type: "FOLLOW".into(),
        target: LinkTarget::actor("jane", "person").unwrap(),
    };
    for key in [
        LinkKey {
            user: "carlos".into(),
            link_type: "follow".into(),
            target: bad_target.clone(),
        },
        upper_type.clone(),
    ] {
        let refused = |r: &elasticfeeds::Result<()>| {
            matches!(
                r,
                Err(Error::InvalidId { .. } | Error::InvalidKeyword { .. })
            )
        };
        let added = m.add_link(Link::from_key(key.clone())).await.map(|_| ());
        assert!(refused(&added), "{added:?}");
        // A batch with one bad link writes none of it.
        let batch = m
            .add_links(vec![
                Link::new(
                    "carlos",
                    "follow",
                    LinkTarget::actor("zoe", "person").unwrap(),
                )
                .unwrap(),
                Link::from_key(key.clone()),
            ])
            .await
            .map(|_| ());
        assert!(refused(&batch), "{batch:?}");
        assert!(refused(&m.remove_link(&key).await));
        let updated = m.update_link(&key, LinkChange::new()).await.map(|_| ());
        assert!(refused(&updated), "{updated:?}");
    }
    assert!(matches!(
        m.followers(&bad_target, 10).await,
        Err(Error::InvalidId { .. })
    ));
    let bad_actor = EntityKey {
        kind: "Person".into(),
        id: "mark".into(),
    };
    assert!(matches!(
        m.erase_actor(&bad_actor).await,
        Err(Error::InvalidKeyword { .. })
    ));

    // Query fields set directly: the manager and the backend both refuse them.
    let mut upper_verb = FeedQuery::all();
    upper_verb.filter.verbs = vec!["Post".into()];
    let mut bad_exclusion = FeedQuery::all();
    bad_exclusion.filter.exclude_actors = vec![bad_actor.clone()];
    let mut bad_filter = FeedQuery::all();
    bad_filter.filter.actor = Some(EntityFilter {
        id: String::new(),
        kind: None,
    });
    let mut huge_page = FeedQuery::all();
    huge_page.page.size = usize::MAX;
    for query in [upper_verb, bad_exclusion, bad_filter, huge_page] {
        let through_manager = m.search(query.clone()).await;
        assert!(through_manager.is_err(), "{query:?}");
        let direct = m.backend().query(&query).await;
        assert!(
            matches!(
                direct,
                Err(Error::InvalidKeyword { .. }
                    | Error::InvalidId { .. }
                    | Error::InvalidSize { .. })
            ),
            "{direct:?}"
        );
    }
    assert_eq!(snapshot(&m).await, before);
}
