//! What the release-mode benchmark examples share: a seeded generator, power-law sampling, and
//! the numbers they report.
//!
//! Each example uses a part of it, so unused items are expected here.
#![allow(dead_code)]

use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The flags every benchmark takes: the generated network, and where its store lives.
pub(crate) struct NetworkFlags {
    pub(crate) activities: usize,
    pub(crate) actors: usize,
    pub(crate) readers: usize,
    pub(crate) follows: usize,
    pub(crate) seed: u64,
    pub(crate) dir: Option<PathBuf>,
    /// Load the generated network first (`--load false` reads a store loaded by an earlier run
    /// with the same flags).
    pub(crate) load: bool,
}

impl NetworkFlags {
    /// These sizes, seed 42, a temporary store, loaded.
    pub(crate) fn new(activities: usize, readers: usize, follows: usize) -> Self {
        NetworkFlags {
            activities,
            actors: 20_000,
            readers,
            follows,
            seed: 42,
            dir: None,
            load: true,
        }
    }

    /// Takes `flag` if it is one of these (`Ok(false)` otherwise).
    pub(crate) fn take(&mut self, flag: &str, text: &str) -> Result<bool, String> {
        match flag {
            "--activities" => self.activities = value(flag, text)?,
            "--actors" => self.actors = value(flag, text)?,
            "--readers" => self.readers = value(flag, text)?,
            "--follows" => self.follows = value(flag, text)?,
            "--seed" => self.seed = value(flag, text)?,
            "--dir" => self.dir = Some(PathBuf::from(text)),
            "--load" => self.load = text != "false",
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the flags together.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.follows > self.actors {
            return Err("--follows must not exceed --actors".into());
        }
        if !self.load && self.dir.is_none() {
            return Err("--load false needs --dir with a store loaded before".into());
        }
        Ok(())
    }
}

/// Reads the command line's `--flag value` pairs and hands each to `set`, which answers
/// `Ok(false)` for a flag it does not take.
pub(crate) fn parse_flags(
    mut set: impl FnMut(&str, &str) -> Result<bool, String>,
) -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        if !set(&flag, &value)? {
            return Err(format!("unknown flag {flag}"));
        }
    }
    Ok(())
}

/// A flag's value, parsed; the error names the flag.
pub(crate) fn value<T: FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: Display,
{
    value.parse().map_err(|e| format!("{flag}: {e}"))
}

/// SplitMix64: a tiny deterministic generator, so a seed always gives the same network.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Samples ranks 0..n with probability proportional to 1 / (rank + 1)^exponent.
pub(crate) struct Zipf(Vec<f64>);

impl Zipf {
    /// Ranks `0..n`, skewed by `exponent`.
    pub(crate) fn new(n: usize, exponent: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect::<Vec<_>>();
        Zipf(cumulative.into_iter().map(|c| c / total).collect())
    }

    /// One rank.
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }
}

/// The `q` quantile (0 to 1) of sorted durations, in milliseconds.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// The bytes of every file under `dir`.
pub(crate) fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => walk_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
