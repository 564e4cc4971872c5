//! One listing given as several files: REST list pages, which tell whether a listing was cut
//! short (a `nextPageToken` with no last page given), and the same resource read more than once
//! (overlapping pages, a gcloud export next to a REST replay), of which the first reading is
//! kept. Both run once every input is read, before targets are built.

use super::{policy, GcpBundle};
use crate::model::Warning;

#[derive(Debug)]
pub(super) struct Page {
    pub(super) kind: &'static str,
    pub(super) project: Option<String>,
    pub(super) source: String,
    /// The page has a `nextPageToken`: more pages follow it.
    pub(super) more: bool,
}

impl GcpBundle {
    /// The same resource read twice (overlapping pages, a gcloud export and a REST replay of the
    /// same listing) is one resource: keep its first reading.
    pub(super) fn dedup(&mut self) {
        fn keep_first<T, K: std::hash::Hash + Eq>(v: &mut Vec<T>, key: impl Fn(&T) -> K) {
            let mut seen = std::collections::HashSet::new();
            v.retain(|x| seen.insert(key(x)));
        }
        keep_first(&mut self.firewalls, |f| {
            (f.project.clone(), f.net.name.clone(), f.name.clone())
        });
        keep_first(&mut self.instances, |i| {
            (i.project.clone(), i.zone.clone(), i.name.clone())
        });
        keep_first(&mut self.routes, |r| (r.net.clone(), r.name.clone()));
        // A hierarchical policy from effective firewalls that is also given as its own export
        // (named there by its short name, in effective firewalls by its number) is that export.
        let exported: Vec<policy::Policy> = self
            .policies
            .iter()
            .filter(|p| !p.from_effective && p.scope.hierarchical())
            .cloned()
            .collect();
        self.policies.retain(|p| {
            !p.from_effective || p.scope.is_network() || !exported.iter().any(|q| q.same_as(p))
        });
        // A policy whose listing left out its rules gives way to a reading that has them.
        self.policies.sort_by_key(|p| p.rules_missing);
        keep_first(&mut self.policies, |p| {
            (
                p.project.clone(),
                p.name.clone(),
                p.scope.clone(),
                p.networks.clone(),
            )
        });
    }

    /// A page with a `nextPageToken` is a listing cut short, unless a last page (one without a
    /// token) of the same kind and project was given too: then the pages were saved one by one.
    pub(super) fn page_warnings(&mut self) {
        for p in self.pages.iter().filter(|p| p.more) {
            let last_given = self
                .pages
                .iter()
                .any(|q| !q.more && q.kind == p.kind && q.project == p.project);
            if !last_given {
                self.warnings.push(Warning {
                    kind: crate::model::WarningKind::TruncatedListing,
                    source: p.source.clone(),
                    message: "the listing has a `nextPageToken` and no last page (one without a token) of the same listing was given: the resources on the other pages were not read".into(),
                });
            }
        }
    }
}
