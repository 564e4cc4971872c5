//! What one TCP client may take: a share of the connection slots per source, and a request head
//! that must be complete soon (a slow-loris client, holding thousands of connections that each
//! trickle a byte now and then, would otherwise keep everyone else out).
//!
//! The per-source cap alone is not enough: at its default (half the slots) two sources together
//! hold every slot. So when the server is full, a newcomer whose source holds fewer connections
//! than the heaviest source takes a slot from it: that source's oldest connection still waiting
//! for its request head (a slow-loris one), else its oldest, is told to close
//! ([`SourceSlots::take`]). The heaviest source is the last of a set ordered by load, and each
//! source's connections are kept in order of arrival, so an eviction costs O(log n).

use super::echo_guard::SourceKey;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Connection slots per source (an IPv4 address or an IPv6 /64), and which connection gives its
/// slot up when the server is full.
pub struct SourceSlots {
    per_source: u32,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    sources: HashMap<SourceKey, Conns>,
    /// (connections, source) for every source that holds any: the heaviest is the last.
    by_load: BTreeSet<(u32, SourceKey)>,
    /// Connection ids only grow, so a smaller id is an older connection.
    next_id: u64,
}

/// One source's connections, each with the sender that tells its task to close.
#[derive(Default)]
struct Conns {
    /// Still waiting for the request head: evicted first (they cost the attacker nothing).
    waiting: BTreeMap<u64, oneshot::Sender<()>>,
    /// Being answered.
    answering: BTreeMap<u64, oneshot::Sender<()>>,
}

impl Conns {
    fn count(&self) -> u32 {
        (self.waiting.len() + self.answering.len()) as u32
    }
}

/// One slot, given back when dropped (or when it is evicted, whichever comes first: once).
pub struct SourceSlot {
    slots: Arc<SourceSlots>,
    key: SourceKey,
    id: u64,
}

/// Why a connection is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its source holds its share already.
    Source,
    /// The server is full, and its source is not lighter than the heaviest one.
    Busy,
}

/// A slot taken.
pub struct Taken {
    pub slot: SourceSlot,
    /// Resolves when the connection must close to make room for a lighter source. (Its sender
    /// is dropped unsent only with the slot itself.)
    pub evicted: oneshot::Receiver<()>,
    /// Another connection was evicted for this one: the global slot comes free when that one
    /// has closed.
    pub took_over: bool,
}

impl SourceSlots {
    pub fn new(per_source: usize) -> Arc<SourceSlots> {
        Arc::new(SourceSlots {
            per_source: per_source.clamp(1, u32::MAX as usize) as u32,
            held: Mutex::new(Held::default()),
        })
    }

    /// A slot for `ip`, unless its source holds its share already. `full`: no global slot is
    /// free; then the slot is taken from the heaviest source if that makes the shares more even
    /// (the newcomer's source, one connection more, still holds fewer than the heaviest: a mere
    /// swap between two sources one apart would only make them evict each other in turn).
    pub fn take(self: &Arc<Self>, ip: IpAddr, full: bool) -> Result<Taken, Refusal> {
        let key = SourceKey::of(ip);
        let mut held = super::lock(&self.held);
        let n = held.sources.get(&key).map_or(0, Conns::count);
        if n >= self.per_source {
            return Err(Refusal::Source);
        }
        if full {
            let &(heaviest, victim_key) = held.by_load.last().ok_or(Refusal::Busy)?;
            if n + 1 >= heaviest {
                return Err(Refusal::Busy);
            }
            let victim = held
                .sources
                .get_mut(&victim_key)
                .and_then(|c| c.waiting.pop_first().or_else(|| c.answering.pop_first()));
            let Some((_, tell)) = victim else {
                return Err(Refusal::Busy);
            };
            // Its task may be ending on its own already: then the send finds no one, which is
            // just as well. Its slot is counted here, and its Drop finds nothing to give back.
            let _ = tell.send(());
            held.recount(victim_key, heaviest);
        }
        let id = held.next_id;
        held.next_id += 1;
        let (tell, evicted) = oneshot::channel();
        held.sources
            .entry(key)
            .or_default()
            .waiting
            .insert(id, tell);
        held.recount(key, n);
        Ok(Taken {
            slot: SourceSlot {
                slots: self.clone(),
                key,
                id,
            },
            evicted,
            took_over: full,
        })
    }

    /// Slots held by `ip`'s source now.
    pub fn held(&self, ip: IpAddr) -> u32 {
        let held = super::lock(&self.held);
        held.sources.get(&SourceKey::of(ip)).map_or(0, Conns::count)
    }
}

impl Held {
    /// Moves `key` in the load order from `was` connections to what it holds now, and forgets
    /// it when it holds none: the tables stay as small as the sources connected.
    fn recount(&mut self, key: SourceKey, was: u32) {
        let now = self.sources.get(&key).map_or(0, Conns::count);
        if was > 0 {
            self.by_load.remove(&(was, key));
        }
        if now > 0 {
            self.by_load.insert((now, key));
        } else {
            self.sources.remove(&key);
        }
    }
}

impl SourceSlot {
    /// The request head is in and the answer is going out: this connection is evicted only
    /// after its source's connections still waiting for theirs.
    pub fn answering(&self) {
        let mut held = super::lock(&self.slots.held);
        if let Some(c) = held.sources.get_mut(&self.key) {
            if let Some(tell) = c.waiting.remove(&self.id) {
                c.answering.insert(self.id, tell);
            }
        }
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = super::lock(&self.slots.held);
        let Some(c) = held.sources.get_mut(&self.key) else {
            return;
        };
        let was = c.count();
        let gone = c.waiting.remove(&self.id).is_some() || c.answering.remove(&self.id).is_some();
        // Not there: evicted, and counted off then.
        if gone {
            held.recount(self.key, was);
        }
    }
}

/// Finds the end of an HTTP request head (`\r\n\r\n`, or `\n\n` from a bare client) across
/// however many reads it arrives in.
#[derive(Default)]
pub struct HeadEnd {
    /// The last four bytes seen, the latest lowest.
    last: u32,
}

impl HeadEnd {
    /// Feeds the next bytes read; true once the head is complete.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.last = (self.last << 8) | b as u32;
            if self.last == u32::from_be_bytes(*b"\r\n\r\n") || self.last & 0xffff == 0x0a0a {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_is_found_across_reads() {
        let whole = b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n";
        for split in 1..whole.len() {
            let mut h = HeadEnd::default();
            let first = h.feed(&whole[..split]);
            assert!(!first, "split at {split}: complete too early");
            assert!(h.feed(&whole[split..]), "split at {split}");
        }
        // Byte by byte, and bare newlines.
        let mut h = HeadEnd::default();
        let ends: Vec<bool> = b"GET /\n\n".iter().map(|b| h.feed(&[*b])).collect();
        assert_eq!(ends.iter().filter(|&&e| e).count(), 1);
        assert!(ends[ends.len() - 1]);
        assert!(!HeadEnd::default().feed(b"GET / HTTP/1.0\r\nHost: lab\r\n"));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Whether the eviction of `t` has been told (without waiting).
    fn is_told(t: &mut Taken) -> bool {
        t.evicted.try_recv().is_ok()
    }

    #[test]
    fn one_source_holds_its_share_only() {
        let slots = SourceSlots::new(3);
        let (a, b) = (ip("127.0.0.1"), ip("127.0.0.2"));
        let held: Vec<_> = (0..5).filter_map(|_| slots.take(a, false).ok()).collect();
        assert_eq!(held.len(), 3);
        assert_eq!(slots.take(a, false).err(), Some(Refusal::Source));
        assert!(
            slots.take(b, false).is_ok(),
            "another source is not refused"
        );
        // The IPv4-mapped form is the same source; an IPv6 /64 is one source.
        assert!(slots.take(ip("::ffff:127.0.0.1"), false).is_err());
        let v6: Vec<_> = (1..6u16)
            .filter_map(|i| slots.take(ip(&format!("2001:db8::{i}")), false).ok())
            .collect();
        assert_eq!(v6.len(), 3);
        drop(held);
        assert_eq!(slots.held(a), 0);
        assert!(slots.take(a, false).is_ok());
    }

    #[test]
    fn a_full_server_evicts_the_oldest_of_the_heaviest_source() {
        let slots = SourceSlots::new(10);
        let (a, b, c) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
        // a holds 4, b 5 (interleaved, so that age and source are not the same order).
        let mut conns: Vec<(IpAddr, Taken)> = Vec::new();
        for who in [b, a, b, a, b, a, b, a, b] {
            conns.push((who, slots.take(who, false).unwrap()));
        }
        assert_eq!((slots.held(a), slots.held(b)), (4, 5));
        // Full: c (none) takes over from b, the heaviest: b's oldest is told, no one else.
        let t = slots.take(c, true).unwrap();
        assert!(t.took_over);
        let told: Vec<usize> = (0..conns.len())
            .filter(|&i| is_told(&mut conns[i].1))
            .collect();
        assert_eq!(told, vec![0]);
        assert_eq!((slots.held(a), slots.held(b), slots.held(c)), (4, 4, 1));
        // The evicted connection's task ends: its slot is not given back a second time.
        let (_, evicted) = conns.remove(0);
        drop(evicted);
        assert_eq!((slots.held(a), slots.held(b), slots.held(c)), (4, 4, 1));
        // a and b hold 4 each now, c 1: the next from c takes over again, from a or b (the
        // oldest of that source).
        let t2 = slots.take(c, true).unwrap();
        let told: Vec<usize> = (0..conns.len())
            .filter(|&i| is_told(&mut conns[i].1))
            .collect();
        assert_eq!(told.len(), 1);
        let first_of_victim = conns.iter().position(|(w, _)| *w == conns[told[0]].0);
        assert_eq!(first_of_victim, Some(told[0]), "the oldest of its source");
        assert_eq!(slots.held(a) + slots.held(b), 7);
        assert_eq!(slots.held(c), 2);
        // Everyone gone: nothing is held, no source is left in the tables.
        drop((t, t2));
        conns.clear();
        assert_eq!(slots.held(a) + slots.held(b) + slots.held(c), 0);
        let held = super::super::lock(&slots.held);
        assert!(held.sources.is_empty() && held.by_load.is_empty());
    }

    #[test]
    fn eviction_only_makes_shares_more_even() {
        let slots = SourceSlots::new(10);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let _a: Vec<_> = (0..3).map(|_| slots.take(a, false).unwrap()).collect();
        let _b: Vec<_> = (0..2).map(|_| slots.take(b, false).unwrap()).collect();
        // b (2) would hold 3 as a (3) fell to 2: a swap, not fairer. a, the heaviest, never.
        assert_eq!(slots.take(b, true).err(), Some(Refusal::Busy));
        assert_eq!(slots.take(a, true).err(), Some(Refusal::Busy));
        assert_eq!((slots.held(a), slots.held(b)), (3, 2));
        // Nobody to evict from.
        let empty = SourceSlots::new(10);
        assert_eq!(empty.take(a, true).err(), Some(Refusal::Busy));
        // The per-source cap holds while full too.
        let capped = SourceSlots::new(1);
        let _one = capped.take(a, false).unwrap();
        assert_eq!(capped.take(a, true).err(), Some(Refusal::Source));
    }

    #[test]
    fn connections_waiting_for_their_head_are_evicted_first() {
        let slots = SourceSlots::new(10);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut conns: Vec<Taken> = (0..4).map(|_| slots.take(a, false).unwrap()).collect();
        // The two oldest are being answered; the third is the oldest still waiting.
        conns[0].slot.answering();
        conns[1].slot.answering();
        let _b1 = slots.take(b, true).unwrap();
        let told: Vec<usize> = (0..4).filter(|&i| is_told(&mut conns[i])).collect();
        assert_eq!(told, vec![2]);
        // With none waiting any more, the oldest answering one goes.
        conns[3].slot.answering();
        let _b2 = slots.take(b, true).unwrap();
        let told: Vec<usize> = (0..4).filter(|&i| is_told(&mut conns[i])).collect();
        assert_eq!(told, vec![0]);
        assert_eq!((slots.held(a), slots.held(b)), (2, 2));
        // Answering after an eviction changes nothing.
        conns[2].slot.answering();
        assert_eq!(slots.held(a), 2);
        drop(conns);
        assert_eq!(slots.held(a), 0);
    }
}
