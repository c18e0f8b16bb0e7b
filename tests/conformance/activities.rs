//! Storing, replacing, loading and removing activities, and erasing an actor.

use chrono::Duration;
use elasticfeeds::{
    Activity, Actor, EntityFilter, EntityKey, Erased, Error, FeedQuery, Link, LinkTarget, Origin,
    Refresh, Target,
};
use serde_json::json;

use super::{
    activity, add, all_activities, at, feed_ids, follow_at, ids, object, person, post, search_ids,
    watch_at, Store, SEC,
};

/// Every [`Refresh`] choice stores what it is given: an activity written without waiting is still
/// found by id (reads by id are real-time on every backend), and a batch written with
/// [`Refresh::Wait`] through a handle is in the next feed read, whatever the store's default.
pub async fn refresh_choices_store_alike(store: &dyn Store) {
    let opened = store.fresh().await;
    let default = opened.refresh();
    // From the library's default (batches do not wait), whatever the test store opens with,
    // so that only the handle below can make the batch visible.
    let m = opened.with_refresh(Refresh::Auto);
    follow_at(&m, "reader", "mark", at(0)).await;
    let eager = m.with_refresh(Refresh::NoWait);
    assert_eq!(eager.refresh(), Refresh::NoWait);
    // By an actor nobody follows: when it reaches searches is the backend's refresh, not ours.
    let quick = post("quick", "nobody", at(SEC));
    eager.add_activity(quick.clone()).await.unwrap();
    assert_eq!(m.get_activity("quick").await.unwrap(), quick);

    let waiting = m.with_refresh(Refresh::Wait);
    assert_eq!(waiting.refresh(), Refresh::Wait);
    let batch = vec![
        post("b1", "mark", at(2 * SEC)),
        post("b2", "mark", at(3 * SEC)),
    ];
    let stored = waiting.add_activities(batch).await.unwrap();
    assert!(stored.iter().all(Result::is_ok), "{stored:?}");
    let follow = |user: &str, followed: &str| {
        Link::new(
            user,
            "follow",
            LinkTarget::actor(followed, "person").unwrap(),
        )
        .unwrap()
        .linked_at(at(0))
        .unwrap()
    };
    let links = waiting
        .add_links(vec![follow("reader", "ana"), follow("other", "mark")])
        .await
        .unwrap();
    assert!(links.iter().all(Result::is_ok), "{links:?}");
    waiting
        .add_activity(post("ana1", "ana", at(4 * SEC)))
        .await
        .unwrap();
    assert_eq!(
        feed_ids(&m, "reader").await,
        ["ana1", "b2", "b1"],
        "the waited batch and the waited links"
    );
    assert_eq!(feed_ids(&m, "other").await, ["b2", "b1"]);
    assert_eq!(
        opened.refresh(),
        default,
        "handles leave the manager as it was"
    );
    assert_eq!(m.refresh(), Refresh::Auto);
}

/// An activity reads back exactly as it was written: entities, extras, verb, time to the
/// millisecond.
pub async fn round_trip(store: &dyn Store) {
    let m = store.fresh().await;
    let published = at(1_234) + Duration::microseconds(567);
    let full = Activity::new(
        "Move",
        person("carlos")
            .with_extra(json!({"name": "Carlos"}))
            .unwrap(),
        object("f1", "form").with_extra(json!({"rows": 3})).unwrap(),
    )
    .unwrap()
    .with_origin(Origin::new("a", "project").unwrap())
    .with_target(
        Target::new("b", "project")
            .unwrap()
            .with_extra(json!({"deep": {"x": [1, 2]}}))
            .unwrap(),
    )
    .with_id("full")
    .unwrap()
    .published_at(published)
    .unwrap()
    .with_extra(json!({"note": "ünïcode ✓"}))
    .unwrap();
    assert_eq!(full.published(), at(1_234), "kept to the millisecond");
    let bare = post("bare", "ann", at(0));
    add(&m, vec![full.clone(), bare.clone()]).await;

    let stored = m.get_activity("full").await.unwrap();
    assert_eq!(stored, full);
    assert_eq!(stored.verb(), "move");
    assert_eq!(stored.origin().unwrap().id(), "a");
    assert_eq!(stored.target().unwrap().kind(), "project");
    assert_eq!(m.get_activity("bare").await.unwrap(), bare);
    assert_eq!(all_activities(&m).await, vec![full, bare]);
}

/// An activity without an id gets a new one, different every time.
pub async fn generated_ids(store: &dyn Store) {
    let m = store.fresh().await;
    let make = || {
        Activity::new("post", person("ann"), object("o", "post"))
            .unwrap()
            .published_at(at(0))
            .unwrap()
    };
    let first = m.add_activity(make()).await.unwrap();
    let second = m.add_activity(make()).await.unwrap();
    assert!(!first.is_empty());
    assert_ne!(first, second);
    let stored = m.get_activity(&first).await.unwrap();
    assert_eq!(stored.id(), Some(first.as_str()));
    let results = m.add_activities(vec![make(), make()]).await.unwrap();
    let batch: Vec<String> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_ne!(batch[0], batch[1]);
    let mut all = ids(&all_activities(&m).await);
    all.sort();
    let mut expected = vec![first, second, batch[0].clone(), batch[1].clone()];
    expected.sort();
    assert_eq!(all, expected);
}

/// Re-adding an id with the same actor replaces the activity: one document, new content.
pub async fn replace_same_actor(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    let v1 = activity("x", "post", person("mark"), object("p1", "post"), at(SEC));
    let v2 = activity(
        "x",
        "share",
        person("mark"),
        object("p2", "photo"),
        at(5 * SEC),
    )
    .with_extra(json!({"v": 2}))
    .unwrap();
    assert_eq!(m.add_activity(v1).await.unwrap(), "x");
    add(&m, vec![post("y", "mark", at(3 * SEC))]).await;
    assert_eq!(m.add_activity(v2.clone()).await.unwrap(), "x");

    assert_eq!(m.get_activity("x").await.unwrap(), v2);
    let all = all_activities(&m).await;
    assert_eq!(ids(&all), ["x", "y"], "one document for x, at its new time");
    assert_eq!(all[0], v2);
    assert_eq!(feed_ids(&m, "carlos").await, ["x", "y"]);
    let posts = search_ids(&m, FeedQuery::all().verbs(["post"]).unwrap()).await;
    assert_eq!(posts, ["y"]);
}

/// Re-adding an id with another actor is `ActivityConflict`, and the stored one is unchanged.
pub async fn conflict_other_actor(store: &dyn Store) {
    let m = store.fresh().await;
    let original = post("x", "mark", at(SEC));
    add(&m, vec![original.clone()]).await;

    match m.add_activity(post("x", "ann", at(2 * SEC))).await {
        Err(Error::ActivityConflict {
            id,
            stored_actor,
            given_actor,
        }) => {
            assert_eq!(id, "x");
            assert_eq!(stored_actor, "person:mark");
            assert_eq!(given_actor, "person:ann");
        }
        other => panic!("expected ActivityConflict, got {other:?}"),
    }
    // Same id, same actor id, another actor type: another actor.
    let bot = activity(
        "x",
        "post",
        Actor::new("mark", "bot").unwrap(),
        object("x", "post"),
        at(3 * SEC),
    );
    assert_err!(m.add_activity(bot).await, Error::ActivityConflict { .. });

    assert_eq!(m.get_activity("x").await.unwrap(), original);
    assert_eq!(all_activities(&m).await, vec![original]);
}

/// A batch with a conflict in the middle stores the others and reports the conflicting one.
pub async fn batch_conflict_in_the_middle(store: &dyn Store) {
    let m = store.fresh().await;
    let original = post("x", "mark", at(0));
    add(&m, vec![original.clone()]).await;

    let results = m
        .add_activities(vec![
            post("y1", "ann", at(SEC)),
            post("x", "ann", at(2 * SEC)),
            post("y2", "ann", at(3 * SEC)),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), "y1");
    assert_err!(&results[1], Error::ActivityConflict { id, .. } if id == "x");
    assert_eq!(results[2].as_ref().unwrap(), "y2");
    assert_eq!(ids(&all_activities(&m).await), ["y2", "y1", "x"]);
    assert_eq!(m.get_activity("x").await.unwrap(), original);

    // Within one batch: the first writer of a new id owns it; the same actor replaces.
    let results = m
        .add_activities(vec![
            post("z", "ann", at(4 * SEC)),
            post("z", "bob", at(5 * SEC)),
            post("w", "ann", at(6 * SEC)),
            activity("w", "like", person("ann"), object("o", "post"), at(7 * SEC)),
        ])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert_err!(&results[1], Error::ActivityConflict { .. });
    assert!(results[2].is_ok());
    assert!(results[3].is_ok());
    assert_eq!(m.get_activity("z").await.unwrap().actor().id(), "ann");
    assert_eq!(m.get_activity("w").await.unwrap().verb(), "like");
    assert_eq!(ids(&all_activities(&m).await), ["w", "z", "y2", "y1", "x"]);
}

/// `get_activity` / `remove_activity`: missing ids are `ActivityNotFound`; a removed activity
/// is gone from every feed and search.
pub async fn get_and_remove(store: &dyn Store) {
    let m = store.fresh().await;
    match m.get_activity("nope").await {
        Err(Error::ActivityNotFound { id }) => assert_eq!(id, "nope"),
        other => panic!("expected ActivityNotFound, got {other:?}"),
    }
    assert_err!(
        m.remove_activity("nope").await,
        Error::ActivityNotFound { .. }
    );

    follow_at(&m, "follower", "mark", at(0)).await;
    watch_at(&m, "watcher", "p", "project", at(0)).await;
    let gone = activity(
        "gone",
        "add",
        person("mark"),
        object("p", "project"),
        at(2 * SEC),
    );
    let kept = activity(
        "kept",
        "add",
        person("mark"),
        object("p", "project"),
        at(SEC),
    );
    add(&m, vec![gone.clone(), kept]).await;
    assert_eq!(m.get_activity("gone").await.unwrap(), gone);
    assert_eq!(feed_ids(&m, "follower").await, ["gone", "kept"]);
    assert_eq!(feed_ids(&m, "watcher").await, ["gone", "kept"]);

    m.remove_activity("gone").await.unwrap();
    assert_err!(m.get_activity("gone").await, Error::ActivityNotFound { .. });
    assert_err!(
        m.remove_activity("gone").await,
        Error::ActivityNotFound { .. }
    );
    assert_eq!(feed_ids(&m, "follower").await, ["kept"]);
    assert_eq!(feed_ids(&m, "watcher").await, ["kept"]);
    assert_eq!(ids(&all_activities(&m).await), ["kept"]);
    let by_mark = FeedQuery::all().actor(EntityFilter::id("mark").unwrap());
    assert_eq!(search_ids(&m, by_mark).await, ["kept"]);

    // The id is free again, for any actor.
    add(&m, vec![post("gone", "ann", at(3 * SEC))]).await;
    assert_eq!(m.get_activity("gone").await.unwrap().actor().id(), "ann");
}

/// `erase_actor` removes the actor's activities and every link from and to them, and counts
/// exactly what it removed (a self-follow once).
pub async fn erase_actor(store: &dyn Store) {
    let m = store.fresh().await;
    // Links from mark (3, one of them to himself), to mark (1 more), and others.
    follow_at(&m, "mark", "mark", at(0)).await;
    follow_at(&m, "mark", "ann", at(0)).await;
    watch_at(&m, "mark", "p", "project", at(0)).await;
    follow_at(&m, "carol", "mark", at(0)).await;
    follow_at(&m, "carol", "ann", at(0)).await;
    follow_at(&m, "dave", "ann", at(0)).await;
    add(
        &m,
        vec![
            post("m1", "mark", at(SEC)),
            post("m2", "mark", at(2 * SEC)),
            activity(
                "m3",
                "add",
                person("mark"),
                object("p", "project"),
                at(3 * SEC),
            ),
            post("a1", "ann", at(4 * SEC)),
            // Mark is only the target here: not his activity.
            activity(
                "a2",
                "like",
                person("ann"),
                object("m1", "post"),
                at(5 * SEC),
            )
            .with_target(Target::new("mark", "person").unwrap()),
            // Another actor with the same id.
            activity(
                "b1",
                "post",
                Actor::new("mark", "bot").unwrap(),
                object("b1", "post"),
                at(6 * SEC),
            ),
        ],
    )
    .await;
    let mark = LinkTarget::actor("mark", "person").unwrap();
    let ann = LinkTarget::actor("ann", "person").unwrap();
    assert_eq!(feed_ids(&m, "carol").await, ["a2", "a1", "m3", "m2", "m1"]);
    assert_eq!(m.follower_count(&ann).await.unwrap(), 3);

    let key = EntityKey::new("mark", "Person").unwrap();
    let erased = m.erase_actor(&key).await.unwrap();
    assert_eq!(
        erased,
        Erased {
            activities: 3,
            links: 4
        }
    );

    assert_eq!(ids(&all_activities(&m).await), ["b1", "a2", "a1"]);
    for id in ["m1", "m2", "m3"] {
        assert_err!(m.get_activity(id).await, Error::ActivityNotFound { .. });
    }
    let by_mark = FeedQuery::all().actor(EntityFilter::key("mark", "person").unwrap());
    assert!(search_ids(&m, by_mark).await.is_empty());
    assert_eq!(feed_ids(&m, "carol").await, ["a2", "a1"]);
    assert!(feed_ids(&m, "mark").await.is_empty());
    let network = m.network("mark").await.unwrap();
    assert_eq!(network.total(), 0);
    assert!(network.links().unwrap().is_empty());
    assert_eq!(m.following_count("mark").await.unwrap(), 0);
    let followers = m.followers(&mark, 10).await.unwrap();
    assert_eq!(followers.total, 0);
    assert!(followers.links.is_empty());
    assert_eq!(m.follower_count(&mark).await.unwrap(), 0);
    assert_eq!(m.follower_count(&ann).await.unwrap(), 2);
    assert_eq!(m.following_count("carol").await.unwrap(), 1);
    assert_eq!(m.following_count("dave").await.unwrap(), 1);
    assert_eq!(
        m.follower_count(&LinkTarget::object("p", "project").unwrap())
            .await
            .unwrap(),
        0
    );

    // Nothing is left to erase.
    assert_eq!(m.erase_actor(&key).await.unwrap(), Erased::default());
    // The actor can come back.
    follow_at(&m, "carol", "mark", at(10 * SEC)).await;
    add(&m, vec![post("m4", "mark", at(11 * SEC))]).await;
    assert_eq!(feed_ids(&m, "carol").await, ["m4", "a2", "a1"]);
}
