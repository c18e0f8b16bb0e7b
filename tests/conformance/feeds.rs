//! What a user's network brings into their feed.

use elasticfeeds::{
    Actor, FeedQuery, GroupKey, GroupValue, LinkTarget, Network, Order, Origin, Target,
};

use super::{
    activity, add, at, feed_ids, feed_ids_where, follow_at, link_at, object, person, post,
    watch_at, HitIds, OpenOptions, Raw, Store, DAY, HOUR, MIN, SEC,
};

/// The activities of the Python library's reference scenario (cquiros's a1–a4, edoquiros's b1 and
/// b2), shared by every case that replays it.
pub fn reference_activities() -> Vec<elasticfeeds::Activity> {
    let project = |id: &str| Target::new(id, "project").unwrap();
    vec![
        activity(
            "a1",
            "add",
            person("cquiros"),
            object("A", "project"),
            at(12 * MIN),
        ),
        activity(
            "a2",
            "add",
            person("cquiros"),
            object("B", "project"),
            at(24 * MIN),
        ),
        activity(
            "a3",
            "add",
            person("cquiros"),
            object("F1", "form"),
            at(48 * MIN),
        )
        .with_target(project("A")),
        activity(
            "a4",
            "move",
            person("cquiros"),
            object("F1", "form"),
            at(72 * MIN),
        )
        .with_origin(Origin::new("A", "project").unwrap())
        .with_target(project("B")),
        activity(
            "b1",
            "add",
            person("edoquiros"),
            object("C", "project"),
            at(-365 * DAY),
        ),
        activity(
            "b2",
            "add",
            person("edoquiros"),
            object("F2", "form"),
            at(12 * DAY),
        )
        .with_target(project("C")),
    ]
}

/// The Python library's reference scenario, as a feed-order test.
pub async fn reference_scenario(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "cquiros", "cquiros", at(0)).await;
    follow_at(&m, "cquiros", "edoquiros", at(0)).await;
    watch_at(&m, "cquiros", "A", "project", at(0)).await;

    add(&m, reference_activities()).await;

    assert_eq!(
        feed_ids(&m, "cquiros").await,
        ["b2", "a4", "a3", "a2", "a1"]
    );
    assert_eq!(
        feed_ids_where(&m, "cquiros", |q| Ok(q.order(Order::Asc))).await,
        ["a1", "a2", "a3", "a4", "b2"]
    );

    let by_verb =
        Raw(|network: &Network| FeedQuery::network(network).group_by([(GroupKey::Verb, 10)], 10));
    let feed = m.get_feeds("cquiros", &by_verb).await.unwrap();
    assert_eq!(feed.links_left_out, 0);
    let result = feed.feed;
    assert!(result.hits.is_empty());
    let groups: Vec<(GroupValue, Vec<String>)> = result
        .groups
        .iter()
        .map(|g| {
            let hits = g.hits.iter().map(|h| h.activity.id().unwrap().to_owned());
            (g.value.clone(), hits.collect())
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                GroupValue::Verb("add".into()),
                super::strings(&["b2", "a3", "a2", "a1"])
            ),
            (GroupValue::Verb("move".into()), super::strings(&["a4"])),
        ]
    );
    assert_eq!(result.groups[0].newest, at(12 * DAY));
    assert_eq!(result.groups[1].newest, at(72 * MIN));
    // Grouped activities keep their verb.
    assert!(result.groups[0]
        .hits
        .iter()
        .all(|h| h.activity.verb() == "add"));

    // edoquiros follows nobody: an empty feed, not an error.
    assert!(feed_ids(&m, "edoquiros").await.is_empty());
}

/// An activity published before the link time is not in the feed, to the millisecond.
pub async fn link_time_bound_within_a_second(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(500)).await;
    watch_at(&m, "carlos", "p", "project", at(500)).await;
    add(
        &m,
        vec![
            post("m0", "mark", at(0)),
            post("m499", "mark", at(499)),
            post("m500", "mark", at(500)),
            post("m501", "mark", at(501)),
            activity(
                "p499",
                "add",
                person("ann"),
                object("p", "project"),
                at(499),
            ),
            activity(
                "p500",
                "add",
                person("ann"),
                object("p", "project"),
                at(500),
            ),
            post("m_late", "mark", at(HOUR)),
        ],
    )
    .await;
    assert_eq!(
        feed_ids(&m, "carlos").await,
        ["m_late", "m501", "p500", "m500"]
    );
    // The same activities are all there for a search that ignores the network.
    let all = super::search_ids(&m, FeedQuery::all()).await;
    assert_eq!(all.len(), 7);
}

/// A watch matches the watched entity as object or as target, never as origin (nor as actor,
/// nor another type with the same id).
pub async fn watch_matches_object_or_target_not_origin(store: &dyn Store) {
    let m = store.fresh().await;
    watch_at(&m, "carlos", "A", "project", at(0)).await;
    // An inbox: ann watches herself, so activities addressed to her reach her.
    watch_at(&m, "ann", "ann", "person", at(0)).await;
    let project = |id: &str| Target::new(id, "project").unwrap();
    add(
        &m,
        vec![
            activity("w1", "add", person("ann"), object("A", "project"), at(SEC)),
            activity("w2", "add", person("ann"), object("F", "form"), at(2 * SEC))
                .with_target(project("A")),
            activity(
                "w3",
                "move",
                person("ann"),
                object("F", "form"),
                at(3 * SEC),
            )
            .with_origin(Origin::new("A", "project").unwrap())
            .with_target(project("B")),
            activity("w4", "add", person("ann"), object("A", "team"), at(4 * SEC)),
            activity("w5", "add", person("ann"), object("A", "project"), at(-1)),
            activity(
                "n1",
                "mention",
                person("bob"),
                object("c1", "comment"),
                at(5 * SEC),
            )
            .with_target(Target::new("ann", "person").unwrap()),
            activity(
                "n2",
                "like",
                person("bob"),
                object("ann", "person"),
                at(6 * SEC),
            ),
        ],
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["w2", "w1"]);
    // Ann's own activities (she is their actor) are not in her inbox.
    assert_eq!(feed_ids(&m, "ann").await, ["n2", "n1"]);
}

/// An activity matched by several links appears once; each link keeps its own time bound.
pub async fn several_links_match_once(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    watch_at(&m, "carlos", "p", "post", at(0)).await;
    watch_at(&m, "carlos", "q", "project", at(0)).await;
    // A second follow link type to the same actor.
    link_at(
        &m,
        "carlos",
        "favorite",
        LinkTarget::actor("mark", "person").unwrap(),
        at(0),
    )
    .await;
    follow_at(&m, "carlos", "late", at(10 * SEC)).await;
    add(
        &m,
        vec![
            activity("x", "add", person("mark"), object("p", "post"), at(SEC))
                .with_target(Target::new("q", "project").unwrap()),
            // Object and target are the same watched entity.
            activity(
                "y",
                "add",
                person("ann"),
                object("q", "project"),
                at(2 * SEC),
            )
            .with_target(Target::new("q", "project").unwrap()),
            // Before "late" was followed, but the watch of p reaches it.
            activity("z", "add", person("late"), object("p", "post"), at(3 * SEC)),
            // Before "late" was followed, and nothing else reaches it.
            post("zz", "late", at(4 * SEC)),
            post("zzz", "late", at(11 * SEC)),
        ],
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["zzz", "z", "y", "x"]);
    // Also across pages: nothing repeats.
    let mut seen = Vec::new();
    let mut bound = None;
    loop {
        let (page, next) = super::feed_page(&m, "carlos", 1, Order::Desc, bound).await;
        seen.extend(page);
        match next {
            Some(next) => bound = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["zzz", "z", "y", "x"]);
}

/// Following `person:mark` does not bring in `bot:mark`.
pub async fn actor_type_must_match(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    let bot = || Actor::new("mark", "bot").unwrap();
    add(
        &m,
        vec![
            post("p1", "mark", at(SEC)),
            activity("b1", "post", bot(), object("b1", "post"), at(2 * SEC)),
            activity("b2", "post", bot(), object("b2", "post"), at(4 * SEC)),
        ],
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["p1"]);
    link_at(
        &m,
        "carlos",
        "follow",
        LinkTarget::actor("mark", "bot").unwrap(),
        at(3 * SEC),
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["b2", "p1"]);
}

/// No links: an empty feed, not an error; links that match nothing: empty too.
pub async fn empty_network_empty_feed(store: &dyn Store) {
    let m = store.fresh().await;
    let flat = HitIds(|network: &Network| Ok(FeedQuery::network(network)));
    let grouped =
        Raw(|network: &Network| FeedQuery::network(network).group_by([(GroupKey::Verb, 10)], 10));
    // An empty store.
    let feed = m.get_feeds("nobody", &flat).await.unwrap();
    assert!(feed.feed.is_empty());
    assert_eq!(feed.links_left_out, 0);

    add(&m, vec![post("p1", "mark", at(SEC))]).await;
    let feed = m.get_feeds("nobody", &flat).await.unwrap();
    assert!(feed.feed.is_empty());
    let feed = m.get_feeds("nobody", &grouped).await.unwrap().feed;
    assert!(feed.groups.is_empty() && feed.hits.is_empty() && !feed.more);

    follow_at(&m, "carlos", "ghost", at(0)).await;
    watch_at(&m, "carlos", "nothing", "project", at(0)).await;
    assert!(m.get_feeds("carlos", &flat).await.unwrap().feed.is_empty());
    let feed = m.get_feeds("carlos", &grouped).await.unwrap().feed;
    assert!(feed.groups.is_empty());
    // Following mark after his only activity: still nothing.
    follow_at(&m, "carlos", "mark", at(2 * SEC)).await;
    assert!(feed_ids(&m, "carlos").await.is_empty());
}

/// A network larger than `max_link_size` is cut to its newest links, and the feed says so.
pub async fn max_link_size_reported(store: &dyn Store) {
    let name = store.new_name();
    let m = store
        .open(&name, OpenOptions::max_link_size(2))
        .await
        .unwrap();
    assert_eq!(m.max_link_size(), 2);
    follow_at(&m, "carlos", "ann", at(0)).await;
    follow_at(&m, "carlos", "bob", at(SEC)).await;
    follow_at(&m, "carlos", "cat", at(2 * SEC)).await;
    add(
        &m,
        vec![
            post("ann1", "ann", at(HOUR)),
            post("bob1", "bob", at(HOUR + 1)),
            post("cat1", "cat", at(HOUR + 2)),
        ],
    )
    .await;

    let network = m.network("carlos").await.unwrap();
    assert_eq!(network.total(), 3);
    let links = network.links().unwrap();
    let followed: Vec<&str> = links.iter().map(|l| l.target().id.as_str()).collect();
    assert_eq!(followed, ["cat", "bob"]);
    assert_eq!(network.left_out(), 1);
    assert_eq!(m.following_count("carlos").await.unwrap(), 3);

    let flat = HitIds(|network: &Network| Ok(FeedQuery::network(network)));
    let feed = m.get_feeds("carlos", &flat).await.unwrap();
    assert_eq!(feed.links_left_out, 1);
    assert_eq!(feed.feed, ["cat1", "bob1"]);

    // A network within the limit reports nothing left out.
    follow_at(&m, "dora", "ann", at(0)).await;
    let feed = m.get_feeds("dora", &flat).await.unwrap();
    assert_eq!(feed.links_left_out, 0);
    assert_eq!(feed.feed, ["ann1"]);
}

/// A feed limited to some verbs.
pub async fn verb_filter(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    add(
        &m,
        vec![
            activity("v1", "post", person("mark"), object("o1", "post"), at(SEC)),
            activity(
                "v2",
                "like",
                person("mark"),
                object("o1", "post"),
                at(2 * SEC),
            ),
            activity(
                "v3",
                "share",
                person("mark"),
                object("o1", "post"),
                at(3 * SEC),
            ),
            activity(
                "v4",
                "Post",
                person("mark"),
                object("o2", "post"),
                at(4 * SEC),
            ),
            activity(
                "v5",
                "like",
                person("ann"),
                object("o1", "post"),
                at(5 * SEC),
            ),
        ],
    )
    .await;
    let verbs = |verbs: &'static [&'static str]| move |q: FeedQuery| q.verbs(verbs);
    assert_eq!(
        feed_ids_where(&m, "carlos", verbs(&["post"])).await,
        ["v4", "v1"]
    );
    assert_eq!(
        feed_ids_where(&m, "carlos", verbs(&["LIKE", "share"])).await,
        ["v3", "v2"]
    );
    assert!(feed_ids_where(&m, "carlos", verbs(&["delete"]))
        .await
        .is_empty());
    assert_eq!(
        feed_ids_where(&m, "carlos", verbs(&[])).await,
        ["v4", "v3", "v2", "v1"]
    );
}

/// Unfollowing takes an actor's activities out of the feed; following again starts at the new
/// link time.
pub async fn unfollow_removes_from_feed(store: &dyn Store) {
    let m = store.fresh().await;
    follow_at(&m, "carlos", "mark", at(0)).await;
    follow_at(&m, "carlos", "ann", at(0)).await;
    add(
        &m,
        vec![
            post("m1", "mark", at(SEC)),
            post("a1", "ann", at(2 * SEC)),
            post("m2", "mark", at(3 * SEC)),
        ],
    )
    .await;
    assert_eq!(feed_ids(&m, "carlos").await, ["m2", "a1", "m1"]);
    m.unfollow("carlos", "mark").await.unwrap();
    assert_eq!(feed_ids(&m, "carlos").await, ["a1"]);
    follow_at(&m, "carlos", "mark", at(2 * SEC)).await;
    assert_eq!(feed_ids(&m, "carlos").await, ["m2", "a1"]);
}
