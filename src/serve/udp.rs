//! UDP echo without amplification: a reply is the request's own bytes, never more, and replies
//! are capped per second so a spoofed source cannot turn the server into a flood.

use super::{HitLog, ServeConfig, Stats};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;

pub async fn echo_loop(
    sock: UdpSocket,
    cfg: Arc<ServeConfig>,
    stats: Arc<Stats>,
    hits: Arc<HitLog>,
) {
    let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut buf = vec![0u8; 2048];
    let mut window = Instant::now();
    let mut sent_in_window = 0u32;
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => continue,
        };
        if window.elapsed().as_secs() >= 1 {
            window = Instant::now();
            sent_in_window = 0;
        }
        if sent_in_window >= cfg.udp_rate {
            stats.udp_dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        sent_in_window += 1;
        if hits.enabled() {
            let who = std::net::SocketAddr::new(from.ip().to_canonical(), from.port());
            hits.hit(&format!("udp {who} → port {port} ({n} bytes)"));
        }
        // A datagram larger than the buffer was truncated to it: the echo is still no larger.
        if sock.send_to(&buf[..n], from).await.is_ok() {
            stats.udp_echoes.fetch_add(1, Ordering::Relaxed);
        }
    }
}
