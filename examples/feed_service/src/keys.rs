//! [`Keys`]: the service's users, kept in step with the keys file while it runs.
//!
//! `add-user` appends to the keys file; a running service picks the new key up the first time
//! it is used, without a restart. Deleting a key's line revokes it within a second. To do
//! that, the service looks at the file's modification time and length (one `stat`) at most once
//! a second, and whenever it meets a key or user it does not know; it reads the file again only
//! if either changed. A file that has become unreadable or damaged is logged, and the users
//! loaded before stay in force, so a bad edit cannot lock everybody out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::auth::Users;
use crate::error::Error;

/// The users and their keys, reloaded from the keys file when it changes.
#[derive(Debug)]
pub struct Keys {
    current: RwLock<Arc<Users>>,
    file: Option<KeysFile>,
}

#[derive(Debug)]
struct KeysFile {
    path: PathBuf,
    /// The modification time and length of the file as last read; `None` while it is missing.
    /// The lock also keeps two requests from reading the file at once.
    seen: Mutex<Option<(SystemTime, u64)>>,
    /// When the file was last looked at, in milliseconds since `started`.
    checked: AtomicU64,
    started: Instant,
}

/// How often the file is looked at for changes, at most, while every key is known.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl Keys {
    /// A fixed set of users, never reloaded (for tests and embedding).
    pub fn fixed(users: Users) -> Self {
        Keys {
            current: RwLock::new(Arc::new(users)),
            file: None,
        }
    }

    /// The users of the keys file at `path`, read now and again whenever it changes. A missing
    /// file is no users yet.
    pub fn watch(path: &Path) -> Result<Self, Error> {
        let seen = stamp(path);
        let users = Users::load(path)?;
        Ok(Keys {
            current: RwLock::new(Arc::new(users)),
            file: Some(KeysFile {
                path: path.to_owned(),
                seen: Mutex::new(seen),
                checked: AtomicU64::new(0),
                started: Instant::now(),
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

    /// The user a key belongs to, looking at the file again if the key is unknown.
    pub fn authenticate(&self, key: &str) -> Option<Arc<str>> {
        self.find(|users| users.authenticate(key).cloned())
    }

    /// Whether the service knows `user`, looking at the file again if it does not.
    pub fn contains(&self, user: &str) -> bool {
        self.find(|users| users.contains(user).then_some(()))
            .is_some()
    }

    fn find<T>(&self, look: impl Fn(&Users) -> Option<T>) -> Option<T> {
        if let Some(file) = &self.file {
            if file.due() {
                self.reload();
            }
        }
        look(&self.users()).or_else(|| {
            self.reload();
            look(&self.users())
        })
    }

    /// Reads the file again if it changed since it was last read.
    fn reload(&self) {
        let Some(file) = &self.file else { return };
        file.checked.store(file.elapsed_ms(), Ordering::Relaxed);
        let mut seen = file.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let now = stamp(&file.path);
        if now == *seen {
            return;
        }
        // The file is small and read only when it changed, so reading it here, on the request's
        // task, costs less than handing it to a blocking thread.
        match Users::load(&file.path) {
            Ok(users) => {
                tracing::info!(keys = %file.path.display(), users = users.len(), "keys file reloaded");
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(users);
                *seen = now;
            }
            Err(error) => {
                // Keep the users loaded before, and say so once per change of the file.
                tracing::warn!(%error, "keys file not reloaded; the users loaded before stay");
                *seen = now;
            }
        }
    }
}

impl KeysFile {
    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether the last look at the file is more than [`CHECK_EVERY`] ago.
    fn due(&self) -> bool {
        let last = self.checked.load(Ordering::Relaxed);
        self.elapsed_ms().saturating_sub(last) >= CHECK_EVERY.as_millis() as u64
    }
}

/// The file's modification time and length, or `None` if it cannot be seen.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::add_user;

    #[test]
    fn keys_added_while_running_are_found_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let keys = Keys::watch(&path).unwrap();
        assert!(keys.users().is_empty());
        let mark = add_user(&path, "mark").unwrap();
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
        assert!(keys.contains("mark"));
        let jane = add_user(&path, "jane").unwrap();
        assert!(
            keys.contains("jane"),
            "a new user is known before their first request"
        );
        assert_eq!(keys.authenticate(&jane).as_deref(), Some("jane"));
        assert_eq!(keys.authenticate("efk_unknown"), None);
    }

    #[test]
    fn a_damaged_file_keeps_the_users_loaded_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let mark = add_user(&path, "mark").unwrap();
        let keys = Keys::watch(&path).unwrap();
        std::fs::write(&path, "not a keys file\n").unwrap();
        assert_eq!(keys.authenticate("efk_other"), None);
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
    }

    #[test]
    fn a_deleted_line_revokes_its_key_once_the_file_is_looked_at_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let mark = add_user(&path, "mark").unwrap();
        let keys = Keys::watch(&path).unwrap();
        assert_eq!(keys.authenticate(&mark).as_deref(), Some("mark"));
        let jane = add_user(&dir.path().join("other"), "jane").unwrap();
        std::fs::copy(dir.path().join("other"), &path).unwrap();
        // Right away through an unknown key; otherwise within `CHECK_EVERY`.
        assert_eq!(keys.authenticate(&jane).as_deref(), Some("jane"));
        assert_eq!(keys.authenticate(&mark), None, "mark's line is gone");
        std::fs::write(&path, "").unwrap();
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(50));
        assert_eq!(keys.authenticate(&jane), None, "jane's line is gone too");
    }

    #[test]
    fn fixed_keys_never_read_a_file() {
        let mut users = Users::new();
        users.insert("mark", "efk_a").unwrap();
        let keys = Keys::fixed(users);
        assert_eq!(keys.authenticate("efk_a").as_deref(), Some("mark"));
        assert!(!keys.contains("jane"));
    }
}
