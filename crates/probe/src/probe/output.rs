//! Probe results as a table (port ranges, never one line per port) or as JSON.

use super::ProbeReport;
use comfy_table::Table;

/// Pretty JSON, with each `[lo, hi]` range on one line (a sweep can have thousands).
pub fn json(r: &ProbeReport) -> String {
    let text =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    compact_number_arrays(&text) + "\n"
}

/// Collapses arrays that hold only numbers onto one line: `[\n  1,\n  20\n]` → `[1, 20]`.
/// Text inside JSON strings is left alone.
fn compact_number_arrays(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copied, mut in_str, mut escaped) = (0, 0, false, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b'[' {
            let close = s[i + 1..].find(']').map(|c| i + 1 + c);
            if let Some(close) = close {
                let inner = &s[i + 1..close];
                let numeric = inner.contains(|c: char| c.is_ascii_digit())
                    && inner
                        .chars()
                        .all(|c| c.is_ascii_digit() || c.is_whitespace() || ",.-".contains(c));
                if numeric {
                    out.push_str(&s[copied..i]);
                    let nums: Vec<&str> = inner.split(',').map(str::trim).collect();
                    out.push('[');
                    out.push_str(&nums.join(", "));
                    out.push(']');
                    i = close + 1;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

pub fn table(r: &ProbeReport) -> String {
    let mut out = format!(
        "egress probe from {} to {} ({}){}\nstarted {}, took {:.1} s; connect timeout {} ms{}, \
         re-test {} ms, concurrency {}\n",
        r.host,
        r.target,
        r.address,
        if r.partial {
            " — PARTIAL: interrupted"
        } else {
            ""
        },
        r.started,
        r.elapsed_ms as f64 / 1000.0,
        r.settings.timeout_ms,
        if r.settings.adaptive_timeout {
            " (adaptive)"
        } else {
            ""
        },
        r.settings.retest_timeout_ms,
        r.settings.concurrency,
    );
    if let Some(id) = &r.identity {
        out.push_str(&format!(
            "ran on {} instance {}{} (account {}, region {}{})\n",
            id.provider,
            id.instance_id,
            if id.instance_name.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", id.instance_name)
            },
            id.account,
            id.region,
            id.interfaces
                .iter()
                .map(|i| format!(", {} {}", i.id, i.addresses.join(" ")))
                .collect::<String>(),
        ));
    }
    if !r.labels.is_empty() {
        let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("labels: {}\n", labels.join(", ")));
    }
    let mut t = Table::new();
    t.set_header(vec!["check", "verdict", "count", "ports / detail"]);
    if let Some(tcp) = &r.tcp {
        let rows = [
            ("open", &tcp.open),
            ("intercepted", &tcp.intercepted),
            ("closed", &tcp.closed),
            ("filtered", &tcp.filtered),
            ("untested", &tcp.untested),
        ];
        for (name, ranges) in rows {
            if ranges.is_empty() && name == "untested" {
                continue;
            }
            t.add_row(vec![
                "tcp".to_string(),
                name.to_string(),
                ranges.count().to_string(),
                ranges.display(),
            ]);
        }
        for f in &tcp.filtered_detail {
            t.add_row(vec![
                "tcp".into(),
                "filtered".into(),
                f.ports.to_string(),
                format!("failed at once: {}", f.reason),
            ]);
        }
        for d in tcp.intercepted_detail.iter().take(10) {
            t.add_row(vec![
                "tcp".into(),
                "intercepted".into(),
                String::new(),
                format!("{}: {}", d.port, d.reason),
            ]);
        }
    }
    if let Some(u) = &r.udp {
        for (name, ranges) in [
            ("echoed", &u.echoed),
            ("answered", &u.answered),
            ("rejected", &u.rejected),
            ("blocked", &u.blocked),
            ("silent", &u.silent),
        ] {
            if !ranges.is_empty() {
                t.add_row(vec![
                    "udp".to_string(),
                    name.to_string(),
                    ranges.count().to_string(),
                    ranges.display(),
                ]);
            }
        }
    }
    if let Some(i) = &r.icmp {
        for p in &i.results {
            let mut detail = format!("echo to {} via {} socket", p.address, i.method);
            if let Some(ms) = p.rtt_ms {
                detail.push_str(&format!(", {ms} ms"));
            }
            if let Some(d) = &p.detail {
                detail.push_str(&format!(" ({d})"));
            }
            t.add_row(vec![
                "icmp".into(),
                p.verdict.clone(),
                String::new(),
                detail,
            ]);
        }
    }
    if let Some(d) = &r.dns {
        for c in d.results.iter().chain(std::iter::once(&d.system_resolver)) {
            let what = match c.transport.as_str() {
                "tls" => "dot".to_string(),
                "system" => "dns".to_string(),
                x => format!("dns/{x}"),
            };
            let mut detail = format!("{} port {}", c.server, c.port);
            if let Some(x) = &c.detail {
                detail.push_str(&format!(" ({x})"));
            }
            t.add_row(vec![what, c.verdict.clone(), String::new(), detail]);
        }
    }
    if let Some(d) = &r.doh {
        for c in &d.results {
            let mut detail = format!("{} {} ({})", c.method, c.resolver, c.address);
            if let Some(x) = &c.detail {
                detail.push_str(&format!(": {x}"));
            }
            t.add_row(vec!["doh".into(), c.verdict.clone(), String::new(), detail]);
        }
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn number_arrays_go_on_one_line() {
        let v =
            serde_json::json!({"open": [[1, 20], [22, 22]], "s": "a[1,\n2]\\\"[3,\n4]", "e": []});
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let c = super::compact_number_arrays(&pretty);
        assert!(c.contains("[1, 20]") && c.contains("[22, 22]"), "{c}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&c).unwrap(), v);
    }
}
