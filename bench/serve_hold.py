#!/usr/bin/env python3
"""Does `egress-audit serve` hold 10,000 concurrent connections without growing without bound?

Opens N slow clients (slowloris style: a partial request, then one byte a second) to a serve on
loopback with --max-conns N, plus EXTRA more that must be closed at once; prints serve's resident
memory before, while holding them, and after, and how the extra ones and the slow ones ended.
Not a test: it prints figures. Usage: bench/serve_hold.py [BIN] (root raises the fd limit).
"""
import os, resource, select, socket, subprocess, sys, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/egress-audit"
N = int(os.environ.get("N", "10000"))
EXTRA = int(os.environ.get("EXTRA", "500"))
PORT = int(os.environ.get("PORT", "18431"))
HOLD = float(os.environ.get("HOLD", "6"))

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (200_000, 200_000))
except (ValueError, OSError):
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


srv = subprocess.Popen(
    [BIN, "serve", "--bind", "127.0.0.1", "--port", str(PORT), "--quiet", "--no-udp",
     "--max-conns", str(N), "--conn-timeout", "30s"],
    stderr=subprocess.PIPE, text=True)
try:
    for line in srv.stderr:
        if "ready" in line:
            break
    base = rss_kib(srv.pid)
    conns = []
    t0 = time.time()
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"GET / HTTP/1.0\r\nX-Slow: ")
        conns.append(s)
    opened = time.time() - t0
    time.sleep(0.5)
    # Connections beyond --max-conns are closed at once: they read EOF (or a reset) quickly.
    extra = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(EXTRA)]
    closed_extra = 0
    poller = select.poll()
    by_fd = {}
    for s in extra:
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
        by_fd[s.fileno()] = s
    deadline = time.time() + 3
    while by_fd and time.time() < deadline:
        for fd, _ in poller.poll(200):
            s = by_fd.get(fd)
            if s is None:
                continue
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            if data == b"":
                closed_extra += 1
                poller.unregister(fd)
                del by_fd[fd]
    # Trickle one byte a second so the slow clients stay open, then measure.
    end = time.time() + HOLD
    while time.time() < end:
        for s in conns:
            try:
                s.send(b"a")
            except OSError:
                pass
        time.sleep(1)
    holding = rss_kib(srv.pid)
    fds = len(os.listdir(f"/proc/{srv.pid}/fd"))
    for s in conns + extra:
        s.close()
    time.sleep(2)
    after = rss_kib(srv.pid)
    print(f"serve hold: {N} slow connections opened in {opened:.2f} s; serve held {fds} fds")
    print(f"  RSS: {base} KiB idle, {holding} KiB holding {N} "
          f"({(holding - base) / N:.1f} KiB per connection), {after} KiB after they closed")
    print(f"  {closed_extra}/{EXTRA} connections over --max-conns were closed at once")
finally:
    srv.kill()
    srv.wait()
