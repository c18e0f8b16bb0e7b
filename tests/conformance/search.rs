//! The network-free search: filters, order, size and cursor.

use elasticfeeds::{Actor, EntityFilter, FeedQuery, Manager, Order, Origin, Target};

use super::{activity, add, at, ids, object, person, search_ids, Store, SEC};

/// s1..s5, one second apart; nobody follows anyone.
async fn setup(store: &dyn Store) -> Manager {
    let m = store.fresh().await;
    add(
        &m,
        vec![
            activity("s1", "post", person("mark"), object("p1", "post"), at(SEC)),
            activity(
                "s2",
                "post",
                Actor::new("mark", "bot").unwrap(),
                object("p2", "post"),
                at(2 * SEC),
            ),
            activity(
                "s3",
                "like",
                person("ann"),
                object("p1", "post"),
                at(3 * SEC),
            )
            .with_target(Target::new("mark", "person").unwrap()),
            activity(
                "s4",
                "share",
                person("ann"),
                object("p2", "post"),
                at(4 * SEC),
            )
            .with_origin(Origin::new("g", "group").unwrap())
            .with_target(Target::new("h", "group").unwrap()),
            activity(
                "s5",
                "like",
                person("mark"),
                object("p1", "photo"),
                at(5 * SEC),
            ),
        ],
    )
    .await;
    m
}

fn id(id: &str) -> EntityFilter {
    EntityFilter::id(id).unwrap()
}

fn key(id: &str, kind: &str) -> EntityFilter {
    EntityFilter::key(id, kind).unwrap()
}

/// Actor, verb, object, target and time filters, alone and together.
pub async fn filters(store: &dyn Store) {
    let m = setup(store).await;
    let all = || FeedQuery::all();
    let cases: Vec<(FeedQuery, Vec<&str>)> = vec![
        (all(), vec!["s5", "s4", "s3", "s2", "s1"]),
        // An id alone matches every type; a key only its own.
        (all().actor(id("mark")), vec!["s5", "s2", "s1"]),
        (all().actor(key("mark", "person")), vec!["s5", "s1"]),
        (all().actor(key("mark", "Bot")), vec!["s2"]),
        (all().actor(id("nobody")), vec![]),
        (all().verbs(["like"]).unwrap(), vec!["s5", "s3"]),
        (
            all().verbs(["like", "share"]).unwrap(),
            vec!["s5", "s4", "s3"],
        ),
        (all().object(id("p1")), vec!["s5", "s3", "s1"]),
        (all().object(key("p1", "post")), vec!["s3", "s1"]),
        (all().target(id("mark")), vec!["s3"]),
        (all().target(key("h", "group")), vec!["s4"]),
        // The origin is never a target.
        (all().target(id("g")), vec![]),
        (
            all().since(at(2 * SEC)).unwrap(),
            vec!["s5", "s4", "s3", "s2"],
        ),
        (all().until(at(4 * SEC)).unwrap(), vec!["s3", "s2", "s1"]),
        (
            all()
                .since(at(2 * SEC))
                .unwrap()
                .until(at(4 * SEC))
                .unwrap(),
            vec!["s3", "s2"],
        ),
        (
            all()
                .since(at(3 * SEC))
                .unwrap()
                .until(at(3 * SEC))
                .unwrap(),
            vec![],
        ),
        (
            all().actor(id("mark")).verbs(["post"]).unwrap(),
            vec!["s2", "s1"],
        ),
        (
            all().actor(key("ann", "person")).object(id("p2")),
            vec!["s4"],
        ),
        (
            all()
                .object(id("p1"))
                .since(at(2 * SEC))
                .unwrap()
                .order(Order::Asc),
            vec!["s3", "s5"],
        ),
    ];
    for (query, expected) in cases {
        let description = format!("{:?}", query.filter);
        assert_eq!(search_ids(&m, query).await, expected, "{description}");
    }
}

/// Order, size and cursor over a filtered search.
pub async fn order_size_cursor(store: &dyn Store) {
    let m = setup(store).await;
    let page = m.search(FeedQuery::all().order(Order::Asc)).await.unwrap();
    assert_eq!(ids(&page.activities), ["s1", "s2", "s3", "s4", "s5"]);
    assert_eq!(page.next_cursor, None);

    // The default page holds 20.
    let page = m.search(FeedQuery::all()).await.unwrap();
    assert_eq!(page.activities.len(), 5);

    let query = FeedQuery::all().page_size(2).unwrap();
    let first = m.search(query.clone()).await.unwrap();
    assert_eq!(ids(&first.activities), ["s5", "s4"]);
    let cursor = first.next_cursor.expect("more");
    let second = m
        .search(query.clone().cursor(&cursor).unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&second.activities), ["s3", "s2"]);
    let cursor = second.next_cursor.expect("more");
    let third = m
        .search(query.clone().cursor(&cursor).unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&third.activities), ["s1"]);
    assert_eq!(third.next_cursor, None);
    // A cursor is reusable: the same page again.
    let again = m.search(query.cursor(&cursor).unwrap()).await.unwrap();
    assert_eq!(again.activities, third.activities);

    // Filtered and ascending.
    let query = FeedQuery::all()
        .actor(id("mark"))
        .order(Order::Asc)
        .page_size(2)
        .unwrap();
    let first = m.search(query.clone()).await.unwrap();
    assert_eq!(ids(&first.activities), ["s1", "s2"]);
    let cursor = first.next_cursor.expect("more");
    let second = m.search(query.cursor(&cursor).unwrap()).await.unwrap();
    assert_eq!(ids(&second.activities), ["s5"]);
    assert_eq!(second.next_cursor, None);

    // A page of exactly what is left has no cursor.
    let page = m
        .search(FeedQuery::all().page_size(5).unwrap())
        .await
        .unwrap();
    assert_eq!(page.activities.len(), 5);
    assert_eq!(page.next_cursor, None);
}
