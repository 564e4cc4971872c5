//! The progress bar on stderr: regions and accounts done, API calls, throttles and retries.

use crate::stats::Counters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

pub struct Progress {
    bar: Option<ProgressBar>,
    counters: Counters,
}

impl Progress {
    /// A bar when `show` (the caller checks that stderr is a terminal and not `--quiet`).
    pub fn new(show: bool, counters: Counters) -> Self {
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} aws {prefix} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let p = Progress { bar, counters };
        p.set_stage("accounts");
        p
    }

    pub fn set_stage(&self, stage: &str) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(stage.to_string());
            bar.set_position(0);
            bar.set_length(0);
        }
    }

    pub fn add_work(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    pub fn done_one(&self) {
        if let Some(bar) = &self.bar {
            let s = self.counters.snapshot(0);
            bar.set_message(format!(
                "{} API calls, {} throttled, {} retried",
                s.api_calls, s.throttles, s.retries
            ));
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
