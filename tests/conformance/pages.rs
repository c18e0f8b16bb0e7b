//! Order, page size and cursors: every activity exactly once, in a total, stable order.

use elasticfeeds::{Activity, Bound, FeedQuery, Manager, Order, Position};

use super::{add, at, feed_page, follow_at, ids, post, sorted, Store, SEC};

/// Pages through a search to the end; checks page sizes and that only the last page lacks a
/// cursor. Returns the ids in the order read, page by page.
async fn walk_search(manager: &Manager, size: usize, start: FeedQuery) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut query = start.page_size(size).unwrap();
    loop {
        let page = manager.search(query.clone()).await.unwrap();
        assert!(page.activities.len() <= size);
        let more = page.next_cursor.clone();
        pages.push(ids(&page.activities));
        match more {
            Some(cursor) => {
                assert_eq!(page.activities.len(), size, "only the last page is short");
                query = query.cursor(&cursor).unwrap();
            }
            None => break,
        }
        assert!(pages.len() <= 1_000, "the cursor does not advance");
    }
    pages
}

/// Pages through a feed to the end, like [`walk_search`].
async fn walk_feed(
    manager: &Manager,
    user: &str,
    size: usize,
    order: Order,
    start: Option<Bound>,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut bound = start;
    loop {
        let (page, next) = feed_page(manager, user, size, order, bound).await;
        assert!(page.len() <= size);
        let done = next.is_none();
        if !done {
            assert_eq!(page.len(), size, "only the last page is short");
        }
        pages.push(page);
        if done {
            break;
        }
        bound = next;
        assert!(pages.len() <= 1_000, "the cursor does not advance");
    }
    pages
}

/// Activities at the same millisecond, written in one commit and in separate ones, in an
/// insertion order unlike their id order, are ordered by id: descending, the higher id first;
/// ascending, the lower.
pub async fn order_desc_and_asc_with_ties(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    add(&m, vec![post("tb", "mark", at(SEC))]).await;
    add(
        &m,
        vec![
            post("ta", "mark", at(SEC)),
            post("old", "mark", at(0)),
            post("td", "mark", at(SEC)),
        ],
    )
    .await;
    add(
        &m,
        vec![
            post("te", "mark", at(SEC)),
            post("new", "mark", at(2 * SEC)),
            post("tc", "mark", at(SEC)),
        ],
    )
    .await;
    let desc = ["new", "te", "td", "tc", "tb", "ta", "old"];
    let asc = ["old", "ta", "tb", "tc", "td", "te", "new"];

    let page = m.search(FeedQuery::all()).await.unwrap();
    assert_eq!(ids(&page.activities), desc);
    let page = m.search(FeedQuery::all().order(Order::Asc)).await.unwrap();
    assert_eq!(ids(&page.activities), asc);
    assert_eq!(super::feed_ids(&m, "carlos").await, desc);
    assert_eq!(
        super::feed_ids_where(&m, "carlos", |q| Ok(q.order(Order::Asc))).await,
        asc
    );

    // One at a time, through the ties, both ways; the same again (stable).
    for _ in 0..2 {
        let pages = walk_search(&m, 1, FeedQuery::all()).await;
        assert_eq!(pages.concat(), desc);
        let pages = walk_search(&m, 1, FeedQuery::all().order(Order::Asc)).await;
        assert_eq!(pages.concat(), asc);
        let pages = walk_feed(&m, "carlos", 1, Order::Desc, None).await;
        assert_eq!(pages.concat(), desc);
        let pages = walk_feed(&m, "carlos", 2, Order::Asc, None).await;
        assert_eq!(pages.concat(), asc);
    }
}

/// 23 activities with ties, written in three batches; searched in pages of several sizes, both
/// orders.
fn paging_fixture() -> Vec<Activity> {
    (0..23)
        .map(|i| {
            let actor = if i % 2 == 0 { "mark" } else { "ann" };
            post(&format!("p{i:02}"), actor, at((i / 3) * SEC))
        })
        .collect()
}

async fn add_paging_fixture(manager: &Manager, fixture: &[Activity]) {
    // Three commits; each holds some ties whole and splits others, in both insertion orders.
    for rest in 0..3 {
        let mut batch: Vec<Activity> = fixture
            .iter()
            .enumerate()
            .filter(|(i, _)| (i / 2) % 3 == rest)
            .map(|(_, a)| a.clone())
            .collect();
        if rest == 1 {
            batch.reverse();
        }
        add(manager, batch).await;
    }
}

/// A search paged with `page_size` and `cursor(next_cursor)` returns every activity exactly
/// once, in order, and the last page has no cursor (also when it is exactly full).
pub async fn search_pages_with_cursor(store: &dyn Store) {
    let m = store.fresh().await;
    let fixture = paging_fixture();
    add_paging_fixture(&m, &fixture).await;
    for order in [Order::Desc, Order::Asc] {
        let expected = ids(&sorted(&fixture, order));
        for size in [1, 4, 5, 23, 24, 100] {
            let pages = walk_search(&m, size, FeedQuery::all().order(order)).await;
            assert_eq!(pages.len(), 23usize.div_ceil(size), "{order:?} by {size}");
            assert_eq!(pages.concat(), expected, "{order:?} by {size}");
        }
    }
}

/// The same for a feed, which also leaves out what the network does not reach.
pub async fn feed_pages_with_cursor(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    follow_at(&m, "carlos", "ann", at(SEC)).await;
    let fixture = paging_fixture();
    add_paging_fixture(&m, &fixture).await;
    add(
        &m,
        vec![
            post("other1", "zed", at(2 * SEC)),
            post("other2", "zed", at(5 * SEC)),
        ],
    )
    .await;
    // Ann's activities count from one second on.
    let reached: Vec<Activity> = fixture
        .iter()
        .filter(|a| a.actor().id() == "mark" || a.published() >= at(SEC))
        .cloned()
        .collect();
    assert_eq!(reached.len(), 22);
    for order in [Order::Desc, Order::Asc] {
        let expected = ids(&sorted(&reached, order));
        for size in [1, 3, 7, 11, 22, 50] {
            let pages = walk_feed(&m, "carlos", size, order, None).await;
            assert_eq!(pages.len(), 22usize.div_ceil(size), "{order:?} by {size}");
            assert_eq!(pages.concat(), expected, "{order:?} by {size}");
        }
    }
}

/// Activities `n0`..`n9` one second apart, and `n5a`, `n5b` at the same time as `n5`.
async fn position_fixture(manager: &Manager) -> Position {
    follow_at(manager, "carlos", "mark", at(0)).await;
    let mut fixture: Vec<Activity> = (0..10)
        .map(|i| post(&format!("n{i}"), "mark", at(i * SEC)))
        .collect();
    fixture.push(post("n5b", "mark", at(5 * SEC)));
    fixture.push(post("n5a", "mark", at(5 * SEC)));
    add(manager, fixture).await;
    Position::of(&manager.get_activity("n5").await.unwrap()).unwrap()
}

/// A page newer than a position holds the activities strictly newer than it, the nearest ones
/// first in the walk, returned in the query's order; its cursor keeps walking newer.
pub async fn newer_than_position(store: &dyn Store) {
    let m = store.fresh().await;
    let n5 = position_fixture(&m).await;
    assert_eq!(n5.published, at(5 * SEC));

    let desc_pages = [vec!["n5b", "n5a"], vec!["n7", "n6"], vec!["n9", "n8"]];
    let asc_pages = [vec!["n5a", "n5b"], vec!["n6", "n7"], vec!["n8", "n9"]];
    let start = FeedQuery::all().newer_than(n5.clone());
    assert_eq!(walk_search(&m, 2, start.clone()).await, desc_pages);
    assert_eq!(walk_search(&m, 2, start.order(Order::Asc)).await, asc_pages);
    let bound = Some(Bound::NewerThan(n5.clone()));
    assert_eq!(
        walk_feed(&m, "carlos", 2, Order::Desc, bound.clone()).await,
        desc_pages
    );
    assert_eq!(
        walk_feed(&m, "carlos", 2, Order::Asc, bound).await,
        asc_pages
    );

    // Newer than the newest: nothing, and no cursor.
    let n9 = Position::of(&m.get_activity("n9").await.unwrap()).unwrap();
    let page = m.search(FeedQuery::all().newer_than(n9)).await.unwrap();
    assert!(page.activities.is_empty());
    assert_eq!(page.next_cursor, None);

    // Refreshing the top of a feed on screen: newer than its first item.
    m.add_activity(post("n10", "mark", at(10 * SEC)))
        .await
        .unwrap();
    m.add_activity(post("n11", "mark", at(11 * SEC)))
        .await
        .unwrap();
    let n9 = Position::of(&m.get_activity("n9").await.unwrap()).unwrap();
    let page = m.search(FeedQuery::all().newer_than(n9)).await.unwrap();
    assert_eq!(ids(&page.activities), ["n11", "n10"]);
    assert_eq!(page.next_cursor, None);
}

/// A page older than a position, in ascending order: the nearest older activities, listed
/// oldest first; its cursor keeps walking older.
pub async fn older_than_position_ascending(store: &dyn Store) {
    let m = store.fresh().await;
    let n5 = position_fixture(&m).await;
    let start = FeedQuery::all().older_than(n5.clone());
    assert_eq!(
        walk_search(&m, 2, start.clone()).await,
        [vec!["n4", "n3"], vec!["n2", "n1"], vec!["n0"]]
    );
    assert_eq!(
        walk_search(&m, 2, start.order(Order::Asc)).await,
        [vec!["n3", "n4"], vec!["n1", "n2"], vec!["n0"]]
    );
    // Positions inside a tie: by id within the millisecond.
    let n5b = Position::of(&m.get_activity("n5b").await.unwrap()).unwrap();
    let page = m
        .search(
            FeedQuery::all()
                .older_than(n5b.clone())
                .page_size(3)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page.activities), ["n5a", "n5", "n4"]);
    let page = m
        .search(FeedQuery::all().newer_than(n5b).page_size(1).unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&page.activities), ["n6"]);
    let bound = Some(Bound::OlderThan(n5));
    assert_eq!(
        walk_feed(&m, "carlos", 4, Order::Asc, bound).await,
        [vec!["n1", "n2", "n3", "n4"], vec!["n0"]]
    );
}
