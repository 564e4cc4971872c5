//! A small table of what was last made from each of a few shared values, by their address.
//!
//! Reports write the same rule's text for many findings, mostly one after another: a table of
//! the last few is enough, and it never grows. Each slot holds its key, so the key's address
//! cannot be reused by another value while the slot names it.

use std::sync::Arc;

pub struct Recent<K, V> {
    slots: Vec<Option<(Arc<K>, V)>>,
}

impl<K, V: Clone> Recent<K, V> {
    /// A table of `slots` slots (a power of two).
    pub fn new(slots: usize) -> Self {
        Recent {
            slots: (0..slots).map(|_| None).collect(),
        }
    }

    /// What `make` makes of `key`, made again only when its slot last held another key.
    pub fn get_or_make(&mut self, key: &Arc<K>, make: impl FnOnce(&K) -> V) -> V {
        let slot = (Arc::as_ptr(key) as *const u8 as usize >> 4) % self.slots.len();
        if let Some((held, value)) = &self.slots[slot] {
            if Arc::ptr_eq(held, key) {
                return value.clone();
            }
        }
        let value = make(key);
        self.slots[slot] = Some((key.clone(), value.clone()));
        value
    }
}
