//! Following users and watching objects: `PUT`/`DELETE /following/{user}`,
//! `PUT`/`DELETE /watching/{type}/{id}`, and `GET /users/{id}/network`.
//!
//! A follow or a watch counts from the moment it is made: activities published before it do not
//! come through it (the library's "since linked" rule). Making a link twice is 409, removing one
//! that does not exist is 404.

use axum::extract::State;
use axum::http::StatusCode;
use elasticfeeds::{Link, Network};

use crate::auth::Caller;
use crate::{known_user, ApiError, AppState, Json, Path, PERSON};

/// `PUT /following/{user}`: 201 with the new link; 404 for a user the service does not know.
pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<(StatusCode, Json<Link>), ApiError> {
    known_user(&state, &user)?;
    let link = state.manager.follow_as(caller.id(), &user, PERSON).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// `DELETE /following/{user}`: 204.
pub(crate) async fn unfollow(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .manager
        .unfollow_as(caller.id(), &user, PERSON)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /watching/{type}/{id}`: 201 with the new link. Objects are not registered anywhere, so
/// any valid type and id can be watched.
pub(crate) async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Link>), ApiError> {
    let link = state.manager.watch(caller.id(), &id, &kind).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// `DELETE /watching/{type}/{id}`: 204.
pub(crate) async fn unwatch(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.manager.unwatch(caller.id(), &id, &kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/{id}/network`: the user's links, newest first; private to the user.
pub(crate) async fn network(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<Network>, ApiError> {
    caller.must_be(&user, "the network")?;
    Ok(Json(state.manager.network(&user).await?))
}
