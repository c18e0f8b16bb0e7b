//! [`Keys`]: the service's users, kept in step with the keys file while it runs.
//!
//! `add-user` appends to the keys file, and deleting a key's line revokes it: a running service
//! follows both within [`CHECK_EVERY`] (one second), without a restart. A background task
//! ([`Keys::follow`]) reads the file once a second on a blocking thread and swaps in the new
//! users when its content changed (compared by SHA-256, so a rewrite that keeps the file's time
//! and length is seen too). Requests only ever read the users in memory: an unknown key costs
//! no disk access and takes no lock that a reload holds. A file that has become unreadable or
//! damaged is logged, and the users loaded before stay in force. So does a file that has gone
//! missing or holds no users while users were loaded: a file rewritten in place is empty for a
//! moment, and a reload in that moment must not lock everybody out. To remove every user, stop
//! the service.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::auth::{read_keys_file, Users};
use crate::error::Error;

/// How often [`Keys::follow`] reads the keys file.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The users and their keys, reloaded from the keys file when it changes.
#[derive(Debug)]
pub struct Keys {
    current: RwLock<Arc<Users>>,
    file: Option<KeysFile>,
}

#[derive(Debug)]
struct KeysFile {
    path: PathBuf,
    /// The SHA-256 of the content last read (of nothing while the file is missing).
    seen: Mutex<[u8; 32]>,
}

impl Keys {
    /// A fixed set of users, never reloaded (for tests and embedding).
    pub fn fixed(users: Users) -> Self {
        Keys {
            current: RwLock::new(Arc::new(users)),
            file: None,
        }
    }

    /// The users of the keys file at `path`, read now; [`follow`](Self::follow) keeps them in
    /// step with it. A missing file is no users yet.
    pub fn watch(path: &Path) -> Result<Self, Error> {
        // One read, both parsed and hashed, so a change made in between cannot be missed.
        let text = read_keys_file(path)?.unwrap_or_default();
        let users = Users::parse(path, &text)?;
        Ok(Keys {
            current: RwLock::new(Arc::new(users)),
            file: Some(KeysFile {
                path: path.to_owned(),
                seen: Mutex::new(Sha256::digest(&text).into()),
            }),
        })
    }

    /// The users as they are now.
    pub fn users(&self) -> Arc<Users> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The user a key belongs to.
    pub fn authenticate(&self, key: &str) -> Option<Arc<str>> {
        self.users().authenticate(key).cloned()
    }

    /// Whether the service knows `user`.
    pub fn contains(&self, user: &str) -> bool {
        self.users().contains(user)
    }

    /// Reads the keys file every [`CHECK_EVERY`] on a blocking thread, for as long as the
    /// service runs (spawn it; it never returns). Does nothing for [`fixed`](Self::fixed) keys.
    pub async fn follow(self: Arc<Self>) {
        if self.file.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let keys = self.clone();
            // A panic in the reload is the only error, and it is already reported by the
            // runtime; the next tick tries again.
            let _ = tokio::task::spawn_blocking(move || keys.reload()).await;
        }
    }

    /// Reads the file again and swaps in its users if its content changed since it was last
    /// read. Returns whether the users changed.
    pub fn reload(&self) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        let mut seen = file.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let loaded = read_keys_file(&file.path).and_then(|text| {
            let text = text.unwrap_or_default();
            let digest: [u8; 32] = Sha256::digest(&text).into();
            if digest == *seen {
                return Ok(None);
            }
            // Said once per change of the file, whatever follows.
            *seen = digest;
            Users::parse(&file.path, &text).map(Some)
        });
        match loaded {
            Ok(None) => false,
            Ok(Some(users)) if users.is_empty() && !self.users().is_empty() => {
                tracing::warn!(
                    keys = %file.path.display(),
                    "keys file is empty or missing; the users loaded before stay"
                );
                false
            }
            Ok(Some(users)) => {
                tracing::info!(keys = %file.path.display(), users = users.len(), "keys file reloaded");
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(users);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "keys file not reloaded; the users loaded before stay");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::add_user;

    #[test]
    fn keys_added_and_deleted_while_running_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let keys = Keys::watch(&path).unwrap();
        assert!(keys.users().is_empty());
        assert!(!keys.reload(), "nothing changed yet");
        let mark = add_user(&path, "mark").unwrap();
        assert_eq!(
            keys.authenticate(&mark),
            None,
            "only a reload reads the file"
        );
        assert!(keys.reload());
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
        assert!(keys.contains("mark"));
        // Rotation: another key for mark in place of the first, in a file of the same length.
        let other = dir.path().join("other");
        let rotated = add_user(&other, "mark").unwrap();
        let (before, after) = (
            std::fs::read(&path).unwrap(),
            std::fs::read(&other).unwrap(),
        );
        assert_eq!(before.len(), after.len());
        std::fs::write(&path, after).unwrap();
        assert!(keys.reload());
        assert_eq!(keys.authenticate(&rotated).as_deref(), Some("mark"));
        assert_eq!(keys.authenticate(&mark), None, "the old key is revoked");
    }

    #[test]
    fn a_damaged_file_keeps_the_users_loaded_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let mark = add_user(&path, "mark").unwrap();
        let keys = Keys::watch(&path).unwrap();
        std::fs::write(&path, "not a keys file\n").unwrap();
        assert!(!keys.reload());
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
        // Emptied (as by a rewrite in place, caught half-way) or removed: the users stay.
        std::fs::write(&path, "").unwrap();
        assert!(!keys.reload());
        std::fs::remove_file(&path).unwrap();
        assert!(!keys.reload());
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
    }

    #[tokio::test]
    async fn follow_picks_up_a_new_key_within_a_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let keys = Arc::new(Keys::watch(&path).unwrap());
        let watcher = tokio::spawn(keys.clone().follow());
        let mark = add_user(&path, "mark").unwrap();
        tokio::time::sleep(CHECK_EVERY * 2 + Duration::from_millis(200)).await;
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
        watcher.abort();
    }

    #[test]
    fn fixed_keys_never_read_a_file() {
        let mut users = Users::new();
        users.insert("mark", "efk_a").unwrap();
        let keys = Keys::fixed(users);
        assert!(!keys.reload());
        assert_eq!(keys.authenticate("efk_a").as_deref(), Some("mark"));
        assert!(!keys.contains("jane"));
    }
}
