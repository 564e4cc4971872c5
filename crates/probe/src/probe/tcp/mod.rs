//! The TCP sweep: OS `connect()` to every port with bounded concurrency, then a look at the answer.
//!
//! OS sockets, not raw packets, so the host's own firewall is part of what is measured. Running out
//! of sockets (EMFILE and friends) lowers the concurrency and re-queues the port; it never becomes a
//! verdict. Ports that time out are re-tested once with a longer timeout: at once, beside the
//! sweep, with the sockets it leaves unused (early.rs), or after it. Ports that connected but
//! stayed silent are re-tested last, with fewer in flight and a longer wait (silent.rs).

mod answer;
mod early;
mod pool;
mod silent;

use super::{FilteredBy, Interception, PortRanges, SilentRetest, TcpResult};
use super::{TIMEOUT_CEILING, TIMEOUT_FLOOR, TIMEOUT_INITIAL};
pub use answer::judge;
use answer::{attempt, host_header};
use pool::{Pass, Phase};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How much of an answer is read before judging it.
const ANSWER_CAP: usize = 4096;
/// The fewest connects kept in flight when back-pressure lowers the concurrency.
const MIN_CONCURRENCY: usize = 16;
/// How much wider than the sweep the re-test of filtered ports runs (socket budget permitting).
const RETEST_WIDEN: usize = 32;
/// File descriptors left to everything else while the early re-test runs beside the sweep.
const EARLY_RETEST_MARGIN: usize = 256;
/// How many interceptions are explained in the output.
const DETAIL_CAP: usize = 50;
/// With an adaptive timeout, only this many connects go out before the round-trip time is known
/// (a few samples, or a first timeout): the rest would otherwise all wait the initial timeout,
/// and a cold burst of thousands of SYNs is also hard on a home router's NAT table.
const WARMUP_WORKERS: usize = 64;
/// Round-trip samples that end the warm-up.
const WARMUP_SAMPLES: usize = 8;

#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub address: IpAddr,
    /// Sent as the HTTP `Host` header.
    pub host: String,
    pub ports: Vec<u16>,
    pub concurrency: usize,
    /// None: adaptive, from the round-trip times seen.
    pub timeout: Option<Duration>,
    pub expect: String,
    pub progress: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    Open = 1,
    Intercepted = 2,
    Closed = 3,
    Filtered = 4,
}

enum Attempt {
    Done {
        verdict: Verdict,
        reason: Option<String>,
        rtt: Option<Duration>,
    },
    /// Connected, but no answer came within `waited`.
    Silent {
        rtt: Option<Duration>,
        waited: Duration,
    },
    /// Out of sockets: try the port again later, with fewer in flight.
    Backpressure,
}

/// Smoothed round-trip time and its variation, as TCP (RFC 6298) and nmap keep them.
#[derive(Debug, Default)]
pub struct RttEstimator {
    srtt: Option<f64>,
    rttvar: f64,
}

impl RttEstimator {
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                self.srtt = Some(0.875 * s + 0.125 * r);
            }
        }
    }

    /// `srtt + 4·rttvar`, kept between a floor that is safe on the internet and a ceiling.
    pub fn timeout(&self) -> Duration {
        match self.srtt {
            None => TIMEOUT_INITIAL,
            Some(s) => {
                Duration::from_secs_f64(s + 4.0 * self.rttvar).clamp(TIMEOUT_FLOOR, TIMEOUT_CEILING)
            }
        }
    }
}

/// What the sweep ended with.
pub struct ScanOutcome {
    pub result: TcpResult,
    pub timeout: Duration,
    pub retest_timeout: Duration,
    pub concurrency: usize,
    /// How long the sweep and the re-test took.
    pub sweep: Duration,
    pub retest: Duration,
}

struct Shared {
    /// Verdict per port (0 = not yet tested), indexed by port number.
    states: Vec<AtomicU8>,
    /// The timeout each port got on its first try, in ms: its re-test never gets less.
    first_timeout_ms: Vec<AtomicU16>,
    details: Mutex<Vec<Interception>>,
    /// Distinct errors that made ports filtered at once, and per port the index + 1 of its
    /// error on its last try (0: it timed out).
    errors: Mutex<Vec<String>>,
    error_of: Vec<AtomicU8>,
    rtt: Mutex<RttEstimator>,
    concurrency: AtomicUsize,
    retest_timeout_ms: AtomicUsize,
    open: AtomicUsize,
    /// Round-trip samples taken, and whether the warm-up is over.
    samples: AtomicUsize,
    warm: tokio::sync::watch::Sender<bool>,
    sweep_ms: AtomicUsize,
    retest_ms: AtomicUsize,
    /// Ports that connected and stayed silent, for the re-test at the end; what it found; and
    /// how many of its ports got any answer.
    silent: Mutex<Vec<u16>>,
    silent_retest: Mutex<SilentRetest>,
    silent_answered: AtomicUsize,
    /// Filtered ports found by the sweep go here to be re-tested beside it (None: not now);
    /// and which ports have had their re-test.
    retest_queue: Mutex<Option<tokio::sync::mpsc::UnboundedSender<u16>>>,
    retested: Vec<AtomicBool>,
}

impl Shared {
    /// The index + 1 of `reason` among the errors seen (the last slot takes any overflow).
    fn error_index(&self, reason: &str) -> u8 {
        let mut errors = lock(&self.errors);
        if let Some(i) = errors.iter().position(|e| e == reason) {
            return i as u8 + 1;
        }
        if errors.len() < 32 {
            errors.push(reason.to_string());
            return errors.len() as u8;
        }
        errors.len() as u8
    }

    fn mark_warm(&self) {
        // Called on most verdicts: a shared read first, the write lock only the once.
        if !*self.warm.borrow() {
            self.warm.send_if_modified(|w| !std::mem::replace(w, true));
        }
    }
}

pub struct Scanner {
    opts: ScanOptions,
    shared: Arc<Shared>,
    /// One connect-and-judge; swapped in tests to provoke back-pressure.
    attempt: AttemptFn,
}

/// One attempt: the address, the connect timeout, and the answer timeout when not the default.
type AttemptFn = Arc<
    dyn Fn(SocketAddr, Duration, Option<Duration>) -> Pin<Box<dyn Future<Output = Attempt> + Send>>
        + Send
        + Sync,
>;

impl Scanner {
    pub fn new(opts: ScanOptions) -> Self {
        let shared = Arc::new(Shared {
            states: (0..65536).map(|_| AtomicU8::new(0)).collect(),
            first_timeout_ms: (0..65536).map(|_| AtomicU16::new(0)).collect(),
            details: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            error_of: (0..65536).map(|_| AtomicU8::new(0)).collect(),
            rtt: Mutex::new(RttEstimator::default()),
            concurrency: AtomicUsize::new(opts.concurrency.max(1)),
            retest_timeout_ms: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            samples: AtomicUsize::new(0),
            // A given timeout needs no warm-up.
            warm: tokio::sync::watch::Sender::new(opts.timeout.is_some()),
            sweep_ms: AtomicUsize::new(0),
            retest_ms: AtomicUsize::new(0),
            silent: Mutex::new(Vec::new()),
            silent_retest: Mutex::new(SilentRetest::default()),
            silent_answered: AtomicUsize::new(0),
            retest_queue: Mutex::new(None),
            retested: (0..65536).map(|_| AtomicBool::new(false)).collect(),
        });
        // Built once: a sweep makes tens of thousands of attempts.
        let expect: Arc<str> = opts.expect.as_str().into();
        let request: Arc<[u8]> = format!(
            "GET / HTTP/1.0\r\nHost: {}\r\nUser-Agent: egress-audit\r\n\r\n",
            host_header(&opts.host)
        )
        .into_bytes()
        .into();
        let attempt: AttemptFn = Arc::new(move |addr, timeout, answer| {
            let (expect, request) = (expect.clone(), request.clone());
            Box::pin(async move { attempt(addr, (timeout, answer), &expect, &request).await })
        });
        Scanner {
            opts,
            shared,
            attempt,
        }
    }

    fn current_timeout(&self) -> Duration {
        self.opts
            .timeout
            .unwrap_or_else(|| lock(&self.shared.rtt).timeout())
    }

    fn state(&self, port: u16) -> u8 {
        self.shared.states[port as usize].load(Ordering::Relaxed)
    }

    /// The sweep, then the re-test of the filtered ports, then that of the silent ones.
    pub async fn run(&self) -> ScanOutcome {
        let bar = self.progress_bar(self.opts.ports.len() as u64);
        let conc = self.shared.concurrency.load(Ordering::Relaxed);
        // Random order, as nmap's: the waits on a filtered range (often contiguous) then overlap
        // with the work of the ports that answer, and no firewall sees a sequential sweep.
        let mut order = self.opts.ports.clone();
        fastrand::shuffle(&mut order);
        let clock = Instant::now();
        // Filtered ports are re-tested as soon as the sweep finds them, with the sockets the
        // sweep does not use, so that most of the re-test's waits overlap the sweep.
        let spare = fd_budget().saturating_sub(conc + EARLY_RETEST_MARGIN);
        let (queue, found) = tokio::sync::mpsc::unbounded_channel();
        if spare >= MIN_CONCURRENCY {
            *lock(&self.shared.retest_queue) = Some(queue);
        } else {
            // No sockets to spare: the queue closes at once, the re-test waits for the sweep.
            drop(queue);
        }
        let sweep = async {
            self.pass(order, conc, Phase::Sweep, bar.as_ref()).await;
            // No more ports: the early re-test ends once it has tried those it got.
            lock(&self.shared.retest_queue).take();
            self.shared
                .sweep_ms
                .store(clock.elapsed().as_millis() as usize, Ordering::Relaxed);
        };
        tokio::join!(sweep, self.retest_early(found, spare, bar.as_ref()));
        let sweep_ms = self.shared.sweep_ms.load(Ordering::Relaxed) as u64;
        let sweep_end = clock + Duration::from_millis(sweep_ms);
        let mut filtered: Vec<u16> = self
            .opts
            .ports
            .iter()
            .copied()
            .filter(|&p| {
                self.state(p) == Verdict::Filtered as u8
                    && !self.shared.retested[p as usize].load(Ordering::Relaxed)
            })
            .collect();
        // The longest waits first, so that none of them starts late when the re-test needs
        // more than one round of sockets.
        filtered.sort_by_key(|&p| {
            std::cmp::Reverse(self.shared.first_timeout_ms[p as usize].load(Ordering::Relaxed))
        });
        let retest_timeout = (self.current_timeout() * 2).min(TIMEOUT_CEILING * 2);
        self.shared
            .retest_timeout_ms
            .store(retest_timeout.as_millis() as usize, Ordering::Relaxed);
        if !filtered.is_empty() {
            if let Some(b) = &bar {
                b.set_length(b.length().unwrap_or(0) + filtered.len() as u64);
                b.set_message(format!(
                    "re-testing {} filtered ports with {} ms",
                    filtered.len(),
                    retest_timeout.as_millis()
                ));
            }
            // A filtered port holds a socket for the whole timeout and nothing else, so the
            // re-test runs wider than the sweep (within the socket budget) to stay cheap.
            let budget = fd_budget();
            let wide = (conc * RETEST_WIDEN).min(budget).min(filtered.len()).max(1);
            self.pass(
                filtered,
                wide,
                Phase::Filtered(retest_timeout),
                bar.as_ref(),
            )
            .await;
        }
        self.shared
            .retest_ms
            .store(sweep_end.elapsed().as_millis() as usize, Ordering::Relaxed);
        self.retest_silent(conc, retest_timeout, bar.as_ref()).await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        self.snapshot()
    }

    /// What is known now; ports without a verdict are `untested`.
    pub fn snapshot(&self) -> ScanOutcome {
        let pick = |v: u8| {
            PortRanges::from_ports(
                self.opts
                    .ports
                    .iter()
                    .copied()
                    .filter(|&p| self.state(p) == v),
            )
        };
        let mut details = lock(&self.shared.details).clone();
        details.sort_by_key(|d| d.port);
        details.dedup_by_key(|d| d.port);
        let errors = lock(&self.shared.errors).clone();
        let mut by_error = vec![0u32; errors.len()];
        for &p in &self.opts.ports {
            let e = self.shared.error_of[p as usize].load(Ordering::Relaxed) as usize;
            if e > 0 && self.state(p) == Verdict::Filtered as u8 {
                by_error[e - 1] += 1;
            }
        }
        let filtered_detail = errors
            .into_iter()
            .zip(by_error)
            .filter(|(_, n)| *n > 0)
            .map(|(reason, ports)| FilteredBy { reason, ports })
            .collect();
        let result = TcpResult {
            ports_tested: self
                .opts
                .ports
                .iter()
                .filter(|&&p| self.state(p) != 0)
                .count() as u32,
            open: pick(Verdict::Open as u8),
            intercepted: pick(Verdict::Intercepted as u8),
            closed: pick(Verdict::Closed as u8),
            filtered: pick(Verdict::Filtered as u8),
            untested: pick(0),
            intercepted_detail: details,
            filtered_detail,
            silent_retest: lock(&self.shared.silent_retest).clone(),
        };
        let timeout = self.current_timeout();
        let retest = self.shared.retest_timeout_ms.load(Ordering::Relaxed) as u64;
        ScanOutcome {
            result,
            timeout,
            retest_timeout: Duration::from_millis(retest),
            concurrency: self.shared.concurrency.load(Ordering::Relaxed),
            sweep: Duration::from_millis(self.shared.sweep_ms.load(Ordering::Relaxed) as u64),
            retest: Duration::from_millis(self.shared.retest_ms.load(Ordering::Relaxed) as u64),
        }
    }

    fn progress_bar(&self, len: u64) -> Option<indicatif::ProgressBar> {
        if !self.opts.progress {
            return None;
        }
        let bar = indicatif::ProgressBar::new(len);
        let style = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} {wide_bar} {pos}/{len} ports · {msg} · ETA {eta}",
        )
        .ok()?;
        bar.set_style(style);
        bar.set_message("open 0");
        Some(bar)
    }

    /// One pass over `ports` with at most `cap` connects in flight: `cap` workers take ports
    /// from a shared cursor, so no task is spawned per port. Ports given back under
    /// back-pressure go round again, with the lowered concurrency.
    async fn pass(
        &self,
        mut ports: Vec<u16>,
        cap: usize,
        phase: Phase,
        bar: Option<&indicatif::ProgressBar>,
    ) {
        let mut cap = cap.max(1);
        while !ports.is_empty() {
            let pass = Arc::new(Pass {
                shared: self.shared.clone(),
                attempt: self.attempt.clone(),
                address: self.opts.address,
                timeout: phase.connect_timeout().or(self.opts.timeout),
                phase,
                next: AtomicUsize::new(0),
                given_back: Mutex::new(Vec::new()),
                cap: AtomicUsize::new(cap),
                bar: bar.cloned(),
                ports,
            });
            let mut workers = JoinSet::new();
            for id in 0..cap.min(pass.ports.len()) {
                workers.spawn(pass.clone().worker(id));
            }
            while workers.join_next().await.is_some() {}
            cap = pass.cap.load(Ordering::Relaxed);
            ports = std::mem::take(&mut *lock(&pass.given_back));
        }
    }
}

/// The socket budget for the re-test: the open-file limit less a margin for everything else.
fn fd_budget() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a local struct.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let cur = if ok { lim.rlim_cur as usize } else { 1024 };
    cur.saturating_sub(256).clamp(MIN_CONCURRENCY, 32768)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Running out of sockets lowers the concurrency and retries the port: every port still
    /// gets its real verdict, none is called filtered or closed for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn out_of_sockets_is_backpressure_not_a_verdict() {
        let ports: Vec<u16> = (1..=600).collect();
        let mut scan = Scanner::new(ScanOptions {
            address: "192.0.2.1".parse().unwrap(),
            host: "lab".into(),
            ports: ports.clone(),
            concurrency: 400,
            timeout: Some(Duration::from_millis(300)),
            expect: "w00tw00t".into(),
            progress: false,
        });
        let in_flight = Arc::new(AtomicUsize::new(0));
        let refusals = Arc::new(AtomicUsize::new(0));
        let (f, r) = (in_flight.clone(), refusals.clone());
        scan.attempt = Arc::new(move |addr, _, _| {
            let (f, r) = (f.clone(), r.clone());
            Box::pin(async move {
                // A host that has sockets for 50 connects at a time.
                if f.fetch_add(1, Ordering::SeqCst) >= 50 {
                    f.fetch_sub(1, Ordering::SeqCst);
                    r.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    return Attempt::Backpressure;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                let verdict = if addr.port() % 2 == 0 {
                    Verdict::Open
                } else {
                    Verdict::Closed
                };
                Attempt::Done {
                    verdict,
                    reason: None,
                    rtt: None,
                }
            })
        });
        let out = scan.run().await;
        assert!(
            refusals.load(Ordering::SeqCst) > 0,
            "back-pressure was provoked"
        );
        assert!(
            out.concurrency < 400,
            "concurrency lowered to {}",
            out.concurrency
        );
        assert_eq!(out.result.ports_tested, 600);
        assert_eq!(out.result.open.count(), 300);
        assert_eq!(out.result.closed.count(), 300);
        assert!(out.result.filtered.is_empty() && out.result.untested.is_empty());
    }

    fn lab_scanner(ports: u16, concurrency: usize, timeout: Option<Duration>) -> Scanner {
        Scanner::new(ScanOptions {
            address: "192.0.2.1".parse().unwrap(),
            host: "lab".into(),
            ports: (1..=ports).collect(),
            concurrency,
            timeout,
            expect: "w00tw00t".into(),
            progress: false,
        })
    }

    /// With an adaptive timeout, no more than the warm-up's connects are out before the first
    /// round trips are known; then the sweep widens to its full concurrency.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_up_holds_the_burst_until_round_trips_are_known() {
        let mut scan = lab_scanner(2000, 500, None);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak_cold = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let (f, pc, pk, a) = (
            in_flight.clone(),
            peak_cold.clone(),
            peak.clone(),
            answered.clone(),
        );
        scan.attempt = Arc::new(move |_, _, _| {
            let (f, pc, pk, a) = (f.clone(), pc.clone(), pk.clone(), a.clone());
            Box::pin(async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(now, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) == 0 {
                    pc.fetch_max(now, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                a.fetch_add(1, Ordering::SeqCst);
                f.fetch_sub(1, Ordering::SeqCst);
                Attempt::Done {
                    verdict: Verdict::Open,
                    reason: None,
                    rtt: Some(Duration::from_millis(20)),
                }
            })
        });
        let out = scan.run().await;
        assert_eq!(out.result.open.count(), 2000);
        let cold = peak_cold.load(Ordering::SeqCst);
        assert!(
            cold <= WARMUP_WORKERS,
            "{cold} connects out before any answer"
        );
        assert!(
            peak.load(Ordering::SeqCst) > WARMUP_WORKERS * 2,
            "never widened"
        );
    }

    /// A warm-up that never gets a round trip (every connect runs out of sockets, then the
    /// ports run out) must not leave the other workers waiting: the sweep still ends, exact.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_up_without_samples_does_not_hang() {
        let mut scan = lab_scanner(300, 200, None);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        scan.attempt = Arc::new(move |_, _, _| {
            let c = c.clone();
            Box::pin(async move {
                if c.fetch_add(1, Ordering::SeqCst) < 400 {
                    return Attempt::Backpressure;
                }
                Attempt::Done {
                    verdict: Verdict::Closed,
                    reason: None,
                    rtt: None,
                }
            })
        });
        let out = tokio::time::timeout(Duration::from_secs(20), scan.run())
            .await
            .expect("the sweep ended");
        assert_eq!(out.result.closed.count(), 300);
        assert!(out.result.untested.is_empty());
    }

    /// Filtered ports are re-tested once, at the end, with twice the sweep's timeout, and never
    /// with less than their own first try had (the warm-up's initial timeout).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retest_is_longer_than_the_first_try() {
        let mut scan = lab_scanner(400, 100, None);
        let tries: Arc<Mutex<Vec<(u16, Duration)>>> = Arc::default();
        let t = tries.clone();
        scan.attempt = Arc::new(move |addr, timeout, _| {
            let t = t.clone();
            Box::pin(async move {
                lock(&t).push((addr.port(), timeout));
                if addr.port() % 4 == 0 {
                    return Attempt::Done {
                        verdict: Verdict::Filtered,
                        reason: None,
                        rtt: None,
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
        assert_eq!(out.result.filtered.count(), 100);
        let tries = lock(&tries).clone();
        for port in (4..=400).step_by(4) {
            let mine: Vec<Duration> = tries.iter().filter(|t| t.0 == port).map(|t| t.1).collect();
            assert_eq!(mine.len(), 2, "port {port} tried twice: {mine:?}");
            assert!(mine[1] >= mine[0], "port {port}: re-test {mine:?}");
            assert!(
                mine[1] >= 2 * TIMEOUT_FLOOR,
                "port {port}: re-test {mine:?}"
            );
        }
        assert_eq!(tries.len(), 400 + 100, "answered ports are tried once");
    }

    #[test]
    fn adaptive_timeout_has_floor_and_ceiling() {
        let mut e = RttEstimator::default();
        assert_eq!(e.timeout(), TIMEOUT_INITIAL);
        for _ in 0..20 {
            e.sample(Duration::from_micros(50));
        }
        assert_eq!(e.timeout(), TIMEOUT_FLOOR);
        for _ in 0..50 {
            e.sample(Duration::from_secs(3));
        }
        assert_eq!(e.timeout(), TIMEOUT_CEILING);
        let mut e = RttEstimator::default();
        for _ in 0..50 {
            e.sample(Duration::from_millis(150));
        }
        let t = e.timeout();
        assert!(t >= Duration::from_millis(300) && t < Duration::from_millis(400));
    }
}
