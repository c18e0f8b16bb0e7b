//! # Quickstart
//!
//! This example shows how to
//!
//! - open an embedded store in a local directory (nothing to install, no server),
//! - follow actors, with a fixed link time,
//! - add activities with your own ids and publication times,
//! - read a user's feed, flat (`UnAggregated`) and grouped by year, month and verb
//!   (`YearMonthType`), and print it as JSON.
//!
//! Run it with
//!
//! ```text
//! cargo run --example quickstart                 # store in ./quickstart-store
//! cargo run --example quickstart -- /tmp/feeds   # store in a directory of your choice
//! ```
//!
//! Run it as often as you like: the activities have fixed ids (adding an id again replaces the
//! activity), the follows already stored are kept, and every timestamp is fixed, so it prints the
//! same feeds every time. Delete the store directory to start over.

// ---
// Importing the crates
use chrono::{DateTime, Utc};
use elasticfeeds::{Activity, Actor, Error, Link, LinkTarget, Manager, Object, Result, Target};
use elasticfeeds_aggregators::{UnAggregated, YearMonthType};
use serde::Serialize;

/// Where the store lives unless a directory is given on the command line.
const DEFAULT_STORE: &str = "quickstart-store";

/// When carlos followed himself and mark. Activities published before this never reach his
/// feed through these follows.
const FOLLOWED_AT: &str = "2024-11-01T09:00:00Z";

/// When mark wrote his first blog post: before carlos followed him.
const MARK_OLD_POST_AT: &str = "2024-10-20T08:00:00Z";

#[tokio::main]
async fn main() -> Result<()> {
    // # Opening the store
    //
    // A connection string without a URL scheme is a directory holding an embedded store (on
    // tantivy). It is created on the first run and reopened afterwards. `memory:` would give a
    // throw-away store in RAM instead.
    let store = match std::env::args_os().nth(1) {
        Some(arg) => arg.into_string().map_err(|arg| Error::InvalidConnection {
            value: arg.to_string_lossy().into_owned(),
            reason: "the store path must be valid UTF-8".into(),
        })?,
        None => DEFAULT_STORE.to_owned(),
    };
    let manager = Manager::open(&store).await?;

    // # Following
    //
    // carlos follows himself (so his own activities are in his feed) and mark. A link is
    // identified by (user, link type, class, type, id); adding one that is already stored is
    // `Error::LinkExists`, which on a second run simply means "already done".
    //
    // `manager.follow("carlos", "mark")` would do the same with the link time "now"; a fixed
    // link time keeps this example's output the same whatever the date.
    let followed_at = utc(FOLLOWED_AT)?;
    for followed in ["carlos", "mark"] {
        let link = Link::new("carlos", "follow", LinkTarget::actor(followed, "person")?)?
            .linked_at(followed_at)?;
        match manager.add_link(link).await {
            Ok(_) | Err(Error::LinkExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    // # Adding activities
    //
    // An activity is "actor did verb to object (maybe to a target) at a time". Entities are
    // identified by their (type, id) pair; verbs and types are letters only, stored lower-case.
    // Giving each activity its own id makes writes idempotent: adding the same id for the same
    // actor again replaces the stored activity instead of duplicating it.
    let carlos = Actor::new("carlos", "person")?;
    let mark = Actor::new("mark", "person")?;
    let project_a = Object::new("project-a", "project")?;
    let activities = vec![
        // mark wrote a blog post before carlos followed him: it is not in carlos's feed.
        Activity::new("write", mark.clone(), Object::new("blog-0", "blog")?)?
            .with_id("mark-write-blog-0")?
            .published_at(utc(MARK_OLD_POST_AT)?)?,
        // carlos adds project A.
        Activity::new("add", carlos, project_a)?
            .with_id("carlos-add-project-a")?
            .published_at(utc("2024-12-02T09:30:00Z")?)?,
        // mark writes a blog post about project A.
        Activity::new("write", mark, Object::new("blog-1", "blog")?)?
            .with_target(Target::new("project-a", "project")?)
            .with_id("mark-write-blog-1")?
            .published_at(utc("2025-01-15T14:00:00Z")?)?,
    ];
    // One write (one commit); each item has its own result.
    for added in manager.add_activities(activities).await? {
        added?;
    }

    // # Reading the feed, flat
    //
    // `get_feeds` loads carlos's links, lets the aggregator build one query over the activities
    // they reach, runs it, and lets the aggregator shape the answer. `UnAggregated` is the plain
    // newest-first list (a page of 20).
    let flat = manager.get_feeds("carlos", &UnAggregated::new()).await?;
    println!("carlos's feed, UnAggregated (newest first):");
    println!("{}", pretty(&flat.feed)?);

    // # Reading the feed, grouped
    //
    // `YearMonthType` groups the same activities by UTC year, then month, then verb:
    // `[{year, months: [{month, types: [{type, activities}]}]}]`.
    let grouped = manager.get_feeds("carlos", &YearMonthType::new()).await?;
    println!();
    println!("carlos's feed, YearMonthType:");
    println!("{}", pretty(&grouped.feed)?);

    // # Where the store lives
    //
    // Closing finishes pending writes and releases the store's writer lock.
    manager.close().await?;
    let location = std::fs::canonicalize(&store).unwrap_or_else(|_| store.clone().into());
    println!();
    println!(
        "mark's blog-0 ({MARK_OLD_POST_AT}) is not in the feed: \
         it was published before carlos followed mark ({FOLLOWED_AT})."
    );
    println!(
        "The store lives in {}. Run again and the feeds stay the same; delete it to start over.",
        location.display()
    );
    Ok(())
}

/// Parses a fixed RFC 3339 timestamp.
fn utc(rfc3339: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::InvalidTimestamp {
            field: "quickstart",
            value: rfc3339.to_owned(),
        })
}

/// Pretty JSON, as a web service would return the feed.
fn pretty(value: &impl Serialize) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::backend("serde_json", e))
}
