use chrono::{Duration, TimeZone, Utc};
use elasticfeeds::*;

#[tokio::main]
async fn main() -> Result<()> {
    let m = Manager::memory().await?;
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    m.add_link(
        Link::new("cquiros", "follow", LinkTarget::actor("cquiros", "person")?)?.linked_at(t0)?,
    )
    .await?;
    m.add_link(
        Link::new(
            "cquiros",
            "follow",
            LinkTarget::actor("edoquiros", "person")?,
        )?
        .linked_at(t0)?,
    )
    .await?;
    m.add_link(Link::new("cquiros", "watch", LinkTarget::object("A", "project")?)?.linked_at(t0)?)
        .await?;
    let c = || Actor::new("cquiros", "person").unwrap();
    let e = || Actor::new("edoquiros", "person").unwrap();
    let a1 = Activity::new("add", c(), Object::new("A", "project")?)?
        .published_at(t0 + Duration::minutes(12))?
        .with_id("a1")?;
    let a2 = Activity::new("add", c(), Object::new("B", "project")?)?
        .published_at(t0 + Duration::minutes(24))?
        .with_id("a2")?;
    let a3 = Activity::new("add", c(), Object::new("F1", "form")?)?
        .with_target(Target::new("A", "project")?)
        .published_at(t0 + Duration::minutes(48))?
        .with_id("a3")?;
    let a4 = Activity::new("move", c(), Object::new("F1", "form")?)?
        .with_origin(Origin::new("A", "project")?)
        .with_target(Target::new("B", "project")?)
        .published_at(t0 + Duration::minutes(72))?
        .with_id("a4")?;
    let b1 = Activity::new("add", e(), Object::new("C", "project")?)?
        .published_at(t0 - Duration::days(365))?
        .with_id("b1")?;
    let b2 = Activity::new("add", e(), Object::new("F2", "form")?)?
        .with_target(Target::new("C", "project")?)
        .published_at(t0 + Duration::days(12))?
        .with_id("b2")?;
    for a in [a1, a2, a3, a4, b1, b2] {
        m.add_activity(a).await?;
    }
    let net = m.network("cquiros").await?;
    let r = m.backend().query(&FeedQuery::network(&net)).await?;
    println!(
        "{:?}",
        r.hits
            .iter()
            .map(|h| h.activity.id().unwrap())
            .collect::<Vec<_>>()
    );
    let r = m
        .backend()
        .query(&FeedQuery::network(&net).order(Order::Asc))
        .await?;
    println!(
        "asc {:?}",
        r.hits
            .iter()
            .map(|h| h.activity.id().unwrap())
            .collect::<Vec<_>>()
    );
    let r = m
        .backend()
        .query(&FeedQuery::network(&net).group_by([(GroupKey::Verb, 10)], 10)?)
        .await?;
    for g in r.groups {
        println!(
            "{} {:?}",
            g.value,
            g.hits
                .iter()
                .map(|h| h.activity.id().unwrap())
                .collect::<Vec<_>>()
        );
    }
    let p = m.search(FeedQuery::all().page_size(2)?).await?;
    println!(
        "{:?} {:?}",
        p.activities
            .iter()
            .map(|a| a.id().unwrap())
            .collect::<Vec<_>>(),
        p.next_cursor
    );
    let p = m
        .search(
            FeedQuery::all()
                .page_size(2)?
                .cursor(p.next_cursor.as_deref().unwrap())?,
        )
        .await?;
    println!(
        "{:?} {:?}",
        p.activities
            .iter()
            .map(|a| a.id().unwrap())
            .collect::<Vec<_>>(),
        p.next_cursor
    );
    Ok(())
}
