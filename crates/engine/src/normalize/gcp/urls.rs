//! Helpers for Compute resource URLs
//! (`https://www.googleapis.com/compute/v1/projects/p/global/networks/n`).

/// The last path segment of a URL or a plain name: `…/global/networks/prod` → `prod`.
pub fn last_segment(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The segment after `key` in a resource URL: `segment_after(url, "projects")` → the project id.
pub fn segment_after<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let mut parts = url.split('/');
    while let Some(p) = parts.next() {
        if p == key {
            return parts.next().filter(|s| !s.is_empty());
        }
    }
    None
}

/// A zone's region: `us-central1-a` → `us-central1`.
pub fn zone_region(zone: &str) -> String {
    let zone = last_segment(zone);
    match zone.rsplit_once('-') {
        Some((region, suffix)) if suffix.len() <= 2 => region.to_string(),
        _ => zone.to_string(),
    }
}

/// A VPC network as a URL names it; a bare name matches the same name in any project, so that
/// hand-written inputs (`"network": "prod"`) and full URLs can be combined.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetRef {
    pub project: Option<String>,
    pub name: String,
}

impl NetRef {
    pub fn parse(url: &str) -> NetRef {
        NetRef {
            project: segment_after(url, "projects").map(str::to_string),
            name: last_segment(url).to_string(),
        }
    }

    pub fn matches(&self, other: &NetRef) -> bool {
        self.name == other.name
            && match (&self.project, &other.project) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = "https://www.googleapis.com/compute/v1/projects/my-proj-123/global/networks/prod";
        assert_eq!(
            NetRef::parse(u),
            NetRef {
                project: Some("my-proj-123".into()),
                name: "prod".into()
            }
        );
        assert!(NetRef::parse(u).matches(&NetRef::parse("prod")));
        assert!(!NetRef::parse(u).matches(&NetRef::parse("projects/other/global/networks/prod")));
        assert_eq!(
            zone_region("projects/p/zones/europe-west4-b"),
            "europe-west4"
        );
        assert_eq!(segment_after(u, "projects"), Some("my-proj-123"));
    }
}
