//! What one TCP client may take: a share of the connection slots per source, and a request head
//! that must be complete soon (a slow-loris client, holding thousands of connections that each
//! trickle a byte now and then, would otherwise keep everyone else out).

use super::echo_guard::SourceKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connection slots per source (an IPv4 address or an IPv6 /64).
pub struct SourceSlots {
    per_source: u32,
    held: Mutex<HashMap<SourceKey, u32>>,
}

/// One slot, given back when dropped.
pub struct SourceSlot {
    slots: Arc<SourceSlots>,
    key: SourceKey,
}

impl SourceSlots {
    pub fn new(per_source: usize) -> Arc<SourceSlots> {
        Arc::new(SourceSlots {
            per_source: per_source.clamp(1, u32::MAX as usize) as u32,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `ip`, unless its source holds its share already.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<SourceSlot> {
        let key = SourceKey::of(ip);
        let mut held = super::lock(&self.held);
        let n = held.entry(key).or_insert(0);
        if *n >= self.per_source {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            slots: self.clone(),
            key,
        })
    }

    /// Slots held by `ip`'s source now.
    pub fn held(&self, ip: IpAddr) -> u32 {
        let held = super::lock(&self.held);
        held.get(&SourceKey::of(ip)).copied().unwrap_or(0)
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = super::lock(&self.slots.held);
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                // Only sources with open connections are kept: the map stays as small as that.
                held.remove(&self.key);
            }
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

    #[test]
    fn one_source_holds_its_share_only() {
        let slots = SourceSlots::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..5).filter_map(|_| slots.take(a)).collect();
        assert_eq!(held.len(), 3);
        assert!(slots.take(b).is_some(), "another source is not refused");
        // The IPv4-mapped form is the same source; an IPv6 /64 is one source.
        assert!(slots.take("::ffff:127.0.0.1".parse().unwrap()).is_none());
        let v6: Vec<_> = (1..6u16)
            .filter_map(|i| slots.take(format!("2001:db8::{i}").parse().unwrap()))
            .collect();
        assert_eq!(v6.len(), 3);
        drop(held);
        assert_eq!(slots.held(a), 0);
        assert!(slots.take(a).is_some());
    }
}
