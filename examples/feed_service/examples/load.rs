//! # Load test of the feed service
//!
//! Two steps. `seed` builds an on-disk store through the library's bulk writes: `--activities`
//! activities by `--actors` accounts whose posting rates follow a power law (Zipf, exponent
//! 1.1), spread over the two years before 2026-12-01 with a verb mix of post 60% / like 25% /
//! comment 10% / share 5%; and `--readers` users, each following between 100 and 1,000 accounts
//! (uniformly), chosen with a popularity bias (Zipf, exponent 0.8), each link made at a random
//! time over the same two years, so the "since linked" bounds matter. It makes each reader an
//! API key (the keys file the service reads, and a `readers` file of `<user> <key>` lines for
//! the client). `run` then sends `GET /users/{reader}/feed` from `--clients` keep-alive
//! connections for `--seconds` (after one second of warm-up that is not counted), each request
//! for the next reader in turn, so consecutive requests read different users' feeds. It counts
//! every response that is not a 200 with a JSON feed as an error.
//!
//! ```text
//! cargo run --release -p feed-service --example load -- seed --dir /tmp/feed-load
//! cargo run --release -p feed-service -- --keys /tmp/feed-load/keys serve --store /tmp/feed-load/store &
//! cargo run --release -p feed-service --example load -- run --dir /tmp/feed-load
//! ```
//!
//! The client and the server share the machine's cores: the figures are those of both together.
//! `--query` reads another feed (`--query 'aggregator=year_month_type&hits_per_group=3'`). The
//! figures measured are in this crate's README, under "How fast".

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use elasticfeeds::{Activity, Actor, Link, LinkTarget, Manager, Object};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let step = args.next().unwrap_or_default();
    let mut flags = Flags::default();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        flags.set(&flag, value)?;
    }
    match step.as_str() {
        "seed" => seed(&flags).await,
        "run" => run(&flags).await,
        _ => Err(
            "usage: load (seed | run) [--dir D] [--activities N] [--actors N] [--readers N] \
                  [--seed N] [--url U] [--clients N] [--seconds N] [--query Q]"
                .into(),
        ),
    }
}

/// The command line, with its defaults.
#[derive(Debug)]
struct Flags {
    dir: PathBuf,
    activities: usize,
    actors: usize,
    readers: usize,
    seed: u64,
    url: String,
    clients: usize,
    seconds: u64,
    /// The feed's query string, e.g. `aggregator=year_month_type`.
    query: String,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            dir: PathBuf::from("/tmp/feed-load"),
            activities: 1_000_000,
            actors: 20_000,
            readers: 1_000,
            seed: 42,
            url: "http://127.0.0.1:3000".into(),
            clients: 32,
            seconds: 30,
            query: String::new(),
        }
    }
}

impl Flags {
    fn set(&mut self, flag: &str, value: String) -> Result<(), Failure> {
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag {
            "--dir" => self.dir = PathBuf::from(&value),
            "--activities" => self.activities = number()? as usize,
            "--actors" => self.actors = number()? as usize,
            "--readers" => self.readers = number()? as usize,
            "--seed" => self.seed = number()?,
            "--url" => self.url = value,
            "--clients" => self.clients = number()? as usize,
            "--seconds" => self.seconds = number()?,
            "--query" => self.query = value,
            other => return Err(format!("unknown flag {other}").into()),
        }
        Ok(())
    }
}

async fn seed(flags: &Flags) -> Result<(), Failure> {
    if flags.dir.exists() {
        return Err(format!("{} exists: seed into a new directory", flags.dir.display()).into());
    }
    if flags.actors < 1_000 {
        return Err("--actors must be at least 1,000 (readers follow up to 1,000)".into());
    }
    std::fs::create_dir_all(&flags.dir)?;
    let manager = Manager::open(flags.dir.join("store").to_str().ok_or("a UTF-8 path")?).await?;
    let mut rng = StdRng::seed_from_u64(flags.seed);
    let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let span_ms = chrono::Duration::days(730).num_milliseconds();
    let at = |rng: &mut StdRng| end - chrono::Duration::milliseconds(rng.random_range(0..span_ms));
    // Zipf samples ranks 1..=n as floats.
    let posting = Zipf::new(flags.actors as f64, 1.1)?;
    let popularity = Zipf::new(flags.actors as f64, 0.8)?;
    let verbs = [("post", 60), ("like", 25), ("comment", 10), ("share", 5)];

    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..flags.activities {
        let actor = posting.sample(&mut rng) as usize;
        let mut pick = rng.random_range(0..100);
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
        if batch.len() == 10_000 || n + 1 == flags.activities {
            for result in manager.add_activities(std::mem::take(&mut batch)).await? {
                result?;
            }
            eprint!("\ractivities: {}/{}", n + 1, flags.activities);
        }
    }
    eprintln!(" in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let keys = flags.dir.join("keys");
    let mut readers = String::new();
    let mut links_made = 0;
    for reader in 0..flags.readers {
        let user = format!("reader{reader}");
        let follows = rng.random_range(100..=1_000);
        let mut chosen = HashSet::new();
        while chosen.len() < follows {
            chosen.insert(popularity.sample(&mut rng) as usize);
        }
        let links = chosen
            .into_iter()
            .map(|actor| {
                Link::new(
                    &user,
                    "follow",
                    LinkTarget::actor(&format!("u{actor}"), "person")?,
                )?
                .linked_at(at(&mut rng))
            })
            .collect::<elasticfeeds::Result<Vec<_>>>()?;
        links_made += links.len();
        for result in manager.add_links(links).await? {
            result?;
        }
        let key = feed_service::auth::add_user(&keys, &user)?;
        readers.push_str(&format!("{user} {key}\n"));
        if (reader + 1) % 50 == 0 || reader + 1 == flags.readers {
            eprint!("\rreaders: {}/{}", reader + 1, flags.readers);
        }
    }
    std::fs::write(flags.dir.join("readers"), readers)?;
    eprintln!(
        " ({links_made} links) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    manager.close().await?;
    println!(
        "seeded {} activities and {} readers into {} ({:.0} MiB)",
        flags.activities,
        flags.readers,
        flags.dir.display(),
        dir_size(&flags.dir.join("store")) as f64 / (1 << 20) as f64
    );
    Ok(())
}

async fn run(flags: &Flags) -> Result<(), Failure> {
    let readers: Arc<Vec<(String, String)>> = Arc::new(
        std::fs::read_to_string(flags.dir.join("readers"))?
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(user, key)| (user.to_owned(), key.to_owned()))
            .collect(),
    );
    if readers.is_empty() {
        return Err("no readers: run `seed` first".into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(flags.clients)
        .build()?;
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..flags.clients {
        let (client, readers, counting, stop) = (
            client.clone(),
            readers.clone(),
            counting.clone(),
            stop.clone(),
        );
        let (base, query, clients) = (flags.url.clone(), flags.query.clone(), flags.clients);
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let (mut errors, mut bytes) = (0u64, 0u64);
            let mut next = worker;
            while !stop.load(Ordering::Relaxed) {
                let (user, key) = &readers[next % readers.len()];
                next += clients;
                let url = format!("{base}/users/{user}/feed?{query}");
                let started = Instant::now();
                let outcome = match client.get(&url).bearer_auth(key).send().await {
                    Ok(response) if response.status() == 200 => response.bytes().await.ok(),
                    _ => None,
                };
                let elapsed = started.elapsed();
                if !counting.load(Ordering::Relaxed) {
                    continue;
                }
                match outcome {
                    // A feed body is a JSON object with a `feed` field.
                    Some(body) if body.starts_with(b"{\"aggregator\"") => {
                        bytes += body.len() as u64;
                        samples.push(elapsed);
                    }
                    _ => errors += 1,
                }
            }
            (samples, errors, bytes)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(flags.seconds)).await;
    // Requests still under way when the window closes count once they finish.
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    let (mut errors, mut bytes) = (0, 0);
    for task in tasks {
        let (s, e, b) = task.await?;
        samples.extend(s);
        errors += e;
        bytes += b;
    }
    let elapsed = started.elapsed().as_secs_f64();
    samples.sort();
    if samples.is_empty() {
        return Err(format!("no successful request ({errors} errors)").into());
    }
    let ms = |q: f64| {
        let index = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[index].as_secs_f64() * 1e3
    };
    println!(
        "| feed `{}` | clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | mean body |",
        if flags.query.is_empty() { "flat" } else { &flags.query }
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} cores | {} | {elapsed:.1} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} | {:.0} B |",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        flags.clients,
        samples.len(),
        samples.len() as f64 / elapsed,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0),
        bytes as f64 / samples.len() as f64,
    );
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}
