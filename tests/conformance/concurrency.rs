//! Concurrent writes through clones of one `Manager` (the suite runs on a multi-thread runtime).

use std::collections::BTreeSet;

use elasticfeeds::{Error, FeedQuery, Result};
use tokio::task::JoinSet;

use super::{activity, all_activities, at, ids, object, person, post, Store, SEC};

/// Runs every future on its own task and collects the results in spawn order.
async fn all<T: Send + 'static>(
    futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let mut set = JoinSet::new();
    for (i, future) in futures.into_iter().enumerate() {
        set.spawn(async move { (i, future.await) });
    }
    let mut results: Vec<(usize, T)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        results.push(joined.expect("task panicked"));
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Concurrent follows of one link: exactly one is stored, the others are `LinkExists`.
pub async fn concurrent_follows_one_wins(store: &dyn Store) {
    let m = store.fresh().await;
    for round in 0..3 {
        let user = format!("user{round}");
        let tasks = (0..if round == 0 { 2 } else { 10 })
            .map(|_| {
                let (m, user) = (m.clone(), user.clone());
                async move { m.follow(&user, "mark").await }
            })
            .collect();
        let results: Vec<Result<_>> = all(tasks).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let exists = results
            .iter()
            .filter(|r| matches!(r, Err(Error::LinkExists { .. })))
            .count();
        assert_eq!((ok, exists), (1, results.len() - 1), "{results:?}");
        let network = m.network(&user).await.unwrap();
        assert_eq!(network.total(), 1);
    }
}

/// Concurrent unfollows of one link: exactly one succeeds, the others are `LinkNotFound`.
pub async fn concurrent_unfollows_one_wins(store: &dyn Store) {
    let m = store.fresh().await;
    m.follow("carlos", "mark").await.unwrap();
    let tasks = (0..8)
        .map(|_| {
            let m = m.clone();
            async move { m.unfollow("carlos", "mark").await }
        })
        .collect();
    let results = all(tasks).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let missing = results
        .iter()
        .filter(|r| matches!(r, Err(Error::LinkNotFound { .. })))
        .count();
    assert_eq!((ok, missing), (1, 7), "{results:?}");
    assert_eq!(m.following_count("carlos").await.unwrap(), 0);
}

/// 20 concurrent replaces of one id by the same actor: all succeed, one document remains, and
/// it is one of the versions written.
pub async fn concurrent_replaces_leave_one_document(store: &dyn Store) {
    let m = store.fresh().await;
    let tasks = (0..20)
        .map(|i| {
            let m = m.clone();
            let version = activity(
                "same",
                "post",
                person("mark"),
                object(&format!("v{i}"), "post"),
                at(i * SEC),
            );
            async move { m.add_activity(version).await }
        })
        .collect();
    for result in all(tasks).await {
        assert_eq!(result.unwrap(), "same");
    }
    let stored = all_activities(&m).await;
    assert_eq!(ids(&stored), ["same"]);
    let kept = m.get_activity("same").await.unwrap();
    assert_eq!(kept, stored[0]);
    let version: i64 = kept.object().id()[1..].parse().unwrap();
    assert!((0..20).contains(&version));
    assert_eq!(kept.published(), at(version * SEC), "one whole version");
}

/// Concurrent adds of one new id by different actors: one owns it, the others conflict.
pub async fn concurrent_conflicting_ids_one_wins(store: &dyn Store) {
    let m = store.fresh().await;
    let tasks = (0..6)
        .map(|i| {
            let m = m.clone();
            let a = post("contested", &format!("actor{i}"), at(i * SEC));
            async move { m.add_activity(a).await }
        })
        .collect();
    let results = all(tasks).await;
    let winners: Vec<usize> = (0..6).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (i, result) in results.iter().enumerate() {
        if i != winners[0] {
            assert_err!(result, Error::ActivityConflict { .. });
        }
    }
    let stored = m.get_activity("contested").await.unwrap();
    assert_eq!(stored.actor().id(), format!("actor{}", winners[0]));
    assert_eq!(all_activities(&m).await.len(), 1);
}

/// 64 tasks adding activities (single and batched, with and without ids) lose none.
pub async fn concurrent_adds_lose_nothing(store: &dyn Store) {
    let m = store.fresh().await;
    let tasks = (0..64i64)
        .map(|i| {
            let m = m.clone();
            async move {
                match i % 3 {
                    0 => vec![m
                        .add_activity(post(&format!("c{i}"), "mark", at(i)))
                        .await
                        .unwrap()],
                    1 => {
                        let unnamed =
                            elasticfeeds::Activity::new("post", person("ann"), object("o", "post"))
                                .unwrap()
                                .published_at(at(i))
                                .unwrap();
                        vec![m.add_activity(unnamed).await.unwrap()]
                    }
                    _ => m
                        .add_activities(vec![
                            post(&format!("c{i}a"), "bob", at(i)),
                            post(&format!("c{i}b"), "bob", at(i)),
                        ])
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.unwrap())
                        .collect(),
                }
            }
        })
        .collect();
    let written: BTreeSet<String> = all(tasks).await.into_iter().flatten().collect();
    assert_eq!(written.len(), 22 + 21 + 2 * 21);
    let stored: BTreeSet<String> = ids(&all_activities(&m).await).into_iter().collect();
    assert_eq!(stored, written);
    // A paged read sees the same.
    let mut paged = Vec::new();
    let mut query = FeedQuery::all().page_size(7).unwrap();
    loop {
        let page = m.search(query.clone()).await.unwrap();
        paged.extend(ids(&page.activities));
        match page.next_cursor {
            Some(cursor) => query = query.cursor(&cursor).unwrap(),
            None => break,
        }
    }
    assert_eq!(paged.len(), written.len());
    assert_eq!(paged.into_iter().collect::<BTreeSet<_>>(), written);
}
