//! Collapse, exclusions, time windows, and the features a backend may refuse.

use elasticfeeds::{EntityKey, GroupKey, LinkTarget};

use super::{
    activity, add, at, feed_ids, feed_ids_where, follow_at, object, person, post, watch_at, Store,
    HOUR, MIN,
};

/// Collapse keeps the first activity (in feed order) of each key value.
pub async fn collapse_keeps_newest_per_key(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(0)).await;
    follow_at(&m, "reader", "jane", at(0)).await;
    add(
        &m,
        vec![
            activity("m1", "like", person("mark"), object("p1", "post"), at(HOUR)),
            activity(
                "m2",
                "comment",
                person("mark"),
                object("p1", "post"),
                at(2 * HOUR),
            ),
            activity(
                "j1",
                "like",
                person("jane"),
                object("p2", "post"),
                at(3 * HOUR),
            ),
            activity(
                "j2",
                "like",
                person("jane"),
                object("p1", "post"),
                at(4 * HOUR),
            ),
            activity(
                "m3",
                "like",
                person("mark"),
                object("p3", "post"),
                at(5 * HOUR),
            ),
        ],
    )
    .await;
    let by_object = feed_ids_where(&m, "reader", |q| {
        let mut q = q;
        q.collapse = Some(GroupKey::Object);
        Ok(q)
    })
    .await;
    assert_eq!(by_object, ["m3", "j2", "j1"]);
    let by_actor = feed_ids_where(&m, "reader", |q| {
        let mut q = q;
        q.collapse = Some(GroupKey::Actor);
        Ok(q)
    })
    .await;
    assert_eq!(by_actor, ["m3", "j2"]);
    // Collapsing happens before the page is cut: a page of one holds the newest key.
    let first = feed_ids_where(&m, "reader", |q| {
        let mut q = q.page_size(1)?;
        q.collapse = Some(GroupKey::Actor);
        Ok(q)
    })
    .await;
    assert_eq!(first, ["m3"]);
}

/// Muted actors and hidden objects never appear, whichever link brought them.
pub async fn exclusions_mute_and_hide(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(0)).await;
    follow_at(&m, "reader", "jane", at(0)).await;
    watch_at(&m, "reader", "p1", "post", at(0)).await;
    add(
        &m,
        vec![
            post("mark-1", "mark", at(MIN)),
            activity(
                "jane-p1",
                "like",
                person("jane"),
                object("p1", "post"),
                at(2 * MIN),
            ),
            activity(
                "bob-p1",
                "like",
                person("bob"),
                object("p1", "post"),
                at(3 * MIN),
            ),
            activity(
                "jane-p9",
                "like",
                person("jane"),
                object("p9", "post"),
                at(4 * MIN),
            ),
        ],
    )
    .await;
    assert_eq!(
        feed_ids(&m, "reader").await,
        ["jane-p9", "bob-p1", "jane-p1", "mark-1"]
    );
    let jane = EntityKey::new("jane", "person").unwrap();
    let muted = feed_ids_where(&m, "reader", |q| {
        let mut q = q;
        q.filter.exclude_actors = vec![jane.clone()];
        Ok(q)
    })
    .await;
    assert_eq!(muted, ["bob-p1", "mark-1"]);
    let p1 = EntityKey::new("p1", "post").unwrap();
    let hidden = feed_ids_where(&m, "reader", |q| {
        let mut q = q;
        q.filter.exclude_objects = vec![p1.clone()];
        Ok(q)
    })
    .await;
    assert_eq!(hidden, ["jane-p9", "mark-1"]);
    // A different type with the same id is another entity: not excluded.
    let other_type = EntityKey::new("jane", "bot").unwrap();
    let not_muted = feed_ids_where(&m, "reader", |q| {
        let mut q = q;
        q.filter.exclude_actors = vec![other_type.clone()];
        Ok(q)
    })
    .await;
    assert_eq!(not_muted.len(), 4);
}

/// `since` is inclusive and `until` exclusive, on feeds as on searches.
pub async fn time_window_bounds(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(0)).await;
    add(
        &m,
        (1..=5)
            .map(|n| post(&format!("p{n}"), "mark", at(n * MIN)))
            .collect(),
    )
    .await;
    let window = feed_ids_where(&m, "reader", |q| q.since(at(2 * MIN))?.until(at(4 * MIN))).await;
    assert_eq!(window, ["p3", "p2"]);
}

/// Erasing an actor also removes the watches of them, as an entity, by other users.
pub async fn erase_actor_removes_watches_of_them(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(0)).await;
    watch_at(&m, "watcher", "mark", "person", at(0)).await;
    add(&m, vec![post("p1", "mark", at(MIN))]).await;
    let erased = m
        .erase_actor(&EntityKey::new("mark", "person").unwrap())
        .await
        .unwrap();
    assert_eq!((erased.activities, erased.links), (1, 2));
    let watched = LinkTarget::object("mark", "person").unwrap();
    assert_eq!(m.follower_count(&watched).await.unwrap(), 0);
    assert!(feed_ids(&m, "watcher").await.is_empty());
}
