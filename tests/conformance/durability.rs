//! Opening a store again, one writer at a time, read-only opens. Capability-gated: a store
//! that cannot do what a case needs says so and passes.

use elasticfeeds::{Error, FeedQuery, LinkChange, LinkKey, LinkTarget, Manager};

use super::{
    add, all_activities, at, feed_ids, follow_at, ids, post, skip, watch_at, OpenOptions, Store,
    SEC,
};

/// Writes a little of everything.
async fn seed(m: &Manager) {
    follow_at(m, "carlos", "mark", at(0)).await;
    watch_at(m, "carlos", "p", "project", at(0)).await;
    add(
        m,
        vec![
            post("d1", "mark", at(SEC)),
            post("d2", "ann", at(2 * SEC)),
            post("d3", "mark", at(3 * SEC)),
        ],
    )
    .await;
    m.remove_activity("d2").await.unwrap();
}

/// Checks that everything [`seed`] wrote reads back.
async fn check_seeded(m: &Manager) {
    assert_eq!(ids(&all_activities(m).await), ["d3", "d1"]);
    assert_eq!(
        m.get_activity("d1").await.unwrap(),
        post("d1", "mark", at(SEC))
    );
    assert_err!(m.get_activity("d2").await, Error::ActivityNotFound { .. });
    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 2);
    assert_eq!(network.links().unwrap()[0].linked(), at(0));
    assert_eq!(feed_ids(m, "carlos").await, ["d3", "d1"]);
    let mark = LinkTarget::actor("mark", "person").unwrap();
    assert_eq!(m.follower_count(&mark).await.unwrap(), 1);
}

/// Drop the `Manager`, open the same store again: everything is there, and writable.
pub async fn reopen_after_drop(store: &dyn Store) {
    if !store.capabilities().reopen {
        return skip("reopen_after_drop", "cannot be opened again");
    }
    let name = store.new_name();
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    seed(&m).await;
    let clone = m.clone();
    drop(m);
    drop(clone);

    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    check_seeded(&m).await;
    m.add_activity(post("d4", "mark", at(4 * SEC)))
        .await
        .unwrap();
    assert_err!(m.follow("carlos", "mark").await, Error::LinkExists { .. });
    drop(m);
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    assert_eq!(feed_ids(&m, "carlos").await, ["d4", "d3", "d1"]);
}

/// `close().await`, open the same store again: everything is there. Writes through the closed
/// manager (or its clones) fail.
pub async fn reopen_after_close(store: &dyn Store) {
    if !store.capabilities().reopen {
        return skip("reopen_after_close", "cannot be opened again");
    }
    let name = store.new_name();
    let m = store.open(&name, OpenOptions::default()).await.unwrap();
    seed(&m).await;
    let clone = m.clone();
    m.close().await.unwrap();
    assert_err!(
        clone.add_activity(post("late", "mark", at(0))).await,
        Error::StoreClosed
    );
    assert_err!(clone.follow("late", "mark").await, Error::StoreClosed);

    // The closed manager is still alive: closing released the store.
    let reopened = store.open(&name, OpenOptions::default()).await.unwrap();
    check_seeded(&reopened).await;
    assert_err!(
        reopened.get_activity("late").await,
        Error::ActivityNotFound { .. }
    );
    assert_eq!(reopened.network("late").await.unwrap().total(), 0);
    reopened.close().await.unwrap();
    drop((m, clone));
}

/// A second writer on a store whose writer is alive is `StoreLocked`; once the first is gone,
/// the store opens.
pub async fn second_writer_is_locked(store: &dyn Store) {
    let caps = store.capabilities();
    if !(caps.reopen && caps.single_writer) {
        return skip("second_writer_is_locked", "has no single-writer lock");
    }
    let name = store.new_name();
    let first = store.open(&name, OpenOptions::default()).await.unwrap();
    seed(&first).await;
    assert_err!(
        store.open(&name, OpenOptions::default()).await,
        Error::StoreLocked { .. }
    );
    // The refused open changed nothing, and the first writer still writes.
    first
        .add_activity(post("d5", "mark", at(5 * SEC)))
        .await
        .unwrap();
    assert_eq!(feed_ids(&first, "carlos").await, ["d5", "d3", "d1"]);
    drop(first);
    let second = store.open(&name, OpenOptions::default()).await.unwrap();
    assert_eq!(feed_ids(&second, "carlos").await, ["d5", "d3", "d1"]);
}

/// A read-only open works beside the writer, sees the writer's commits on its next read, and
/// every write through it is `ReadOnly`.
pub async fn read_only_beside_writer(store: &dyn Store) {
    let caps = store.capabilities();
    if !(caps.reopen && caps.read_only) {
        return skip("read_only_beside_writer", "has no read-only opens");
    }
    let name = store.new_name();
    let writer = store.open(&name, OpenOptions::default()).await.unwrap();
    seed(&writer).await;
    let reader = store.open(&name, OpenOptions::read_only()).await.unwrap();
    check_seeded(&reader).await;

    // The writer's commits show on the reader's next read.
    writer
        .add_activity(post("d6", "mark", at(6 * SEC)))
        .await
        .unwrap();
    follow_at(&writer, "carlos", "ann", at(0)).await;
    writer.remove_activity("d1").await.unwrap();
    assert_eq!(ids(&all_activities(&reader).await), ["d6", "d3"]);
    assert_eq!(reader.network("carlos").await.unwrap().total(), 3);
    assert_eq!(feed_ids(&reader, "carlos").await, ["d6", "d3"]);

    // Every write through the reader is refused.
    assert_err!(
        reader.add_activity(post("ro", "mark", at(7 * SEC))).await,
        Error::ReadOnly
    );
    assert_err!(
        reader
            .add_activities(vec![post("ro", "mark", at(7 * SEC))])
            .await,
        Error::ReadOnly
    );
    assert_err!(reader.remove_activity("d3").await, Error::ReadOnly);
    assert_err!(reader.follow("carlos", "bob").await, Error::ReadOnly);
    assert_err!(reader.unfollow("carlos", "mark").await, Error::ReadOnly);
    assert_err!(
        reader.watch("carlos", "q", "project").await,
        Error::ReadOnly
    );
    assert_err!(
        reader.unwatch("carlos", "p", "project").await,
        Error::ReadOnly
    );
    let key = LinkKey::follow("carlos", LinkTarget::actor("mark", "person").unwrap()).unwrap();
    assert_err!(
        reader
            .update_link(&key, LinkChange::new().weight(2.0).unwrap())
            .await,
        Error::ReadOnly
    );
    let mark = elasticfeeds::EntityKey::new("mark", "person").unwrap();
    assert_err!(reader.erase_actor(&mark).await, Error::ReadOnly);

    // Nothing changed, as both see it.
    for m in [&writer, &reader] {
        assert_eq!(ids(&all_activities(m).await), ["d6", "d3"]);
        assert_eq!(m.network("carlos").await.unwrap().total(), 3);
        let page = m.search(FeedQuery::all()).await.unwrap();
        assert_eq!(page.activities.len(), 2);
    }
    // A second reader is fine too, and the writer keeps writing.
    let reader2 = store.open(&name, OpenOptions::read_only()).await.unwrap();
    writer.unfollow("carlos", "mark").await.unwrap();
    assert_eq!(reader2.network("carlos").await.unwrap().total(), 2);
    assert_eq!(reader.network("carlos").await.unwrap().total(), 2);
    reader.close().await.unwrap();
    assert_eq!(writer.network("carlos").await.unwrap().total(), 2);
}
