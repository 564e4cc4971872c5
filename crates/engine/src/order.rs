//! A stable sort for slices of large values (findings, causes): the comparison sort runs on
//! indices and each value then moves once, along the cycles of the permutation. A million
//! findings of ~300 bytes, merge-sorted in place, moved gigabytes.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, moving each element at most once per cycle step.
pub fn sort_large_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| cmp(&v[a], &v[b]));
    apply_order(v, order);
}

/// Puts `v[order[k]]` at `k` for every `k` (`order` a permutation of `v`'s indices).
pub fn apply_order<T>(v: &mut [T], mut order: Vec<usize>) {
    assert_eq!(v.len(), order.len(), "an order for every element");
    const DONE: usize = usize::MAX;
    for start in 0..v.len() {
        if order[start] == DONE {
            continue;
        }
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = DONE;
            if from == start {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_large_by;
    use proptest::prelude::*;

    proptest! {
        /// The same result as the standard stable sort, ties in their first order.
        #[test]
        fn matches_the_stable_sort(v in prop::collection::vec((0u8..6, any::<u16>()), 0..200)) {
            let mut ours = v.clone();
            sort_large_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std = v;
            std.sort_by_key(|a| a.0);
            prop_assert_eq!(ours, std);
        }
    }
}
