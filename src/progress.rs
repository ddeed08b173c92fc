//! Progress for long runs that nobody watches: off a terminal (cron, a
//! pipe to a log file) a bar cannot be drawn, so at `-v` the binary logs
//! one line at most every [`ProgressLine::EVERY`]:
//! `applying: 1,200/5,000 requests, 48/s, ETA 1m19s`.
//!
//! The clock is handed in, so the throttling is tested with a fake clock
//! rather than with sleeps.

use std::time::{Duration, Instant};

use crate::report::thousands;

/// A throttled progress line: [`ProgressLine::update`] says when a line
/// is due, and what it says.
pub struct ProgressLine<C: Fn() -> Instant> {
    what: String,
    unit: String,
    total: u64,
    clock: C,
    started: Instant,
    last: Instant,
}

impl<C: Fn() -> Instant> ProgressLine<C> {
    /// The most often a line is due.
    pub const EVERY: Duration = Duration::from_secs(10);

    /// A line for `what` (`applying`), counting `unit` (`requests`), out
    /// of `total` so far; the run starts now, by `clock`.
    pub fn new(what: &str, unit: &str, total: u64, clock: C) -> Self {
        let started = clock();
        ProgressLine {
            what: what.to_owned(),
            unit: unit.to_owned(),
            total,
            clock,
            started,
            last: started,
        }
    }

    /// Records that `done` of `total` are done; the line to print when
    /// [`ProgressLine::EVERY`] has passed since the start or the last
    /// line, else `None`.
    pub fn update(&mut self, done: u64, total: u64) -> Option<String> {
        self.total = total.max(done);
        let now = (self.clock)();
        if now.saturating_duration_since(self.last) < Self::EVERY {
            return None;
        }
        self.last = now;
        Some(self.line(done, now.saturating_duration_since(self.started)))
    }

    fn line(&self, done: u64, elapsed: Duration) -> String {
        let per_sec = if elapsed.is_zero() {
            0.0
        } else {
            done as f64 / elapsed.as_secs_f64()
        };
        let left = self.total - done;
        let eta = if left == 0 {
            "ETA 0s".to_owned()
        } else if per_sec > 0.0 {
            format!(
                "ETA {}",
                duration(Duration::from_secs_f64(left as f64 / per_sec))
            )
        } else {
            "ETA unknown".to_owned()
        };
        format!(
            "{}: {}/{} {}, {}, {eta}",
            self.what,
            thousands(done),
            thousands(self.total),
            self.unit,
            rate(per_sec),
        )
    }
}

/// A rate as people read one: whole numbers (`48/s`, not `47.91/s`), and
/// `<1/s` for a slow trickle rather than `0/s`.
pub fn rate(per_sec: f64) -> String {
    if per_sec > 0.0 && per_sec < 1.0 {
        "<1/s".to_owned()
    } else if per_sec.is_finite() && per_sec >= 0.0 {
        format!("{}/s", thousands(per_sec.round() as u64))
    } else {
        "?/s".to_owned()
    }
}

/// `45s`, `1m19s`, `2h03m`: to the second under an hour, to the minute
/// above.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// A clock the test moves by hand.
    fn fake_clock() -> (Rc<Cell<Instant>>, impl Fn() -> Instant) {
        let now = Rc::new(Cell::new(Instant::now()));
        let read = Rc::clone(&now);
        (now, move || read.get())
    }

    fn advance(now: &Cell<Instant>, secs: f64) {
        now.set(now.get() + Duration::from_secs_f64(secs));
    }

    #[test]
    fn a_line_is_due_at_most_every_ten_seconds() {
        let (now, clock) = fake_clock();
        let mut line = ProgressLine::new("applying", "requests", 5_000, clock);
        assert_eq!(line.update(10, 5_000), None, "not at the start");
        advance(&now, 9.9);
        assert_eq!(line.update(400, 5_000), None, "not before 10 s");
        advance(&now, 0.1);
        assert_eq!(
            line.update(480, 5_000).as_deref(),
            Some("applying: 480/5,000 requests, 48/s, ETA 1m34s")
        );
        advance(&now, 5.0);
        assert_eq!(line.update(700, 5_000), None, "10 s from the last line");
        advance(&now, 5.0);
        assert!(line.update(960, 5_000).is_some());
    }

    #[test]
    fn the_line_gives_done_total_whole_rate_and_eta() {
        let (now, clock) = fake_clock();
        let mut line = ProgressLine::new("applying", "requests", 5_000, clock);
        advance(&now, 25.0);
        assert_eq!(
            line.update(1_200, 5_000).as_deref(),
            Some("applying: 1,200/5,000 requests, 48/s, ETA 1m19s")
        );
        // The total grows (a body split on a 413); never below done.
        advance(&now, 25.0);
        assert_eq!(
            line.update(5_100, 5_050).as_deref(),
            Some("applying: 5,100/5,100 requests, 102/s, ETA 0s")
        );
    }

    #[test]
    fn nothing_done_yet_has_no_eta() {
        let (now, clock) = fake_clock();
        let mut line = ProgressLine::new("applying", "requests", 10, clock);
        advance(&now, 12.0);
        assert_eq!(
            line.update(0, 10).as_deref(),
            Some("applying: 0/10 requests, 0/s, ETA unknown")
        );
    }

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(rate(115.4918), "115/s");
        assert_eq!(rate(47.5), "48/s");
        assert_eq!(rate(2_400.2), "2,400/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(0.3), "<1/s");
        assert_eq!(rate(f64::NAN), "?/s");
    }

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(79)), "1m19s");
        assert_eq!(duration(Duration::from_secs(3_600 + 180 + 20)), "1h03m");
        assert_eq!(duration(Duration::from_millis(400)), "0s");
    }
}
