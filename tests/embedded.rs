//! The conformance suite on the embedded (tantivy) backend, in RAM and on disk, plus tests of the
//! embedded store's own file format.
//!
//! `cargo test conformance` runs exactly the suite: every case of it is named
//! `conformance::<store>::<area>::<case>`.

#![cfg(feature = "embedded")]

#[macro_use]
#[path = "conformance/mod.rs"]
pub mod suite;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use elasticfeeds::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use elasticfeeds::{FeedBackend, Manager, Result, DEFAULT_MAX_LINK_SIZE};
use tempfile::TempDir;

use suite::{Capabilities, OpenOptions, Store};

/// A new in-RAM store for every open (`memory:`); nothing outlives its `Manager`.
struct MemoryStore;

#[async_trait]
impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn new_name(&self) -> String {
        "memory".into()
    }

    async fn open(&self, _name: &str, options: OpenOptions) -> Result<Manager> {
        options.configure(Manager::builder("memory:")).open().await
    }
}

/// Stores in directories under one temporary root, removed when the test ends.
struct DiskStore {
    root: TempDir,
    next: AtomicUsize,
}

impl DiskStore {
    fn new() -> Self {
        DiskStore {
            root: tempfile::tempdir().expect("a temporary directory"),
            next: AtomicUsize::new(0),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }
}

#[async_trait]
impl Store for DiskStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reopen: true,
            single_writer: true,
            read_only: true,
        }
    }

    fn new_name(&self) -> String {
        format!("store{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    async fn open(&self, name: &str, options: OpenOptions) -> Result<Manager> {
        let path = self.path(name);
        let connection = path.to_str().expect("a UTF-8 temporary path");
        options.configure(Manager::builder(connection)).open().await
    }
}

/// An embedded backend built by hand and handed to `Manager::from_backend` as an
/// `Arc<dyn FeedBackend>`.
struct DynStore;

#[async_trait]
impl Store for DynStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn new_name(&self) -> String {
        "dyn".into()
    }

    async fn open(&self, _name: &str, options: OpenOptions) -> Result<Manager> {
        let embedded = EmbeddedOptions {
            feeds_index: options.feeds_index.unwrap_or_else(|| "feeds".into()),
            network_index: options.network_index.unwrap_or_else(|| "network".into()),
            read_only: options.read_only,
            embeddings: options.embeddings,
        };
        let backend = tokio::task::spawn_blocking(move || EmbeddedBackend::memory(embedded))
            .await
            .expect("open the backend")?;
        let backend: Arc<dyn FeedBackend> = Arc::new(backend);
        Manager::from_backend(
            backend,
            options.max_link_size.unwrap_or(DEFAULT_MAX_LINK_SIZE),
        )
    }
}

mod conformance {
    //! The shared suite, once per store.

    mod memory {
        crate::suite::conformance_suite!(crate::MemoryStore);
    }

    mod disk {
        crate::suite::conformance_suite!(crate::DiskStore::new());
    }

    /// A few cases through a hand-built backend behind `Arc<dyn FeedBackend>`.
    mod from_backend {
        crate::suite::conformance_cases!(crate::DynStore =>
            feeds: [reference_scenario, max_link_size_reported],
            activities: [get_and_remove, erase_actor],
            pages: [search_pages_with_cursor],
            grouping: [metrics_exact],
            aggregators: [reference_scenario, cursor_paging_survives_writes],
            concurrency: [concurrent_adds_lose_nothing, concurrent_follows_one_wins],
        );
    }
}

/// The embedded store's own files: not part of the shared suite.
mod store_format {
    use std::fs;

    use elasticfeeds::{Error, FeedQuery, Manager};

    fn connection(path: &std::path::Path) -> &str {
        path.to_str().expect("a UTF-8 temporary path")
    }

    /// `actor` posted `id`, with this embedding.
    fn embedded_post(id: &str, actor: &str, vector: &[f32]) -> elasticfeeds::Activity {
        use elasticfeeds::{Activity, Actor, Object};
        Activity::new(
            "post",
            Actor::new(actor, "person").unwrap(),
            Object::new(id, "post").unwrap(),
        )
        .unwrap()
        .with_id(id)
        .unwrap()
        .with_embedding(vector.to_vec())
        .unwrap()
    }

    async fn create(path: &std::path::Path) {
        let m = Manager::open(connection(path)).await.unwrap();
        m.follow("carlos", "mark").await.unwrap();
        m.close().await.unwrap();
    }

    fn write_meta(path: &std::path::Path, json: &str) {
        fs::write(path.join("elasticfeeds.json"), json).unwrap();
    }

    /// A store whose `elasticfeeds.json` records another version is `StoreVersion`, for writers
    /// and readers alike; nothing in it is touched.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn version_mismatch() {
        use elasticfeeds::backend::embedded::FORMAT_VERSION;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        create(&path).await;
        let meta = fs::read_to_string(path.join("elasticfeeds.json")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(value["version"], FORMAT_VERSION, "{meta}");

        write_meta(
            &path,
            r#"{"format": "elasticfeeds-embedded", "version": 99}"#,
        );
        match Manager::open(connection(&path)).await {
            Err(Error::StoreVersion {
                path: reported,
                found,
                expected,
            }) => {
                assert_eq!(reported, path);
                assert_eq!(found, 99);
                assert_eq!(expected, FORMAT_VERSION);
            }
            other => panic!("expected StoreVersion, got {other:?}"),
        }
        let read_only = Manager::builder(connection(&path)).read_only(true);
        assert_err!(
            read_only.open().await,
            Error::StoreVersion { found: 99, .. }
        );
        let after = fs::read_to_string(path.join("elasticfeeds.json")).unwrap();
        assert!(after.contains("99"), "the metadata was not rewritten");

        // Restored, the store opens with its data.
        write_meta(&path, &meta);
        let m = Manager::open(connection(&path)).await.unwrap();
        assert_eq!(m.following_count("carlos").await.unwrap(), 1);
    }

    /// Directories that are not stores are refused, and left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn not_a_store() {
        let dir = tempfile::tempdir().unwrap();

        // A non-empty directory without metadata.
        let busy = dir.path().join("busy");
        fs::create_dir_all(&busy).unwrap();
        fs::write(busy.join("notes.txt"), "mine").unwrap();
        assert_err!(
            Manager::open(connection(&busy)).await,
            Error::NotAStore { .. }
        );
        assert_eq!(fs::read_dir(&busy).unwrap().count(), 1);

        // Unreadable metadata.
        let garbled = dir.path().join("garbled");
        create(&garbled).await;
        write_meta(&garbled, "{ not json");
        assert_err!(
            Manager::open(connection(&garbled)).await,
            Error::NotAStore { .. }
        );

        // Read-only opens never create a store.
        let missing = dir.path().join("missing");
        assert_err!(
            Manager::builder(connection(&missing))
                .read_only(true)
                .open()
                .await,
            Error::NotAStore { .. }
        );
        assert!(!missing.exists());

        // An empty directory becomes a store.
        let empty = dir.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let m = Manager::open(connection(&empty)).await.unwrap();
        assert!(m
            .search(FeedQuery::all())
            .await
            .unwrap()
            .activities
            .is_empty());
        assert!(empty.join("elasticfeeds.json").exists());
    }

    /// Index names are directories inside the store: two pairs of names are two independent
    /// feeds in one store directory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn index_names_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let a = Manager::builder(connection(&path))
            .feeds_index("a-feeds")
            .network_index("a-network")
            .open()
            .await
            .unwrap();
        a.follow("carlos", "mark").await.unwrap();
        let b = Manager::builder(connection(&path))
            .feeds_index("b_feeds")
            .network_index("b_network")
            .open()
            .await
            .unwrap();
        assert_eq!(b.following_count("carlos").await.unwrap(), 0);
        assert!(path.join("a-feeds").is_dir() && path.join("b_network").is_dir());
    }

    /// Unknown or not yet available connection schemes are refused by name.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connection_strings() {
        for bad in ["", "ftp://host/x", "redis://localhost"] {
            assert_err!(Manager::open(bad).await, Error::InvalidConnection { .. });
        }
    }
    /// A removed, replaced or erased activity's vector is never read again. Its record stays in
    /// the vector log as written (records are never changed in place, since other readers may
    /// be scoring them), so the log grows by one record per embedding written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn removed_vectors_are_never_read() {
        use elasticfeeds::{EmbeddingSpace, EntityKey, Similarity};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let post = |id: &str, actor: &str, vector: [f32; 2]| embedded_post(id, actor, &vector);
        let m = Manager::builder(connection(&path))
            .embeddings(EmbeddingSpace::new(2, Similarity::L2Norm).unwrap())
            .open()
            .await
            .unwrap();
        // Slots 0 to 4, in this order.
        m.add_activities(vec![
            post("a", "mark", [1.0, 2.0]),
            post("b", "mark", [3.0, 4.0]),
            post("c", "mark", [5.0, 6.0]),
            post("d", "mark", [7.0, 8.0]),
            post("e", "ana", [9.0, 10.0]),
        ])
        .await
        .unwrap();
        m.remove_activity("a").await.unwrap();
        // Slot 5.
        m.add_activity(post("b", "mark", [11.0, 12.0]))
            .await
            .unwrap();
        m.erase_actor(&EntityKey::new("ana", "person").unwrap())
            .await
            .unwrap();
        // Slots 6 and 7: the second replaces the first within one write.
        m.add_activities(vec![
            post("f", "mark", [1.0, 1.0]),
            post("f", "mark", [2.0, 2.0]),
        ])
        .await
        .unwrap();

        let bytes = fs::read(path.join("embeddings.f32")).unwrap();
        let records: Vec<[f32; 2]> = bytes
            .chunks_exact(8)
            .map(|r| {
                let value = |i: usize| f32::from_le_bytes(r[i..i + 4].try_into().unwrap());
                [value(0), value(4)]
            })
            .collect();
        assert_eq!(
            records,
            [
                [1.0, 2.0],
                [3.0, 4.0],
                [5.0, 6.0],
                [7.0, 8.0],
                [9.0, 10.0],
                [11.0, 12.0],
                [1.0, 1.0],
                [2.0, 2.0],
            ]
        );
        for (id, vector) in [("b", [11.0, 12.0]), ("c", [5.0, 6.0]), ("f", [2.0, 2.0])] {
            let activity = m.get_activity(id).await.unwrap();
            assert_eq!(activity.embedding(), Some(&vector[..]), "{id}");
        }
        let page = m
            .search(FeedQuery::all().nearest(vec![0.0, 0.0], 10).unwrap())
            .await
            .unwrap();
        let found: Vec<_> = page.activities.iter().map(|a| a.id().unwrap()).collect();
        assert_eq!(found, ["f", "c", "d", "b"]);
    }

    /// A crash in the middle of appending to the vector log leaves a partial record nobody refers
    /// to: the next writer starts after it, and every vector reads back exactly.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_torn_vector_log_tail_is_skipped() {
        use elasticfeeds::{EmbeddingSpace, Similarity};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let space = EmbeddingSpace::new(2, Similarity::L2Norm).unwrap();
        let post = |id: &str, vector: [f32; 2]| embedded_post(id, "mark", &vector);
        let m = Manager::builder(connection(&path))
            .embeddings(space)
            .open()
            .await
            .unwrap();
        m.add_activities(vec![post("a", [1.0, 2.0]), post("b", [3.0, 4.0])])
            .await
            .unwrap();
        m.close().await.unwrap();
        drop(m);
        let log = path.join("embeddings.f32");
        let mut bytes = fs::read(&log).unwrap();
        assert_eq!(bytes.len(), 16);
        bytes.extend_from_slice(&[0xAB; 5]);
        fs::write(&log, &bytes).unwrap();

        let m = Manager::open(connection(&path)).await.unwrap();
        m.add_activity(post("c", [5.0, 6.0])).await.unwrap();
        // The new record starts at the next whole slot, after the torn one.
        assert_eq!(fs::metadata(&log).unwrap().len(), 32);
        for (id, vector) in [("a", [1.0, 2.0]), ("b", [3.0, 4.0]), ("c", [5.0, 6.0])] {
            let activity = m.get_activity(id).await.unwrap();
            assert_eq!(activity.embedding(), Some(&vector[..]), "{id}");
        }
        let page = m
            .search(FeedQuery::all().nearest(vec![5.0, 6.0], 3).unwrap())
            .await
            .unwrap();
        let found: Vec<_> = page.activities.iter().map(|a| a.id().unwrap()).collect();
        assert_eq!(found, ["c", "b", "a"]);
    }

    /// Embeddings live in the vector log (`embeddings.f32`), their slots in the activity index and
    /// the space in the metadata file; all survive tantivy's merge of many small segments.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embeddings_survive_segment_merges() {
        use elasticfeeds::{EmbeddingSpace, Similarity};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let space = EmbeddingSpace::new(2, Similarity::L2Norm).unwrap();
        let m = Manager::builder(connection(&path))
            .embeddings(space)
            .open()
            .await
            .unwrap();
        let commits = 16;
        for i in 0..commits {
            let post = embedded_post(&format!("p{i}"), "mark", &[i as f32, -(i as f32)]);
            m.add_activity(post).await.unwrap();
        }
        // Closing waits for the merges the commits started.
        m.close().await.unwrap();
        drop(m);
        let segments = |path: &std::path::Path| -> usize {
            let meta = fs::read_to_string(path.join("feeds").join("meta.json")).unwrap();
            let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
            meta["segments"].as_array().unwrap().len()
        };
        let after = segments(&path);
        assert!(
            after < commits,
            "{commits} commits left {after} segments: no merge"
        );

        let meta = fs::read_to_string(path.join("elasticfeeds.json")).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(
            meta["embeddings"],
            serde_json::json!({"dimensions": 2, "similarity": "l2_norm"})
        );

        // One 8-byte record per embedding written, in the vector log beside the indices.
        let log = fs::metadata(path.join("embeddings.f32")).unwrap().len();
        assert_eq!(log, commits as u64 * 8);

        let m = Manager::open(connection(&path)).await.unwrap();
        assert_eq!(m.embeddings(), Some(space));
        let page = m
            .search(FeedQuery::all().nearest(vec![3.0, -3.0], 3).unwrap())
            .await
            .unwrap();
        let found: Vec<_> = page.activities.iter().map(|a| a.id().unwrap()).collect();
        // p3 itself, then p4 and p2 at the same distance: p4 is newer (or, written in the same
        // millisecond, has the higher id).
        assert_eq!(found, ["p3", "p4", "p2"]);
        for i in 0..commits {
            let activity = m.get_activity(&format!("p{i}")).await.unwrap();
            assert_eq!(activity.embedding(), Some(&[i as f32, -(i as f32)][..]));
        }
    }
}

/// Read plans of the embedded backend checked against a brute force on a store with real
/// segments: a network whose few reached activities lie far apart among many others must page
/// out exactly what the rules say. (The handover from scan to posting lists at any budget is
/// pinned by a unit test in `walk.rs`, where the budget can be made small.)
mod read_plans {
    use elasticfeeds::{Activity, Actor, FeedQuery, Link, LinkTarget, Manager, Object, Target};

    use crate::suite::{at, HitIds, MIN};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sparse_network_matches_brute_force() {
        let m = Manager::memory().await.unwrap();
        // 30,000 activities, nearly all from busy accounts; the few the reader's links reach
        // lie up to 13,000 documents apart.
        let mut activities = Vec::new();
        for n in 0..30_000i64 {
            let actor = match n {
                5 | 14_999 | 29_990 => "quiet-a".to_owned(),
                3_000 | 20_000 => "quiet-b".to_owned(),
                _ => format!("busy{}", n % 97),
            };
            let mut activity = Activity::new(
                "post",
                Actor::new(&actor, "person").unwrap(),
                Object::new(&format!("p{n}"), "post").unwrap(),
            )
            .unwrap()
            .with_id(&format!("a{n:05}"))
            .unwrap()
            .published_at(at(n * MIN))
            .unwrap();
            if n == 2_000 || n == 15_000 {
                activity = activity.with_target(Target::new("proj", "project").unwrap());
            }
            activities.push(activity);
        }
        for chunk in activities.chunks(10_000) {
            for result in m.add_activities(chunk.to_vec()).await.unwrap() {
                result.unwrap();
            }
        }
        let links = [
            (LinkTarget::actor("quiet-a", "person").unwrap(), at(0)),
            // Linked late: its first activities predate the link.
            (
                LinkTarget::actor("quiet-b", "person").unwrap(),
                at(9_000 * MIN),
            ),
            (LinkTarget::object("proj", "project").unwrap(), at(0)),
        ];
        for (target, linked) in links.clone() {
            let link = Link::new("reader", "follow", target)
                .unwrap()
                .linked_at(linked)
                .unwrap();
            m.add_link(link).await.unwrap();
        }
        let reaches = |a: &Activity| {
            links.iter().any(|(target, linked)| {
                let key = target.entity();
                a.published() >= *linked
                    && match target.class {
                        elasticfeeds::LinkClass::Actor => *a.actor().key() == key,
                        elasticfeeds::LinkClass::Object => {
                            *a.object().key() == key || a.target().is_some_and(|t| *t.key() == key)
                        }
                    }
            })
        };
        let mut expected: Vec<String> = activities
            .iter()
            .filter(|a| reaches(a))
            .map(|a| a.id().unwrap().to_owned())
            .collect();
        expected.reverse();
        assert_eq!(
            expected,
            ["a29990", "a20000", "a15000", "a14999", "a02000", "a00005"],
            "quiet-b's activity before its link time is not reached"
        );

        // Page through in threes; every page continues where the last ended.
        let mut seen = Vec::new();
        let mut bound = None;
        loop {
            let b = bound.clone();
            let aggregator = HitIds(move |network: &elasticfeeds::Network| {
                let query = FeedQuery::network(network).page_size(3)?;
                Ok(match &b {
                    Some(position) => query.older_than(elasticfeeds::Position::clone(position)),
                    None => query,
                })
            });
            let page = m.get_feeds("reader", &aggregator).await.unwrap().feed;
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap().clone();
            let activity = m.get_activity(&last).await.unwrap();
            bound = elasticfeeds::Position::of(&activity);
            seen.extend(page);
        }
        assert_eq!(seen, expected);
    }
}

/// The writer lock holds across processes: this test binary runs itself again as a child that
/// tries to open a store the parent holds.
mod other_process {
    use std::process::Command;

    use elasticfeeds::{Error, Manager};

    const PROBE: &str = "ELASTICFEEDS_LOCK_PROBE";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn second_process_gets_store_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let path = path.to_str().unwrap();
        let holder = Manager::open(path).await.unwrap();
        holder.follow("carlos", "mark").await.unwrap();

        let run_child = || {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "--nocapture",
                    "other_process::child_opens_store",
                ])
                .env(PROBE, path)
                .output()
                .unwrap()
        };
        let child = run_child();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{stdout}");
        assert!(stdout.contains("probe: locked"), "{stdout}");
        // It saw the store was in use and left it untouched.
        assert_eq!(holder.following_count("carlos").await.unwrap(), 1);

        // Once the holder closes, another process can open it and finds its data.
        holder.close().await.unwrap();
        drop(holder);
        let child = run_child();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(stdout.contains("probe: opened with 1 link"), "{stdout}");
    }

    /// Run only by `second_process_gets_store_locked`, in a child process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a child process of second_process_gets_store_locked"]
    async fn child_opens_store() {
        let path = std::env::var(PROBE).expect("run by second_process_gets_store_locked");
        match Manager::open(&path).await {
            Err(Error::StoreLocked { .. }) => println!("probe: locked"),
            Ok(m) => {
                let links = m.following_count("carlos").await.unwrap();
                println!("probe: opened with {links} link");
            }
            Err(other) => panic!("probe: unexpected {other:?}"),
        }
    }
}

/// Concurrent writes through clones of one `Manager` are grouped into few commits.
mod group_commit {
    use std::sync::Arc;

    use elasticfeeds::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use elasticfeeds::{FeedBackend, Manager};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits() {
        let options = EmbeddedOptions {
            feeds_index: "feeds".into(),
            network_index: "network".into(),
            read_only: false,
            embeddings: None,
        };
        let backend = tokio::task::spawn_blocking(move || EmbeddedBackend::memory(options))
            .await
            .unwrap()
            .unwrap();
        let dynamic: Arc<dyn FeedBackend> = Arc::new(backend.clone());
        let manager = Manager::from_backend(dynamic, 100).unwrap();

        let writes = 200;
        let tasks: Vec<_> = (0..writes)
            .map(|n| {
                let m = manager.clone();
                tokio::spawn(async move { m.follow(&format!("user{n}"), "mark").await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let follower = elasticfeeds::LinkTarget::actor("mark", "person").unwrap();
        assert_eq!(manager.follower_count(&follower).await.unwrap(), writes);
        let commits = backend.commit_count();
        println!("{writes} concurrent follows: {commits} commits");
        assert!(
            (1..writes / 4).contains(&commits),
            "{writes} concurrent writes took {commits} commits"
        );
    }
}
