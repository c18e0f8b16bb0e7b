//! Follow, unfollow, watch, unwatch, link updates, networks and followers.

use elasticfeeds::{Error, Link, LinkChange, LinkClass, LinkKey, LinkTarget};
use serde_json::json;

use super::{add, at, feed_ids, follow_at, link_at, post, Store, SEC};

fn actor(id: &str, kind: &str) -> LinkTarget {
    LinkTarget::actor(id, kind).unwrap()
}

fn thing(id: &str, kind: &str) -> LinkTarget {
    LinkTarget::object(id, kind).unwrap()
}

/// Adding a link that is already stored is `LinkExists`, and stores nothing more.
pub async fn follow_twice_is_link_exists(store: &dyn Store) {
    let m = store.fresh().await;
    let link = m.follow("carlos", "mark").await.unwrap();
    assert_eq!(link.user(), "carlos");
    assert_eq!(link.link_type(), "follow");
    assert_eq!(link.target(), &actor("mark", "person"));

    match m.follow("carlos", "mark").await {
        Err(Error::LinkExists { link }) => {
            assert!(link.contains("carlos") && link.contains("mark"), "{link}")
        }
        other => panic!("expected LinkExists, got {other:?}"),
    }
    // Another link time or weight is still the same identity.
    let again = Link::new("carlos", "follow", actor("mark", "person"))
        .unwrap()
        .linked_at(at(0))
        .unwrap()
        .with_weight(5.0)
        .unwrap();
    assert_err!(m.add_link(again).await, Error::LinkExists { .. });
    m.watch("carlos", "p", "project").await.unwrap();
    assert_err!(
        m.watch("carlos", "p", "project").await,
        Error::LinkExists { .. }
    );

    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 2);
    assert_eq!(network.links().unwrap().len(), 2);
    // The stored follow is the first one, untouched by the refused one.
    let links = network.links().unwrap();
    let stored = links
        .iter()
        .find(|l| l.target().class == LinkClass::Actor)
        .unwrap();
    assert_eq!(stored, &link);
}

/// Removing a link that is not stored is `LinkNotFound`.
pub async fn remove_missing_is_link_not_found(store: &dyn Store) {
    let m = store.fresh().await;
    assert_err!(
        m.unfollow("carlos", "mark").await,
        Error::LinkNotFound { .. }
    );
    assert_err!(
        m.unwatch("carlos", "p", "project").await,
        Error::LinkNotFound { .. }
    );
    m.follow("carlos", "mark").await.unwrap();
    m.watch("carlos", "p", "project").await.unwrap();
    // Same entity, other user / other type / other class: still missing.
    assert_err!(m.unfollow("ann", "mark").await, Error::LinkNotFound { .. });
    assert_err!(
        m.unfollow_as("carlos", "mark", "bot").await,
        Error::LinkNotFound { .. }
    );
    assert_err!(
        m.unwatch("carlos", "mark", "person").await,
        Error::LinkNotFound { .. }
    );
    assert_err!(
        m.remove_link(&LinkKey::new("carlos", "like", actor("mark", "person")).unwrap())
            .await,
        Error::LinkNotFound { .. }
    );
    assert_eq!(m.network("carlos").await.unwrap().total(), 2);

    m.unfollow("carlos", "mark").await.unwrap();
    assert_err!(
        m.unfollow("carlos", "mark").await,
        Error::LinkNotFound { .. }
    );
    m.unwatch("carlos", "p", "project").await.unwrap();
    assert_err!(
        m.unwatch("carlos", "p", "project").await,
        Error::LinkNotFound { .. }
    );
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 0);
    assert!(network.links().unwrap().is_empty());
    // Removed links can be made again.
    m.follow("carlos", "mark").await.unwrap();
    assert_eq!(m.following_count("carlos").await.unwrap(), 1);
}

/// A follow and a watch of the same `(type, id)` are two links.
pub async fn follow_and_watch_are_different_links(store: &dyn Store) {
    let m = store.fresh().await;
    m.follow("carlos", "mark").await.unwrap();
    m.watch("carlos", "mark", "person").await.unwrap();
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 2);
    let mut classes: Vec<LinkClass> = network
        .links()
        .unwrap()
        .iter()
        .map(|l| l.target().class)
        .collect();
    classes.sort();
    assert_eq!(classes, [LinkClass::Actor, LinkClass::Object]);

    m.unfollow("carlos", "mark").await.unwrap();
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 1);
    assert_eq!(
        network.links().unwrap()[0].target(),
        &thing("mark", "person")
    );
    assert_eq!(network.links().unwrap()[0].link_type(), "watch");
    assert_err!(
        m.watch("carlos", "mark", "person").await,
        Error::LinkExists { .. }
    );
    m.follow("carlos", "mark").await.unwrap();

    // A link type of one's own is a third identity.
    let own = Link::new("carlos", "mute", actor("mark", "person")).unwrap();
    m.add_link(own).await.unwrap();
    assert_eq!(m.following_count("carlos").await.unwrap(), 3);
}

/// `follow_as` follows an actor of another type: another link, matching only that type.
pub async fn follow_as_another_type(store: &dyn Store) {
    let m = store.fresh().await;
    m.follow("carlos", "mark").await.unwrap();
    let bot = m.follow_as("carlos", "mark", "Bot").await.unwrap();
    assert_eq!(bot.target(), &actor("mark", "bot"));
    // Types are compared lower-case.
    assert_err!(
        m.follow_as("carlos", "mark", "BOT").await,
        Error::LinkExists { .. }
    );
    assert_eq!(m.network("carlos").await.unwrap().total(), 2);
    m.unfollow_as("carlos", "mark", "bot").await.unwrap();
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 1);
    assert_eq!(
        network.links().unwrap()[0].target(),
        &actor("mark", "person")
    );
}

/// `update_link` changes weight and extra, keeps the link time (and so the feed's reach).
pub async fn update_link_keeps_link_time(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(10 * SEC)).await;
    add(
        &m,
        vec![
            post("before", "mark", at(5 * SEC)),
            post("after", "mark", at(20 * SEC)),
        ],
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["after"]);

    let key = LinkKey::follow("carlos", actor("mark", "person")).unwrap();
    let change = LinkChange::new()
        .weight(3.5)
        .unwrap()
        .extra(json!({"source": "import"}))
        .unwrap();
    let updated = m.update_link(&key, change).await.unwrap();
    assert_eq!(updated.linked(), at(10 * SEC));
    assert_eq!(updated.weight(), 3.5);
    assert_eq!(
        updated.extra().unwrap().get("source"),
        Some(&json!("import"))
    );

    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 1);
    assert_eq!(network.links().unwrap()[0], updated);
    assert_eq!(feed_ids(&m, "carlos").await, ["after"]);

    // A change of weight alone keeps the extra; `null` removes it.
    let updated = m
        .update_link(&key, LinkChange::new().weight(1.0).unwrap())
        .await
        .unwrap();
    assert_eq!(updated.weight(), 1.0);
    assert!(updated.extra().is_some());
    let updated = m
        .update_link(&key, LinkChange::new().extra(json!(null)).unwrap())
        .await
        .unwrap();
    assert_eq!(updated.extra(), None);
    assert_eq!(updated.linked(), at(10 * SEC));
    assert_eq!(
        m.network("carlos").await.unwrap().links().unwrap()[0],
        updated
    );

    // Updating a missing link is `LinkNotFound` and creates nothing.
    let missing = LinkKey::follow("carlos", actor("ann", "person")).unwrap();
    assert_err!(
        m.update_link(&missing, LinkChange::new().weight(2.0).unwrap())
            .await,
        Error::LinkNotFound { .. }
    );
    let watch = LinkKey::watch("carlos", thing("mark", "person")).unwrap();
    assert_err!(
        m.update_link(&watch, LinkChange::new()).await,
        Error::LinkNotFound { .. }
    );
    assert_eq!(m.network("carlos").await.unwrap().total(), 1);
}

/// `add_links` stores what it can and reports each stored or repeated link on its own.
pub async fn add_links_reports_per_item(store: &dyn Store) {
    let m = store.fresh().await;
    m.follow("carlos", "mark").await.unwrap();
    let link = |id: &str| Link::new("carlos", "follow", actor(id, "person")).unwrap();
    let results = m
        .add_links(vec![link("ann"), link("mark"), link("bob"), link("ann")])
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_err!(&results[1], Error::LinkExists { .. });
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_err!(&results[3], Error::LinkExists { .. });
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 3);
    let links = network.links().unwrap();
    let mut followed: Vec<&str> = links.iter().map(|l| l.target().id.as_str()).collect();
    followed.sort();
    assert_eq!(followed, ["ann", "bob", "mark"]);
}

/// A user's network: newest link first, with the total.
pub async fn network_newest_first(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "b", at(2 * SEC)).await;
    follow_at(&m, "carlos", "a", at(3 * SEC)).await;
    link_at(&m, "carlos", "watch", thing("p", "project"), at(SEC)).await;
    follow_at(&m, "carlos", "c", at(0)).await;
    follow_at(&m, "ann", "z", at(10 * SEC)).await;
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.user(), "carlos");
    assert_eq!(network.total(), 4);
    let links = network.links().unwrap();
    let order: Vec<&str> = links.iter().map(|l| l.target().id.as_str()).collect();
    assert_eq!(order, ["a", "b", "p", "c"]);
    let times: Vec<_> = network
        .links()
        .unwrap()
        .iter()
        .map(|l| l.linked())
        .collect();
    assert_eq!(times, [at(3 * SEC), at(2 * SEC), at(SEC), at(0)]);
    assert_eq!(m.following_count("carlos").await.unwrap(), 4);
    let nobody = m.network("nobody").await.unwrap();
    assert_eq!(nobody.total(), 0);
    assert!(nobody.links().unwrap().is_empty());
}

/// `followers`: the links to an entity, newest first, at most `limit`, with the total; and the
/// follower and following counts.
pub async fn followers_newest_first_with_counts(store: &dyn Store) {
    let m = store.fresh().await;
    let mark = actor("mark", "person");
    follow_at(&m, "u1", "mark", at(0)).await;
    follow_at(&m, "u3", "mark", at(2 * SEC)).await;
    follow_at(&m, "u2", "mark", at(SEC)).await;
    // Not followers of person:mark: another type, another class.
    link_at(&m, "u4", "follow", actor("mark", "bot"), at(3 * SEC)).await;
    link_at(&m, "u5", "watch", thing("mark", "person"), at(4 * SEC)).await;
    follow_at(&m, "u1", "ann", at(5 * SEC)).await;

    let followers = m.followers(&mark, 2).await.unwrap();
    assert_eq!(followers.target, mark);
    assert_eq!(followers.total, 3);
    let users: Vec<&str> = followers.links.iter().map(|l| l.user()).collect();
    assert_eq!(users, ["u3", "u2"]);

    let all = m.followers(&mark, 100).await.unwrap();
    let users: Vec<&str> = all.links.iter().map(|l| l.user()).collect();
    assert_eq!(users, ["u3", "u2", "u1"]);
    let none = m.followers(&mark, 0).await.unwrap();
    assert!(none.links.is_empty());
    assert_eq!(none.total, 3);

    assert_eq!(m.follower_count(&mark).await.unwrap(), 3);
    assert_eq!(m.follower_count(&actor("mark", "bot")).await.unwrap(), 1);
    assert_eq!(m.follower_count(&thing("mark", "person")).await.unwrap(), 1);
    assert_eq!(m.follower_count(&actor("zed", "person")).await.unwrap(), 0);
    assert_eq!(m.following_count("u1").await.unwrap(), 2);
    assert_eq!(m.following_count("u9").await.unwrap(), 0);

    m.unfollow("u3", "mark").await.unwrap();
    let followers = m.followers(&mark, 10).await.unwrap();
    assert_eq!(followers.total, 2);
    let users: Vec<&str> = followers.links.iter().map(|l| l.user()).collect();
    assert_eq!(users, ["u2", "u1"]);
}
