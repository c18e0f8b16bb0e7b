//! Signed cursors: opaque page tokens that only this store can make and only one feed accepts.
//!
//! A cursor carries an aggregator's paging state (where the next page starts, and any setting
//! fixed for the whole paging session, such as a decay origin). It is sealed with an
//! HMAC-SHA256 under the store's [`CursorKey`], over the state, the user it was made for and a
//! *binding*: a string the aggregator derives from its name and every parameter that shapes the
//! feed. A changed byte, another user's cursor, or a cursor handed to a feed with other
//! parameters fails the check and is [`Error::InvalidCursor`], never a wrong page.
//!
//! The token is `base64url(state JSON) "." base64url(tag)`: readable by anyone, forgeable by no
//! one without the key. It is not encrypted, so it should carry nothing secret.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

use crate::error::{Error, Result};

/// Cursors longer than this are refused before any decoding.
const MAX_CURSOR_LEN: usize = 4_096;
/// Domain separation: a tag made for anything else never verifies as a cursor.
const CONTEXT: &[u8] = b"elasticfeeds cursor v1";

/// A store's secret for signing cursors: 32 random bytes, made when the store is created and
/// kept with it, so cursors stay valid across restarts and across processes sharing the store.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<CursorKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::backend("cursor", format!("no randomness available: {e}")))?;
        Ok(CursorKey(bytes))
    }

    /// A key from known bytes (for a backend that keeps its own secret, or a test).
    pub const fn from_bytes(bytes: [u8; 32]) -> CursorKey {
        CursorKey(bytes)
    }

    /// The key as 64 lower-case hex digits, for storing with the store's metadata.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a key written by [`CursorKey::to_hex`]; `None` if it is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<CursorKey> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(CursorKey(bytes))
    }

    /// Seals `state` into a cursor for `user`'s feed with this `binding`.
    pub fn seal<T: Serialize>(&self, user: &str, binding: &str, state: &T) -> Result<String> {
        let payload = serde_json::to_vec(state).map_err(|e| Error::backend("cursor", e))?;
        let tag = self.mac(user, binding, &payload).finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Opens a cursor sealed by [`CursorKey::seal`] for the same user and binding.
    pub fn open<T: DeserializeOwned>(&self, user: &str, binding: &str, cursor: &str) -> Result<T> {
        let bad = |reason| Error::InvalidCursor {
            value: cursor.chars().take(100).collect(),
            reason,
        };
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(bad("longer than any cursor this library makes"));
        }
        let (payload, tag) = cursor.split_once('.').ok_or_else(|| bad("not a cursor"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| bad("not base64url"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| bad("not base64url"))?;
        self.mac(user, binding, &payload)
            .verify_slice(&tag)
            .map_err(|_| {
                bad("not made by this store for this user's feed with these parameters")
            })?;
        // Signed by us, so it parses; a failure means a cursor from an incompatible version.
        serde_json::from_slice(&payload).map_err(|_| bad("made by an incompatible version"))
    }

    fn mac(&self, user: &str, binding: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        // Length prefixes keep (user, binding, payload) splits unambiguous.
        for part in [CONTEXT, user.as_bytes(), binding.as_bytes(), payload] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_tampering() {
        let key = CursorKey::from_bytes([7; 32]);
        let cursor = key.seal("carlos", "feed-a", &(42u64, "x")).unwrap();
        assert_eq!(
            key.open::<(u64, String)>("carlos", "feed-a", &cursor)
                .unwrap(),
            (42, "x".to_owned())
        );
        let refused = |result: Result<(u64, String)>| {
            assert!(
                matches!(result, Err(Error::InvalidCursor { .. })),
                "{result:?}"
            )
        };
        refused(key.open("mark", "feed-a", &cursor));
        refused(key.open("carlos", "feed-b", &cursor));
        refused(CursorKey::from_bytes([8; 32]).open("carlos", "feed-a", &cursor));
        for i in 0..cursor.len() {
            let mut bytes = cursor.clone().into_bytes();
            bytes[i] ^= 0x01;
            if let Ok(flipped) = String::from_utf8(bytes) {
                refused(key.open("carlos", "feed-a", &flipped));
            }
        }
        for garbage in ["", ".", "a.b", "%%.%%", &"a".repeat(5000)] {
            refused(key.open("carlos", "feed-a", garbage));
        }
        // A valid tag over a payload of another shape: refused, not a panic.
        let other = key.seal("carlos", "feed-a", &"text").unwrap();
        refused(key.open("carlos", "feed-a", &other));
    }

    #[test]
    fn hex_round_trip() {
        let key = CursorKey::generate().unwrap();
        assert_eq!(CursorKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_ne!(CursorKey::generate().unwrap(), key);
        assert_eq!(CursorKey::from_hex("zz"), None);
        assert_eq!(CursorKey::from_hex(&"é".repeat(32)), None);
        assert_eq!(format!("{key:?}"), "CursorKey(..)");
    }
}
