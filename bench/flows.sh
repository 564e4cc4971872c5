#!/usr/bin/env bash
# Benchmark: the flow-log reader (crates/flows, release) against DuckDB running the same aggregation
# (aggregation_sql(DuckDb), the query `egress-audit flows sql --engine duckdb` prints) on the same
# generated files, in the same run. Prints wall time, peak RSS and records/s/core for both and writes
# them to bench/results/flows-<date>.txt.
#
#   bench/flows.sh                          # ~100 M records, ~11 GB of AWS default-format text
#   FILES=20 PER_FILE=100000 bench/flows.sh # a quick run
#
# Needs python3 with duckdb (`python3 -m pip install duckdb`) and GNU time (/usr/bin/time).
# The generated data lives in a temp dir and is deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=${FILES:-200}
PER_FILE=${PER_FILE:-500000}
TMP_ROOT=${TMP_ROOT:-/tmp}
python3 -c 'import duckdb' 2>/dev/null || { echo "needs DuckDB: python3 -m pip install duckdb" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time" >&2; exit 1; }

cargo build --release --quiet -p egress-audit-flows --example flows_bench
BIN=target/release/examples/flows_bench
DATA=$(mktemp -d "$TMP_ROOT/flows-bench.XXXXXX")
trap 'rm -rf "$DATA"' EXIT
mkdir -p bench/results
OUT=bench/results/flows-$(date -u +%Y-%m-%d).txt
CORES=$(nproc)

{
  echo "# bench/flows.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), $CORES cores, $(uname -m)"
  echo "uptime before: $(uptime)"
  "$BIN" generate "$DATA/logs" "$FILES" "$PER_FILE"
  du -sh --apparent-size "$DATA/logs" | awk '{print "on disk: " $1}'
  sync

  cargo run --release --quiet -p egress-audit-flows --example flows_sql > "$DATA/query.sql"
  cat > "$DATA/duck.py" <<'PY'
import sys, duckdb
glob, sql, out = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
con = duckdb.connect()
cols = {"version": "INTEGER", "account_id": "VARCHAR", "interface_id": "VARCHAR", "srcaddr": "VARCHAR",
        "dstaddr": "VARCHAR", "srcport": "INTEGER", "dstport": "INTEGER", "protocol": "INTEGER",
        "packets": "BIGINT", "bytes": "BIGINT", "start": "BIGINT", "end": "BIGINT", "action": "VARCHAR",
        "log_status": "VARCHAR"}
con.execute(f"""CREATE VIEW raw AS SELECT * FROM read_csv('{glob}', delim = ' ', header = true,
    nullstr = '-', columns = {cols!r})""")
# The default format has no instance-id, flow-direction or pkt-dstaddr: NULL, as in the Rust reader.
con.execute("""CREATE VIEW vpc_flow_logs AS SELECT *, NULL::VARCHAR AS instance_id,
    NULL::VARCHAR AS flow_direction, NULL::VARCHAR AS pkt_dstaddr FROM raw""")
con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
PY

  measure() { # name, then the command
    local name=$1; shift
    /usr/bin/time -v -o "$DATA/$name.time" "$@" >"$DATA/$name.stdout" 2>"$DATA/$name.stderr"
    local wall rss secs cpu
    wall=$(grep 'Elapsed (wall clock)' "$DATA/$name.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$DATA/$name.time" | awk '{print $NF}')
    secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$DATA/$name.time")
    # records/s/core = records / wall / cores; on a shared machine the CPU time actually used is the
    # fairer figure, so both are printed.
    echo "$name: wall ${secs} s, CPU ${cpu} s, peak RSS $((rss / 1024)) MiB," \
      "$(python3 -c "print(f'{$FILES * $PER_FILE / $secs / $CORES / 1e6:.2f}')") M records/s/core (wall)," \
      "$(python3 -c "print(f'{$FILES * $PER_FILE / $cpu / 1e6:.2f}')") M records per CPU-second"
    echo "$secs" > "$DATA/$name.secs"
  }

  measure egress-audit "$BIN" read "$DATA/logs"
  cat "$DATA/egress-audit.stdout"
  measure duckdb python3 "$DATA/duck.py" "$DATA/logs/**/*.log" "$DATA/query.sql" "$DATA/duck.csv"
  echo "duckdb: $(($(wc -l < "$DATA/duck.csv") - 1)) result rows (keys)"
  python3 -c "r = float(open('$DATA/egress-audit.secs').read()) / float(open('$DATA/duckdb.secs').read()); print(f'egress-audit / duckdb wall time: {r:.2f}x (goal <= 1.5x)')"
  echo "uptime after: $(uptime)"
} 2>&1 | tee "$OUT"
echo "written to $OUT"
