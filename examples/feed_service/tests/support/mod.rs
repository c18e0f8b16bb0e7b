//! A real service for the tests: an on-disk store in a temporary directory, three users with
//! fresh keys, served on an ephemeral port of 127.0.0.1, and a client that speaks to it over
//! HTTP.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use elasticfeeds::{FeedQuery, Manager};
use feed_service::auth::generate_key;
use feed_service::{serve, AppState, Keys, Limits, Users};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;

/// The users every test service has.
pub const USERS: [&str; 3] = ["mark", "jane", "carlos"];

/// Every route but `/health`: its method, its path as the router names it, and a sample path.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/activities", "/activities"),
    ("GET", "/activities/{id}", "/activities/mark:a"),
    ("DELETE", "/activities/{id}", "/activities/mark:a"),
    ("PUT", "/following/{user}", "/following/jane"),
    ("DELETE", "/following/{user}", "/following/jane"),
    ("PUT", "/watching/{type}/{id}", "/watching/project/apollo"),
    (
        "DELETE",
        "/watching/{type}/{id}",
        "/watching/project/apollo",
    ),
    ("GET", "/users/{id}", "/users/mark"),
    ("GET", "/users/{id}/activities", "/users/mark/activities"),
    ("GET", "/users/{id}/feed", "/users/mark/feed"),
    ("GET", "/users/{id}/network", "/users/mark/network"),
];

/// The body limit the test service runs with.
pub const BODY_LIMIT: usize = 16 * 1024;

/// A running service.
pub struct Service {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The store, to check from the library's side what the API did (or did not) write.
    pub manager: Manager,
    /// Each user's key.
    pub keys: BTreeMap<&'static str, String>,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A response: its status and, when it has one, its JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }
}

impl Service {
    /// Starts a service with a fresh store and users.
    pub async fn start() -> Service {
        Self::start_with(Limits {
            body_bytes: BODY_LIMIT,
            read_timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .await
    }

    /// Starts a service with these limits.
    pub async fn start_with(limits: Limits) -> Service {
        let mut users = Users::new();
        let mut keys = BTreeMap::new();
        for user in USERS {
            let key = generate_key().unwrap();
            users.insert(user, &key).unwrap();
            keys.insert(user, key);
        }
        Self::start_with_keys(Arc::new(Keys::fixed(users)), keys, limits).await
    }

    /// Starts a service whose users are `users`; `keys` names the keys `call` sends.
    pub async fn start_with_keys(
        users: Arc<Keys>,
        keys: BTreeMap<&'static str, String>,
        limits: Limits,
    ) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let manager = Manager::open(dir.path().join("store").to_str().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(manager.clone(), users);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(listener, state, limits, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Service {
            base,
            manager,
            keys,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Stops the server gracefully (which closes the store) and waits for it.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap();
    }

    /// A request as `user` (`None`: without a key), with an optional JSON body.
    pub async fn call(
        &self,
        user: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            self.url(path),
        );
        if let Some(user) = user {
            request = request.bearer_auth(&self.keys[user]);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.unwrap()).await
    }

    /// A request with a raw body and headers, for malformed input.
    pub async fn raw(
        &self,
        user: Option<&str>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .body(body);
        if let Some(user) = user {
            request = request.bearer_auth(&self.keys[user]);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.unwrap()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts an activity as `user` and returns its stored id.
    pub async fn post(&self, user: &str, activity: Value) -> String {
        let reply = self
            .call(Some(user), "POST", "/activities", Some(activity))
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body["feed_id"].as_str().unwrap().to_owned()
    }

    /// Everything stored, from the library's side: every activity and every user's network.
    /// Two snapshots are equal exactly when nothing was written in between.
    pub async fn snapshot(&self) -> Value {
        let activities = self
            .manager
            .search(FeedQuery::all().page_size(10_000).unwrap())
            .await
            .unwrap();
        let mut networks = Vec::new();
        for user in USERS {
            networks.push(serde_json::to_value(self.manager.network(user).await.unwrap()).unwrap());
        }
        serde_json::json!({ "activities": activities.activities, "networks": networks })
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {bytes:?}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The ids of a JSON list of activities, in order.
pub fn ids(activities: &Value) -> Vec<String> {
    activities
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {activities}"))
        .iter()
        .map(|a| a["feed_id"].as_str().unwrap().to_owned())
        .collect()
}
