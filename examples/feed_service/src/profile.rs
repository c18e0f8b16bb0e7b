//! Any user's public side: `GET /users/{id}` (follower and following counts) and
//! `GET /users/{id}/activities` (what they posted, newest first, cursor-paged).

use axum::extract::State;
use elasticfeeds::{ActivityPage, EntityFilter, FeedQuery, LinkTarget};
use serde::Serialize;

use crate::auth::Caller;
use crate::feed::page_size;
use crate::params::Params;
use crate::{known_user, ApiError, AppState, Json, Path, Query, PERSON};

/// The body of `GET /users/{id}`.
#[derive(Debug, Serialize)]
pub(crate) struct Profile {
    id: String,
    /// How many users follow this one.
    followers: u64,
    /// How many links this user has made: the users they follow and the objects they watch.
    following: u64,
}

/// `GET /users/{id}`.
pub(crate) async fn profile(
    State(state): State<AppState>,
    _caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<Profile>, ApiError> {
    known_user(&state, &user)?;
    let manager = &state.manager;
    let followed = LinkTarget::actor(&user, PERSON)?;
    let (followers, following) = tokio::try_join!(
        manager.follower_count(&followed),
        manager.following_count(&user),
    )?;
    Ok(Json(Profile {
        id: user,
        followers,
        following,
    }))
}

/// `GET /users/{id}/activities?page_size=&cursor=`: `{activities, next_cursor}`, newest first;
/// `page_size` is 1 to 100 (20 if absent), `cursor` the `next_cursor` of the page before.
pub(crate) async fn activities(
    State(state): State<AppState>,
    _caller: Caller,
    Path(user): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<ActivityPage>, ApiError> {
    let mut params = Params::new(pairs)?;
    let page_size = page_size(&mut params)?;
    let cursor = params.text("cursor");
    params.finish("a user's activities", &["page_size", "cursor"])?;
    known_user(&state, &user)?;
    let mut query = FeedQuery::all()
        .actor(EntityFilter::key(&user, PERSON)?)
        .page_size(page_size)?;
    if let Some(cursor) = &cursor {
        // These cursors are positions in public data, not signed: a forged one only reaches
        // other public activities.
        query = query.cursor(cursor)?;
    }
    Ok(Json(state.manager.search(query).await?))
}
