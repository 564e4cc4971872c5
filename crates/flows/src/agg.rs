//! The per-thread aggregator: records are merged into one entry per distinct key as they are read,
//! so memory grows with distinct keys, never with input size. Strings (interface, instance, rule)
//! are interned to small ids so that the hot path allocates nothing for a key already seen.

use crate::timeline::Timeline;
use crate::{
    CoverageHole, Disposition, FlowKey, FlowProfile, FlowSource, FlowStats, SkippedRecord,
};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// FxHash (rustc's): much faster than SipHash for short keys; the input is logs, not an attacker
/// choosing keys to collide in a long-running service.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // hashbrown indexes buckets by the low bits, which a multiply leaves weak: bring the strong
        // high bits down (as rustc-hash 2 does), or keys differing in their last bytes collide.
        self.0.rotate_left(26)
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const NONE: u32 = u32::MAX;
const EMPTY: (i64, i64) = (i64::MAX, i64::MIN);

/// One readable record, borrowed from the input buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub dst_port: u16,
    pub disposition: Disposition,
    pub rule: Option<&'a str>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub start: i64,
    pub end: i64,
}

/// The interned workload of a record [`Aggregator::seen`].
#[derive(Clone, Copy)]
pub(crate) struct Seen {
    iface: u32,
    inst: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct LocalKey {
    iface: u32,
    inst: u32,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    dst_port: u16,
    disposition: Disposition,
    rule: u32,
}

#[derive(Default)]
struct Interner {
    ids: FxMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return NONE };
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }
    fn name(&self, id: u32) -> Option<String> {
        (id != NONE).then(|| self.names[id as usize].to_string())
    }
}

/// Accumulates one thread's share of the input; [`Aggregator::finish`] merges the shares.
pub(crate) struct Aggregator {
    strings: Interner,
    flows: FxMap<LocalKey, FlowStats>,
    /// By interned id (ids are dense); `EMPTY` where the name is not a workload.
    covered: Vec<(i64, i64)>,
    pub holes: Vec<CoverageHole>,
    /// Examples kept per file (at most the cap each), ordered later by file and line.
    pub skipped: Vec<SkippedRecord>,
    pub skipped_count: u64,
    pub records: u64,
    oldest: Option<i64>,
    newest: Option<i64>,
    pub sources: Vec<FlowSource>,
    max_examples: usize,
    examples_in_file: usize,
    /// AWS records' time intervals per interned interface, and the gap that counts as a hole.
    timelines: Vec<Timeline>,
    max_gap: i64,
}

impl Aggregator {
    pub fn new(max_examples: usize, max_gap: i64) -> Self {
        Aggregator {
            strings: Interner::default(),
            flows: FxMap::default(),
            covered: Vec::new(),
            holes: Vec::new(),
            skipped: Vec::new(),
            skipped_count: 0,
            records: 0,
            oldest: None,
            newest: None,
            sources: Vec::new(),
            max_examples,
            examples_in_file: 0,
            timelines: Vec::new(),
            max_gap,
        }
    }

    pub fn start_file(&mut self) {
        self.examples_in_file = 0;
    }

    pub fn source(&mut self, s: FlowSource) {
        if !self.sources.contains(&s) {
            self.sources.push(s);
        }
    }

    /// A readable record of any direction: it proves logging was on for its interface.
    /// Returns the interned interface and instance, for [`Aggregator::egress`].
    #[inline]
    pub fn seen(&mut self, iface: Option<&str>, inst: Option<&str>, start: i64, end: i64) -> Seen {
        self.records += 1;
        self.oldest = Some(self.oldest.map_or(start, |o| o.min(start)));
        self.newest = Some(self.newest.map_or(end, |n| n.max(end)));
        let seen = Seen {
            iface: self.strings.id(iface),
            inst: self.strings.id(inst),
        };
        let id = if seen.iface != NONE {
            seen.iface
        } else {
            seen.inst
        };
        if id != NONE {
            self.cover(id, start, end);
        }
        seen
    }

    /// An egress record (already [`Aggregator::seen`]).
    #[inline]
    pub fn egress(&mut self, seen: Seen, r: &Rec) {
        let key = LocalKey {
            iface: seen.iface,
            inst: seen.inst,
            src: r.src,
            dst: r.dst,
            protocol: r.protocol,
            dst_port: r.dst_port,
            disposition: r.disposition,
            rule: self.strings.id(r.rule),
        };
        let s = self.flows.entry(key).or_insert(FlowStats {
            flows: 0,
            packets: 0,
            bytes: 0,
            first_seen: r.start,
            last_seen: r.end,
        });
        s.flows += r.flows;
        s.packets += r.packets;
        s.bytes += r.bytes;
        s.first_seen = s.first_seen.min(r.start);
        s.last_seen = s.last_seen.max(r.end);
    }

    pub fn hole(&mut self, iface: Option<&str>, from: i64, to: i64, reason: String) {
        self.holes.push(CoverageHole {
            interface_id: iface.map(str::to_string),
            from,
            to,
            reason,
        });
    }

    pub fn skip(&mut self, file: &str, line: u64, reason: impl Into<String>) {
        self.skipped_count += 1;
        if self.examples_in_file < self.max_examples {
            self.examples_in_file += 1;
            self.skipped.push(SkippedRecord {
                file: file.to_string(),
                line,
                reason: reason.into(),
            });
        }
    }

    /// For logs that write every interval (AWS): remembers when the interface was logged.
    #[inline]
    pub fn timeline(&mut self, seen: Seen, start: i64, end: i64) {
        let id = if seen.iface != NONE {
            seen.iface
        } else {
            seen.inst
        };
        if id == NONE {
            return;
        }
        let id = id as usize;
        if id >= self.timelines.len() {
            self.timelines.resize(id + 1, Timeline::default());
        }
        self.timelines[id].add(start, end, self.max_gap);
    }

    #[inline]
    fn cover(&mut self, id: u32, start: i64, end: i64) {
        let id = id as usize;
        if id >= self.covered.len() {
            self.covered.resize(id + 1, EMPTY);
        }
        let span = &mut self.covered[id];
        span.0 = span.0.min(start);
        span.1 = span.1.max(end);
    }

    /// Merges another thread's share into this one, at the interned level: cheaper, and smaller at
    /// its peak, than building the public map from each share.
    pub fn absorb(&mut self, other: Aggregator) {
        let remap: Vec<u32> = other
            .strings
            .names
            .iter()
            .map(|n| self.strings.id(Some(n)))
            .collect();
        let map = |id: u32| if id == NONE { NONE } else { remap[id as usize] };
        for (k, s) in other.flows {
            let k = LocalKey {
                iface: map(k.iface),
                inst: map(k.inst),
                rule: map(k.rule),
                ..k
            };
            merge_stats(self.flows.entry(k).or_default(), &s);
        }
        for (id, &(a, b)) in other.covered.iter().enumerate() {
            if (a, b) != EMPTY {
                self.cover(map(id as u32), a, b);
            }
        }
        for (id, t) in other.timelines.iter().enumerate() {
            let id = map(id as u32) as usize;
            if id >= self.timelines.len() {
                self.timelines.resize(id + 1, Timeline::default());
            }
            self.timelines[id].merge(t, self.max_gap);
        }
        self.holes.extend(other.holes);
        self.skipped.extend(other.skipped);
        self.skipped_count += other.skipped_count;
        self.records += other.records;
        self.oldest = min_opt(self.oldest, other.oldest);
        self.newest = max_opt(self.newest, other.newest);
        for s in other.sources {
            self.source(s);
        }
    }

    /// Turns the interned keys back into [`FlowKey`]s and adds this share to `into`.
    pub fn finish(self, into: &mut FlowProfile) {
        into.flows.reserve(self.flows.len());
        let name = |id| self.strings.name(id);
        for (k, s) in self.flows {
            let key = FlowKey {
                interface_id: name(k.iface),
                instance_id: name(k.inst),
                src: k.src,
                dst: k.dst,
                protocol: k.protocol,
                dst_port: k.dst_port,
                disposition: k.disposition,
                logged_rule: name(k.rule),
            };
            merge_stats(into.flows.entry(key).or_default(), &s);
        }
        for (id, &(a, b)) in self.covered.iter().enumerate().filter(|c| *c.1 != EMPTY) {
            let span = into
                .covered
                .entry(self.strings.names[id].to_string())
                .or_insert((a, b));
            span.0 = span.0.min(a);
            span.1 = span.1.max(b);
        }
        for (id, t) in self.timelines.iter().enumerate() {
            for (from, to, reason) in t.gaps() {
                into.holes.push(CoverageHole {
                    interface_id: Some(self.strings.names[id].to_string()),
                    from,
                    to,
                    reason,
                });
            }
        }
        into.holes.extend(self.holes);
        into.skipped.extend(self.skipped);
        into.skipped_count += self.skipped_count;
        into.records += self.records;
        into.oldest = min_opt(into.oldest, self.oldest);
        into.newest = max_opt(into.newest, self.newest);
        for s in self.sources {
            if !into.sources.contains(&s) {
                into.sources.push(s);
            }
        }
    }
}

/// Adds `s` into `into`; an empty `into` (flows 0) takes `s`'s times.
pub(crate) fn merge_stats(into: &mut FlowStats, s: &FlowStats) {
    if into.flows == 0 && into.packets == 0 && into.bytes == 0 {
        into.first_seen = s.first_seen;
        into.last_seen = s.last_seen;
    } else {
        into.first_seen = into.first_seen.min(s.first_seen);
        into.last_seen = into.last_seen.max(s.last_seen);
    }
    into.flows += s.flows;
    into.packets += s.packets;
    into.bytes += s.bytes;
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
