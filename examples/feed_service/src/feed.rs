//! `GET /users/{id}/feed`: the caller's own feed, shaped by the aggregator they choose.
//!
//! `?aggregator=` picks the shape (default `flat`); every other parameter belongs to that
//! aggregator, and one it does not take is a 400 that names it. The body is
//! `{"aggregator": "…", "feed": …, "links_left_out": n}`, where `feed` is the aggregator's own
//! serialised output and `links_left_out` counts the reader's oldest links that the read did not
//! use (a network larger than the library's `max_link_size`).
//!
//! The flat feeds (`flat`, `collapse`, `decay`) are cursor-paged: their `feed` is
//! `{"activities": […], "next_cursor": "…" | null}`. Pass `next_cursor` back as `cursor`, with the
//! same other parameters, for the next page: the library signs cursors for one reader and one
//! set of parameters, so anything else is a 400 `invalid_cursor`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use elasticfeeds::{Aggregator, Order};
use elasticfeeds_aggregators::{
    Collapse, Cursor, DateWeight, DecayRanked, Notification, RecentObjectType, RecentType,
    RecentTypeObject, UnAggregated, YearMonth, YearMonthType,
};
use serde::Serialize;

use crate::auth::Caller;
use crate::params::Params;
use crate::{ApiError, AppState, Json, Path, Query, MAX_PAGE_SIZE};

/// The aggregators this route offers, by the name `?aggregator=` takes.
pub const AGGREGATORS: &[&str] = &[
    "flat",
    "collapse",
    "decay",
    "year_month_type",
    "year_month",
    "recent_type",
    "recent_type_object",
    "recent_object_type",
    "date_weight",
    "notification",
];

/// The body of a feed response.
#[derive(Debug, Serialize)]
struct FeedBody<'a, T> {
    aggregator: &'a str,
    feed: T,
    links_left_out: u64,
}

/// `GET /users/{id}/feed`: private to the user.
pub(crate) async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller.must_be(&user, "the feed")?;
    let mut params = Params::new(pairs)?;
    let name = params.text("aggregator").unwrap_or_else(|| "flat".into());
    // Each arm takes its own parameters, then `read` refuses the rest and reads the feed. The
    // parameter lists double as the error message's "it takes: …".
    let reader = Reader {
        state: &state,
        user: &user,
        name: &name,
    };
    match name.as_str() {
        "flat" => {
            let mut feed = UnAggregated::new().page_size(page_size(&mut params)?)?;
            if let Some(order) = params.text("order") {
                feed = feed.order(order_of(&order)?);
            }
            if let Some(verbs) = params.list("verbs") {
                feed = feed.verbs(verbs)?;
            }
            let cursor = paged(feed, &mut params);
            reader
                .read(params, &["page_size", "order", "verbs", "cursor"], &cursor)
                .await
        }
        "collapse" => {
            let feed = match params.text("by").as_deref() {
                None | Some("object") => Collapse::by_object(),
                Some("actor") => Collapse::by_actor(),
                Some(other) => {
                    return Err(ApiError::bad_request(
                        "invalid_parameter",
                        format!("parameter `by`: {other:?} is neither `object` nor `actor`"),
                    ))
                }
            }
            .page_size(page_size(&mut params)?)?;
            let cursor = paged(feed, &mut params);
            reader
                .read(params, &["by", "page_size", "cursor"], &cursor)
                .await
        }
        "decay" => {
            let mut feed = DecayRanked::new().page_size(page_size(&mut params)?)?;
            if let Some(hours) = params.number::<u32>("scale_hours")? {
                feed = feed.scale(Duration::hours(hours.into()))?;
            }
            if let Some(hours) = params.number::<u32>("offset_hours")? {
                feed = feed.offset(Duration::hours(hours.into()))?;
            }
            if let Some(decay) = params.number::<f64>("decay")? {
                feed = feed.decay(decay)?;
            }
            let cursor = paged(feed, &mut params);
            reader
                .read(
                    params,
                    &[
                        "page_size",
                        "scale_hours",
                        "offset_hours",
                        "decay",
                        "cursor",
                    ],
                    &cursor,
                )
                .await
        }
        "year_month_type" => {
            let mut feed = YearMonthType::new();
            if let Some(year) = params.number("year")? {
                feed = feed.year(year)?;
            }
            if let Some(years) = size(&mut params, "years", MAX_YEARS)? {
                feed = feed.years(years)?;
            }
            if let Some(months) = params.number("months")? {
                feed = feed.months(months)?;
            }
            if let Some(types) = size(&mut params, "types", MAX_GROUPS)? {
                feed = feed.types(types)?;
            }
            if let Some(hits) = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)? {
                feed = feed.hits_per_group(hits)?;
            }
            if let Some(groups) = size(&mut params, "groups", MAX_GROUPS)? {
                feed = feed.groups(groups)?;
            }
            reader
                .read(
                    params,
                    &[
                        "year",
                        "years",
                        "months",
                        "types",
                        "hits_per_group",
                        "groups",
                    ],
                    &feed,
                )
                .await
        }
        "year_month" => {
            let mut feed = YearMonth::new();
            if let Some(year) = params.number("year")? {
                feed = feed.year(year)?;
            }
            if let Some(years) = size(&mut params, "years", MAX_YEARS)? {
                feed = feed.years(years)?;
            }
            if let Some(months) = params.number("months")? {
                feed = feed.months(months)?;
            }
            if let Some(hits) = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)? {
                feed = feed.hits_per_group(hits)?;
            }
            if let Some(groups) = size(&mut params, "groups", MAX_GROUPS)? {
                feed = feed.groups(groups)?;
            }
            reader
                .read(
                    params,
                    &["year", "years", "months", "hits_per_group", "groups"],
                    &feed,
                )
                .await
        }
        "recent_type" => {
            let mut feed = RecentType::new();
            if let Some(types) = size(&mut params, "types", MAX_GROUPS)? {
                feed = feed.types(types)?;
            }
            if let Some(hits) = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)? {
                feed = feed.hits_per_group(hits)?;
            }
            reader
                .read(params, &["types", "hits_per_group"], &feed)
                .await
        }
        "recent_type_object" => {
            // Two group levels with no limit on leaf groups: the product is capped.
            let types =
                size(&mut params, "types", MAX_GROUPS)?.unwrap_or(RecentTypeObject::DEFAULT_TYPES);
            let objects = size(&mut params, "objects", MAX_GROUPS)?
                .unwrap_or(RecentTypeObject::DEFAULT_OBJECTS);
            let hits = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)?
                .unwrap_or(NESTED_HITS_PER_GROUP);
            nested_total(types, objects, hits)?;
            let feed = RecentTypeObject::new()
                .types(types)?
                .objects(objects)?
                .hits_per_group(hits)?;
            reader
                .read(params, &["types", "objects", "hits_per_group"], &feed)
                .await
        }
        "recent_object_type" => {
            // Two group levels with no limit on leaf groups: the product is capped.
            let objects = size(&mut params, "objects", MAX_GROUPS)?
                .unwrap_or(RecentObjectType::DEFAULT_OBJECTS);
            let types =
                size(&mut params, "types", MAX_GROUPS)?.unwrap_or(RecentObjectType::DEFAULT_TYPES);
            let hits = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)?
                .unwrap_or(NESTED_HITS_PER_GROUP);
            nested_total(objects, types, hits)?;
            let feed = RecentObjectType::new()
                .objects(objects)?
                .types(types)?
                .hits_per_group(hits)?;
            reader
                .read(params, &["objects", "types", "hits_per_group"], &feed)
                .await
        }
        "date_weight" => {
            let mut feed = DateWeight::new();
            if let Some(days) = size(&mut params, "days", MAX_DAYS)? {
                feed = feed.days(days)?;
            }
            if let Some(hits) = size(&mut params, "hits_per_group", MAX_HITS_PER_GROUP)? {
                feed = feed.hits_per_group(hits)?;
            }
            reader
                .read(params, &["days", "hits_per_group"], &feed)
                .await
        }
        "notification" => {
            let mut feed = Notification::new();
            match (params.time("since")?, params.time("until")?) {
                (Some(since), Some(until)) => feed = feed.window(since, until)?,
                (Some(since), None) => feed = feed.since(since)?,
                (None, Some(_)) => {
                    return Err(ApiError::bad_request(
                        "invalid_parameter",
                        "parameter `until` needs `since`",
                    ))
                }
                (None, None) => {}
            }
            if let Some(objects) = size(&mut params, "objects", MAX_GROUPS)? {
                feed = feed.objects(objects)?;
            }
            if let Some(verbs) = size(&mut params, "verbs", MAX_GROUPS)? {
                feed = feed.verbs(verbs)?;
            }
            if let Some(actors) = size(&mut params, "actors", MAX_ACTORS)? {
                feed = feed.actors(actors)?;
            }
            reader
                .read(
                    params,
                    &["since", "until", "objects", "verbs", "actors"],
                    &feed,
                )
                .await
        }
        other => Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "unknown aggregator {other:?}; choose one of: {}",
                AGGREGATORS.join(", ")
            ),
        )),
    }
}

/// One feed request: whose feed, through which aggregator.
struct Reader<'a> {
    state: &'a AppState,
    user: &'a str,
    name: &'a str,
}

impl Reader<'_> {
    /// Refuses the parameters left in `params` (the aggregator takes only `known`), then reads
    /// the feed through `aggregator` and answers with its JSON.
    async fn read<A>(
        &self,
        params: Params,
        known: &[&str],
        aggregator: &A,
    ) -> Result<Response, ApiError>
    where
        A: Aggregator,
        A::Output: Serialize,
    {
        // Formatted only if a parameter is left over.
        params.finish(format_args!("aggregator `{}`", self.name), known)?;
        let feed = self.state.manager.get_feeds(self.user, aggregator).await?;
        Ok(Json(FeedBody {
            aggregator: self.name,
            feed: feed.feed,
            links_left_out: feed.links_left_out,
        })
        .into_response())
    }
}

/// A flat feed paged with the library's signed cursors, from `cursor` if given.
fn paged<A>(feed: A, params: &mut Params) -> Cursor<A> {
    match params.text("cursor") {
        Some(cursor) => Cursor::new(feed).after(&cursor),
        None => Cursor::new(feed),
    }
}

/// The largest number of groups (verbs, objects, leaf groups) a grouped feed may list.
const MAX_GROUPS: usize = 50;
/// The largest number of years a calendar feed may list.
const MAX_YEARS: usize = 10;
/// The most activities per group.
const MAX_HITS_PER_GROUP: usize = 20;
/// The most days a `date_weight` feed may list.
const MAX_DAYS: usize = 31;
/// The most actors a notification row may list (its counts cover them all).
const MAX_ACTORS: usize = 20;

/// The most activities a feed with two unlimited group levels (`recent_type_object`,
/// `recent_object_type`) may hold: `types × objects × hits_per_group`.
const MAX_NESTED_ACTIVITIES: usize = 2_000;
/// Their activities per group unless asked: 5, so that their default sizes (20 × 20) fit in
/// [`MAX_NESTED_ACTIVITIES`]. (The library's default is 20.)
const NESTED_HITS_PER_GROUP: usize = 5;

/// Refuses two-level sizes whose product exceeds [`MAX_NESTED_ACTIVITIES`].
fn nested_total(outer: usize, inner: usize, hits: usize) -> Result<(), ApiError> {
    let total = outer.saturating_mul(inner).saturating_mul(hits);
    if total > MAX_NESTED_ACTIVITIES {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!(
                "types × objects × hits_per_group is {total}; this service allows at most {MAX_NESTED_ACTIVITIES}"
            ),
        ));
    }
    Ok(())
}

/// A size parameter, at most `max`: the service's own cap, below the library's, so that one
/// request cannot ask for millions of activities. The aggregator checks the lower bound.
fn size(params: &mut Params, name: &str, max: usize) -> Result<Option<usize>, ApiError> {
    match params.number(name)? {
        Some(value) if value > max => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("parameter `{name}`: {value} is more than this service allows ({max})"),
        )),
        value => Ok(value),
    }
}

/// `page_size`: 1 to [`MAX_PAGE_SIZE`], 20 if absent.
pub(crate) fn page_size(params: &mut Params) -> Result<usize, ApiError> {
    let size = params.number("page_size")?.unwrap_or(20);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("parameter `page_size`: {size} is not between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(size)
}

fn order_of(text: &str) -> Result<Order, ApiError> {
    match text {
        "desc" => Ok(Order::Desc),
        "asc" => Ok(Order::Asc),
        other => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("parameter `order`: {other:?} is neither `desc` nor `asc`"),
        )),
    }
}
