//! Read-your-writes: whether a write waits until reads can see it.

use serde::{Deserialize, Serialize};

/// Whether a write waits, before its future returns, until the next read can see it.
///
/// Search engines make writes searchable at each *refresh* of an index, not as they are
/// acknowledged. On the cluster backends, waiting is `refresh=wait_for`: the call returns at the
/// next scheduled refresh, up to `index.refresh_interval` later (1 s by default), and forces no
/// extra refresh. Not waiting returns as soon as the write is durable; it becomes visible within
/// the refresh interval. Waiting on every write of a bulk load would add up to a refresh
/// interval per batch, which is why batches do not wait by default.
///
/// The embedded backend commits every write before it returns, so there a write is always
/// visible to the next read, whatever this says. Erasing an actor
/// ([`Manager::erase_actor`](crate::Manager::erase_actor)) always refreshes, on every backend.
///
/// Set the default with [`ManagerBuilder::refresh`](crate::ManagerBuilder::refresh), or per call
/// through a handle from [`Manager::with_refresh`](crate::Manager::with_refresh):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> elasticfeeds::Result<()> {
/// use elasticfeeds::{Manager, Refresh};
///
/// let manager = Manager::memory().await?;
/// // A follow that the very next feed read must see, even in a batch.
/// manager.with_refresh(Refresh::Wait).follow("carlos", "mark").await?;
/// assert_eq!(manager.refresh(), Refresh::Auto);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresh {
    /// Single writes (one activity, one link, one removal) wait; batches of more than one item
    /// do not. The default.
    #[default]
    Auto,
    /// Every write waits, batches included.
    Wait,
    /// No write waits.
    NoWait,
}

impl Refresh {
    /// Whether a write of `items` items waits.
    pub fn waits(self, items: usize) -> bool {
        match self {
            Refresh::Auto => items <= 1,
            Refresh::Wait => true,
            Refresh::NoWait => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Refresh;

    #[test]
    fn only_auto_depends_on_the_batch_size() {
        assert!(Refresh::Auto.waits(1));
        assert!(!Refresh::Auto.waits(2));
        assert!(Refresh::Wait.waits(1_000));
        assert!(!Refresh::NoWait.waits(1));
        assert_eq!(Refresh::default(), Refresh::Auto);
    }
}
