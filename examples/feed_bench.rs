//! # The feed benchmark: a power-law social graph, loaded in bulk, read by every kind of user
//!
//! Generates a deterministic network from a seed, loads it into an on-disk embedded store through
//! the public bulk API, and measures what a feed service cares about. Every figure comes from
//! this one run; it prints one Markdown table and writes it, with the machine it ran on, into
//! the results file (`docs/benchmarks.md`, one section per store size).
//!
//! **The network.**
//! - `--users` accounts (default 100,000). Account `u0` is the most followed: each ordinary user
//!   follows a power-law number of accounts (mean about 15, up to 1,000), chosen with a Zipf
//!   (exponent 1) bias by popularity, so a few accounts are followed by more than 10% of users.
//! - Posting rates follow another power law (Zipf, exponent 1.1) over an order that mostly, but
//!   not strictly, follows popularity: popular accounts tend to post more.
//! - `--activities` activities over two years, in time order, about 2% sharing the previous
//!   one's millisecond: 45% posts, 30% likes and 10% shares of a recent post, 15% comments with
//!   the post as their target.
//! - Every link has a time spread uniformly over the two years, so the "since linked" bound
//!   matters; one user in ten also watches one to three posts (their comments reach them through
//!   the target).
//! - Reader groups of `--group` users each (default 200), fixed by the generator: following 10,
//!   100, 1,000 and 5,000 popularity-biased accounts, and following 100 or 5,000 quiet accounts
//!   only (all in the bottom half of posting rates). Groups up to 1,000 follows also watch two
//!   posts.
//!
//! **The measures.**
//! - bulk ingest (activities/s over the whole load, commits included) and links/s;
//! - the first read after opening the store, each in a fresh process;
//! - per group, one read per user (each sample a different user): `UnAggregated` first page of
//!   20, page 50 through `Cursor` (its cursor fetched untimed), `YearMonthType` (20 groups × 3)
//!   and `Notification` over the last 7 days of data;
//! - write → visible: a post by a followed account, timed from the call until a follower's feed
//!   shows it, while two tasks read feeds without pause;
//! - store size on disk and the process's peak memory.
//!
//! ```text
//! cargo run --release --example feed_bench -- --activities 1000000
//! cargo run --release --example feed_bench -- --activities 1000000 --dir /tmp/f1m --load false
//! ```

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{parse_flags, quantile, value, walk_size, Rng, Zipf};
use elasticfeeds::{
    Activity, Actor, Aggregator, Error, Link, LinkTarget, Manager, Object, Position, Result, Target,
};
use elasticfeeds_aggregators::{Cursor, Notification, UnAggregated, YearMonthType};
use indicatif::{ProgressBar, ProgressStyle};

struct Flags {
    users: usize,
    activities: usize,
    group: usize,
    seed: u64,
    dir: Option<PathBuf>,
    load: bool,
    results: Option<PathBuf>,
    writes: usize,
    /// Internal: time the first read of this user in this (fresh) process, then exit.
    first_read: Option<String>,
}

fn parse_args() -> std::result::Result<Flags, String> {
    let mut f = Flags {
        users: 100_000,
        activities: 100_000,
        group: 200,
        seed: 42,
        dir: None,
        load: true,
        results: Some(PathBuf::from("docs/benchmarks.md")),
        writes: 200,
        first_read: None,
    };
    parse_flags(|flag, text| {
        match flag {
            "--users" => f.users = value(flag, text)?,
            "--activities" => f.activities = value(flag, text)?,
            "--group" => f.group = value(flag, text)?,
            "--seed" => f.seed = value(flag, text)?,
            "--dir" => f.dir = Some(PathBuf::from(text)),
            "--load" => f.load = text != "false",
            "--results" => f.results = (text != "none").then(|| PathBuf::from(text)),
            "--writes" => f.writes = value(flag, text)?,
            "--first-read" => f.first_read = Some(text.to_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if f.users < 20_000 {
        return Err("--users must be at least 20,000 (the 5,000-follow groups need room)".into());
    }
    if f.group == 0 || f.activities == 0 {
        return Err("--group and --activities must be positive".into());
    }
    if !f.load && f.dir.is_none() {
        return Err("--load false needs --dir with a store loaded before".into());
    }
    Ok(f)
}

/// The reader groups: a name, how many accounts each member follows, and from where.
const GROUPS: [(&str, usize, Pool); 6] = [
    ("10 popular", 10, Pool::Popular),
    ("100 popular", 100, Pool::Popular),
    ("1,000 popular", 1_000, Pool::Popular),
    ("5,000 popular", 5_000, Pool::Popular),
    ("100 quiet", 100, Pool::Quiet),
    ("5,000 quiet", 5_000, Pool::Quiet),
];

#[derive(Clone, Copy)]
enum Pool {
    Popular,
    Quiet,
}

fn member(group: usize, i: usize) -> String {
    format!("g{group}-{i}")
}

/// The last millisecond of generated data; windows are fixed here so every run reads the same.
fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

const SPAN_DAYS: i64 = 730;

/// The generated graph: who posts how much, and who follows whom.
struct Graph {
    /// Posting-rate rank → account (rank 0 posts the most).
    by_posting: Vec<u32>,
}

impl Graph {
    fn new(users: usize, rng: &mut Rng) -> Graph {
        // Sort accounts by popularity rank scaled by a random factor of up to 30 either way:
        // popular accounts tend to post more, without the orders being the same.
        let mut keyed: Vec<(f64, u32)> = (0..users as u32)
            .map(|u| {
                let noise = (rng.unit() * 2.0 - 1.0) * 30f64.ln();
                (((u + 1) as f64).ln() + noise, u)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        Graph {
            by_posting: keyed.into_iter().map(|(_, u)| u).collect(),
        }
    }
}

fn link_time(rng: &mut Rng) -> DateTime<Utc> {
    let span = Duration::days(SPAN_DAYS).num_milliseconds() as u64;
    end() - Duration::milliseconds(rng.below(span) as i64)
}

fn follow(user: &str, account: u32, rng: &mut Rng) -> Result<Link> {
    Link::new(
        user,
        "follow",
        LinkTarget::actor(&format!("u{account}"), "person")?,
    )?
    .linked_at(link_time(rng))
}

fn watch(user: &str, post: u32, rng: &mut Rng) -> Result<Link> {
    Link::new(
        user,
        "watch",
        LinkTarget::object(&format!("p{post}"), "post")?,
    )?
    .linked_at(link_time(rng))
}

/// `k` distinct accounts drawn by `draw`.
fn distinct(k: usize, rng: &mut Rng, mut draw: impl FnMut(&mut Rng) -> u32) -> Vec<u32> {
    let mut chosen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(k);
    while out.len() < k {
        let account = draw(rng);
        if chosen.insert(account) {
            out.push(account);
        }
    }
    out
}

#[tokio::main]
async fn main() -> Result<()> {
    let flags = parse_args().map_err(|reason| Error::InvalidQuery { reason })?;
    let scratch = tempfile::tempdir().map_err(|e| Error::backend("example", e))?;
    let dir = flags
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("store"));
    let path = dir.to_string_lossy().into_owned();
    if let Some(user) = &flags.first_read {
        return first_read(&path, user).await;
    }

    let mut rng = Rng(flags.seed);
    let graph = Graph::new(flags.users, &mut rng);
    let mut report = Report::default();
    let mut u0_followers = Vec::new();
    if flags.load {
        load(&flags, &path, &graph, &mut rng, &mut report).await?;
    }
    // The group members who follow `u0` (the write → visible check reads their feeds).
    let mut pick = Rng(flags.seed ^ 0x5eed);
    for (g, (_, follows, pool)) in GROUPS.iter().enumerate() {
        for i in 0..flags.group {
            if matches!(pool, Pool::Popular)
                && group_follows(&graph, *follows, *pool, &mut pick).contains(&0)
            {
                u0_followers.push(member(g, i));
            }
        }
    }

    // # The first read after opening, each in a fresh process.
    let exe = std::env::current_exe().map_err(|e| Error::backend("example", e))?;
    let mut first_reads = Vec::new();
    for i in 0..5 {
        let out = Command::new(&exe)
            .args(["--dir", &path, "--first-read", &member(2, i)])
            .output()
            .map_err(|e| Error::backend("example", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ms: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("first-read-ms "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| Error::backend("example", format!("child said: {text}")))?;
        first_reads.push(StdDuration::from_secs_f64(ms / 1e3));
    }
    first_reads.sort();
    report.rows.push(Row::timed(
        "first read after opening (UnAggregated, 1,000 popular), fresh process",
        &first_reads,
    ));

    // # Reads, in a fresh Manager.
    let manager = Manager::open(&path).await?;
    let bar = bar(
        (GROUPS.len() * flags.group * 4) as u64,
        "reading feeds (4 measures x 6 groups)",
    );
    let flat = UnAggregated::new();
    let grouped = YearMonthType::new().hits_per_group(3)?;
    let notifications = Notification::new().window(end() - Duration::days(7), end())?;
    // Untimed warm-up on an ordinary user, so the first timed sample is not the process's first.
    for aggregator in [&flat as &dyn Probe, &grouped, &notifications] {
        aggregator.read(&manager, "u1").await?;
    }
    let mut page_sizes = Vec::new();
    for (g, (name, ..)) in GROUPS.iter().enumerate() {
        let mut first = Vec::new();
        let mut page50 = Vec::new();
        let mut ymt = Vec::new();
        let mut notes = Vec::new();
        let mut returned = 0;
        for i in 0..flags.group {
            let user = member(g, i);
            let started = Instant::now();
            let page = manager.get_feeds(&user, &flat).await?;
            first.push(started.elapsed());
            returned += page.feed.len();
            ymt.push(grouped.read(&manager, &user).await?);
            notes.push(notifications.read(&manager, &user).await?);
            // Page 50 through its cursor. The cursor is fetched untimed: the 960th activity
            // from one page of 960, then page 49 read from there, which hands out page 50's.
            let deep = UnAggregated::new().page_size(960)?;
            let page = manager.get_feeds(&user, &deep).await?.feed;
            if let Some(position) = page.get(959).and_then(Position::of) {
                let page49 = Cursor::new(UnAggregated::new().older_than(position));
                let token = manager.get_feeds(&user, &page49).await?.feed.next_cursor;
                if let Some(token) = token {
                    let cursor = Cursor::new(UnAggregated::new()).after(&token);
                    let started = Instant::now();
                    manager.get_feeds(&user, &cursor).await?;
                    page50.push(started.elapsed());
                }
            }
            bar.inc(4);
        }
        page_sizes.push((name, returned as f64 / flags.group as f64));
        for (measure, samples) in [
            ("UnAggregated, first 20", &mut first),
            ("UnAggregated, page 50 via Cursor", &mut page50),
            ("YearMonthType, 20 groups x 3", &mut ymt),
            ("Notification, last 7 days", &mut notes),
        ] {
            samples.sort();
            report
                .rows
                .push(Row::timed(&format!("{measure}: {name}"), samples));
        }
    }
    bar.finish_and_clear();

    // # Write → visible while reads run.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..2u64 {
        let (manager, stop, reads) = (manager.clone(), stop.clone(), reads.clone());
        let group = flags.group;
        readers.push(tokio::spawn(async move {
            let mut rng = Rng(r);
            while !stop.load(Ordering::Relaxed) {
                let g = rng.below(GROUPS.len() as u64) as usize;
                let user = member(g, rng.below(group as u64) as usize);
                manager.get_feeds(&user, &UnAggregated::new()).await?;
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, Error>(())
        }));
    }
    let mut acknowledged = Vec::new();
    let mut visible = Vec::new();
    let started_writes = Instant::now();
    for n in 0..if u0_followers.is_empty() {
        0
    } else {
        flags.writes
    } {
        let follower = &u0_followers[n % u0_followers.len()];
        let activity = Activity::new(
            "post",
            Actor::new("u0", "person")?,
            Object::new(&format!("live{n}"), "post")?,
        )?;
        let started = Instant::now();
        let id = manager.add_activity(activity).await?;
        acknowledged.push(started.elapsed());
        loop {
            let page = manager.get_feeds(follower, &UnAggregated::new()).await?;
            if page.feed.first().and_then(Activity::id) == Some(id.as_str()) {
                break;
            }
        }
        visible.push(started.elapsed());
        // Leave the store as generated, so a later run reads the same feeds.
        manager.remove_activity(&id).await?;
    }
    let write_time = started_writes.elapsed();
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.map_err(|e| Error::backend("example", e))??;
    }
    acknowledged.sort();
    visible.sort();
    report.rows.push(Row::timed(
        "write → visible in a follower's feed, while 2 tasks read",
        &visible,
    ));
    report.rows.push(Row::timed(
        "of which the write's acknowledgement",
        &acknowledged,
    ));
    let read_rate = reads.load(Ordering::Relaxed) as f64 / write_time.as_secs_f64();
    manager.close().await?;
    drop(manager);

    report.facts.push((
        "store size on disk".into(),
        format!("{:.0} MiB", walk_size(&dir) as f64 / (1 << 20) as f64),
    ));
    report.facts.push((
        "peak memory of this process (load and reads)".into(),
        peak_memory().unwrap_or_else(|| "unknown".into()),
    ));
    report.facts.push((
        "reads per second beside the writes".into(),
        format!("{read_rate:.0}"),
    ));
    for (name, mean) in page_sizes {
        report.facts.push((
            format!("mean activities on the first page: {name}"),
            format!("{mean:.1}"),
        ));
    }
    let table = report.markdown(&flags);
    println!("{table}");
    if let Some(results) = &flags.results {
        write_section(results, flags.activities, &table)?;
        eprintln!("wrote {}", results.display());
    }
    Ok(())
}

/// The follows of one group member, drawn from the pool. The same generator state gives the same
/// follows, which is how the write check finds `u0`'s followers without a read.
fn group_follows(graph: &Graph, follows: usize, pool: Pool, rng: &mut Rng) -> Vec<u32> {
    let users = graph.by_posting.len();
    match pool {
        Pool::Popular => {
            let popularity = popularity(users);
            distinct(follows, rng, |rng| popularity.sample(rng) as u32)
        }
        Pool::Quiet => distinct(follows, rng, |rng| {
            let rank = users / 2 + rng.below((users - users / 2) as u64) as usize;
            graph.by_posting[rank]
        }),
    }
}

fn popularity(users: usize) -> &'static Zipf {
    static CACHE: std::sync::OnceLock<Zipf> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Zipf::new(users, 1.0))
}

/// Generates and loads the network through `add_activities` and `add_links`, in batches of 10,000.
async fn load(
    flags: &Flags,
    path: &str,
    graph: &Graph,
    rng: &mut Rng,
    report: &mut Report,
) -> Result<()> {
    let manager = Manager::open(path).await?;
    let posting = Zipf::new(flags.users, 1.1);
    let span = Duration::days(SPAN_DAYS).num_milliseconds();
    let start = end() - Duration::milliseconds(span);
    let bar = bar(flags.activities as u64, "activities");
    let mut posts: Vec<u32> = Vec::new();
    let mut batch = Vec::with_capacity(10_000);
    let mut last_ms = 0i64;
    let started = Instant::now();
    for n in 0..flags.activities {
        let ms = if n > 0 && rng.below(50) == 0 {
            last_ms
        } else {
            (n as i128 * span as i128 / flags.activities as i128) as i64
        };
        last_ms = ms;
        let actor = graph.by_posting[posting.sample(rng)];
        let recent = |rng: &mut Rng| {
            let window = posts.len().min(4_096) as u64;
            posts[posts.len() - 1 - rng.below(window) as usize]
        };
        let pick = rng.below(100);
        let (verb, object, target) = if posts.is_empty() || pick < 45 {
            posts.push(n as u32);
            ("post", Object::new(&format!("p{n}"), "post")?, None)
        } else if pick < 75 {
            let post = recent(rng);
            ("like", Object::new(&format!("p{post}"), "post")?, None)
        } else if pick < 85 {
            let post = recent(rng);
            ("share", Object::new(&format!("p{post}"), "post")?, None)
        } else {
            let post = recent(rng);
            (
                "comment",
                Object::new(&format!("c{n}"), "comment")?,
                Some(Target::new(&format!("p{post}"), "post")?),
            )
        };
        let mut activity =
            Activity::new(verb, Actor::new(&format!("u{actor}"), "person")?, object)?
                .published_at(start + Duration::milliseconds(ms))?;
        if let Some(target) = target {
            activity = activity.with_target(target);
        }
        batch.push(activity);
        if batch.len() == 10_000 || n + 1 == flags.activities {
            bar.inc(batch.len() as u64);
            for result in manager.add_activities(std::mem::take(&mut batch)).await? {
                result?;
            }
        }
    }
    let ingest = started.elapsed();
    bar.finish_and_clear();

    // Links: ordinary users first, then the groups.
    let popularity = popularity(flags.users);
    let mut links = Vec::new();
    for u in 0..flags.users {
        let user = format!("u{u}");
        let count = ((3.0 / (1.0 - rng.unit()).powf(0.8)) as usize).min(1_000);
        for account in distinct(count, rng, |rng| popularity.sample(rng) as u32) {
            if account as usize != u {
                links.push(follow(&user, account, rng)?);
            }
        }
        if rng.below(10) == 0 && !posts.is_empty() {
            for _ in 0..1 + rng.below(3) {
                let post = posts[rng.below(posts.len() as u64) as usize];
                links.push(watch(&user, post, rng)?);
            }
        }
    }
    let mut pick = Rng(flags.seed ^ 0x5eed);
    for (g, (_, follows, pool)) in GROUPS.iter().enumerate() {
        for i in 0..flags.group {
            let user = member(g, i);
            for account in group_follows(graph, *follows, *pool, &mut pick) {
                links.push(follow(&user, account, rng)?);
            }
            if *follows <= 1_000 && !posts.is_empty() {
                for _ in 0..2 {
                    let post = posts[rng.below(posts.len() as u64) as usize];
                    links.push(watch(&user, post, rng)?);
                }
            }
        }
    }
    // Two watches of one post by one user are one link: keep the first.
    let mut seen = std::collections::HashSet::new();
    links.retain(|l| seen.insert(l.key().clone()));
    let link_count = links.len();
    let bar = self::bar(link_count as u64, "links");
    let started = Instant::now();
    for chunk in links.chunks(10_000) {
        for result in manager.add_links(chunk.to_vec()).await? {
            result?;
        }
        bar.inc(chunk.len() as u64);
    }
    let linking = started.elapsed();
    bar.finish_and_clear();
    manager.close().await?;

    report.facts.push((
        "bulk ingest, whole load, commits included".into(),
        format!(
            "{:.0} activities/s ({} in {:.1} s)",
            flags.activities as f64 / ingest.as_secs_f64(),
            flags.activities,
            ingest.as_secs_f64()
        ),
    ));
    report.facts.push((
        "links written".into(),
        format!(
            "{:.0} links/s ({link_count} in {:.1} s)",
            link_count as f64 / linking.as_secs_f64(),
            linking.as_secs_f64()
        ),
    ));
    Ok(())
}

/// Run in a child process: opens the store and times one feed read.
async fn first_read(path: &str, user: &str) -> Result<()> {
    let started = Instant::now();
    let manager = Manager::builder(path).read_only(true).open().await?;
    let page = manager.get_feeds(user, &UnAggregated::new()).await?;
    let elapsed = started.elapsed();
    if page.feed.is_empty() {
        return Err(Error::backend(
            "example",
            format!("{user} has an empty feed"),
        ));
    }
    println!("first-read-ms {}", elapsed.as_secs_f64() * 1e3);
    Ok(())
}

/// One timed read with any aggregator (so the measures can be listed together).
#[async_trait::async_trait]
trait Probe: Sync {
    async fn read(&self, manager: &Manager, user: &str) -> Result<StdDuration>;
}

#[async_trait::async_trait]
impl<A: Aggregator + Sync> Probe for A
where
    A::Output: Send,
{
    async fn read(&self, manager: &Manager, user: &str) -> Result<StdDuration> {
        let started = Instant::now();
        manager.get_feeds(user, self).await?;
        Ok(started.elapsed())
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A `Key: N kB` line of a Linux `/proc` file, in KiB.
fn proc_kib(file: &str, key: &str) -> Option<f64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The peak resident memory of this process (Linux: `VmHWM`).
fn peak_memory() -> Option<String> {
    proc_kib("/proc/self/status", "VmHWM").map(|kib| format!("{:.0} MiB", kib / 1024.0))
}

/// The machine: cores and memory.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = proc_kib("/proc/meminfo", "MemTotal").map_or_else(
        || "unknown memory".into(),
        |kib| format!("{:.0} GiB", kib / (1 << 20) as f64),
    );
    format!("{cores} cores, {memory}")
}

#[derive(Default)]
struct Report {
    facts: Vec<(String, String)>,
    rows: Vec<Row>,
}

struct Row {
    measure: String,
    /// p50, p95, p99 in ms, and the number of samples.
    quantiles: Option<(f64, f64, f64)>,
    samples: usize,
}

impl Row {
    fn timed(measure: &str, sorted: &[StdDuration]) -> Row {
        Row {
            measure: measure.to_owned(),
            quantiles: (!sorted.is_empty()).then(|| {
                (
                    quantile(sorted, 0.5),
                    quantile(sorted, 0.95),
                    quantile(sorted, 0.99),
                )
            }),
            samples: sorted.len(),
        }
    }
}

impl Report {
    fn markdown(&self, flags: &Flags) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{} activities, {} users, groups of {}, seed {}; {}; release build, on-disk store.\n\n",
            flags.activities,
            flags.users,
            flags.group,
            flags.seed,
            machine()
        ));
        out.push_str("| measure | p50 | p95 | p99 | samples |\n|---|---|---|---|---|\n");
        for row in &self.rows {
            match row.quantiles {
                Some((p50, p95, p99)) => out.push_str(&format!(
                    "| {} | {p50:.3} ms | {p95:.3} ms | {p99:.3} ms | {} |\n",
                    row.measure, row.samples
                )),
                None => out.push_str(&format!("| {} | – | – | – | 0 |\n", row.measure)),
            }
        }
        for (fact, value) in &self.facts {
            out.push_str(&format!("| {fact} | {value} | | | |\n"));
        }
        out
    }
}

/// Replaces (or adds) this store size's section of the results file, keeping the sections in
/// order of size.
fn write_section(path: &PathBuf, activities: usize, table: &str) -> Result<()> {
    let io = |e: std::io::Error| Error::backend("example", e);
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmark results\n\nWritten by `examples/feed_bench.rs`; see the README.\n\n".into()
    });
    // The file is a preamble, then sections between `<!-- feed_bench N -->` markers.
    let mut sections: Vec<(usize, String)> = Vec::new();
    let preamble_end = old.find("<!-- feed_bench ").unwrap_or(old.len());
    let mut rest = &old[preamble_end..];
    while let Some(start) = rest.find("<!-- feed_bench ") {
        let size_text = &rest[start + 16..];
        let size: usize = size_text[..size_text.find(' ').unwrap_or(0)]
            .parse()
            .unwrap_or(0);
        let finish = format!("<!-- /feed_bench {size} -->\n");
        let Some(end) = rest.find(&finish) else { break };
        sections.push((size, rest[start..end + finish.len()].to_owned()));
        rest = &rest[end + finish.len()..];
    }
    sections.retain(|(size, _)| *size != activities);
    sections.push((
        activities,
        format!(
            "<!-- feed_bench {activities} -->\n## {} activities\n\n`cargo run --release --example feed_bench -- --activities {activities}`\n\n{table}<!-- /feed_bench {activities} -->\n",
            thousands(activities)
        ),
    ));
    sections.sort_by_key(|(size, _)| *size);
    let mut new = old[..preamble_end].to_owned();
    for (_, section) in sections {
        new.push_str(&section);
        new.push('\n');
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, new.trim_end().to_owned() + "\n").map_err(io)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
