//! One stderr line per hit, at most `rate` lines a second; the rest are counted and summarised.

use std::sync::Mutex;
use std::time::Instant;

pub struct HitLog {
    rate: u32,
    quiet: bool,
    start: Instant,
    /// (second since start, lines printed in it, lines suppressed since the last summary)
    window: Mutex<(u64, u32, u64)>,
}

impl HitLog {
    pub fn new(rate: u32, quiet: bool) -> Self {
        HitLog {
            rate,
            quiet,
            start: Instant::now(),
            window: Mutex::new((0, 0, 0)),
        }
    }

    /// Whether hits are logged at all (spares formatting them when not).
    pub fn enabled(&self) -> bool {
        !self.quiet
    }

    /// Logs a hit, unless this second's budget is spent.
    pub fn hit(&self, line: &str) {
        if self.quiet {
            return;
        }
        let now = self.start.elapsed().as_secs();
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.0 != now {
            if w.2 > 0 {
                eprintln!("egress-audit serve: {} more hits not logged", w.2);
            }
            *w = (now, 0, 0);
        }
        if w.1 < self.rate {
            w.1 += 1;
            let ts = chrono::Utc::now().format("%H:%M:%S%.3f");
            eprintln!("{ts} {line}");
        } else {
            w.2 += 1;
        }
    }

    /// An operational note (errors), under the same budget.
    pub fn note(&self, line: &str) {
        self.hit(&format!("note: {line}"));
    }
}
