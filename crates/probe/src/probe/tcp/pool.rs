//! The workers of one pass: each takes the next port from a shared cursor, tries it, and
//! records the verdict; back-pressure gives the port back and lowers the concurrency.

use super::{lock, Attempt, AttemptFn, Shared, Verdict};
use super::{DETAIL_CAP, MIN_CONCURRENCY, WARMUP_SAMPLES, WARMUP_WORKERS};
use crate::probe::Interception;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One pass's work list and the state its workers share.
pub(super) struct Pass {
    pub(super) shared: Arc<Shared>,
    pub(super) attempt: AttemptFn,
    pub(super) address: IpAddr,
    /// None: adaptive, read at each hand-out.
    pub(super) timeout: Option<Duration>,
    pub(super) phase: Phase,
    pub(super) ports: Vec<u16>,
    pub(super) next: AtomicUsize,
    pub(super) given_back: Mutex<Vec<u16>>,
    /// Workers whose id is at or above this stop (back-pressure lowers it).
    pub(super) cap: AtomicUsize,
    pub(super) bar: Option<indicatif::ProgressBar>,
}

/// Which pass: only the sweep samples round trips (the re-tests' longer timeouts would skew the
/// estimate) and notes each port's first timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Sweep,
    /// The re-test of filtered ports, with this connect timeout.
    Filtered(Duration),
    /// The re-test of ports that connected and stayed silent.
    Silent {
        connect: Duration,
        answer: Duration,
    },
}

impl Phase {
    pub(super) fn connect_timeout(self) -> Option<Duration> {
        match self {
            Phase::Sweep => None,
            Phase::Filtered(t) => Some(t),
            Phase::Silent { connect, .. } => Some(connect),
        }
    }

    fn answer_timeout(self) -> Option<Duration> {
        match self {
            Phase::Silent { answer, .. } => Some(answer),
            _ => None,
        }
    }
}

impl Pass {
    pub(super) async fn worker(self: Arc<Self>, id: usize) {
        if id >= WARMUP_WORKERS {
            // Err only if the sender is gone, and it lives as long as `shared`.
            let _ = self.shared.warm.subscribe().wait_for(|&warm| warm).await;
        }
        self.take_ports(id).await;
        // A warm-up worker that runs out of ports (or of sockets) must not leave the rest
        // waiting for samples that will never come.
        self.shared.mark_warm();
    }

    async fn take_ports(&self, id: usize) {
        while id < self.cap.load(Ordering::Relaxed) {
            let Some(&port) = self.ports.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let timeout = self
                .timeout
                .unwrap_or_else(|| lock(&self.shared.rtt).timeout());
            self.try_port(port, timeout).await;
        }
    }

    /// One port: the attempt and its record (or, out of sockets, the port given back).
    pub(super) async fn try_port(&self, port: u16, timeout: Duration) {
        let mut timeout = timeout;
        {
            let first = &self.shared.first_timeout_ms[port as usize];
            if self.phase == Phase::Sweep {
                first.store(
                    timeout.as_millis().min(u16::MAX.into()) as u16,
                    Ordering::Relaxed,
                );
            } else {
                // Ports sent out during the warm-up waited the initial timeout, longer than
                // the re-test's twice-the-estimate.
                timeout = timeout.max(Duration::from_millis(first.load(Ordering::Relaxed).into()));
            }
            let addr = SocketAddr::new(self.address, port);
            let answer = self.phase.answer_timeout();
            match (self.attempt)(addr, timeout, answer).await {
                Attempt::Backpressure => {
                    lock(&self.given_back).push(port);
                    let lower = |c: usize| Some((c - c / 10).max(MIN_CONCURRENCY.min(c)));
                    let _ = self
                        .cap
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, lower);
                    let now = self.cap.load(Ordering::Relaxed);
                    self.shared.concurrency.fetch_min(now, Ordering::Relaxed);
                }
                Attempt::Done {
                    verdict, reason, ..
                } if matches!(self.phase, Phase::Silent { .. }) => {
                    self.settle(port, Some((verdict, reason)))
                }
                Attempt::Silent { .. } if matches!(self.phase, Phase::Silent { .. }) => {
                    self.settle(port, None)
                }
                Attempt::Done {
                    verdict,
                    reason,
                    rtt,
                } => self.record(port, verdict, reason, rtt),
                Attempt::Silent { rtt, waited } => {
                    lock(&self.shared.silent).push(port);
                    let why = format!("connected, but no answer within {} ms", waited.as_millis());
                    self.record(port, Verdict::Intercepted, Some(why), rtt);
                }
            }
        }
    }

    fn record(&self, port: u16, verdict: Verdict, reason: Option<String>, rtt: Option<Duration>) {
        if let (Some(r), Phase::Sweep) = (rtt, self.phase) {
            lock(&self.shared.rtt).sample(r);
        }
        let sampled = self
            .shared
            .samples
            .fetch_add(rtt.is_some() as usize, Ordering::Relaxed);
        if verdict == Verdict::Filtered || sampled + 1 >= WARMUP_SAMPLES {
            self.shared.mark_warm();
        }
        self.shared.states[port as usize].store(verdict as u8, Ordering::Relaxed);
        if let Phase::Filtered(_) = self.phase {
            self.shared.retested[port as usize].store(true, Ordering::Relaxed);
        } else if verdict == Verdict::Filtered && self.phase == Phase::Sweep {
            // Re-tested at once, beside the sweep, if there are sockets to spare (early.rs).
            if let Some(queue) = lock(&self.shared.retest_queue).as_ref() {
                let _ = queue.send(port);
            }
        }
        if verdict == Verdict::Filtered {
            let index = reason.as_deref().map_or(0, |r| self.shared.error_index(r));
            self.shared.error_of[port as usize].store(index, Ordering::Relaxed);
        }
        if let Some(reason) = reason.filter(|_| verdict == Verdict::Intercepted) {
            let mut d = lock(&self.shared.details);
            if d.len() < DETAIL_CAP {
                d.push(Interception { port, reason });
            }
        }
        let open = if verdict == Verdict::Open {
            self.shared.open.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            0
        };
        if let Some(b) = &self.bar {
            b.inc(1);
            if open > 0 {
                b.set_message(format!("open {open}"));
            }
        }
    }
}
