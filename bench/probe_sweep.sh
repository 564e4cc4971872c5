#!/usr/bin/env bash
# Full 1–65535 TCP sweep in a network-namespace lab: egress-audit vs nmap (and RustScan when it is
# installed: `cargo install rustscan`). Not a test: it prints figures.
#
# Lab: the probe runs in namespace IN behind an nftables egress firewall that drops 20000-40000
# (20,001 filtered ports), resets 1000-1009 (closed) and redirects 8443 to a local interceptor;
# `egress-audit serve` answers on every port in namespace OUT (all tcp redirected to it).
#
# For each tool: wall time of each run, exactness against the known truth, and for egress-audit
# at equal settings the ratio to the bound  filtered × timeout / concurrency + handshakes, where
# "handshakes" is the measured time of a sweep of the non-filtered ports alone.
#
# Usage (root): bench/probe_sweep.sh
#   env: RUNS=3 TIMEOUT_MS=500 CONC=1000 BIN=path TOOLS="ea nmap rustscan" (a subset to skip some)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
TIMEOUT_MS=${TIMEOUT_MS:-500}
CONC=${CONC:-1000}
BIN=${BIN:-target/release/egress-audit}
TOOLS=${TOOLS:-ea nmap rustscan}
want() { [[ " $TOOLS " == *" $1 "* ]]; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 1; }
command -v nft >/dev/null || { echo "needs nftables: apt-get install -y nftables"; exit 1; }
[ -x "$BIN" ] || cargo build --release
BIN=$(realpath "$BIN")

IN=eab-in-$$ OUT=eab-out-$$ VI=eabi$$ VO=eabo$$
A_IN=10.214.0.1 A_OUT=10.214.0.2
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$IN" 2>/dev/null || true
  ip netns del "$OUT" 2>/dev/null || true
  rm -rf "$WORK"
}
WORK=$(mktemp -d)
trap cleanup EXIT

ip netns add "$IN"; ip netns add "$OUT"
ip link add "$VI" netns "$IN" type veth peer name "$VO" netns "$OUT"
ip -n "$IN" addr add $A_IN/24 dev "$VI"; ip -n "$OUT" addr add $A_OUT/24 dev "$VO"
for ns in "$IN" "$OUT"; do ip -n "$ns" link set lo up; done
ip -n "$IN" link set "$VI" up; ip -n "$OUT" link set "$VO" up

ip netns exec "$IN" nft -f - <<EOF
table inet bench {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    tcp dport 20000-40000 drop
    tcp dport 1000-1009 reject with tcp reset
  }
}
table ip bench_nat {
  chain out {
    type nat hook output priority -100; policy accept;
    tcp dport 8443 redirect to :9999
  }
}
EOF
# TPROXY, not a NAT redirect: see `egress-audit serve` (conntrack clashes on source-port reuse).
ip netns exec "$OUT" nft -f - <<EOF
table ip bench_tproxy {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    tcp dport != 8421 tproxy to :8421
  }
}
EOF
# Conntrack keeps finished connections for 120 s (TIME_WAIT); with 45k per sweep and several
# sweeps a minute the table would fill and drop packets, so the lab forgets them at once.
for ns in "$IN" "$OUT"; do
  ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 \
    net.netfilter.nf_conntrack_tcp_timeout_close=1 || true
done
ip netns exec "$OUT" "$BIN" serve --port 8421 --quiet --no-udp --max-conns 60000 2>"$WORK/serve.log" &
PIDS+=($!)
# The interceptor inside: answers "proxy", and sees port 9999, not the 8443 dialled.
ip netns exec "$IN" "$BIN" serve --port 9999 --token proxy --quiet --no-udp 2>/dev/null &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done

# The truth.
python3 - "$WORK/truth.json" <<'EOF'
import json, sys
filtered = set(range(20000, 40001)); closed = set(range(1000, 1010)); intercepted = {8443}
open_ = set(range(1, 65536)) - filtered - closed - intercepted
json.dump({"open": sorted(open_), "closed": sorted(closed), "filtered": sorted(filtered),
           "intercepted": sorted(intercepted)}, open(sys.argv[1], "w"))
EOF

now() { date +%s.%N; }
# exact_ea FILE: compares an egress-audit probe JSON with the truth; prints "exact" or the diff.
exact_ea() {
  python3 - "$WORK/truth.json" "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))["tcp"]
def flat(rs): return sorted(p for lo, hi in rs for p in range(lo, hi + 1))
bad = [f"{k}: {len(flat(r[k]))} vs {len(t[k])}" for k in ("open", "closed", "filtered", "intercepted") if flat(r[k]) != t[k]]
print("exact (open verified by token)" if not bad else "WRONG " + "; ".join(bad))
EOF
}
# exact_open FILE: a list of open ports (one per line) vs the truth (nmap/RustScan cannot tell
# an interceptor from the target, so their "open" should be open ∪ intercepted).
exact_open() {
  python3 - "$WORK/truth.json" "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1])); want = sorted(set(t["open"]) | set(t["intercepted"]))
got = sorted({int(x) for x in open(sys.argv[2]).read().split()})
print("exact (open ∪ intercepted; no token check)" if got == want else f"WRONG: {len(got)} open vs {len(want)}")
EOF
}

ROWS=()
row() { ROWS+=("$(printf '%-34s %-4s %8.2f s   %s' "$1" "$2" "$3" "$4")"); echo "${ROWS[-1]}"; }

run_ea() { # label run args...
  local label=$1 n=$2; shift 2
  local t0 t1; t0=$(now)
  ip netns exec "$IN" "$BIN" probe --target $A_OUT --tcp-only -q -f json -o "$WORK/ea.json" "$@"
  t1=$(now)
  LAST=$(echo "$t1 - $t0" | bc -l)
  row "$label" "#$n" "$LAST" "$(exact_ea "$WORK/ea.json")"
}

echo "== lab: 65535 ports, 20001 filtered, 10 closed, 1 intercepted; timeout ${TIMEOUT_MS} ms, concurrency ${CONC}"

# Handshake term: the sweep without the filtered range, at equal settings (median of RUNS).
HS=()
for n in $(seq "$RUNS"); do
  t0=$(now)
  ip netns exec "$IN" "$BIN" probe --target $A_OUT --tcp-only -q -f json -o "$WORK/hs.json" \
    --ports 1-19999,40001-65535 --timeout "${TIMEOUT_MS}ms" --concurrency "$CONC"
  t1=$(now); HS+=("$(echo "$t1 - $t0" | bc -l)")
done
H=$(printf '%s\n' "${HS[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
BOUND=$(echo "20001 * $TIMEOUT_MS / 1000 / $CONC + $H" | bc -l)
printf 'handshakes (45534 non-filtered ports): %.2f s; bound = 20001 × %s ms / %s + %.2f = %.2f s\n' \
  "$H" "$TIMEOUT_MS" "$CONC" "$H" "$BOUND"

EQ=() DEF=()
want ea && for n in $(seq "$RUNS"); do
  run_ea "egress-audit equal (t,c)" "$n" --ports 1-65535 --timeout "${TIMEOUT_MS}ms" --concurrency "$CONC"
  EQ+=("$LAST")
  printf '    ratio to bound: %.3f\n' "$(echo "$LAST / $BOUND" | bc -l)"
done
want ea && for n in $(seq "$RUNS"); do
  run_ea "egress-audit defaults" "$n"
  DEF+=("$LAST")
  jq -r '"    adaptive timeout \(.settings.timeout_ms) ms, re-test \(.settings.retest_timeout_ms) ms, concurrency \(.settings.concurrency); sweep \(.settings.sweep_ms) ms + re-test \(.settings.retest_ms) ms; silent re-test \(.tcp.silent_retest.ports // 0) ports (\(.tcp.silent_retest.open // 0) open, \(.tcp.silent_retest.ms // 0) ms)"' "$WORK/ea.json"
done

want nmap && for n in $(seq "$RUNS"); do
  t0=$(now)
  ip netns exec "$IN" nmap -sT -p- -T4 --min-rate 5000 -n -Pn --max-rtt-timeout "${TIMEOUT_MS}ms" \
    -oG "$WORK/nmap.gnmap" $A_OUT >/dev/null
  t1=$(now)
  grep -o 'Ports: .*' "$WORK/nmap.gnmap" | tr ',' '\n' | grep '/open/' | sed 's/^ *Ports: //; s/^ *//' | cut -d/ -f1 > "$WORK/nmap.open"
  row "nmap -sT -T4 --min-rate 5000 (t)" "#$n" "$(echo "$t1 - $t0" | bc -l)" "$(exact_open "$WORK/nmap.open")"
done
want nmap && for n in $(seq "$RUNS"); do
  t0=$(now)
  ip netns exec "$IN" nmap -sT -p- -T4 --min-rate 5000 -n -Pn -oG "$WORK/nmap.gnmap" $A_OUT >/dev/null
  t1=$(now)
  grep -o 'Ports: .*' "$WORK/nmap.gnmap" | tr ',' '\n' | grep '/open/' | sed 's/^ *Ports: //; s/^ *//' | cut -d/ -f1 > "$WORK/nmap.open"
  row "nmap -sT -T4 --min-rate 5000" "#$n" "$(echo "$t1 - $t0" | bc -l)" "$(exact_open "$WORK/nmap.open")"
done

RSDEF=()
RS=$(command -v rustscan || true)
[ -z "$RS" ] && [ -x "$HOME/.cargo/bin/rustscan" ] && RS=$HOME/.cargo/bin/rustscan
if ! want rustscan; then
  :
elif [ -n "$RS" ]; then
  rs_run() { # label n args...
    local label=$1 n=$2; shift 2
    local t0 t1; t0=$(now)
    ip netns exec "$IN" "$RS" -a $A_OUT -r 1-65535 --scripts none -g --ulimit 20000 "$@" > "$WORK/rs.out" 2>/dev/null || true
    t1=$(now)
    grep -o '\[.*\]' "$WORK/rs.out" | tr -d '[]' | tr ',' '\n' > "$WORK/rs.open"
    LAST=$(echo "$t1 - $t0" | bc -l)
    row "$label" "#$n" "$LAST" "$(exact_open "$WORK/rs.open")"
  }
  for n in $(seq "$RUNS"); do rs_run "rustscan equal (-b $CONC -t $TIMEOUT_MS)" "$n" -b "$CONC" -t "$TIMEOUT_MS"; done
  RSDEF=()
  for n in $(seq "$RUNS"); do rs_run "rustscan defaults" "$n"; RSDEF+=("$LAST"); done
else
  echo "RustScan not installed (cargo install rustscan): skipped"
fi

echo
echo "== summary"
printf '%s\n' "${ROWS[@]}"
want ea && printf 'bound %.2f s; egress-audit equal-settings median %.2f s (ratio %.3f); defaults median %.2f s\n' \
  "$BOUND" "$(printf '%s\n' "${EQ[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")" \
  "$(echo "$(printf '%s\n' "${EQ[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p") / $BOUND" | bc -l)" \
  "$(printf '%s\n' "${DEF[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
if want ea && [ "${#RSDEF[@]}" -gt 0 ]; then
  printf 'at defaults: egress-audit median %.2f s / RustScan median %.2f s = %.3f (goal: at most 0.5)\n' \
    "$(median "${DEF[@]}")" "$(median "${RSDEF[@]}")" \
    "$(echo "$(median "${DEF[@]}") / $(median "${RSDEF[@]}")" | bc -l)"
fi
