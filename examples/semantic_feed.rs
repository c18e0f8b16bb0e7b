//! # A semantic feed
//!
//! This example shows how to
//!
//! - open a store that holds embeddings (here 4 dimensions, cosine similarity),
//! - add activities with an embedding each (made by hand here; in an application, by the text or
//!   image model of your choice),
//! - read the activities nearest in meaning to a query vector: within a user's network (a "For
//!   You" feed from the accounts they follow) and across every activity (discovery),
//! - print them with their scores as JSON.
//!
//! ```text
//! cargo run --example semantic_feed
//! ```
//!
//! The store is in RAM, so every run starts afresh and prints the same feeds.

use chrono::{DateTime, Utc};
use elasticfeeds::{
    Activity, Actor, EmbeddingSpace, Error, Link, LinkTarget, Manager, Object, Result, Similarity,
};
use elasticfeeds_aggregators::Semantic;

/// The meaning of each dimension in this example's hand-made embeddings.
const TOPICS: [&str; 4] = ["sport", "cooking", "music", "technology"];

fn at(text: &str) -> Result<DateTime<Utc>> {
    text.parse().map_err(|_| Error::InvalidTimestamp {
        field: "example",
        value: text.to_owned(),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let manager = Manager::builder("memory:")
        .embeddings(EmbeddingSpace::new(TOPICS.len(), Similarity::Cosine)?)
        .open()
        .await?;

    // carlos follows mark and ana; he does not follow lucia.
    for followed in ["mark", "ana"] {
        let follow = Link::new("carlos", "follow", LinkTarget::actor(followed, "person")?)?
            .linked_at(at("2024-11-01T09:00:00Z")?)?;
        manager.add_link(follow).await?;
    }

    // (id, author, published, embedding over TOPICS)
    let posts: [(&str, &str, &str, [f32; 4]); 6] = [
        (
            "derby-report",
            "mark",
            "2024-11-02T18:00:00Z",
            [0.9, 0.0, 0.1, 0.0],
        ),
        (
            "risotto",
            "mark",
            "2024-11-03T12:00:00Z",
            [0.0, 0.95, 0.05, 0.0],
        ),
        (
            "new-album",
            "ana",
            "2024-11-03T20:00:00Z",
            [0.0, 0.1, 0.9, 0.1],
        ),
        (
            "gpu-benchmarks",
            "ana",
            "2024-11-04T08:00:00Z",
            [0.0, 0.0, 0.1, 0.95],
        ),
        (
            "stadium-food",
            "ana",
            "2024-11-04T13:00:00Z",
            [0.6, 0.6, 0.0, 0.0],
        ),
        (
            "marathon-training",
            "lucia",
            "2024-11-05T07:00:00Z",
            [1.0, 0.0, 0.0, 0.0],
        ),
    ];
    let activities = posts
        .iter()
        .map(|(id, author, published, embedding)| {
            Activity::new(
                "post",
                Actor::new(author, "person")?,
                Object::new(id, "post")?,
            )?
            .with_id(id)?
            .published_at(at(published)?)?
            .with_embedding(embedding.to_vec())
        })
        .collect::<Result<Vec<_>>>()?;
    for result in manager.add_activities(activities).await? {
        result?;
    }

    // carlos is in the mood for sport.
    let sport = vec![1.0, 0.0, 0.0, 0.0];
    let for_you = Semantic::new(sport.clone())?.k(3)?;
    let feed = manager.get_feeds("carlos", &for_you).await?.feed;
    println!("Nearest to \"sport\" among the accounts carlos follows:");
    for hit in &feed {
        println!("  {:.3}  {}", hit.score, hit.activity.id().unwrap_or("?"));
    }

    // Discovery: the same question over every activity, followed or not.
    let discover = Semantic::new(sport)?.k(3)?.all_activities();
    let feed = manager.get_feeds("carlos", &discover).await?.feed;
    println!("Nearest to \"sport\" over every activity:");
    for hit in &feed {
        println!("  {:.3}  {}", hit.score, hit.activity.id().unwrap_or("?"));
    }

    // What a web service returns: each activity with its score.
    let json = serde_json::to_string_pretty(&feed[0]).map_err(|e| Error::backend("example", e))?;
    println!("The best match as JSON:\n{json}");
    Ok(())
}
