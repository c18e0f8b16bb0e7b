//! HTTP to a cluster: one request type, the two official clients behind one small trait, the
//! retry loop, and the mapping of failures to the crate's errors.
//!
//! Bodies are built by [`compile`](super::compile) and [`mapping`](super::mapping) as JSON and
//! sent through the client's generic `send`, so what goes on the wire is the same for both
//! engines unless the code says otherwise, and it is testable without a cluster.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::{Error, Result};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
    Head,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    None,
    /// One JSON document (`application/json`).
    Json(Value),
    /// Newline-delimited JSON (`_bulk`, `_msearch`).
    NdJson(Vec<Value>),
}

/// One request, as both engines take it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The path below the node URL, without a leading slash (`feeds/_search`).
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Body,
}

impl Request {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::None,
        }
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub(crate) fn nd_json(mut self, lines: Vec<Value>) -> Self {
        self.body = Body::NdJson(lines);
        self
    }

    pub(crate) fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// The body bytes as sent.
    pub(crate) fn body_bytes(&self) -> Option<Vec<u8>> {
        match &self.body {
            Body::None => None,
            Body::Json(value) => Some(value.to_string().into_bytes()),
            Body::NdJson(lines) => {
                let mut out = Vec::new();
                for line in lines {
                    out.extend_from_slice(line.to_string().as_bytes());
                    out.push(b'\n');
                }
                Some(out)
            }
        }
    }
}

/// A response: its status and its JSON body (`Null` when empty, as for `HEAD`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    /// How many times the request was sent (more than 1 after retries).
    pub(crate) attempts: u32,
}

/// Sends one request once. Implemented by the two official clients (and nothing else: the
/// transport tests point the real clients at a local stub server).
#[async_trait]
pub(crate) trait Client: Debug + Send + Sync {
    /// The status and body bytes, or why no response arrived (connection refused, reset, TLS,
    /// timeout).
    async fn send(&self, request: &Request) -> std::result::Result<(u16, Vec<u8>), String>;
}

/// How failed requests are retried: only connection failures and the statuses an overloaded or
/// recovering cluster answers (429 Too Many Requests, 503 Service Unavailable). Every other
/// status is the cluster's verdict on the request and is returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for every further one (default 100 ms).
    pub base_delay: Duration,
    /// The longest wait between two attempts (default 2 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A client with its retry policy and the names errors carry.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) client: Box<dyn Client>,
    pub(crate) retry: RetryPolicy,
    /// `elasticsearch` or `opensearch`.
    pub(crate) backend: &'static str,
    /// The node URLs, without credentials, for error messages.
    pub(crate) nodes: String,
}

fn is_retried(status: u16) -> bool {
    status == 429 || status == 503
}

impl Cluster {
    /// Sends a request, retrying as the policy allows, and returns whatever status came back
    /// last. Only a connection failure on the last attempt is an error here
    /// ([`Error::Unreachable`]); statuses are for the caller to judge (see [`Cluster::ok`]).
    pub(crate) async fn send(&self, request: &Request) -> Result<Reply> {
        let mut retry = 0;
        loop {
            let outcome = self.client.send(request).await;
            let retried = match &outcome {
                Ok((status, _)) => is_retried(*status),
                Err(_) => true,
            };
            if !retried || retry >= self.retry.max_retries {
                return match outcome {
                    Ok((status, bytes)) => Ok(Reply {
                        status,
                        body: parse_body(&bytes),
                        attempts: retry + 1,
                    }),
                    Err(reason) => Err(Error::Unreachable {
                        backend: self.backend,
                        nodes: self.nodes.clone(),
                        reason,
                    }),
                };
            }
            tokio::time::sleep(self.retry.delay(retry)).await;
            retry += 1;
        }
    }

    /// Sends a request and returns its body if the status is a success; any other status
    /// becomes [`Error::IndexNotFound`] or [`Error::Rejected`].
    pub(crate) async fn ok(&self, request: &Request) -> Result<Value> {
        let reply = self.send(request).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            Err(self.refused(&reply))
        }
    }

    /// The error for a reply whose status is not a success.
    pub(crate) fn refused(&self, reply: &Reply) -> Error {
        let (kind, reason, index) = error_parts(&reply.body);
        if reply.status == 404 && kind == "index_not_found_exception" {
            return Error::IndexNotFound {
                backend: self.backend,
                index: index.unwrap_or_default(),
            };
        }
        Error::Rejected {
            backend: self.backend,
            status: reply.status,
            kind,
            reason,
        }
    }
}

/// Bodies are JSON; an empty body (HEAD) is `Null`, anything unparsable is kept as a string so
/// an error can still show it.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The error type, reason and index of an engine's error body
/// (`{"error": {"type", "reason", "index", "root_cause"}, "status"}`), or of a bulk item's
/// `error` object. Bodies of other shapes (a proxy's HTML page) are shown as they are.
pub(crate) fn error_parts(body: &Value) -> (String, String, Option<String>) {
    let error = body.get("error").unwrap_or(body);
    match error {
        Value::Object(map) => {
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
            (
                text("type").unwrap_or_else(|| "unknown".into()),
                text("reason").unwrap_or_else(|| error.to_string()),
                text("index"),
            )
        }
        Value::String(s) => ("unknown".into(), s.chars().take(500).collect(), None),
        other => ("unknown".into(), other.to_string(), None),
    }
}

/// The [`Client`] impl of an official client's transport. Both crates share the `send` API
/// (they split from one code base), so one body serves both; `$krate` names the crate.
#[cfg(feature = "cluster")]
macro_rules! client_impl {
    ($client:ident, $krate:ident) => {
        #[async_trait]
        impl Client for $client {
            async fn send(&self, request: &Request) -> std::result::Result<(u16, Vec<u8>), String> {
                use $krate::http::headers::{HeaderMap, HeaderValue, CONTENT_TYPE};
                use $krate::http::Method as M;
                let method = match request.method {
                    Method::Get => M::Get,
                    Method::Put => M::Put,
                    Method::Post => M::Post,
                    Method::Delete => M::Delete,
                    Method::Head => M::Head,
                };
                let mut headers = HeaderMap::new();
                if matches!(request.body, super::Body::NdJson(_)) {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-ndjson"),
                    );
                }
                let query = (!request.query.is_empty()).then_some(&request.query);
                let response = self
                    .0
                    .send(
                        method,
                        &request.path,
                        headers,
                        query,
                        request.body_bytes(),
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status_code().as_u16();
                let bytes = response.bytes().await.map_err(|e| e.to_string())?;
                Ok((status, bytes.to_vec()))
            }
        }
    };
}

#[cfg(feature = "elasticsearch")]
pub(crate) mod elasticsearch {
    //! The `elasticsearch` crate as a [`Client`].
    use async_trait::async_trait;
    use elasticsearch::auth::Credentials;
    use elasticsearch::cert::{Certificate, CertificateValidation};
    use elasticsearch::http::transport::{
        MultiNodeConnectionPool, SingleNodeConnectionPool, Transport, TransportBuilder,
    };
    use elasticsearch::http::Url;

    use super::{Client, Method, Request};
    use crate::backend::cluster::{ClusterAuth, Connection};
    use crate::error::{Error, Result};

    /// The official Elasticsearch client's transport.
    #[derive(Debug)]
    pub(crate) struct EsClient(Transport);

    impl EsClient {
        pub(crate) fn connect(connection: &Connection) -> Result<Self> {
            let bad = |reason: String| Error::InvalidConnection {
                value: connection.display(),
                reason,
            };
            let urls = connection
                .nodes
                .iter()
                .map(|u| Url::parse(u).map_err(|e| bad(format!("{u}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            let mut builder = match urls.as_slice() {
                [one] => TransportBuilder::new(SingleNodeConnectionPool::new(one.clone())),
                // No sniffing: the nodes given are the nodes used (the client's reseed would
                // need the `_nodes` API and panics on unexpected answers).
                _ => TransportBuilder::new(MultiNodeConnectionPool::round_robin(urls, None)),
            };
            builder = builder
                .timeout(connection.options.timeout)
                .enable_meta_header(false);
            if let Some(auth) = &connection.auth {
                builder = builder.auth(match auth.clone() {
                    ClusterAuth::Basic { user, password } => Credentials::Basic(user, password),
                    ClusterAuth::ApiKey { id, key } => Credentials::ApiKey(id, key),
                    ClusterAuth::EncodedApiKey(key) => Credentials::EncodedApiKey(key),
                });
            }
            if let Some(pem) = &connection.options.ca_certificate {
                let certificate = Certificate::from_pem(pem)
                    .map_err(|e| bad(format!("the CA certificate is not valid PEM: {e}")))?;
                builder = builder.cert_validation(CertificateValidation::Full(certificate));
            }
            let transport = builder.build().map_err(|e| bad(e.to_string()))?;
            Ok(EsClient(transport))
        }
    }

    client_impl!(EsClient, elasticsearch);
}

#[cfg(feature = "opensearch")]
pub(crate) mod opensearch {
    //! The `opensearch` crate as a [`Client`], with the round-robin node pool that crate lacks.
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;
    use opensearch::auth::Credentials;
    use opensearch::cert::{Certificate, CertificateValidation};
    use opensearch::http::headers::HeaderValue;
    use opensearch::http::transport::{
        Connection as OsConnection, ConnectionPool, SingleNodeConnectionPool, Transport,
        TransportBuilder,
    };
    use opensearch::http::Url;

    use super::{Client, Method, Request};
    use crate::backend::cluster::{ClusterAuth, Connection};
    use crate::error::{Error, Result};

    /// Hands out the given nodes in turn. The `opensearch` crate ships only a single-node pool;
    /// a retry after a connection failure goes to the next node.
    #[derive(Debug, Clone)]
    struct RoundRobin {
        nodes: Arc<Vec<OsConnection>>,
        next: Arc<AtomicUsize>,
    }

    impl ConnectionPool for RoundRobin {
        fn next(&self) -> OsConnection {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
            self.nodes[i].clone()
        }
    }

    /// The official OpenSearch client's transport.
    #[derive(Debug)]
    pub(crate) struct OsClient(Transport);

    impl OsClient {
        pub(crate) fn connect(connection: &Connection) -> Result<Self> {
            let bad = |reason: String| Error::InvalidConnection {
                value: connection.display(),
                reason,
            };
            let urls = connection
                .nodes
                .iter()
                .map(|u| Url::parse(u).map_err(|e| bad(format!("{u}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            let mut builder = match urls.as_slice() {
                [one] => TransportBuilder::new(SingleNodeConnectionPool::new(one.clone())),
                _ => TransportBuilder::new(RoundRobin {
                    nodes: Arc::new(urls.into_iter().map(OsConnection::new).collect()),
                    next: Arc::new(AtomicUsize::new(0)),
                }),
            };
            builder = builder.timeout(connection.options.timeout);
            match &connection.auth {
                Some(ClusterAuth::Basic { user, password }) => {
                    builder = builder.auth(Credentials::Basic(user.clone(), password.clone()));
                }
                Some(ClusterAuth::ApiKey { id, key }) => {
                    builder = builder.auth(Credentials::ApiKey(id.clone(), key.clone()));
                }
                // The crate has no encoded-key credential: send the header as documented.
                Some(ClusterAuth::EncodedApiKey(key)) => {
                    let value = HeaderValue::from_str(&format!("ApiKey {key}"))
                        .map_err(|_| bad("the API key is not a valid header value".into()))?;
                    builder = builder.header(opensearch::http::headers::AUTHORIZATION, value);
                }
                None => {}
            }
            Self::finish(builder, connection, bad)
        }

        fn finish(
            mut builder: TransportBuilder,
            connection: &Connection,
            bad: impl Fn(String) -> Error,
        ) -> Result<Self> {
            if let Some(pem) = &connection.options.ca_certificate {
                let certificate = Certificate::from_pem(pem)
                    .map_err(|e| bad(format!("the CA certificate is not valid PEM: {e}")))?;
                builder = builder.cert_validation(CertificateValidation::Full(certificate));
            }
            let transport = builder.build().map_err(|e| bad(e.to_string()))?;
            Ok(OsClient(transport))
        }
    }

    client_impl!(OsClient, opensearch);
}
