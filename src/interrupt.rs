//! Interruptions: Ctrl-C and SIGTERM during an apply. The binary turns the
//! first signal into [`Interrupt::trigger`]; the engine then sends no new
//! write, lets the ones in flight finish (a few seconds at most), settles
//! what it can with one short read-back, and reports. A second signal exits
//! at once (the binary's business).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::exit_codes;

/// Which signal stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// 130 for SIGINT, 143 for SIGTERM, as shells report them.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => exit_codes::INTERRUPTED,
            Signal::Terminate => exit_codes::TERMINATED,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// In a report, by its name.
impl serde::Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A flag the first signal raises, shared by the binary and the engine.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// 0: none; 1: SIGINT; 2: SIGTERM.
    signal: AtomicU8,
    raised: Notify,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Raises the flag (the first signal wins); returns whether it was
    /// already raised.
    pub fn trigger(&self, signal: Signal) -> bool {
        let code = match signal {
            Signal::Interrupt => 1,
            Signal::Terminate => 2,
        };
        let earlier =
            self.shared
                .signal
                .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.shared.raised.notify_waiters();
        earlier.is_err()
    }

    pub fn signal(&self) -> Option<Signal> {
        match self.shared.signal.load(Ordering::SeqCst) {
            1 => Some(Signal::Interrupt),
            2 => Some(Signal::Terminate),
            _ => None,
        }
    }

    pub fn is_raised(&self) -> bool {
        self.signal().is_some()
    }

    /// Resolves once the flag is raised.
    pub async fn raised(&self) {
        loop {
            let notified = self.shared.raised.notified();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_wins() {
        let flag = Interrupt::new();
        assert_eq!(flag.signal(), None);
        assert!(!flag.trigger(Signal::Terminate));
        assert!(flag.trigger(Signal::Interrupt));
        assert_eq!(flag.signal(), Some(Signal::Terminate));
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Interrupt.exit_code(), 130);
    }

    #[tokio::test]
    async fn raised_resolves_for_a_flag_raised_before_or_after() {
        let flag = Interrupt::new();
        let waiter = {
            let flag = flag.clone();
            tokio::spawn(async move { flag.raised().await })
        };
        // One thread: the waiter runs now, finds the flag down, and waits.
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "resolved before the flag was raised");
        flag.trigger(Signal::Interrupt);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("a waiter from before the raise wakes")
            .unwrap();
        flag.raised().await;
    }
}
