//! Building a report's causes on every core.
//!
//! Blaming a finding (finding the chain and rules to change) is the costly part, and each finding
//! is blamed alone: a chunk of findings is blamed on every thread, each taking a contiguous part.
//! Grouping the blames into causes needs every finding of a cause in one place, so the blames are
//! then routed by their id's hash, one shard per thread, and each shard groups its own in finding
//! order. The shards' causes are joined and sorted by a total order (worst, size, id), so the
//! result does not depend on the thread count, and every cause's findings stay in report order.

use super::{
    blame, distinct_targets, Blamed, Cause, CauseId, Causes, CheckSet, Members, TargetKey, Text,
    Weights,
};
use egress_audit_engine::model::Severity;
use egress_audit_engine::model::{Finding, Report, Target};
use rustc_hash::FxHashMap;
use std::cmp::{Ordering, Reverse};
use std::hash::{Hash, Hasher};

/// Findings blamed at a time: the blames wait to be grouped, so their number is bounded.
const BLAME_CHUNK: usize = 1 << 15;

/// [`Causes::build`] on `threads` threads.
pub(super) fn build_on(
    report: &Report,
    index: &FxHashMap<TargetKey, &Target>,
    threads: usize,
) -> Causes {
    let total = report.findings.len();
    // At most a cause per finding, all in one shard: reserved once (pages are only used as
    // causes are added), so that no list of a million causes is copied at a doubling or a join.
    let mut shards: Vec<Grouping> = (0..threads)
        .map(|_| Grouping {
            by_id: FxHashMap::default(),
            list: Vec::with_capacity(total),
        })
        .collect();
    // Rules are shared by many targets' findings: each thread weighs each once (by address).
    let mut states: Vec<BlameState> = (0..threads).map(|_| BlameState::default()).collect();
    // For each finding: its cause's shard, and its index there.
    let mut placed: Vec<(u32, u32)> = vec![(0, 0); total];
    for start in (0..total).step_by(BLAME_CHUNK) {
        let chunk = start..(start + BLAME_CHUNK).min(total);
        let mut routed: Vec<Vec<(usize, CauseId, Blamed)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (i, (id, b)) in (chunk.start..).zip(blame_chunk(report, chunk, index, &mut states)) {
            routed[shard_of(&id, threads)].push((i, id, b));
        }
        let grouped: Vec<Vec<(usize, u32)>> = on_each(&mut shards, routed, |g, items| {
            items
                .into_iter()
                .map(|(i, id, b)| (i, g.add(&report.findings[i], i, id, b)))
                .collect()
        });
        for (k, shard) in grouped.into_iter().enumerate() {
            for (i, at) in shard {
                placed[i] = (k as u32, at);
            }
        }
    }
    let mut offsets = Vec::with_capacity(threads);
    let mut list = Vec::new();
    for g in shards {
        offsets.push(Members::index(list.len()));
        if list.is_empty() {
            list = g.list;
        } else {
            list.extend(g.list);
        }
    }
    let of_finding: Vec<u32> = placed
        .into_iter()
        .map(|(k, at)| offsets[k as usize] + at)
        .collect();
    for c in &mut list {
        c.findings.shrink_to_fit();
        c.target_count = distinct_targets(report, &c.findings).len();
    }
    sorted(list, of_finding, threads)
}

/// Worst first, then the cause that closes the most findings, then by id; findings follow
/// their cause. Ids are unique, so the order is total: the halves are sorted on two threads
/// (most causes of an estate tie but for their id) and merged. Sorted by index, each cause then
/// moved once: a million causes, merge-sorted in place, moved gigabytes.
fn sorted(mut list: Vec<Cause>, of_finding: Vec<u32>, threads: usize) -> Causes {
    let ranks = prefix_ranks(&list);
    let mut keys: Vec<Key> = list
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (prefix, subject) = c.id.parts();
            Key {
                worst: Reverse(c.worst),
                size: Reverse(c.findings.len()),
                prefix: ranks.as_ref().map_or(0, |r| r[prefix]),
                subject: subject.as_bytes(),
                index: Members::index(i),
            }
        })
        .collect();
    let cmp = |a: &Key, b: &Key| {
        (a.worst, a.size).cmp(&(b.worst, b.size)).then_with(|| {
            if ranks.is_some() {
                (a.prefix, a.subject).cmp(&(b.prefix, b.subject))
            } else {
                list[a.index as usize].id.cmp(&list[b.index as usize].id)
            }
        })
    };
    let order: Vec<usize> = if threads < 2 || keys.len() < 2 * SORT_SPLIT_FROM {
        keys.sort_unstable_by(cmp);
        keys.iter().map(|k| k.index as usize).collect()
    } else {
        let half = keys.len() / 2;
        let (left, right) = keys.split_at_mut(half);
        std::thread::scope(|s| {
            s.spawn(|| left.sort_unstable_by(cmp));
            right.sort_unstable_by(cmp);
        });
        merged(left, right, cmp)
    };
    drop(keys);
    drop(ranks);
    let mut pos = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        pos[old] = Members::index(new);
    }
    egress_audit_engine::order::apply_order(&mut list, order);
    let of_finding = of_finding
        .into_iter()
        .map(|old| pos[old as usize])
        .collect();
    Causes { list, of_finding }
}

/// Each id prefix's rank in text order, for ordering ids as (prefix rank, subject): the same
/// order as the joined texts when no prefix begins another (one that does sorts right before a
/// prefix it begins). `None` when one does (an account with a `:` in it): ids are then compared
/// whole.
fn prefix_ranks(list: &[Cause]) -> Option<FxHashMap<&str, u32>> {
    let distinct: rustc_hash::FxHashSet<&str> = list.iter().map(|c| c.id.parts().0).collect();
    let mut prefixes: Vec<&str> = distinct.into_iter().collect();
    prefixes.sort_unstable();
    if prefixes.windows(2).any(|w| w[1].starts_with(w[0])) {
        return None;
    }
    Some((0..).zip(prefixes).map(|(i, p)| (p, i)).collect())
}

/// A cause's sort key: worst, size, then its id as prefix rank and subject (read in place), and
/// its index.
#[derive(Clone, Copy)]
struct Key<'a> {
    worst: Reverse<Option<Severity>>,
    size: Reverse<usize>,
    prefix: u32,
    subject: &'a [u8],
    index: u32,
}

/// Below this many causes per half, one thread sorts them all.
const SORT_SPLIT_FROM: usize = 10_000;

/// The indices of two sorted runs, merged.
fn merged(left: &[Key], right: &[Key], cmp: impl Fn(&Key, &Key) -> Ordering) -> Vec<usize> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
    loop {
        let next = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) if cmp(a, b) != Ordering::Greater => l.next(),
            (Some(_), Some(_)) | (None, Some(_)) => r.next(),
            (Some(_), None) => l.next(),
            (None, None) => break,
        };
        out.extend(next.map(|k| k.index as usize));
    }
    out
}

/// The chunk's findings, in order, with their cause's id and what each is blamed on.
fn blame_chunk(
    report: &Report,
    chunk: std::ops::Range<usize>,
    index: &FxHashMap<TargetKey, &Target>,
    states: &mut [BlameState],
) -> impl Iterator<Item = (CauseId, Blamed)> {
    let part = chunk.len().div_ceil(states.len()).max(1);
    let parts: Vec<std::ops::Range<usize>> = (0..states.len())
        .map(|k| {
            let from = (chunk.start + k * part).min(chunk.end);
            from..(from + part).min(chunk.end)
        })
        .collect();
    on_each(states, parts, |state, range| {
        blame_range(report, range, index, state)
    })
    .into_iter()
    .flatten()
}

/// Runs `work` on each of `states` with its own input, on a thread each when there are several;
/// the results in the states' order.
fn on_each<S: Send, I: Send, O: Send>(
    states: &mut [S],
    inputs: Vec<I>,
    work: impl Fn(&mut S, I) -> O + Sync,
) -> Vec<O> {
    if states.len() == 1 {
        return inputs
            .into_iter()
            .map(|input| work(&mut states[0], input))
            .collect();
    }
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = states
            .iter_mut()
            .zip(inputs)
            .map(|(state, input)| s.spawn(move || work(state, input)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a cause share panicked"))
            .collect()
    })
}

/// The shard that groups the causes with this id.
fn shard_of(id: &CauseId, shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    let mut h = rustc_hash::FxHasher::default();
    id.hash(&mut h);
    (h.finish() % shards as u64) as usize
}

/// What a thread keeps from one finding to the next.
#[derive(Default)]
struct BlameState {
    weights: Weights,
    /// Each provider, account and kind's id prefix, made once.
    prefixes: FxHashMap<(Text, Option<Text>, &'static str), Text>,
}

/// Each finding of `range`, in order, with its cause's id and what it is blamed on.
fn blame_range(
    report: &Report,
    range: std::ops::Range<usize>,
    index: &FxHashMap<TargetKey, &Target>,
    state: &mut BlameState,
) -> Vec<(CauseId, Blamed)> {
    report.findings[range]
        .iter()
        .map(|f| {
            let target = index.get(&TargetKey::of_finding(f)).copied();
            let blamed = blame(f, target, &mut state.weights);
            (blamed.id(f, &mut state.prefixes), blamed)
        })
        .collect()
}

/// One shard's causes as they are found, in finding order.
struct Grouping {
    by_id: FxHashMap<CauseId, u32>,
    list: Vec<Cause>,
}

impl Grouping {
    /// Finding `i`, `f`, blamed on `blamed` (whose id is `id`): its cause's index in the shard.
    fn add(&mut self, f: &Finding, i: usize, id: CauseId, blamed: Blamed) -> u32 {
        let worst = f.suppressed.is_none().then_some(f.severity);
        if let Some(&at) = self.by_id.get(&id) {
            let cause = &mut self.list[at as usize];
            cause.findings.push(i);
            cause.checks.insert(&f.check_id);
            cause.worst = cause.worst.max(worst);
            return at;
        }
        let at = Members::index(self.list.len());
        self.by_id.insert(id.clone(), at);
        let mut checks = CheckSet::default();
        checks.insert(&f.check_id);
        self.list.push(Cause {
            id,
            kind: blamed.kind,
            holder: blamed.holder,
            rules: blamed.rules.into_boxed_slice(),
            findings: Members::of(i),
            // Counted once every finding is in.
            target_count: 0,
            checks,
            worst,
        });
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::CauseKind;

    /// Enough causes for the two-thread sort, most tied but for their id, as an estate's are.
    fn causes(n: u32) -> Vec<Cause> {
        (0..n)
            .map(|i| {
                let worst =
                    [Some(Severity::Info), Some(Severity::High), None][(i % 7 % 3) as usize];
                let findings = if i % 11 == 0 {
                    Members::Many(vec![i, i + n])
                } else {
                    Members::One(i)
                };
                Cause {
                    // Ids out of order, with prefixes of two lengths.
                    id: CauseId::from(
                        format!(
                            "aws:{}:rule:sg-{} egress #{}",
                            i % 2 * 10,
                            (i * 7919) % n,
                            i % 20
                        )
                        .as_str(),
                    ),
                    kind: CauseKind::Rule,
                    holder: Text::from("sg"),
                    rules: Box::new([]),
                    findings,
                    target_count: 1,
                    checks: CheckSet::default(),
                    worst,
                }
            })
            .collect()
    }

    #[test]
    fn two_threads_sort_as_one() {
        let n = 2 * SORT_SPLIT_FROM as u32 + 123;
        let of_finding: Vec<u32> = (0..n).rev().collect();
        let one = sorted(causes(n), of_finding.clone(), 1);
        let two = sorted(causes(n), of_finding, 2);
        let ids = |c: &Causes| c.list.iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&one), ids(&two));
        assert_eq!(one.of_finding, two.of_finding);
        // Worst first, then the largest, then by id.
        for w in one.list.windows(2) {
            let key = |c: &Cause| (Reverse(c.worst), Reverse(c.findings.len()));
            assert!((key(&w[0]), w[0].id.to_string()) < (key(&w[1]), w[1].id.to_string()));
        }
    }

    #[test]
    fn ids_sort_as_their_text_when_a_prefix_begins_another() {
        // An account with a `:` in it: `gcp:org:proj:rule:` begins with `gcp:org:`.
        let parts = [
            ("gcp:org:", "proj:rule:b"),
            ("gcp:org:proj:rule:", "a"),
            ("gcp:org:proj:rule:", "c"),
            ("gcp:org:", "proj:rule:bb"),
            ("aws:1:rule:", "z"),
        ];
        let list: Vec<Cause> = parts
            .iter()
            .zip(0..)
            .map(|(&(p, s), i)| Cause {
                id: CauseId::new(p.into(), s.into()),
                kind: CauseKind::Rule,
                holder: Text::from("h"),
                rules: Box::new([]),
                findings: Members::One(i),
                target_count: 1,
                checks: CheckSet::default(),
                worst: Some(Severity::Info),
            })
            .collect();
        assert!(prefix_ranks(&list).is_none());
        let causes = sorted(list, (0..5).collect(), 1);
        let ids: Vec<String> = causes.list.iter().map(|c| c.id.to_string()).collect();
        let mut texts: Vec<String> = parts.iter().map(|(p, s)| format!("{p}{s}")).collect();
        texts.sort();
        assert_eq!(ids, texts);
    }
}
