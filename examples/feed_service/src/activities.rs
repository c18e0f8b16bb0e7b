//! `POST /activities`, `GET /activities/{id}` and `DELETE /activities/{id}`.
//!
//! The caller is always the actor: a key lets its user post as themselves and nobody else.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use elasticfeeds::{Activity, Actor, Object, Origin, Target};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{check_user_id, Caller};
use crate::{ApiError, AppState, Json, Path, PERSON};

/// The body of `POST /activities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewActivity {
    /// The client's own id, for retries that never duplicate. It is scoped to the caller: the
    /// stored id is `<caller>:<id>`, so two users may pick the same one.
    id: Option<String>,
    verb: String,
    object: Entity,
    target: Option<Entity>,
    origin: Option<Entity>,
    /// When it happened (RFC 3339); now if absent.
    published: Option<DateTime<Utc>>,
    extra: Option<Value>,
}

/// An object, target or origin in a request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entity {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    extra: Option<Value>,
}

impl NewActivity {
    /// The library's activity, every field validated by the library; the id scoped to `caller`.
    fn build(self, caller: &str) -> Result<Activity, ApiError> {
        let mut object = Object::new(&self.object.id, &self.object.kind)?;
        if let Some(extra) = self.object.extra {
            object = object.with_extra(extra)?;
        }
        let mut activity = Activity::new(&self.verb, Actor::new(caller, PERSON)?, object)?;
        if let Some(target) = self.target {
            let mut entity = Target::new(&target.id, &target.kind)?;
            if let Some(extra) = target.extra {
                entity = entity.with_extra(extra)?;
            }
            activity = activity.with_target(entity);
        }
        if let Some(origin) = self.origin {
            let mut entity = Origin::new(&origin.id, &origin.kind)?;
            if let Some(extra) = origin.extra {
                entity = entity.with_extra(extra)?;
            }
            activity = activity.with_origin(entity);
        }
        if let Some(published) = self.published {
            activity = activity.published_at(published)?;
        }
        if let Some(extra) = self.extra {
            activity = activity.with_extra(extra)?;
        }
        if let Some(id) = self.id {
            // The user-id rule keeps client ids URL-safe and free of `:`.
            check_user_id(&id).map_err(|_| {
                ApiError::bad_request(
                    "invalid_id",
                    format!("invalid activity id {id:?}: use 1 to 64 ASCII letters, digits, `_`, `-` or `.`"),
                )
            })?;
            activity = activity.with_id(&format!("{caller}:{id}"))?;
        }
        Ok(activity)
    }
}

/// `POST /activities`: 201 with the stored activity and its `Location`.
pub(crate) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewActivity>,
) -> Result<impl IntoResponse, ApiError> {
    let activity = body.build(caller.id())?;
    let id = state.manager.add_activity(activity.clone()).await?;
    let stored = activity.with_id(&id)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/activities/{id}"))],
        Json(stored),
    ))
}

/// `GET /activities/{id}`: any activity, to any caller (activities are public).
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Activity>, ApiError> {
    Ok(Json(state.manager.get_activity(&id).await?))
}

/// `DELETE /activities/{id}`: 204; only the activity's actor may remove it (403 otherwise).
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let activity = state.manager.get_activity(&id).await?;
    let actor = activity.actor();
    if actor.id() != caller.id() || actor.kind() != PERSON {
        return Err(ApiError::forbidden(format!(
            "activity {id:?} belongs to another user"
        )));
    }
    // No other user can take this id over in between: the library refuses to replace an
    // activity with one by another actor.
    state.manager.remove_activity(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
