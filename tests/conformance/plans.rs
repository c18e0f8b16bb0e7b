//! Feed pages against a brute force: whatever plan a backend uses to read a feed (scans,
//! posting lists, hashes, early stops), its pages must be exactly what filtering and sorting
//! every activity in plain Rust gives.

use std::collections::HashSet;

use elasticfeeds::{Link, LinkClass, LinkTarget, Manager, Order};

use super::{at, feed_page, reaches, Made, Mix, Posting, Random, Rules, Store, SEC};

/// Power-law data (a few accounts post most activities, the quiet half almost nothing), whole
/// seconds so many activities share a millisecond, per-link "since" times, watches reaching
/// comments through their target, an actor type clash (a bot with a followed person's id),
/// segments of different sizes, removed activities and removed links. For readers of busy accounts, of
/// quiet accounts (one whose whole feed is under 20 activities), of 300 accounts, and with late
/// links, every page newest first and oldest first equals the brute force.
pub async fn pages_match_brute_force(store: &dyn Store) {
    const ACCOUNTS: f64 = 400.0;
    let m = store.fresh().await;
    let mut random = Random(11);
    let mut made: Vec<Made> = Vec::new();
    let mut posting = Posting::default();
    // Segments of 10,000, 10,000 and 1,000 activities: larger than a backend's first scan
    // of a segment is likely to be, so sparse readers go on to other plans inside a segment.
    let mut n = 0;
    for batch_size in [10_000, 10_000, 1_000] {
        let mut activities = Vec::new();
        for _ in 0..batch_size {
            n += 1;
            // Cubic skew: u0 posts hundreds of times, u399 about fifteen times.
            let mut u = (random.unit().powi(3) * ACCOUNTS) as usize;
            if n % 1_000 == 500 {
                // Seven quiet accounts, u1000 to u1006, with three activities each, far apart.
                u = 1_000 + (n / 1_000) % 7;
            }
            let kind = if u < 30 && n % 7 == 0 {
                "bot"
            } else {
                "person"
            };
            let published = random.below(4_000) as i64 * SEC;
            let (one, activity) = posting.activity(
                format!("a{n:05}"),
                (format!("u{u}"), kind),
                published,
                &Mix { posts: 6, likes: 2 },
                &mut random,
                |random, posts| random.below(posts as u64) as usize,
            );
            made.push(one);
            activities.push(activity);
        }
        // Each batch is its own commit, so the store has several segments.
        for result in m.add_activities(activities).await.unwrap() {
            result.unwrap();
        }
    }
    // Removals, spread over the segments.
    let mut removed = HashSet::new();
    while removed.len() < 300 {
        let victim = made[random.below(made.len() as u64) as usize].id.clone();
        if removed.insert(victim.clone()) {
            m.remove_activity(&victim).await.unwrap();
        }
    }

    let span = 4_000 * SEC as u64;
    let mut readers: Vec<(&str, Rules)> = Vec::new();
    let rules = |follows: &mut dyn Iterator<Item = usize>,
                 kind: &str,
                 watches: usize,
                 late: bool,
                 random: &mut Random| {
        let mut out: Rules = Vec::new();
        let since = |random: &mut Random| {
            let t = random.below(span) as i64;
            if late {
                span as i64 - t / 10
            } else {
                t
            }
        };
        for u in follows {
            out.push((
                LinkClass::Actor,
                (format!("u{u}"), kind.to_owned()),
                since(random),
            ));
        }
        for _ in 0..watches {
            let posts = &posting.posts;
            let post = posts[random.below(posts.len() as u64) as usize].clone();
            if !out.iter().any(|(_, (id, _), _)| *id == post) {
                out.push((LinkClass::Object, (post, "post".to_owned()), since(random)));
            }
        }
        out
    };
    let mut busy = rules(&mut (0..10), "person", 3, false, &mut random);
    // A bot shares a followed person's id; only this link reaches the bot's activities.
    busy.extend(rules(&mut [3].into_iter(), "bot", 0, false, &mut random));
    readers.push(("busy", busy));
    readers.push((
        "wide",
        rules(&mut (0..300), "person", 10, false, &mut random),
    ));
    readers.push((
        "quiet",
        rules(&mut (1_000..1_007), "person", 1, false, &mut random),
    ));
    readers.push((
        "quiet-many",
        rules(&mut (200..400), "person", 0, false, &mut random),
    ));
    readers.push(("late", rules(&mut (0..5), "person", 2, true, &mut random)));
    for (reader, rules) in &readers {
        let links = rules
            .iter()
            .map(|(class, (id, kind), since)| {
                let target = match class {
                    LinkClass::Actor => LinkTarget::actor(id, kind),
                    LinkClass::Object => LinkTarget::object(id, kind),
                }
                .unwrap();
                let link_type = if *class == LinkClass::Actor {
                    "follow"
                } else {
                    "watch"
                };
                Link::new(reader, link_type, target)
                    .unwrap()
                    .linked_at(at(*since))
                    .unwrap()
            })
            .collect();
        for result in m.add_links(links).await.unwrap() {
            result.unwrap();
        }
    }
    // Unfollowing takes an account's activities out of the feed.
    let (_, wide) = &mut readers[1];
    for (_, (id, _), _) in wide.drain(..2) {
        m.unfollow("wide", &id).await.unwrap();
    }

    for (reader, rules) in &readers {
        let mut expected: Vec<(i64, &str)> = made
            .iter()
            .filter(|a| !removed.contains(&a.id) && reaches(rules, a))
            .map(|a| (a.published, a.id.as_str()))
            .collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
        match *reader {
            "quiet" => assert!(
                (1..20).contains(&expected.len()),
                "the quiet reader's whole feed is under one page: {}",
                expected.len()
            ),
            "wide" => assert!(expected.len() > 2_000, "{}", expected.len()),
            _ => assert!(!expected.is_empty(), "{reader}"),
        }

        // Newest first: pages of 20 (the first 15 checked one by one), then pages of 250.
        let pages = walk(&m, reader, Order::Desc, 20, 15, 250).await;
        for (n, page) in pages.iter().enumerate().take(15) {
            let start = (n * 20).min(expected.len());
            let end = (start + 20).min(expected.len());
            assert_eq!(*page, expected[start..end], "{reader}: page {n}");
        }
        assert_eq!(pages.concat(), expected, "{reader}: the whole feed");

        // Oldest first, pages of 250.
        let mut oldest_first = expected.clone();
        oldest_first.reverse();
        let pages = walk(&m, reader, Order::Asc, 250, 0, 250).await;
        assert_eq!(pages.concat(), oldest_first, "{reader}: oldest first");
    }
}

/// Reads a feed to its end: `first` pages of `size`, then pages of `rest`, each starting where
/// the last ended.
async fn walk(
    m: &Manager,
    reader: &str,
    order: Order,
    size: usize,
    first: usize,
    rest: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut bound = None;
    loop {
        let size = if pages.len() < first { size } else { rest };
        let (page, next) = feed_page(m, reader, size, order, bound).await;
        pages.push(page);
        match next {
            Some(next) => bound = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 2_000, "{reader}: the cursor does not advance");
    }
}
