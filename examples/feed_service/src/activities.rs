//! `POST /activities`, `GET /activities/{id}` and `DELETE /activities/{id}`.
//!
//! The caller is always the actor: a key lets its user post as themselves and nobody else.
//!
//! A client id is an idempotency key: the first post with it stores the activity (201); posting
//! the same activity with it again answers with what was stored (200) and writes nothing; a
//! different activity under an id already used is 409 `activity_conflict`. Removing the
//! activity frees its id. Within one service process, posts and removals of one id take turns
//! ([`IdLocks`]), so concurrent retries cannot both write. (Several processes over one
//! cluster would need a create-only write in the library.)

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
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

/// Locks by activity id, so that reading whether an id is taken and writing it happen as one
/// step. A fixed set of shards, picked by a hash of the id: ids that share a shard only wait
/// for each other, and the set never grows.
#[derive(Debug)]
pub(crate) struct IdLocks {
    shards: [tokio::sync::Mutex<()>; 64],
    hasher: std::hash::RandomState,
}

impl IdLocks {
    pub(crate) fn new() -> Self {
        IdLocks {
            shards: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            hasher: std::hash::RandomState::new(),
        }
    }

    async fn lock(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::BuildHasher;
        let shard = self.hasher.hash_one(id) as usize % self.shards.len();
        self.shards[shard].lock().await
    }
}

/// How far ahead of the server's clock `published` may lie: room for clocks that differ, too
/// little to pin a post at the top of every follower's feed.
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// An activity ready to store.
struct Built {
    /// With the client's id, if it chose one (then it may be retrying).
    activity: Activity,
    /// The client's id, scoped to the caller; `None` lets the store pick a new one.
    client_id: Option<String>,
    /// Whether the client chose `published` (else it is now, and differs on a retry).
    published: bool,
}

impl NewActivity {
    /// The library's activity, every field validated by the library, with the client's id
    /// scoped to `caller`, or none: the store then gives it a new random one, without looking
    /// it up. Everything is checked before anything is written, so nothing can fail after the
    /// write.
    fn build(self, caller: &str) -> Result<Built, ApiError> {
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
        let published = self.published.is_some();
        if let Some(published) = self.published {
            let latest = Utc::now() + MAX_CLOCK_SKEW;
            if published > latest {
                return Err(ApiError::bad_request(
                    "invalid_timestamp",
                    format!(
                        "invalid published timestamp {}: it lies more than {} minutes ahead of the server's clock",
                        published.to_rfc3339(),
                        MAX_CLOCK_SKEW.num_minutes()
                    ),
                ));
            }
            activity = activity.published_at(published)?;
        }
        if let Some(extra) = self.extra {
            activity = activity.with_extra(extra)?;
        }
        let client_id = match self.id {
            Some(id) => {
                // The user-id rule keeps client ids URL-safe and free of `:`.
                check_user_id(&id).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_id",
                        format!("invalid activity id {id:?}: use 1 to 64 ASCII letters, digits, `_`, `-` or `.`, not only dots"),
                    )
                })?;
                let id = format!("{caller}:{id}");
                activity = activity.with_id(&id)?;
                Some(id)
            }
            None => None,
        };
        Ok(Built {
            activity,
            client_id,
            published,
        })
    }
}

/// `POST /activities`: 201 with the stored activity and its `Location`; 200 with the activity
/// stored before for a retry with the same client id; 409 for another activity under that id.
pub(crate) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewActivity>,
) -> Result<Response, ApiError> {
    let built = body.build(caller.id())?;
    let location = |id: &str| [(header::LOCATION, format!("/activities/{id}"))];
    // A new random id cannot be in use: only a client's id needs its turn.
    let _turn = match &built.client_id {
        Some(id) => Some(state.ids.lock(id).await),
        None => None,
    };
    if let Some(id) = &built.client_id {
        match state.manager.get_activity(id).await {
            Ok(stored) => {
                // A retry without `published` was given a new "now": compare the rest.
                let retried = if built.published {
                    built.activity
                } else {
                    built.activity.published_at(stored.published())?
                };
                if retried != stored {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "activity_conflict",
                        format!(
                            "activity id {id:?} is already used by another activity; remove it first, or pick a new id",
                        ),
                    ));
                }
                return Ok((StatusCode::OK, location(id), Json(stored)).into_response());
            }
            Err(elasticfeeds::Error::ActivityNotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let id = state.manager.add_activity(built.activity.clone()).await?;
    let stored = built.activity.with_id(&id)?;
    Ok((StatusCode::CREATED, location(&id), Json(stored)).into_response())
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
    let _turn = state.ids.lock(&id).await;
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
