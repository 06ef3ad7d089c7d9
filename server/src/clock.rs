//! The time the server's scheduled work runs on: the system clock in production, a
//! manual clock that tests set and advance. The reminder scheduler and the Telegram
//! notice queue read it from `AppState::clock`, so a test can stand a week before a
//! deadline without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::Timestamp;

/// A source of "now".
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The operating system's clock.
    #[default]
    System,
    /// A time set by hand, shared by every clone (tests).
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock standing at `at`.
    pub fn manual(at: Timestamp) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(at.millis())))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Manual(millis) => Timestamp::from_millis(millis.load(Ordering::SeqCst)),
        }
    }

    /// Sets a manual clock to `at`; the system clock cannot be set and ignores it.
    pub fn set(&self, at: Timestamp) {
        if let Self::Manual(millis) = self {
            millis.store(at.millis(), Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_is_shared_by_its_clones() {
        let clock = Clock::manual(Timestamp::from_millis(5));
        let other = clock.clone();
        other.set(Timestamp::from_millis(9));
        assert_eq!(clock.now(), Timestamp::from_millis(9));
        let system = Clock::System;
        system.set(Timestamp::from_millis(0));
        assert!(system.now() > Timestamp::from_millis(1_700_000_000_000));
    }
}
