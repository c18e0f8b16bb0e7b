//! The aggregators of `elasticfeeds-aggregators` on every backend: the Python library's
//! reference scenario through each of them, cursor paging while the feed changes, and the edge
//! cases (empty networks, sizes, ties, years, time windows).
//!
//! Every expected feed is written out by hand, as literal ids, from the documented rules.

use std::collections::HashSet;

use chrono::Duration;
use elasticfeeds::{Activity, Aggregator, Error, LinkChange, Manager, Order};
use elasticfeeds_aggregators::{
    Collapse, Cursor, CursorPage, DateGroup, DateWeight, DecayRanked, Notification,
    NotificationRow, ObjectTypesGroup, RecentObjectType, RecentType, RecentTypeObject, TypeGroup,
    TypeObjectsGroup, UnAggregated, YearGroup, YearMonth, YearMonthType, YearMonthsGroup,
};

use super::{
    activity, add, at, follow_at, ids, link_at, object, person, post, watch_at, Store, DAY, HOUR,
    MIN,
};

// ----- rendering: every shaped feed as one literal line ----------------------------------------

/// `"b2 a4 a3"`.
fn flat(activities: &[Activity]) -> String {
    ids(activities).join(" ")
}

/// `"add[b2 a3] move[a4]"`.
fn types(groups: &[TypeGroup]) -> String {
    groups
        .iter()
        .map(|g| format!("{}[{}]", g.verb, flat(&g.activities)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"add{F2[b2] F1[a3]} move{F1[a4]}"`.
fn type_objects(groups: &[TypeObjectsGroup]) -> String {
    groups
        .iter()
        .map(|g| {
            let objects = g
                .ids
                .iter()
                .map(|o| format!("{}[{}]", o.id, flat(&o.activities)))
                .collect::<Vec<_>>()
                .join(" ");
            format!("{}{{{}}}", g.verb, objects)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"F1{move[a4] add[a3]} B{add[a2]}"`.
fn object_types(groups: &[ObjectTypesGroup]) -> String {
    groups
        .iter()
        .map(|g| format!("{}{{{}}}", g.id, types(&g.types)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"2026{1{add[b2] move[a4]}}"`.
fn year_month_types(groups: &[YearGroup]) -> String {
    groups
        .iter()
        .map(|y| {
            let months = y
                .months
                .iter()
                .map(|m| format!("{}{{{}}}", m.month, types(&m.types)))
                .collect::<Vec<_>>()
                .join(" ");
            format!("{}{{{}}}", y.year, months)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"2026{1[b2 a4]}"`.
fn year_months(groups: &[YearMonthsGroup]) -> String {
    groups
        .iter()
        .map(|y| {
            let months = y
                .months
                .iter()
                .map(|m| format!("{}[{}]", m.month, flat(&m.activities)))
                .collect::<Vec<_>>()
                .join(" ");
            format!("{}{{{}}}", y.year, months)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"2026-01-13[b2] 2026-01-01[a4 a3]"`.
fn dates(groups: &[DateGroup]) -> String {
    groups
        .iter()
        .map(|d| format!("{}[{}]", d.date, flat(&d.activities)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `"F2/add actors[edoquiros] 1 1 b2"`, one entry per row.
fn rows(rows: &[NotificationRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let actors: Vec<&str> = r.actors.iter().map(|a| a.id.as_str()).collect();
            format!(
                "{}:{}/{} actors[{}] {} {} {}",
                r.object_type,
                r.object_id,
                r.verb,
                actors.join(" "),
                r.actor_count,
                r.event_count,
                r.latest.id().unwrap_or_default()
            )
        })
        .collect()
}

/// The shaped feed of `user`.
async fn read<A: Aggregator>(m: &Manager, user: &str, aggregator: &A) -> A::Output {
    m.get_feeds(user, aggregator).await.unwrap().feed
}

/// One page of `feed` through [`Cursor`], after `cursor` when given.
async fn cursor_page<A>(m: &Manager, user: &str, feed: &A, cursor: Option<&str>) -> CursorPage
where
    A: Aggregator<Output = Vec<Activity>>,
{
    let mut aggregator = Cursor::new(feed);
    if let Some(cursor) = cursor {
        aggregator = aggregator.after(cursor);
    }
    read(m, user, &aggregator).await
}

/// Every page of `feed` through [`Cursor`], as ids, from the first to the one without a next
/// cursor.
async fn all_cursor_pages<A>(m: &Manager, user: &str, feed: &A) -> Vec<String>
where
    A: Aggregator<Output = Vec<Activity>>,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page = cursor_page(m, user, feed, cursor.as_deref()).await;
        pages.push(flat(&page.activities));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
    panic!("more than 100 pages: {pages:?}");
}

// ----- the reference scenario ------------------------------------------------------------------

/// The Python library's reference scenario through every aggregator.
pub async fn reference_scenario(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "cquiros", "cquiros", at(0)).await;
    let edoquiros = link_at(
        &m,
        "cquiros",
        "follow",
        elasticfeeds::LinkTarget::actor("edoquiros", "person").unwrap(),
        at(0),
    )
    .await;
    watch_at(&m, "cquiros", "A", "project", at(0)).await;

    add(&m, super::feeds::reference_activities()).await;
    let user = "cquiros";

    // Flat, both ways. b1 predates the follow; a1 and a3 also match the watch, and appear once.
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new()).await),
        "b2 a4 a3 a2 a1"
    );
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new().order(Order::Asc)).await),
        "a1 a2 a3 a4 b2"
    );

    // Grouped.
    assert_eq!(
        types(&read(&m, user, &RecentType::new()).await),
        "add[b2 a3 a2 a1] move[a4]"
    );
    assert_eq!(
        type_objects(&read(&m, user, &RecentTypeObject::new()).await),
        "add{F2[b2] F1[a3] B[a2] A[a1]} move{F1[a4]}"
    );
    assert_eq!(
        object_types(&read(&m, user, &RecentObjectType::new()).await),
        "F2{add[b2]} F1{move[a4] add[a3]} B{add[a2]} A{add[a1]}"
    );
    assert_eq!(
        year_month_types(&read(&m, user, &YearMonthType::new()).await),
        "2026{1{add[b2 a3 a2 a1] move[a4]}}"
    );
    assert_eq!(
        year_months(&read(&m, user, &YearMonth::new()).await),
        "2026{1[b2 a4 a3 a2 a1]}"
    );
    // b1 is of 2025, but predates the follow.
    assert!(read(&m, user, &YearMonthType::new().year(2025).unwrap())
        .await
        .is_empty());
    assert!(read(&m, user, &YearMonth::new().year(2025).unwrap())
        .await
        .is_empty());
    assert_eq!(
        dates(&read(&m, user, &DateWeight::new()).await),
        "2026-01-13[b2] 2026-01-01[a4 a3 a2 a1]"
    );

    // Notifications over a window holding everything.
    let everything = Notification::new()
        .window(at(-400 * DAY), at(30 * DAY))
        .unwrap();
    assert_eq!(
        rows(&read(&m, user, &everything).await),
        [
            "form:F2/add actors[edoquiros] 1 1 b2",
            "form:F1/move actors[cquiros] 1 1 a4",
            "form:F1/add actors[cquiros] 1 1 a3",
            "project:B/add actors[cquiros] 1 1 a2",
            "project:A/add actors[cquiros] 1 1 a1",
        ]
    );

    // Collapsed: a3 goes under a4 (both of F1); by actor, one each.
    assert_eq!(
        flat(&read(&m, user, &Collapse::by_object()).await),
        "b2 a4 a2 a1"
    );
    assert_eq!(flat(&read(&m, user, &Collapse::by_actor()).await), "b2 a4");

    // Decay around b2: b2 scores 1, the others a dozen days away next to nothing, the newer
    // higher.
    let decay = DecayRanked::new()
        .origin(at(12 * DAY))
        .unwrap()
        .scale(Duration::days(1))
        .unwrap()
        .decay(0.5)
        .unwrap();
    assert_eq!(flat(&read(&m, user, &decay).await), "b2 a4 a3 a2 a1");

    // Pages of two through a cursor.
    let pages = UnAggregated::new().page_size(2).unwrap();
    assert_eq!(
        all_cursor_pages(&m, user, &pages).await,
        ["b2 a4", "a3 a2", "a1"]
    );

    // ----- variant: edoquiros adds F1 too, on the first day ---------------------------------
    add(
        &m,
        vec![activity(
            "b3",
            "add",
            person("edoquiros"),
            object("F1", "form"),
            at(60 * MIN),
        )],
    )
    .await;
    assert_eq!(
        rows(&read(&m, user, &everything).await),
        [
            "form:F2/add actors[edoquiros] 1 1 b2",
            "form:F1/move actors[cquiros] 1 1 a4",
            "form:F1/add actors[edoquiros cquiros] 2 2 b3",
            "project:B/add actors[cquiros] 1 1 a2",
            "project:A/add actors[cquiros] 1 1 a1",
        ]
    );
    // Until the end of the first day: no F2 row.
    let first_day = Notification::new().window(at(-400 * DAY), at(DAY)).unwrap();
    assert_eq!(
        rows(&read(&m, user, &first_day).await),
        [
            "form:F1/move actors[cquiros] 1 1 a4",
            "form:F1/add actors[edoquiros cquiros] 2 2 b3",
            "project:B/add actors[cquiros] 1 1 a2",
            "project:A/add actors[cquiros] 1 1 a1",
        ]
    );

    // DateWeight: equal weights, newest first in a day; then edoquiros weighs 3 and b3 leads
    // its day.
    assert_eq!(
        dates(&read(&m, user, &DateWeight::new()).await),
        "2026-01-13[b2] 2026-01-01[a4 b3 a3 a2 a1]"
    );
    m.update_link(edoquiros.key(), LinkChange::new().weight(3.0).unwrap())
        .await
        .unwrap();
    assert_eq!(
        dates(&read(&m, user, &DateWeight::new()).await),
        "2026-01-13[b2] 2026-01-01[b3 a4 a3 a2 a1]"
    );
    // The weight does not move the unranked feed.
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new()).await),
        "b2 a4 b3 a3 a2 a1"
    );
}

// ----- cursors -----------------------------------------------------------------------------------

/// `reader` follows `mark` since long before anything; mark posts `k00`..`k29`, three to a
/// millisecond: `k00`-`k02` at +0, `k03`-`k05` at +1 min, …, `k27`-`k29` at +9 min. Feed order is
/// the order of the ids (ties by id).
async fn thirty(store: &dyn Store) -> Manager {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(-DAY)).await;
    add(
        &m,
        (0..30)
            .map(|k| post(&format!("k{k:02}"), "mark", at((k / 3) * MIN)))
            .collect(),
    )
    .await;
    m
}

/// Pages `feed` to the end, running `between(page_number)` after each page (1 = after the
/// first); returns every listed activity, in order, and checks each page's size.
async fn page_with_writes<A, F>(m: &Manager, feed: &A, size: usize, mut between: F) -> Vec<Activity>
where
    A: Aggregator<Output = Vec<Activity>>,
    F: FnMut(usize) -> Vec<Write>,
{
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for number in 1..=100 {
        let page = cursor_page(m, "reader", feed, cursor.as_deref()).await;
        assert!(page.activities.len() <= size, "page {number}: too long");
        if page.next_cursor.is_some() {
            assert_eq!(page.activities.len(), size, "page {number} is not full");
        }
        listed.extend(page.activities);
        for write in between(number) {
            match write {
                Write::Add(activity) => add(m, vec![*activity]).await,
                Write::Remove(id) => m.remove_activity(id).await.unwrap(),
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
    panic!("more than 100 pages");
}

/// A write between two pages.
enum Write {
    /// Adds (or replaces) an activity.
    Add(Box<Activity>),
    /// Removes an activity by id.
    Remove(&'static str),
}

impl Write {
    fn add(activity: Activity) -> Self {
        Write::Add(Box::new(activity))
    }
}

/// Checks that every listed activity is listed once, and that every one of `k00`..`k29` but
/// `removed` is.
fn listed_once(listed: &[Activity], removed: &str) {
    let listed_ids = ids(listed);
    let unique: HashSet<&String> = listed_ids.iter().collect();
    assert_eq!(unique.len(), listed_ids.len(), "repeated: {listed_ids:?}");
    for k in 0..30 {
        let id = format!("k{k:02}");
        assert_eq!(
            listed_ids.contains(&id),
            id != removed,
            "{id} (removed: {removed}) in {listed_ids:?}"
        );
    }
}

/// Cursor pages survive writes between them: nothing is lost or repeated, and only what sorts
/// after the cursor's position shows up. Collapsed and ranked feeds page the same, and a
/// cursor is bound to its reader and its feed.
pub async fn cursor_paging_survives_writes(store: &dyn Store) {
    // Newest first, pages of 4. The first page ends at k26 (+8 min).
    let m = thirty(store).await;
    let feed = UnAggregated::new().page_size(4).unwrap();
    let listed = page_with_writes(&m, &feed, 4, |page| match page {
        1 => vec![
            // Newer than the cursor: before it, never shown.
            Write::add(post("new", "mark", at(20 * MIN))),
            // Older than everything: shown last.
            Write::add(post("old", "mark", at(-MIN))),
            // At k26's millisecond: a higher id sorts before k26 (not shown), a lower one after.
            Write::add(post("k26z", "mark", at(8 * MIN))),
            Write::add(post("k25a", "mark", at(8 * MIN))),
            // Not shown yet: removed, and replaced (same id, same actor, another verb).
            Write::Remove("k10"),
            Write::add(activity(
                "k15",
                "edit",
                person("mark"),
                object("k15", "post"),
                at(5 * MIN),
            )),
        ],
        3 => vec![
            // Older than the cursor (k19, +6 min) but newer than what is left: shown.
            Write::add(post("k16b", "mark", at(5 * MIN))),
        ],
        _ => Vec::new(),
    })
    .await;
    listed_once(&listed, "k10");
    assert_eq!(
        flat(&listed),
        "k29 k28 k27 k26 k25a k25 k24 k23 k22 k21 k20 k19 k18 k17 k16b k16 k15 k14 k13 k12 \
         k11 k09 k08 k07 k06 k05 k04 k03 k02 k01 k00 old"
    );
    let k15 = listed.iter().find(|a| a.id() == Some("k15")).unwrap();
    assert_eq!(k15.verb(), "edit", "the replacement is listed");

    // Oldest first, pages of 4. The first page ends at k03 (+1 min).
    let m = thirty(store).await;
    let feed = UnAggregated::new().order(Order::Asc).page_size(4).unwrap();
    let listed = page_with_writes(&m, &feed, 4, |page| match page {
        1 => vec![
            // Newer than the cursor: shown last.
            Write::add(post("new", "mark", at(20 * MIN))),
            // Older: before the cursor, never shown.
            Write::add(post("old", "mark", at(-MIN))),
            // At k03's millisecond: a higher id sorts after k03 (shown), a lower one before.
            Write::add(post("k03a", "mark", at(MIN))),
            Write::add(post("k02z", "mark", at(MIN))),
            Write::Remove("k20"),
            Write::add(activity(
                "k25",
                "edit",
                person("mark"),
                object("k25", "post"),
                at(8 * MIN),
            )),
        ],
        _ => Vec::new(),
    })
    .await;
    listed_once(&listed, "k20");
    assert_eq!(
        flat(&listed),
        "k00 k01 k02 k03 k03a k04 k05 k06 k07 k08 k09 k10 k11 k12 k13 k14 k15 k16 k17 k18 \
         k19 k21 k22 k23 k24 k25 k26 k27 k28 k29 new"
    );
    let k25 = listed.iter().find(|a| a.id() == Some("k25")).unwrap();
    assert_eq!(k25.verb(), "edit", "the replacement is listed");

    // Collapsed and ranked feeds through a cursor, without writes. mark does c0..c9 at +0..+9
    // min, on objects o0..o3 in turn (c_i on o(i mod 4)).
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(-DAY)).await;
    add(
        &m,
        (0..10)
            .map(|i| {
                activity(
                    &format!("c{i}"),
                    "like",
                    person("mark"),
                    object(&format!("o{}", i % 4), "post"),
                    at(i * MIN),
                )
            })
            .collect(),
    )
    .await;
    // The newest per object: c9 (o1), c8 (o0), c7 (o3), c6 (o2); the last page is full and has
    // no next cursor.
    let collapsed = Collapse::by_object().page_size(2).unwrap();
    assert_eq!(
        all_cursor_pages(&m, "reader", &collapsed).await,
        ["c9 c8", "c7 c6"]
    );
    let collapsed = Collapse::by_object().page_size(3).unwrap();
    assert_eq!(
        all_cursor_pages(&m, "reader", &collapsed).await,
        ["c9 c8 c7", "c6"]
    );
    // Decay around c5, halving per minute squared: c5 = 1; c6, c4 = 0.5 (the newer first);
    // c7, c3 = 0.5^4; c8, c2 = 0.5^9; c9, c1 = 0.5^16; c0 = 0.5^25.
    let ranked = DecayRanked::new()
        .origin(at(5 * MIN))
        .unwrap()
        .scale(Duration::minutes(1))
        .unwrap()
        .page_size(3)
        .unwrap();
    assert_eq!(
        all_cursor_pages(&m, "reader", &ranked).await,
        ["c5 c6 c4", "c7 c3 c8", "c2 c9 c1", "c0"]
    );

    // A cursor belongs to one reader and one feed, and is checked byte for byte.
    follow_at(&m, "ana", "mark", at(-DAY)).await;
    let feed = UnAggregated::new().page_size(2).unwrap();
    let first = cursor_page(&m, "reader", &feed, None).await;
    assert_eq!(flat(&first.activities), "c9 c8");
    let token = first.next_cursor.expect("more lies beyond");
    assert_eq!(
        flat(
            &cursor_page(&m, "reader", &feed, Some(&token))
                .await
                .activities
        ),
        "c7 c6"
    );
    let mut flipped: Vec<char> = token.chars().collect();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    assert_err!(
        m.get_feeds("reader", &Cursor::new(&feed).after(&flipped))
            .await,
        Error::InvalidCursor { .. }
    );
    assert_err!(
        m.get_feeds("ana", &Cursor::new(&feed).after(&token)).await,
        Error::InvalidCursor { .. }
    );
    let other_size = UnAggregated::new().page_size(3).unwrap();
    assert_err!(
        m.get_feeds("reader", &Cursor::new(&other_size).after(&token))
            .await,
        Error::InvalidCursor { .. }
    );
    let other_feed = Collapse::by_object().page_size(2).unwrap();
    assert_err!(
        m.get_feeds("reader", &Cursor::new(&other_feed).after(&token))
            .await,
        Error::InvalidCursor { .. }
    );
}

// ----- edge cases --------------------------------------------------------------------------------

/// Empty networks, sizes of 0 and 1, ties, the year filter and the notification window bounds.
pub async fn aggregator_edge_cases(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "reader", "mark", at(-400 * DAY)).await;
    follow_at(&m, "reader", "jane", at(-400 * DAY)).await;
    add(
        &m,
        vec![
            post("y1", "mark", at(-30 * DAY)), // 2025-12-02
            activity("y2", "like", person("jane"), object("y1", "post"), at(-DAY)), // 2025-12-31
            // Three at one millisecond.
            post("t2", "mark", at(HOUR)),
            post("t3", "mark", at(HOUR)),
            post("t1", "mark", at(HOUR)),
            activity(
                "j1",
                "like",
                person("jane"),
                object("t1", "post"),
                at(2 * HOUR),
            ),
        ],
    )
    .await;
    let decay = || {
        DecayRanked::new()
            .origin(at(HOUR))
            .unwrap()
            .scale(Duration::hours(1))
            .unwrap()
    };
    let everything = || {
        Notification::new()
            .window(at(-400 * DAY), at(30 * DAY))
            .unwrap()
    };

    // An empty network: every aggregator gives an empty feed.
    let nobody = "nobody";
    assert!(read(&m, nobody, &UnAggregated::new()).await.is_empty());
    assert!(read(&m, nobody, &RecentType::new()).await.is_empty());
    assert!(read(&m, nobody, &RecentTypeObject::new()).await.is_empty());
    assert!(read(&m, nobody, &RecentObjectType::new()).await.is_empty());
    assert!(read(&m, nobody, &YearMonth::new()).await.is_empty());
    assert!(read(&m, nobody, &YearMonthType::new()).await.is_empty());
    assert!(read(&m, nobody, &DateWeight::new()).await.is_empty());
    assert!(read(&m, nobody, &everything()).await.is_empty());
    assert!(read(&m, nobody, &Collapse::by_object()).await.is_empty());
    assert!(read(&m, nobody, &Collapse::by_actor()).await.is_empty());
    assert!(read(&m, nobody, &decay()).await.is_empty());
    for page in [
        cursor_page(&m, nobody, &UnAggregated::new(), None).await,
        cursor_page(&m, nobody, &Collapse::by_object(), None).await,
        cursor_page(&m, nobody, &decay(), None).await,
    ] {
        assert_eq!(
            page,
            CursorPage {
                activities: Vec::new(),
                next_cursor: None
            }
        );
    }

    // Sizes of 0 are refused where they are set.
    assert_err!(UnAggregated::new().page_size(0), Error::InvalidSize { .. });
    assert_err!(
        Collapse::by_object().page_size(0),
        Error::InvalidSize { .. }
    );
    assert_err!(DecayRanked::new().page_size(0), Error::InvalidSize { .. });
    assert_err!(RecentType::new().types(0), Error::InvalidSize { .. });
    assert_err!(
        RecentType::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(RecentTypeObject::new().types(0), Error::InvalidSize { .. });
    assert_err!(
        RecentTypeObject::new().objects(0),
        Error::InvalidSize { .. }
    );
    assert_err!(
        RecentTypeObject::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(
        RecentObjectType::new().objects(0),
        Error::InvalidSize { .. }
    );
    assert_err!(RecentObjectType::new().types(0), Error::InvalidSize { .. });
    assert_err!(
        RecentObjectType::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(YearMonth::new().years(0), Error::InvalidSize { .. });
    assert_err!(YearMonth::new().months(0), Error::InvalidSize { .. });
    assert_err!(YearMonth::new().months(13), Error::InvalidSize { .. });
    assert_err!(
        YearMonth::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(YearMonth::new().groups(0), Error::InvalidSize { .. });
    assert_err!(YearMonthType::new().years(0), Error::InvalidSize { .. });
    assert_err!(YearMonthType::new().months(0), Error::InvalidSize { .. });
    assert_err!(YearMonthType::new().types(0), Error::InvalidSize { .. });
    assert_err!(
        YearMonthType::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(YearMonthType::new().groups(0), Error::InvalidSize { .. });
    assert_err!(DateWeight::new().days(0), Error::InvalidSize { .. });
    assert_err!(
        DateWeight::new().hits_per_group(0),
        Error::InvalidSize { .. }
    );
    assert_err!(Notification::new().objects(0), Error::InvalidSize { .. });
    assert_err!(Notification::new().verbs(0), Error::InvalidSize { .. });
    assert_err!(Notification::new().actors(0), Error::InvalidSize { .. });
    // A window that ends before it starts is no window.
    assert_err!(
        Notification::new().window(at(HOUR), at(0)),
        Error::InvalidQuery { .. }
    );

    // Sizes of 1: one group, one activity, the newest.
    let user = "reader";
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new().page_size(1).unwrap()).await),
        "j1"
    );
    assert_eq!(
        flat(&read(&m, user, &Collapse::by_actor().page_size(1).unwrap()).await),
        "j1"
    );
    // t1..t3 sit at the decay origin: equal scores, the highest id first.
    assert_eq!(
        flat(&read(&m, user, &decay().page_size(1).unwrap()).await),
        "t3"
    );
    let one = RecentType::new()
        .types(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap();
    assert_eq!(types(&read(&m, user, &one).await), "like[j1]");
    let one = RecentTypeObject::new()
        .types(1)
        .unwrap()
        .objects(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap();
    assert_eq!(type_objects(&read(&m, user, &one).await), "like{t1[j1]}");
    let one = RecentObjectType::new()
        .objects(1)
        .unwrap()
        .types(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap();
    assert_eq!(object_types(&read(&m, user, &one).await), "t1{like[j1]}");
    let one = YearMonth::new()
        .years(1)
        .unwrap()
        .months(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap()
        .groups(1)
        .unwrap();
    assert_eq!(year_months(&read(&m, user, &one).await), "2026{1[j1]}");
    let one = YearMonthType::new()
        .years(1)
        .unwrap()
        .months(1)
        .unwrap()
        .types(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap()
        .groups(1)
        .unwrap();
    assert_eq!(
        year_month_types(&read(&m, user, &one).await),
        "2026{1{like[j1]}}"
    );
    let one = DateWeight::new()
        .days(1)
        .unwrap()
        .hits_per_group(1)
        .unwrap();
    assert_eq!(dates(&read(&m, user, &one).await), "2026-01-01[j1]");
    let one = everything()
        .objects(1)
        .unwrap()
        .verbs(1)
        .unwrap()
        .actors(1)
        .unwrap();
    assert_eq!(
        rows(&read(&m, user, &one).await),
        ["post:t1/like actors[jane] 1 1 j1"]
    );
    let first = cursor_page(&m, user, &UnAggregated::new().page_size(1).unwrap(), None).await;
    assert_eq!(flat(&first.activities), "j1");
    assert!(first.next_cursor.is_some());

    // Ties in `published`: by id, descending newest first and ascending oldest first, in every
    // shape.
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new()).await),
        "j1 t3 t2 t1 y2 y1"
    );
    assert_eq!(
        flat(&read(&m, user, &UnAggregated::new().order(Order::Asc)).await),
        "y1 y2 t1 t2 t3 j1"
    );
    assert_eq!(
        all_cursor_pages(&m, user, &UnAggregated::new().page_size(2).unwrap()).await,
        ["j1 t3", "t2 t1", "y2 y1"]
    );
    assert_eq!(
        types(&read(&m, user, &RecentType::new()).await),
        "like[j1 y2] post[t3 t2 t1 y1]"
    );
    // Objects t3 and t2 tie on their newest activity: the higher id first.
    assert_eq!(
        object_types(&read(&m, user, &RecentObjectType::new()).await),
        "t1{like[j1] post[t1]} t3{post[t3]} t2{post[t2]} y1{like[y2] post[y1]}"
    );
    assert_eq!(
        flat(&read(&m, user, &Collapse::by_object()).await),
        "j1 t3 t2 y2"
    );
    assert_eq!(flat(&read(&m, user, &Collapse::by_actor()).await), "j1 t3");
    assert_eq!(
        dates(&read(&m, user, &DateWeight::new()).await),
        "2026-01-01[j1 t3 t2 t1] 2025-12-31[y2] 2025-12-02[y1]"
    );

    // The year filter.
    assert_eq!(
        year_months(&read(&m, user, &YearMonth::new()).await),
        "2026{1[j1 t3 t2 t1]} 2025{12[y2 y1]}"
    );
    assert_eq!(
        year_months(&read(&m, user, &YearMonth::new().year(2025).unwrap()).await),
        "2025{12[y2 y1]}"
    );
    assert_eq!(
        year_month_types(&read(&m, user, &YearMonthType::new().year(2025).unwrap()).await),
        "2025{12{like[y2] post[y1]}}"
    );
    assert_eq!(
        year_month_types(&read(&m, user, &YearMonthType::new().year(2026).unwrap()).await),
        "2026{1{like[j1] post[t3 t2 t1]}}"
    );
    assert!(read(&m, user, &YearMonth::new().year(2024).unwrap())
        .await
        .is_empty());
    assert!(read(&m, user, &YearMonthType::new().year(2027).unwrap())
        .await
        .is_empty());

    // The notification window: its start is included, its end is not.
    let window = Notification::new().window(at(HOUR), at(2 * HOUR)).unwrap();
    assert_eq!(
        rows(&read(&m, user, &window).await),
        [
            "post:t3/post actors[mark] 1 1 t3",
            "post:t2/post actors[mark] 1 1 t2",
            "post:t1/post actors[mark] 1 1 t1",
        ]
    );
    let window = Notification::new()
        .window(at(HOUR + 1), at(2 * HOUR + 1))
        .unwrap();
    assert_eq!(
        rows(&read(&m, user, &window).await),
        ["post:t1/like actors[jane] 1 1 j1"]
    );
    let since = Notification::new().since(at(2 * HOUR)).unwrap();
    assert_eq!(
        rows(&read(&m, user, &since).await),
        ["post:t1/like actors[jane] 1 1 j1"]
    );
    let empty = Notification::new().window(at(HOUR), at(HOUR)).unwrap();
    assert!(read(&m, user, &empty).await.is_empty());
}
