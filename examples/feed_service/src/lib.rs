//! # feed-service
//!
//! A complete feed service on [elasticfeeds]: a JSON REST API on axum, with per-user API keys.
//! It is an example to copy: every route is a few lines over the library's public API.
//!
//! - [`auth`]: users, API keys (stored as SHA-256 hashes) and the [`Caller`](auth::Caller)
//!   extractor that every route but `/health` takes;
//! - [`keys`]: the users, kept in step with the keys file while the service runs;
//! - `params`: query parameters taken by name, so that an unknown one is an error;
//! - `activities`: post, read and remove activities;
//! - `links`: follow, unfollow, watch, unwatch, and a user's own network;
//! - `feed`: a user's feed, with a choice of aggregator and its parameters;
//! - `profile`: any user's public profile and activities;
//! - [`error`]: the one JSON error shape every route answers with.
//!
//! The routes, their parameters and `curl` examples are in this crate's README.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use elasticfeeds::Manager;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod auth;
pub mod error;
pub mod keys;

mod activities;
mod feed;
mod links;
mod params;
mod profile;

pub use auth::Users;
pub use error::{ApiError, Error};
pub use feed::AGGREGATORS;
pub use keys::Keys;

/// What every handler shares: the library's manager and the service's users.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The feed store.
    pub manager: Manager,
    /// Who may call, by key.
    pub users: Arc<Keys>,
    /// Serialises the check-then-write of posts and removals per activity id.
    ids: Arc<activities::IdLocks>,
}

impl AppState {
    /// The state of a service over `manager`, answering to `users`.
    pub fn new(manager: Manager, users: Arc<Keys>) -> Self {
        AppState {
            manager,
            users,
            ids: Arc::new(activities::IdLocks::new()),
        }
    }
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub body_bytes: usize,
    /// How long a read may take before it is answered with 503. (The engine's work for it is
    /// not cancelled: it finishes on its blocking thread and is dropped.) Writes have no
    /// timeout, so the answer to a slow write is its outcome, not a guess. A write whose client
    /// goes away is still applied or refused whole, since the library commits each write it
    /// has been handed; clients that retry should send their own activity id, which makes the
    /// retry harmless.
    pub read_timeout: Duration,
    /// How long, after the shutdown signal, requests under way may take to finish before
    /// [`serve`] stops waiting for them and closes the store. (Their tasks live on the runtime:
    /// the `feed-service` binary cuts them off when it shuts its runtime down right after.)
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The whole API as an axum router, ready to serve.
pub fn router(state: AppState, limits: Limits) -> Router {
    let reads = Router::new()
        .route("/activities/{id}", get(activities::get))
        .route("/users/{id}", get(profile::profile))
        .route("/users/{id}/activities", get(profile::activities))
        .route("/users/{id}/feed", get(feed::feed))
        .route("/users/{id}/network", get(links::network))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.read_timeout,
        ));
    let writes = Router::new()
        .route("/activities", post(activities::post))
        .route(
            "/activities/{id}",
            axum::routing::delete(activities::delete),
        )
        .route(
            "/following/{user}",
            put(links::follow).delete(links::unfollow),
        )
        .route(
            "/watching/{kind}/{id}",
            put(links::watch).delete(links::unwatch),
        );
    Router::new()
        .route("/health", get(health))
        .merge(reads)
        .merge(writes)
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) })
        .with_state(state)
        // tower-http's limit replaces axum's own default limit of 2 MiB.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .layer(middleware::from_fn(json_errors))
        // A handler that panics (a bug) still gets a JSON 500 and its connection stays up.
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a request handler panicked");
            ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }))
        .layer(TraceLayer::new_for_http())
}

/// `GET /health`: the only route without a key.
async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Gives the errors made outside our handlers (tower-http's 413, axum's 405) the same JSON body
/// as ours, so a client never has to parse two error shapes.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut replaced = ApiError::from_status(status).into_response();
        if let Some(allow) = response.headers().get(header::ALLOW) {
            replaced.headers_mut().insert(header::ALLOW, allow.clone());
        }
        return replaced;
    }
    response
}

/// `axum::Json`, with its rejections answered in our error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
struct Json<T>(T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, with its rejections answered in our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
struct Query<T>(T);

/// `axum::extract::Path`, with its rejections answered in our error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
struct Path<T>(T);

/// Serves the API on `listener` until `shutdown` completes, lets the requests under way finish
/// (for at most [`Limits::shutdown_grace`]), then closes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let manager = state.manager.clone();
    let signalled = Arc::new(tokio::sync::Notify::new());
    let notify = signalled.clone();
    let server = axum::serve(listener, router(state, limits)).with_graceful_shutdown(async move {
        shutdown.await;
        // `notify_one` keeps the permit if nobody waits yet.
        notify.notify_one();
    });
    let deadline = async {
        signalled.notified().await;
        tokio::time::sleep(limits.shutdown_grace).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => tracing::warn!(
            grace = ?limits.shutdown_grace,
            "stopped waiting for requests still under way at the end of the shutdown grace period"
        ),
    }
    manager.close().await?;
    Ok(())
}

/// A 404 unless the service knows `user`.
fn known_user(state: &AppState, user: &str) -> Result<(), ApiError> {
    if state.users.contains(user) {
        Ok(())
    } else {
        Err(ApiError::user_not_found(user))
    }
}

/// The actor type of every user of this service.
const PERSON: &str = "person";

/// The largest page a client may ask for. The library allows 10,000; a public service keeps
/// each request's cost small.
pub const MAX_PAGE_SIZE: usize = 100;
