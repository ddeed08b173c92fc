//! Time as the API shows it: `lastUpdateTime` and `lastPollTime` in
//! RFC 3339 UTC with milliseconds (`2026-11-24T10:00:00.123Z`), and the
//! `updatedSince` filters that compare against them.
//!
//! The sandbox's clock never hands out the same millisecond twice across a
//! read and a later write: a client that reads, then sees a change made
//! after its read, must be able to tell from `lastUpdateTime` alone that
//! the change is newer than its `lastPollTime`, even on a fast machine
//! where both fall in the same millisecond.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::time::millis;
pub(super) use crate::time::{format_millis, parse_rfc3339, rfc3339_millis};

/// Hands out times in milliseconds since the epoch, never going back.
pub(super) struct Clock {
    last: AtomicU64,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            last: AtomicU64::new(0),
        }
    }

    /// `lastPollTime` of a read: now, and never before a change already
    /// committed.
    pub fn poll(&self) -> u64 {
        let now = millis(SystemTime::now());
        self.last.fetch_max(now, Ordering::AcqRel).max(now)
    }

    /// `lastUpdateTime` of a commit: strictly after every time handed out
    /// before, reads included.
    pub fn commit(&self) -> u64 {
        let now = millis(SystemTime::now());
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_come_strictly_after_every_earlier_poll_and_commit() {
        let clock = Clock::new();
        let mut last = clock.poll();
        for _ in 0..1000 {
            let commit = clock.commit();
            assert!(commit > last);
            let poll = clock.poll();
            assert!(poll >= commit);
            last = poll;
        }
    }
}
