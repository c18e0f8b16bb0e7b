//! # Read latency of the flat feed on an on-disk embedded store
//!
//! Builds a deterministic synthetic network from a seed, loads it through the public API into an
//! on-disk store, reopens the store in a fresh `Manager`, then times `get_feeds` with
//! `UnAggregated` (first page of 20) for many distinct users, end to end: link loading, query and
//! document loading included.
//!
//! - activities are posted by `--actors` accounts whose posting rates follow a power law
//!   (Zipf, exponent 1.1), spread uniformly over two years, with a verb mix of
//!   post 60% / like 25% / comment 10% / share 5%;
//! - each of `--readers` users follows `--follows` distinct accounts, chosen with a popularity
//!   bias (Zipf, exponent 0.8), each link made at a uniform random time over the same two
//!   years, so the per-link "since linked" bounds matter.
//!
//! Run it in release mode:
//!
//! ```text
//! cargo run --release --example read_latency -- --activities 100000 --follows 500 --readers 250
//! ```

mod common;

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use common::{parse_flags, quantile, walk_size, NetworkFlags, Rng, Zipf};
use elasticfeeds::Aggregator;
use elasticfeeds::{Activity, Actor, Error, Link, LinkTarget, Manager, Object, Result};
use elasticfeeds_aggregators::{
    Collapse, Cursor, DateWeight, DecayRanked, Notification, RecentType, UnAggregated, YearMonth,
    YearMonthType,
};

fn parse_args() -> std::result::Result<NetworkFlags, String> {
    let mut args = NetworkFlags::new(100_000, 250, 500);
    parse_flags(|flag, text| args.take(flag, text))?;
    args.check()?;
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args().map_err(|reason| Error::InvalidQuery { reason })?;
    let scratch = tempfile::tempdir().map_err(|e| Error::backend("example", e))?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("store"));
    let path = dir.to_string_lossy().into_owned();
    let mut rng = Rng(args.seed);
    let end = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let span_ms = Duration::days(730).num_milliseconds() as u64;
    let at = |rng: &mut Rng| end - Duration::milliseconds(rng.below(span_ms) as i64);

    // # Load
    let manager = Manager::open(&path).await?;
    let posting = Zipf::new(args.actors, 1.1);
    let verbs = [("post", 60), ("like", 25), ("comment", 10), ("share", 5)];
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    let activities = if args.load { args.activities } else { 0 };
    for n in 0..activities {
        let actor = posting.sample(&mut rng);
        let mut pick = rng.below(100) as i32;
        let verb = verbs
            .iter()
            .find(|(_, share)| {
                pick -= share;
                pick < 0
            })
            .map_or("post", |(verb, _)| verb);
        let activity = Activity::new(
            verb,
            Actor::new(&format!("u{actor}"), "person")?,
            Object::new(&format!("o{n}"), "post")?,
        )?
        .published_at(at(&mut rng))?;
        batch.push(activity);
        if batch.len() == 10_000 || n + 1 == activities {
            for result in manager.add_activities(std::mem::take(&mut batch)).await? {
                result?;
            }
        }
    }
    let ingest = started.elapsed();

    let popularity = Zipf::new(args.actors, 0.8);
    let started = Instant::now();
    for reader in 0..if args.load { args.readers } else { 0 } {
        let mut chosen = std::collections::HashSet::new();
        while chosen.len() < args.follows {
            chosen.insert(popularity.sample(&mut rng));
        }
        let links = chosen
            .into_iter()
            .map(|actor| {
                Link::new(
                    &format!("reader{reader}"),
                    "follow",
                    LinkTarget::actor(&format!("u{actor}"), "person")?,
                )?
                .linked_at(at(&mut rng))
            })
            .collect::<Result<Vec<_>>>()?;
        for result in manager.add_links(links).await? {
            result?;
        }
    }
    let linking = started.elapsed();
    manager.close().await?;
    drop(manager);

    // # Read, in a fresh Manager on the same directory
    let manager = Manager::open(&path).await?;
    let feed = UnAggregated::new();
    let mut first = None;
    let mut samples = Vec::with_capacity(args.readers);
    let mut network_samples = Vec::with_capacity(args.readers);
    let mut returned = 0usize;
    for reader in 0..args.readers {
        let user = format!("reader{reader}");
        if first.is_some() {
            // The link-loading share of a read, measured on its own.
            let started = Instant::now();
            manager.network(&user).await?;
            network_samples.push(started.elapsed());
        }
        let started = Instant::now();
        let page = manager.get_feeds(&user, &feed).await?;
        let elapsed = started.elapsed();
        returned += page.feed.len();
        if first.is_none() {
            first = Some(elapsed);
        } else {
            samples.push(elapsed);
        }
    }
    samples.sort();
    network_samples.sort();

    // The other aggregators, each read once per reader. The data ends at `end`; windows and
    // decay origins are fixed there so every run reads the same thing.
    let mut others: Vec<(String, Vec<StdDuration>)> = Vec::new();
    let readers = args.readers;
    others.push((
        "YearMonthType, default (newest 20 verb groups x 20)".into(),
        time_reads(&manager, readers, &YearMonthType::new()).await?,
    ));
    others.push((
        "YearMonthType, 20 groups x 3 activities".into(),
        time_reads(&manager, readers, &YearMonthType::new().hits_per_group(3)?).await?,
    ));
    others.push((
        "YearMonthType, year 2025, every group".into(),
        time_reads(
            &manager,
            readers,
            &YearMonthType::new().year(2025)?.all_groups(),
        )
        .await?,
    ));
    others.push((
        "YearMonth, default (newest 12 months)".into(),
        time_reads(&manager, readers, &YearMonth::new()).await?,
    ));
    others.push((
        "RecentType, default".into(),
        time_reads(&manager, readers, &RecentType::new()).await?,
    ));
    others.push((
        "DateWeight, default (10 days)".into(),
        time_reads(&manager, readers, &DateWeight::new()).await?,
    ));
    for days in [1, 7, 30] {
        let window = Notification::new().window(end - Duration::days(days), end)?;
        others.push((
            format!("Notification, last {days} day(s)"),
            time_reads(&manager, readers, &window).await?,
        ));
    }
    others.push((
        "Collapse by object, first 20".into(),
        time_reads(&manager, readers, &Collapse::by_object()).await?,
    ));
    others.push((
        "DecayRanked (7 days, origin at the end), first 20".into(),
        time_reads(&manager, readers, &DecayRanked::new().origin(end)?).await?,
    ));
    // Page 2 through a signed cursor: the first page is read untimed, for its cursor.
    let mut page_two = Vec::with_capacity(readers);
    for reader in 0..readers {
        let user = format!("reader{reader}");
        let first = manager
            .get_feeds(&user, &Cursor::new(UnAggregated::new()))
            .await?;
        if let Some(token) = first.feed.next_cursor {
            let next = Cursor::new(UnAggregated::new()).after(&token);
            let started = Instant::now();
            manager.get_feeds(&user, &next).await?;
            page_two.push(started.elapsed());
        }
    }
    page_two.sort();
    others.push(("Cursor(UnAggregated), page 2".into(), page_two));
    let size: u64 = walk_size(&dir);

    // # Report
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("| measure | value |");
    println!("|---|---|");
    println!("| cores | {cores} |");
    println!("| activities | {} |", args.activities);
    println!(
        "| readers x follows | {} x {} |",
        args.readers, args.follows
    );
    if args.load {
        println!(
            "| ingest (activities/s, commits included) | {:.0} |",
            args.activities as f64 / ingest.as_secs_f64()
        );
        println!(
            "| links written (links/s) | {:.0} |",
            (args.readers * args.follows) as f64 / linking.as_secs_f64()
        );
    }
    println!(
        "| store size on disk (MiB) | {:.1} |",
        size as f64 / (1 << 20) as f64
    );
    println!(
        "| first read after opening (ms) | {:.3} |",
        first.unwrap_or_default().as_secs_f64() * 1e3
    );
    if !samples.is_empty() {
        println!(
            "| UnAggregated first 20, {} reads: p50 / p95 / p99 / max (ms) | {:.3} / {:.3} / {:.3} / {:.3} |",
            samples.len(),
            quantile(&samples, 0.5),
            quantile(&samples, 0.95),
            quantile(&samples, 0.99),
            quantile(&samples, 1.0),
        );
    }
    for (name, sorted) in &others {
        if !sorted.is_empty() {
            println!(
                "| {name}, {} reads: p50 / p99 (ms) | {:.3} / {:.3} |",
                sorted.len(),
                quantile(sorted, 0.5),
                quantile(sorted, 0.99),
            );
        }
    }
    if !network_samples.is_empty() {
        println!(
            "| of which loading the network alone: p50 / p99 (ms) | {:.3} / {:.3} |",
            quantile(&network_samples, 0.5),
            quantile(&network_samples, 0.99),
        );
    }
    println!(
        "| mean activities per page | {:.1} |",
        returned as f64 / args.readers.max(1) as f64
    );
    Ok(())
}

/// Reads every reader's feed once with `aggregator`; the sorted latencies.
async fn time_reads<A: Aggregator>(
    manager: &Manager,
    readers: usize,
    aggregator: &A,
) -> Result<Vec<StdDuration>> {
    let mut samples = Vec::with_capacity(readers);
    for reader in 0..readers {
        let started = Instant::now();
        manager
            .get_feeds(&format!("reader{reader}"), aggregator)
            .await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(samples)
}
