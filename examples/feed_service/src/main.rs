//! The `feed-service` command: `serve` runs the API, `add-user` makes a user and their key.
//!
//! ```text
//! cargo run -p feed-service -- add-user mark     # prints mark's API key, once
//! cargo run -p feed-service -- serve             # http://127.0.0.1:3000, store ./feed-service-store
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use feed_service::{serve, AppState, Error, Keys, Limits};
use tracing_subscriber::EnvFilter;

/// An example feed service on elasticfeeds: a JSON REST API with per-user API keys.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The keys file: one `<sha-256 of the key> <user id>` line per key.
    #[arg(
        long,
        env = "FEED_SERVICE_KEYS",
        default_value = "feed-service-keys",
        global = true
    )]
    keys: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the API until Ctrl-C or SIGTERM.
    Serve {
        /// Where the feeds live: a directory (the embedded store, created if missing) or a
        /// cluster's connection string, as `elasticfeeds::Manager::open` takes it.
        #[arg(long, env = "FEED_SERVICE_STORE", default_value = "feed-service-store")]
        store: String,
        /// The address to listen on.
        #[arg(long, env = "FEED_SERVICE_LISTEN", default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// The largest request body accepted, in bytes (larger ones get 413).
        #[arg(long, env = "FEED_SERVICE_BODY_LIMIT", default_value_t = Limits::default().body_bytes)]
        body_limit: usize,
        /// How long a read may take, in milliseconds, before it is answered with 503.
        #[arg(long, env = "FEED_SERVICE_READ_TIMEOUT_MS", default_value_t = 10_000)]
        read_timeout_ms: u64,
        /// How long, in milliseconds, requests under way may take to finish after Ctrl-C or
        /// SIGTERM before they are cut off.
        #[arg(long, env = "FEED_SERVICE_SHUTDOWN_GRACE_MS", default_value_t = 30_000)]
        shutdown_grace_ms: u64,
    },
    /// Makes a new API key for a user (a new user, or another key for a known one), adds its
    /// hash to the keys file and prints the key. The key is not stored: keep it now. A running
    /// service sees the new key within a second.
    AddUser {
        /// The user id: 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
        user: String,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("feed-service: no async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // `serve` has waited its grace period: connections still open and engine work still
    // running are cut off here, instead of being waited for as dropping the runtime would.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("feed-service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::AddUser { user } => {
            let key = feed_service::auth::add_user(&cli.keys, &user)?;
            // The key alone on stdout, so that `KEY=$(feed-service add-user mark)` works.
            println!("{key}");
            eprintln!("added a key for {user:?} to {}", cli.keys.display());
            Ok(())
        }
        Command::Serve {
            store,
            listen,
            body_limit,
            read_timeout_ms,
            shutdown_grace_ms,
        } => {
            let users = Arc::new(Keys::watch(&cli.keys)?);
            tokio::spawn(users.clone().follow());
            if users.users().is_empty() {
                tracing::warn!(
                    keys = %cli.keys.display(),
                    "no users yet: add one with `feed-service add-user <id>`"
                );
            }
            let manager = elasticfeeds::Manager::open(&store).await?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(
                address = %listener.local_addr()?,
                store = %store,
                users = users.users().len(),
                "listening"
            );
            let state = AppState::new(manager, users);
            let limits = Limits {
                body_bytes: body_limit,
                read_timeout: Duration::from_millis(read_timeout_ms),
                shutdown_grace: Duration::from_millis(shutdown_grace_ms),
            };
            serve(listener, state, limits, shutdown_signal()).await
        }
    }
}

/// Completes on Ctrl-C, or on SIGTERM where there is one (as sent by `kill` or a supervisor).
async fn shutdown_signal() {
    let ctrl_c = async {
        // If no handler can be installed, wait for the other signal only.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
