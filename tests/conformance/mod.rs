//! The conformance suite: what every backend must do, written only against the public API of
//! `elasticfeeds` (through [`Manager`]).
//!
//! Each case is a plain `pub async fn case(store: &dyn Store)`. A test crate per backend includes
//! this module (as `mod suite`, see `tests/embedded.rs`), implements [`Store`] for its backend
//! and emits one test per case with [`conformance_suite!`], inside a module named `conformance`,
//! so that `cargo test conformance` runs exactly the suite.
//!
//! A case never asks which backend it runs on. What only some backends can do (open a store
//! again after its `Manager` is gone, refuse a second writer, open read-only beside a writer)
//! comes in as [`Capabilities`]; a case that needs a capability the store lacks says so on
//! stderr and passes.
//!
//! No case depends on the wall clock: every activity and link carries a fixed time from
//! [`t0`] = 2026-01-01T00:00:00Z (links made with `follow`/`watch` are stamped "now", so cases
//! that read feeds make their links with [`Link::linked_at`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use elasticfeeds::{
    Activity, Actor, Aggregator, Bound, EmbeddingSpace, FeedContext, FeedQuery, FeedResult, Link,
    LinkTarget, Manager, Network, Object, Order, Result, Target,
};

/// Asserts that an expression is `Err` matching a pattern (an [`elasticfeeds::Error`] variant),
/// and shows what it was otherwise.
macro_rules! assert_err {
    ($expr:expr, $pattern:pat $(if $guard:expr)?) => {
        match $expr {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "{}: expected Err({}), got {:?}",
                stringify!($expr),
                stringify!($pattern),
                other
            ),
        }
    };
}

pub mod activities;
pub mod aggregators;
pub mod concurrency;
pub mod durability;
pub mod feeds;
pub mod grouping;
pub mod links;
pub mod pages;
pub mod plans;
pub mod ranking;
pub mod search;
pub mod semantic;
pub mod shaping;
pub mod validation;

/// What a store can do beyond what every backend does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities {
    /// The store outlives its `Manager`: opening the same name again (after a drop or
    /// [`Manager::close`]) finds everything written before. True on disk and on a cluster;
    /// false for a store in RAM.
    pub reopen: bool,
    /// One writer at a time: opening a store for writing while another `Manager` holds it is
    /// [`elasticfeeds::Error::StoreLocked`].
    pub single_writer: bool,
    /// A read-only open (`ManagerBuilder::read_only`) works beside the writer and sees its
    /// commits on its next read.
    pub read_only: bool,
}

/// How a case wants a store opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// `ManagerBuilder::max_link_size`; `None` keeps the default.
    pub max_link_size: Option<usize>,
    /// `ManagerBuilder::read_only`.
    pub read_only: bool,
    /// `ManagerBuilder::feeds_index`, used as given (cases pass only names that must be
    /// refused); `None` lets the store choose.
    pub feeds_index: Option<String>,
    /// `ManagerBuilder::network_index`, like `feeds_index`.
    pub network_index: Option<String>,
    /// `ManagerBuilder::embeddings`; `None` opens without giving a space.
    pub embeddings: Option<EmbeddingSpace>,
}

impl OpenOptions {
    /// Applies the options every store takes from a builder (index names only when given, so
    /// a store may name its indices first).
    pub fn configure(
        self,
        mut builder: elasticfeeds::ManagerBuilder,
    ) -> elasticfeeds::ManagerBuilder {
        if let Some(max_link_size) = self.max_link_size {
            builder = builder.max_link_size(max_link_size);
        }
        if let Some(name) = &self.feeds_index {
            builder = builder.feeds_index(name);
        }
        if let Some(name) = &self.network_index {
            builder = builder.network_index(name);
        }
        if let Some(space) = self.embeddings {
            builder = builder.embeddings(space);
        }
        builder.read_only(self.read_only)
    }

    /// Default options with this `max_link_size`.
    pub fn max_link_size(max_link_size: usize) -> Self {
        OpenOptions {
            max_link_size: Some(max_link_size),
            ..OpenOptions::default()
        }
    }

    /// Default options with this embedding space.
    pub fn embeddings(space: EmbeddingSpace) -> Self {
        OpenOptions {
            embeddings: Some(space),
            ..OpenOptions::default()
        }
    }

    /// Default options, read-only.
    pub fn read_only() -> Self {
        OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        }
    }
}

/// A backend under test: hands out stores, each case its own.
#[async_trait]
pub trait Store: Send + Sync {
    /// What this store can do beyond what every backend does.
    fn capabilities(&self) -> Capabilities;

    /// Names a new, empty store (a directory under a temporary root, or index names unique to
    /// the run on a cluster). Every call returns a different name.
    fn new_name(&self) -> String;

    /// Opens the store `name` (creating it when it is new) with these options. Opening the same
    /// name again opens the same store where [`Capabilities::reopen`] holds. Cases read right
    /// after they write, batches included, so a store whose backend can acknowledge a write
    /// before it is visible opens with [`elasticfeeds::Refresh::Wait`].
    async fn open(&self, name: &str, options: OpenOptions) -> Result<Manager>;

    /// A new, empty store with default options.
    async fn fresh(&self) -> Manager {
        let name = self.new_name();
        self.open(&name, OpenOptions::default())
            .await
            .expect("open a fresh store")
    }
}

/// Emits one `#[tokio::test]` per listed case, one module per area, each on a store made by
/// `$store` (an expression evaluated afresh for every test; use absolute paths in it).
///
/// The includer must declare this module as `mod suite` at the root of its test crate.
macro_rules! conformance_cases {
    ($store:expr => $( $area:ident : [ $($case:ident),* $(,)? ] ),* $(,)?) => {
        $(
            mod $area {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let store = $store;
                        crate::suite::$area::$case(&store).await;
                    }
                )*
            }
        )*
    };
}
pub(crate) use conformance_cases;

/// Emits the whole suite on a store made by `$store` (see [`conformance_cases!`]).
macro_rules! conformance_suite {
    ($store:expr) => {
        crate::suite::conformance_cases!($store =>
            validation: [
                invalid_ids,
                invalid_keywords,
                invalid_extra,
                invalid_weight,
                invalid_link_class,
                invalid_timestamps,
                invalid_sizes,
                invalid_index_names,
                invalid_cursors,
                invalid_queries,
                public_fields_are_validated,
            ],
            links: [
                follow_twice_is_link_exists,
                remove_missing_is_link_not_found,
                follow_and_watch_are_different_links,
                follow_as_another_type,
                update_link_keeps_link_time,
                add_links_reports_per_item,
                network_newest_first,
                followers_newest_first_with_counts,
            ],
            activities: [
                round_trip,
                refresh_choices_store_alike,
                generated_ids,
                replace_same_actor,
                conflict_other_actor,
                batch_conflict_in_the_middle,
                get_and_remove,
                erase_actor,
            ],
            feeds: [
                reference_scenario,
                link_time_bound_within_a_second,
                watch_matches_object_or_target_not_origin,
                several_links_match_once,
                actor_type_must_match,
                empty_network_empty_feed,
                max_link_size_reported,
                verb_filter,
                unfollow_removes_from_feed,
            ],
            plans: [
                pages_match_brute_force,
            ],
            pages: [
                order_desc_and_asc_with_ties,
                search_pages_with_cursor,
                feed_pages_with_cursor,
                newer_than_position,
                older_than_position_ascending,
            ],
            shaping: [
                collapse_keeps_newest_per_key,
                exclusions_mute_and_hide,
                time_window_bounds,
                erase_actor_removes_watches_of_them,
            ],
            grouping: [
                levels_ordered_by_newest,
                explicit_sizes_respected,
                year_filter,
                metrics_exact,
                metrics_exact_by_entity,
                calendar_under_other_levels,
            ],
            search: [
                filters,
                order_size_cursor,
            ],
            semantic: [
                nearest_within_the_network,
                across_all_activities,
                ties_and_near_ties,
                one_score_scale_per_similarity,
                invalid_vectors_change_nothing,
                invalid_semantic_reads,
                stores_without_embeddings,
                embedding_space_is_recorded,
                survives_reopen_and_merges,
                replaced_embeddings,
                read_only_sees_new_embeddings,
                matches_brute_force,
            ],
            ranking: [
                link_weight_flat,
                decay_flat,
                grouped_link_weight_by_day,
                group_limit_keeps_first_groups,
                collapse_pages_show_each_key_once,
                ranking_queries_validated,
            ],
            concurrency: [
                concurrent_follows_one_wins,
                concurrent_unfollows_one_wins,
                concurrent_replaces_leave_one_document,
                concurrent_conflicting_ids_one_wins,
                concurrent_adds_lose_nothing,
            ],
            aggregators: [
                reference_scenario,
                cursor_paging_survives_writes,
                aggregator_edge_cases,
            ],
            durability: [
                reopen_after_drop,
                reopen_after_close,
                second_writer_is_locked,
                read_only_beside_writer,
            ],
        );
    };
}
pub(crate) use conformance_suite;

// ----- fixtures -------------------------------------------------------------------------------

/// Writes a line to the process's stderr, where a passing test's output still shows.
///
/// Not `eprintln!`: the test harness captures that and shows it only for failing tests, and a
/// skipped case passes.
pub fn notice(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Says on stderr that a case did not run on this store, and why (it then passes).
pub fn skip(case: &str, why: &str) {
    notice(&format!("conformance {case}: skipped, this store {why}"));
}

/// 2026-01-01T00:00:00Z, the time every case counts from.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// `t0` plus `n` milliseconds (negative: before).
pub fn at(n: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(n)
}

/// One second, in milliseconds.
pub const SEC: i64 = 1_000;
/// One minute, in milliseconds.
pub const MIN: i64 = 60 * SEC;
/// One hour, in milliseconds.
pub const HOUR: i64 = 60 * MIN;
/// One day, in milliseconds.
pub const DAY: i64 = 24 * HOUR;

/// The actor `person:id`.
pub fn person(id: &str) -> Actor {
    Actor::new(id, "person").unwrap()
}

/// A small deterministic generator (SplitMix64), so cases need no crate and are the same on
/// every run.
pub struct Random(pub u64);

impl Random {
    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.bits() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A vector of `dimensions` values in `[-1, 1)`, never all zero.
    pub fn vector(&mut self, dimensions: usize) -> Vec<f32> {
        loop {
            let v: Vec<f32> = (0..dimensions)
                .map(|_| (self.unit() * 2.0 - 1.0) as f32)
                .collect();
            if v.iter().any(|x| *x != 0.0) {
                return v;
            }
        }
    }
}

/// An activity as a brute-force case wrote it, kept to compute expected results in plain Rust.
pub struct Made {
    /// The activity's id.
    pub id: String,
    /// `(id, type)` of the actor.
    pub actor: (String, String),
    /// `(id, type)` of the object.
    pub object: (String, String),
    /// `(id, type)` of the target, if any.
    pub target: Option<(String, String)>,
    /// Milliseconds from [`t0`].
    pub published: i64,
    /// The embedding, if any.
    pub vector: Option<Vec<f32>>,
}

/// The verb mix of [`Posting::activity`], in tenths: posts, then likes; comments the rest.
pub struct Mix {
    /// Tenths of activities that are posts.
    pub posts: u64,
    /// Tenths that like an earlier post.
    pub likes: u64,
}

/// Generates the activities of a brute-force case: posts, likes of earlier posts and comments
/// targeting earlier posts (each post's id is its own object's).
#[derive(Default)]
pub struct Posting {
    /// The posts so far, as object ids.
    pub posts: Vec<String>,
}

impl Posting {
    /// Activity `id` by `actor`, published `published` ms from [`t0`], its verb drawn from `mix`
    /// (a post's or comment's object is `p`/`c` and the id without its first letter), a liked
    /// or commented post chosen by `pick` among the posts so far (given their count). Returns
    /// the activity and what the brute force knows of it.
    pub fn activity(
        &mut self,
        id: String,
        actor: (String, &str),
        published: i64,
        mix: &Mix,
        random: &mut Random,
        pick: impl FnOnce(&mut Random, usize) -> usize,
    ) -> (Made, Activity) {
        let n = &id[1..];
        let choice = random.below(10);
        let (verb, object, target) = if self.posts.is_empty() || choice < mix.posts {
            self.posts.push(format!("p{n}"));
            ("post", (format!("p{n}"), "post"), None)
        } else {
            let post = self.posts[pick(random, self.posts.len())].clone();
            if choice < mix.posts + mix.likes {
                ("like", (post, "post"), None)
            } else {
                (
                    "comment",
                    (format!("c{n}"), "comment"),
                    Some((post, "post")),
                )
            }
        };
        let mut activity = Activity::new(
            verb,
            Actor::new(&actor.0, actor.1).unwrap(),
            Object::new(&object.0, object.1).unwrap(),
        )
        .unwrap()
        .with_id(&id)
        .unwrap()
        .published_at(at(published))
        .unwrap();
        if let Some((target_id, target_kind)) = &target {
            activity = activity.with_target(Target::new(target_id, target_kind).unwrap());
        }
        let made = Made {
            id,
            actor: (actor.0, actor.1.to_owned()),
            object: (object.0, object.1.to_owned()),
            target: target.map(|(id, kind)| (id, kind.to_owned())),
            published,
            vector: None,
        };
        (made, activity)
    }
}

/// A reader's links as a brute force sees them: class, entity `(id, type)`, since (ms from
/// [`t0`]). The rules are the design's, written out independently of any backend.
pub type Rules = Vec<(elasticfeeds::LinkClass, (String, String), i64)>;

/// Whether any of `rules` reaches `a`: an actor link its actor, an object link its object or
/// target, never before the link's time.
pub fn reaches(rules: &Rules, a: &Made) -> bool {
    rules.iter().any(|(class, entity, since)| {
        a.published >= *since
            && match class {
                elasticfeeds::LinkClass::Actor => a.actor == *entity,
                elasticfeeds::LinkClass::Object => {
                    a.object == *entity || a.target.as_ref() == Some(entity)
                }
            }
    })
}

/// The object `kind:id`.
pub fn object(id: &str, kind: &str) -> Object {
    Object::new(id, kind).unwrap()
}

/// An activity with its own id, published at `published`.
pub fn activity(
    id: &str,
    verb: &str,
    actor: Actor,
    object: Object,
    published: DateTime<Utc>,
) -> Activity {
    Activity::new(verb, actor, object)
        .unwrap()
        .with_id(id)
        .unwrap()
        .published_at(published)
        .unwrap()
}

/// `person:actor` did `post` to `post:id` at `published`, as activity `id`.
pub fn post(id: &str, actor: &str, published: DateTime<Utc>) -> Activity {
    activity(id, "post", person(actor), object(id, "post"), published)
}

/// Adds activities in one batch and asserts every one was stored.
pub async fn add(manager: &Manager, activities: Vec<Activity>) {
    let expected: Vec<String> = activities
        .iter()
        .map(|a| a.id().expect("fixture activities carry ids").to_owned())
        .collect();
    let results = manager.add_activities(activities).await.unwrap();
    let stored: Vec<String> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(stored, expected);
}

/// Stores a link of `link_type` from `user` to `target`, made at `linked`.
pub async fn link_at(
    manager: &Manager,
    user: &str,
    link_type: &str,
    target: LinkTarget,
    linked: DateTime<Utc>,
) -> Link {
    let link = Link::new(user, link_type, target)
        .unwrap()
        .linked_at(linked)
        .unwrap();
    manager.add_link(link).await.unwrap()
}

/// `user` follows `person:followed` since `linked`.
pub async fn follow_at(manager: &Manager, user: &str, followed: &str, linked: DateTime<Utc>) {
    let target = LinkTarget::actor(followed, "person").unwrap();
    link_at(manager, user, "follow", target, linked).await;
}

/// `user` watches `kind:id` since `linked`.
pub async fn watch_at(manager: &Manager, user: &str, id: &str, kind: &str, linked: DateTime<Utc>) {
    let target = LinkTarget::object(id, kind).unwrap();
    link_at(manager, user, "watch", target, linked).await;
}

/// The ids of activities, in order.
pub fn ids(activities: &[Activity]) -> Vec<String> {
    activities
        .iter()
        .map(|a| a.id().expect("stored activities have ids").to_owned())
        .collect()
}

/// `["a", "b"]` as owned strings, for comparing with [`ids`].
pub fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// The ids a search finds on one (large) page.
pub async fn search_ids(manager: &Manager, query: FeedQuery) -> Vec<String> {
    let page = manager
        .search(query.page_size(10_000).unwrap())
        .await
        .unwrap();
    assert_eq!(
        page.next_cursor, None,
        "a 10,000 page holds everything here"
    );
    ids(&page.activities)
}

/// Every stored activity, newest first.
pub async fn all_activities(manager: &Manager) -> Vec<Activity> {
    let page = manager
        .search(FeedQuery::all().page_size(10_000).unwrap())
        .await
        .unwrap();
    assert_eq!(page.next_cursor, None);
    page.activities
}

/// The ids of `user`'s newest-first feed (one large page).
pub async fn feed_ids(manager: &Manager, user: &str) -> Vec<String> {
    feed_ids_where(manager, user, Ok).await
}

/// The ids of `user`'s feed, with the query adjusted by `adjust` (one large page unless
/// `adjust` sets a size).
pub async fn feed_ids_where<F>(manager: &Manager, user: &str, adjust: F) -> Vec<String>
where
    F: Fn(FeedQuery) -> Result<FeedQuery> + Send + Sync,
{
    let aggregator =
        HitIds(move |network: &Network| adjust(FeedQuery::network(network).page_size(1_000)?));
    manager.get_feeds(user, &aggregator).await.unwrap().feed
}

/// A test aggregator: the query is whatever the closure builds; the output is the hit ids.
pub struct HitIds<F>(pub F);

impl<F> Aggregator for HitIds<F>
where
    F: Fn(&Network) -> Result<FeedQuery> + Send + Sync,
{
    type Output = Vec<String>;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        (self.0)(feed.network())
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<Vec<String>> {
        Ok(result
            .hits
            .iter()
            .map(|hit| hit.activity.id().unwrap_or_default().to_owned())
            .collect())
    }
}

/// A test aggregator: the query is whatever the closure builds; the output is the backend's
/// result as it came.
pub struct Raw<F>(pub F);

impl<F> Aggregator for Raw<F>
where
    F: Fn(&Network) -> Result<FeedQuery> + Send + Sync,
{
    type Output = FeedResult;

    fn query(&self, feed: &FeedContext<'_>) -> Result<FeedQuery> {
        (self.0)(feed.network())
    }

    fn shape(&self, result: FeedResult, _feed: &FeedContext<'_>) -> Result<FeedResult> {
        Ok(result)
    }
}

/// One page of `user`'s feed, of `size`, in `order`, from `bound`; with the bound of the next
/// page when there is one.
pub async fn feed_page(
    manager: &Manager,
    user: &str,
    size: usize,
    order: Order,
    bound: Option<Bound>,
) -> (Vec<String>, Option<Bound>) {
    let query_bound = bound.clone();
    let aggregator = Raw(move |network: &Network| {
        let mut query = FeedQuery::network(network).page_size(size)?.order(order);
        query.page.bound = query_bound.clone();
        Ok(query)
    });
    let result = manager.get_feeds(user, &aggregator).await.unwrap().feed;
    assert!(result.groups.is_empty());
    let next = if result.more {
        Some(Bound::next_after(bound.as_ref(), order, &result.hits).expect("a page with more"))
    } else {
        None
    };
    let page: Vec<Activity> = result.hits.into_iter().map(|h| h.activity).collect();
    (ids(&page), next)
}

/// Sorts activities into feed order: by `published`, ties by id, in `order`.
pub fn sorted(activities: &[Activity], order: Order) -> Vec<Activity> {
    let mut sorted = activities.to_vec();
    sorted.sort_by(|a, b| {
        let key = |x: &Activity| (x.published(), x.id().unwrap_or_default().to_owned());
        match order {
            Order::Desc => key(b).cmp(&key(a)),
            Order::Asc => key(a).cmp(&key(b)),
        }
    });
    sorted
}
