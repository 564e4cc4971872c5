//! The early re-test of filtered ports: each port the sweep finds filtered is tried again at
//! once, beside the sweep, with the sockets the sweep leaves unused. A filtered port only holds
//! a socket and waits, so these waits overlap the sweep's work instead of following it; only
//! the ports found in the sweep's last moments (or given back for want of sockets) are left for
//! the re-test after it.

use super::pool::{Pass, Phase};
use super::{lock, Scanner, TIMEOUT_CEILING};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

impl Scanner {
    /// Re-tests the ports that arrive on `found` with at most `spare` in flight, until the
    /// sweep closes the queue. Ports given back for want of sockets are left un-re-tested (the
    /// re-test after the sweep takes them).
    pub(super) async fn retest_early(
        &self,
        mut found: UnboundedReceiver<u16>,
        spare: usize,
        bar: Option<&indicatif::ProgressBar>,
    ) {
        let pass = Arc::new(Pass {
            shared: self.shared.clone(),
            attempt: self.attempt.clone(),
            address: self.opts.address,
            timeout: None,
            // The timeout is set per port, at hand-out.
            phase: Phase::Filtered(Duration::ZERO),
            next: AtomicUsize::new(0),
            given_back: Mutex::new(Vec::new()),
            cap: AtomicUsize::new(spare.max(1)),
            bar: bar.cloned(),
            ports: Vec::new(),
        });
        let sockets = Arc::new(Semaphore::new(spare.max(1)));
        let mut tries = JoinSet::new();
        while let Some(port) = found.recv().await {
            let Ok(socket) = sockets.clone().acquire_owned().await else {
                break;
            };
            if let Some(b) = &pass.bar {
                b.inc_length(1);
            }
            // Twice the estimate as it stands now; try_port keeps it at least the first try's.
            let timeout = (self.current_timeout() * 2).min(TIMEOUT_CEILING * 2);
            let pass = pass.clone();
            tries.spawn(async move {
                pass.try_port(port, timeout).await;
                drop(socket);
            });
            while tries.try_join_next().is_some() {}
        }
        while tries.join_next().await.is_some() {}
        let given_back = std::mem::take(&mut *lock(&pass.given_back));
        for p in given_back {
            self.shared.retested[p as usize].store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Attempt, ScanOptions, Verdict};
    use super::*;
    use std::time::Instant;

    /// Filtered ports are re-tested while the sweep is still going, each exactly once, with a
    /// longer timeout than their first try.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filtered_ports_are_retested_beside_the_sweep() {
        let mut scan = Scanner::new(ScanOptions {
            address: "192.0.2.1".parse().unwrap(),
            host: "lab".into(),
            ports: (1..=3000).collect(),
            concurrency: 100,
            timeout: Some(Duration::from_millis(50)),
            expect: "w00tw00t".into(),
            progress: false,
        });
        let tries: Arc<Mutex<Vec<(u16, Duration, Instant)>>> = Arc::default();
        let t = tries.clone();
        scan.attempt = Arc::new(move |addr, timeout, _| {
            let t = t.clone();
            Box::pin(async move {
                lock(&t).push((addr.port(), timeout, Instant::now()));
                if addr.port() % 10 == 0 {
                    tokio::time::sleep(timeout).await;
                    return Attempt::Done {
                        verdict: Verdict::Filtered,
                        reason: None,
                        rtt: None,
                    };
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                Attempt::Done {
                    verdict: Verdict::Open,
                    reason: None,
                    rtt: Some(Duration::from_millis(1)),
                }
            })
        });
        let out = scan.run().await;
        assert_eq!(out.result.filtered.count(), 300);
        assert_eq!(out.result.open.count(), 2700);
        let tries = lock(&tries).clone();
        assert_eq!(tries.len(), 3000 + 300, "each filtered port re-tested once");
        let last_first_try = tries
            .iter()
            .filter(|t| t.1 == Duration::from_millis(50))
            .map(|t| t.2)
            .max();
        let first_retest = tries
            .iter()
            .filter(|t| t.1 > Duration::from_millis(50))
            .map(|t| t.2)
            .min();
        assert!(
            first_retest < last_first_try,
            "no re-test before the sweep's last try"
        );
    }
}
