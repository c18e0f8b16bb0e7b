//! # Latency of a semantic feed on an on-disk embedded store
//!
//! Builds a deterministic synthetic network from a seed, loads it through the public API into an
//! on-disk store with an embedding per activity, reopens the store in a fresh `Manager`, then
//! times `get_feeds` with [`Semantic`] (the `k` nearest activities to a random query vector)
//! for distinct readers, end to end: link loading, the exact search and document loading.
//!
//! - `--activities` activities by `--actors` accounts whose posting rates follow a power law
//!   (Zipf, exponent 1.1), spread uniformly over two years, each with a random unit vector of
//!   `--dimensions` values (cosine similarity);
//! - each of `--readers` users follows `--follows` distinct accounts chosen with a popularity
//!   bias (Zipf, exponent `--popularity`, default 0.8; 0 chooses uniformly), each link made at a
//!   uniform random time over the two years.
//!
//! It reports, per reader, how many activities competed (those the links reach, computed by the
//! generator), so the cost per competitor and the bytes read per query can be checked.
//!
//! ```text
//! cargo run --release --example semantic_latency -- --activities 1000000 --follows 1000 \
//!     --dir /tmp/semantic-store
//! # again on the same store, reads only:
//! cargo run --release --example semantic_latency -- --activities 1000000 --follows 1000 \
//!     --dir /tmp/semantic-store --load false
//! ```

mod common;

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use common::{parse_flags, quantile, value, walk_size, NetworkFlags, Rng, Zipf};
use elasticfeeds::{
    Activity, Actor, EmbeddingSpace, Error, Link, LinkTarget, Manager, Object, Result, Similarity,
};
use elasticfeeds_aggregators::Semantic;

struct Args {
    net: NetworkFlags,
    dimensions: usize,
    k: usize,
    /// The Zipf exponent of follow choice: 0.8 favours popular accounts, 0 picks uniformly.
    popularity: f64,
}

impl Args {
    fn parse() -> std::result::Result<Args, String> {
        let mut args = Args {
            net: NetworkFlags::new(1_000_000, 50, 1_000),
            dimensions: 384,
            k: 20,
            popularity: 0.8,
        };
        parse_flags(|flag, text| {
            match flag {
                "--dimensions" => args.dimensions = value(flag, text)?,
                "--k" => args.k = value(flag, text)?,
                "--popularity" => args.popularity = value(flag, text)?,
                _ => return args.net.take(flag, text),
            }
            Ok(true)
        })?;
        args.net.check()?;
        Ok(args)
    }
}

/// A random unit vector (uniform per value, then normalised).
fn unit_vector(rng: &mut Rng, dimensions: usize) -> Vec<f32> {
    let raw: Vec<f64> = (0..dimensions).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
    raw.iter().map(|v| (v / norm) as f32).collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse().map_err(|reason| Error::InvalidQuery { reason })?;
    let scratch = tempfile::tempdir().map_err(|e| Error::backend("example", e))?;
    let dir = args
        .net
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("store"));
    let path = dir.to_string_lossy().into_owned();
    let space = EmbeddingSpace::new(args.dimensions, Similarity::Cosine)?;
    let mut rng = Rng(args.net.seed);
    let end = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let span_ms = Duration::days(730).num_milliseconds() as u64;

    // # Load
    let manager = Manager::builder(&path).embeddings(space).open().await?;
    let write = args.net.load;
    let posting = Zipf::new(args.net.actors, 1.1);
    // Each actor's publication times (ms before `end`), to count what a reader's links reach.
    let mut published_by: Vec<Vec<u64>> = vec![Vec::new(); args.net.actors];
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..args.net.activities {
        let actor = posting.sample(&mut rng);
        let ago = rng.below(span_ms);
        published_by[actor].push(ago);
        let embedding = unit_vector(&mut rng, args.dimensions);
        if !write {
            continue;
        }
        let activity = Activity::new(
            "post",
            Actor::new(&format!("u{actor}"), "person")?,
            Object::new(&format!("o{n}"), "post")?,
        )?
        .published_at(end - Duration::milliseconds(ago as i64))?
        .with_embedding(embedding)?;
        batch.push(activity);
        if batch.len() == 10_000 || n + 1 == args.net.activities {
            for result in manager.add_activities(std::mem::take(&mut batch)).await? {
                result?;
            }
        }
    }
    let ingest = started.elapsed();
    for times in &mut published_by {
        times.sort_unstable();
    }

    let popularity = Zipf::new(args.net.actors, args.popularity);
    let mut reached = Vec::with_capacity(args.net.readers);
    for reader in 0..args.net.readers {
        // Ordered, so a seed always gives the same links.
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < args.net.follows {
            chosen.insert(popularity.sample(&mut rng));
        }
        let mut links = Vec::with_capacity(args.net.follows);
        let mut count = 0usize;
        for actor in chosen {
            let ago = rng.below(span_ms);
            // Published at or after the link: at most `ago` before the end.
            count += published_by[actor].partition_point(|t| *t <= ago);
            links.push(
                Link::new(
                    &format!("reader{reader}"),
                    "follow",
                    LinkTarget::actor(&format!("u{actor}"), "person")?,
                )?
                .linked_at(end - Duration::milliseconds(ago as i64))?,
            );
        }
        reached.push(count);
        if write {
            for result in manager.add_links(links).await? {
                result?;
            }
        }
    }
    manager.close().await?;
    drop(manager);

    // # Read, in a fresh Manager on the same directory
    let manager = Manager::open(&path).await?;
    let mut first = None;
    let mut network = Vec::with_capacity(args.net.readers);
    for (reader, reached) in reached.iter().enumerate() {
        let feed = Semantic::new(unit_vector(&mut rng, args.dimensions))?.k(args.k)?;
        let started = Instant::now();
        let found = manager.get_feeds(&format!("reader{reader}"), &feed).await?;
        let elapsed = started.elapsed();
        assert_eq!(found.feed.len(), args.k.min(*reached));
        match first {
            None => first = Some(elapsed),
            Some(_) => network.push(elapsed),
        }
    }
    network.sort();
    let mut everywhere = Vec::new();
    for _ in 0..5 {
        let feed = Semantic::new(unit_vector(&mut rng, args.dimensions))?
            .k(args.k)?
            .all_activities();
        let started = Instant::now();
        manager.get_feeds("reader0", &feed).await?;
        everywhere.push(started.elapsed());
    }
    everywhere.sort();

    // # Report
    let mut sorted_reached = reached.clone();
    sorted_reached.sort_unstable();
    let median_reached = sorted_reached[sorted_reached.len() / 2];
    let vector_bytes = 4 * args.dimensions;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let p50 = quantile(&network, 0.5);
    println!("| measure | value |");
    println!("|---|---|");
    println!("| cores | {cores} |");
    println!(
        "| activities x dimensions | {} x {} |",
        args.net.activities, args.dimensions
    );
    println!(
        "| readers x follows (popularity exponent), k | {} x {} ({}), {} |",
        args.net.readers, args.net.follows, args.popularity, args.k
    );
    if args.net.load {
        println!(
            "| ingest (activities/s, commits included) | {:.0} |",
            args.net.activities as f64 / ingest.as_secs_f64()
        );
    }
    println!(
        "| store size on disk (MiB) | {:.1} |",
        walk_size(&dir) as f64 / (1 << 20) as f64
    );
    println!(
        "| activities a reader's links reach: min / median / max | {} / {} / {} |",
        sorted_reached[0],
        median_reached,
        sorted_reached[sorted_reached.len() - 1]
    );
    println!(
        "| vector bytes read per query at the median | {:.1} MiB |",
        (median_reached * vector_bytes) as f64 / (1 << 20) as f64
    );
    println!(
        "| first read after opening (ms) | {:.1} |",
        first.unwrap_or_default().as_secs_f64() * 1e3
    );
    if !network.is_empty() {
        println!(
            "| Semantic within the network, {} reads: p50 / p95 / p99 (ms) | {:.1} / {:.1} / {:.1} |",
            network.len(),
            p50,
            quantile(&network, 0.95),
            quantile(&network, 0.99),
        );
        println!(
            "| per competing activity at the median (µs) | {:.2} |",
            p50 * 1e3 / median_reached.max(1) as f64
        );
    }
    println!(
        "| Semantic over all activities, {} reads: p50 / max (ms) | {:.1} / {:.1} |",
        everywhere.len(),
        quantile(&everywhere, 0.5),
        quantile(&everywhere, 1.0),
    );
    Ok(())
}
