//! The re-test of ports that connected and then stayed silent. Under a sweep's load a responder
//! (or the probing host itself) can take longer than the answer timeout; calling those ports
//! "intercepted" would be wrong. So they are tried again at the end, with fewer connections in
//! flight and a longer wait, and only what stays silent is called intercepted.
//!
//! A real tarpit (an interceptor that accepts everything and says nothing) must not make the
//! re-test cost `ports × wait`: the first round (as many ports as run at once) goes alone, and
//! if none of its ports answers this time either, the rest is not re-tested (`skipped`).

use super::answer::answer_timeout;
use super::pool::{Pass, Phase};
use super::{lock, Scanner, Verdict, DETAIL_CAP};
use crate::probe::Interception;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Connections in flight during the re-test: an eighth of the sweep's, within these bounds.
const SILENT_CONCURRENCY_MIN: usize = 16;
const SILENT_CONCURRENCY_MAX: usize = 256;
/// The re-test waits twice the sweep's answer timeout, within these bounds.
const SILENT_ANSWER_MIN: Duration = Duration::from_secs(3);
const SILENT_ANSWER_MAX: Duration = Duration::from_secs(10);

impl Scanner {
    /// Re-tests the silent ports; `sweep_conc` is the sweep's concurrency, `connect` the
    /// re-test's connect timeout.
    pub(super) async fn retest_silent(
        &self,
        sweep_conc: usize,
        connect: Duration,
        bar: Option<&indicatif::ProgressBar>,
    ) {
        let mut ports = std::mem::take(&mut *lock(&self.shared.silent));
        ports.sort_unstable();
        ports.dedup();
        ports.retain(|&p| self.state(p) == Verdict::Intercepted as u8);
        if ports.is_empty() {
            return;
        }
        fastrand::shuffle(&mut ports);
        let clock = Instant::now();
        let conc = (sweep_conc / 8)
            .clamp(SILENT_CONCURRENCY_MIN, SILENT_CONCURRENCY_MAX)
            .min(ports.len());
        let answer = (answer_timeout(self.current_timeout()) * 2)
            .clamp(SILENT_ANSWER_MIN, SILENT_ANSWER_MAX);
        {
            let mut s = lock(&self.shared.silent_retest);
            s.concurrency = conc as u32;
            s.answer_timeout_ms = answer.as_millis() as u64;
        }
        if let Some(b) = bar {
            b.set_length(b.length().unwrap_or(0) + ports.len() as u64);
            b.set_message(format!(
                "re-testing {} silent ports, {conc} at a time, waiting {} ms",
                ports.len(),
                answer.as_millis()
            ));
        }
        let phase = Phase::Silent { connect, answer };
        let rest = ports.split_off(conc);
        self.pass(ports, conc, phase, bar).await;
        let answered = self.shared.silent_answered.load(Ordering::Relaxed);
        let skipped = if answered == 0 { rest.len() } else { 0 };
        if answered > 0 && !rest.is_empty() {
            self.pass(rest, conc, phase, bar).await;
        }
        let mut s = lock(&self.shared.silent_retest);
        s.skipped = skipped as u32;
        s.ms = clock.elapsed().as_millis() as u64;
    }
}

impl Pass {
    /// The re-test's verdict on a port that was silent: `None` when it is silent again.
    pub(super) fn settle(&self, port: u16, outcome: Option<(Verdict, Option<String>)>) {
        let waited = match self.phase {
            Phase::Silent { answer, .. } => answer,
            _ => Duration::ZERO,
        };
        let in_flight = self.cap.load(Ordering::Relaxed);
        if matches!(&outcome, Some((Verdict::Open | Verdict::Intercepted, _))) {
            self.shared.silent_answered.fetch_add(1, Ordering::Relaxed);
        }
        let (verdict, reason) = match outcome {
            Some((Verdict::Open, _)) => (Verdict::Open, None),
            Some((Verdict::Intercepted, reason)) => (Verdict::Intercepted, reason),
            // It did connect the first time: egress passed. A refusal or a timeout now does not
            // undo that, so it stays intercepted rather than hide an open path.
            Some((other, _)) => (
                Verdict::Intercepted,
                Some(format!(
                    "connected, then stayed silent; {} when re-tested",
                    if other == Verdict::Closed {
                        "refused"
                    } else {
                        "no connection"
                    }
                )),
            ),
            None => (
                Verdict::Intercepted,
                Some(format!(
                    "connected, but no answer within {} ms, twice (re-tested with {in_flight} \
                     connections in flight)",
                    waited.as_millis()
                )),
            ),
        };
        {
            let mut s = lock(&self.shared.silent_retest);
            s.ports += 1;
            s.open += (verdict == Verdict::Open) as u32;
        }
        self.shared.states[port as usize].store(verdict as u8, Ordering::Relaxed);
        let mut details = lock(&self.shared.details);
        details.retain(|d| d.port != port);
        if let Some(reason) = reason {
            if details.len() < DETAIL_CAP {
                details.push(Interception { port, reason });
            }
        }
        drop(details);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Attempt, ScanOptions};
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    fn scanner(ports: u16, concurrency: usize) -> Scanner {
        Scanner::new(ScanOptions {
            address: "192.0.2.1".parse().unwrap(),
            host: "lab".into(),
            ports: (1..=ports).collect(),
            concurrency,
            timeout: Some(Duration::from_millis(300)),
            expect: "w00tw00t".into(),
            progress: false,
        })
    }

    /// A responder that stays silent while more than 40 connections are open: under the
    /// sweep's 200 it is silent, under the re-test's 25 it answers. Every port ends open, and
    /// the re-test waited longer than the sweep did.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_responder_slow_under_load_is_open_after_the_retest() {
        let mut scan = scanner(600, 200);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let waits: Arc<Mutex<Vec<Option<Duration>>>> = Arc::default();
        let (f, w) = (in_flight.clone(), waits.clone());
        scan.attempt = Arc::new(move |_, _, answer| {
            let (f, w) = (f.clone(), w.clone());
            Box::pin(async move {
                lock(&w).push(answer);
                let busy = f.fetch_add(1, Ordering::SeqCst) >= 40;
                tokio::time::sleep(Duration::from_millis(20)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                if busy {
                    return Attempt::Silent {
                        rtt: Some(Duration::from_millis(1)),
                        waited: Duration::from_secs(1),
                    };
                }
                Attempt::Done {
                    verdict: Verdict::Open,
                    reason: None,
                    rtt: Some(Duration::from_millis(1)),
                }
            })
        });
        let out = scan.run().await;
        let r = &out.result;
        assert_eq!(r.open.count(), 600, "{r:?}");
        assert!(
            r.intercepted.is_empty() && r.intercepted_detail.is_empty(),
            "{r:?}"
        );
        let s = &r.silent_retest;
        assert!(s.ports > 100, "the sweep's load made ports silent: {s:?}");
        assert_eq!(
            (s.open, s.skipped, s.concurrency),
            (s.ports, 0, 25),
            "{s:?}"
        );
        assert!(s.answer_timeout_ms >= 3000, "{s:?}");
        let retest_waits = lock(&waits).iter().filter(|a| a.is_some()).count();
        assert_eq!(retest_waits, s.ports as usize);
    }

    /// A tarpit (every connection silent): one round of the re-test, then the rest is skipped;
    /// everything stays intercepted, each port with its reason.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tarpit_is_not_retested_port_by_port() {
        let mut scan = scanner(400, 160);
        scan.attempt = Arc::new(move |_, _, _| {
            Box::pin(async move {
                Attempt::Silent {
                    rtt: None,
                    waited: Duration::from_secs(1),
                }
            })
        });
        let out = scan.run().await;
        let r = &out.result;
        assert_eq!(r.intercepted.count(), 400);
        let s = &r.silent_retest;
        assert_eq!(
            (s.ports, s.open, s.skipped, s.concurrency),
            (20, 0, 380, 20)
        );
        let twice = r
            .intercepted_detail
            .iter()
            .filter(|d| d.reason.contains("twice"))
            .count();
        assert!(twice > 0 && twice <= 20, "{:?}", r.intercepted_detail);
    }
}
