//! Users and their API keys.
//!
//! A key is 32 random bytes from the operating system, written as `efk_` and 64 hex digits, and
//! shown once, when it is made. The service keeps only its SHA-256: a fast hash is right here
//! because the key is random (256 bits cannot be guessed, so there is nothing for a slow password
//! hash to protect), and it costs well under a microsecond per request.
//!
//! The keys file has one line per key, `<sha-256 hex> <user id>`; `#` starts a comment. A user
//! may have several keys (to rotate one, add a new key, then delete the old line). A running
//! service follows changes to the file: see [`Keys`](crate::Keys).

use std::collections::{BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Error};
use crate::AppState;

/// The prefix of every key, so that a leaked key is easy to recognise (and to scan for).
const KEY_PREFIX: &str = "efk_";

/// The service's users: who exists, and which key hash belongs to whom.
#[derive(Debug, Default, Clone)]
pub struct Users {
    by_hash: HashMap<[u8; 32], Arc<str>>,
    ids: BTreeSet<Arc<str>>,
}

impl Users {
    /// No users at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a keys file. A missing file is an empty set of users (the service then answers
    /// only its health check), so that a fresh clone starts without set-up.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match read_keys_file(path)? {
            Some(text) => Self::parse(path, &text),
            None => Ok(Self::new()),
        }
    }

    /// Parses the text of the keys file at `path` (named in errors).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let mut users = Self::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let format = |reason: String| Error::KeysFormat {
                path: path.to_owned(),
                line: index + 1,
                reason,
            };
            let (hash, user) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format("expected `<sha-256 hex> <user id>`".into()))?;
            let hash = parse_hash(hash).ok_or_else(|| format("not 64 hex digits".into()))?;
            let user = user.trim();
            check_user_id(user).map_err(|e| format(e.to_string()))?;
            users.insert_hash(hash, user);
        }
        Ok(users)
    }

    /// Adds a key for `user` (making the user if they are new), in memory only.
    pub fn insert(&mut self, user: &str, key: &str) -> Result<(), Error> {
        check_user_id(user)?;
        self.insert_hash(hash_key(key), user);
        Ok(())
    }

    fn insert_hash(&mut self, hash: [u8; 32], user: &str) {
        let user: Arc<str> = match self.ids.get(user) {
            Some(known) => known.clone(),
            None => {
                let user: Arc<str> = user.into();
                self.ids.insert(user.clone());
                user
            }
        };
        self.by_hash.insert(hash, user);
    }

    /// The user a bearer token belongs to.
    pub fn authenticate(&self, key: &str) -> Option<&Arc<str>> {
        // Looking the hash up leaks nothing useful through timing: finding a stored hash's
        // prefix does not help to find a key that hashes to it.
        self.by_hash.get(&hash_key(key))
    }

    /// Whether the service knows this user.
    pub fn contains(&self, user: &str) -> bool {
        self.ids.contains(user)
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The text of the keys file, or `None` if there is no such file.
pub(crate) fn read_keys_file(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::KeysIo {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Makes a new key for `user`, appends its hash to the keys file and returns the key, which is
/// stored nowhere else: show it to the user now.
pub fn add_user(path: &Path, user: &str) -> Result<String, Error> {
    check_user_id(user)?;
    // Refuse a damaged file before adding to it.
    Users::load(path)?;
    // A file edited by hand may lack its last newline: the new line must not join it.
    let newline = std::fs::read(path)
        .map(|bytes| bytes.last().is_some_and(|&last| last != b'\n'))
        .unwrap_or(false);
    let key = generate_key()?;
    let io = |source| Error::KeysIo {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    // One write of one whole line, so concurrent `add-user` runs never interleave lines.
    let line = format!("{} {user}\n", hex(&hash_key(&key)));
    let line = if newline { format!("\n{line}") } else { line };
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

/// A new random key: `efk_` and 64 hex digits (256 bits).
pub fn generate_key() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(Error::Random)?;
    Ok(format!("{KEY_PREFIX}{}", hex(&bytes)))
}

/// The service's rule for user ids: 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
///
/// Stricter than the library's ids on purpose: user ids appear in URL paths unescaped, and
/// without `:` the scoped ids of client-chosen activity ids (`user:id`) cannot collide.
pub fn check_user_id(user: &str) -> Result<(), Error> {
    let reason = if user.is_empty() || user.len() > 64 {
        "it must have 1 to 64 characters"
    } else if !user
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        "only ASCII letters, digits, `_`, `-` and `.` are allowed"
    } else if user.bytes().all(|b| b == b'.') {
        // `.` and `..` are path segments that HTTP clients resolve away.
        "it may not be made of dots only"
    } else {
        return Ok(());
    };
    Err(Error::InvalidUser {
        value: user.to_owned(),
        reason,
    })
}

fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

/// The authenticated caller, taken from the `Authorization: Bearer <key>` header.
///
/// Every route but the health check takes one, so a request without a valid key is answered
/// with 401 before anything else happens.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<str>);

impl Caller {
    /// The caller's user id.
    pub fn id(&self) -> &str {
        &self.0
    }

    /// 403 unless the caller is `user`: for a user's private routes.
    pub fn must_be(&self, user: &str, what: &str) -> Result<(), ApiError> {
        if self.id() == user {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{what} of user {user:?} is private to them"
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("send your API key as `Authorization: Bearer <key>`")
        })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <key>`")
            })?;
        let user = state
            .users
            .authenticate(key)
            .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
        Ok(Caller(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_authenticate_only_their_user() {
        let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("efk_") && a.len() == 4 + 64);
        let mut users = Users::new();
        users.insert("mark", &a).unwrap();
        users.insert("jane", &b).unwrap();
        assert_eq!(users.authenticate(&a).map(|u| &**u), Some("mark"));
        assert_eq!(users.authenticate(&b).map(|u| &**u), Some("jane"));
        assert!(users.authenticate(&a[..a.len() - 1]).is_none());
        assert!(users.authenticate("").is_none());
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn the_keys_file_holds_hashes_only_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let mark = add_user(&path, "mark").unwrap();
        let mark_again = add_user(&path, "mark").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&mark[4..]),
            "the key itself is never written"
        );
        assert_eq!(text.lines().count(), 2);
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users.authenticate(&mark).map(|u| &**u), Some("mark"));
        assert_eq!(users.authenticate(&mark_again).map(|u| &**u), Some("mark"));
    }

    #[test]
    fn bad_user_ids_and_damaged_files_are_refused() {
        for bad in ["", "a b", "a:b", "é", ".", "..", &"x".repeat(65)] {
            assert!(
                matches!(check_user_id(bad), Err(Error::InvalidUser { .. })),
                "{bad:?}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "# users\nabc mark\n").unwrap();
        let error = Users::load(&path).unwrap_err();
        assert!(
            matches!(error, Error::KeysFormat { line: 2, .. }),
            "{error}"
        );
        // add-user refuses to append to a damaged file.
        assert!(add_user(&path, "jane").is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# users\nabc mark\n"
        );
        // A last line without its newline is not joined by the next one.
        let path = dir.path().join("edited");
        let mark = add_user(&path, "mark").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        let jane = add_user(&path, "jane").unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.authenticate(&mark).map(|u| &**u), Some("mark"));
        assert_eq!(users.authenticate(&jane).map(|u| &**u), Some("jane"));
        // A missing file is no users, not an error.
        assert!(Users::load(&dir.path().join("none")).unwrap().is_empty());
    }
}
