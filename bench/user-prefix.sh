#!/usr/bin/env bash
# Finding users by name prefix among 100,000 users through the REST API, on SQLite and on
# PostgreSQL, in one run. Prints one JSON line per backend (median and p99 latency of one client,
# requests/s of 8 clients). PostgreSQL at $DIALTONE_BENCH_POSTGRES (a server URL whose user may
# create databases; default postgres://postgres:postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
users="${USERS:-100000}"
cargo build --release -q -p dialtone-bench
bin=target/release/user-prefix
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F)" >&2
"$bin" --db "sqlite:$dir/bench.db" --users "$users"
pg="${DIALTONE_BENCH_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432}"
db="dialtone_bench_$$"
if PGPASSWORD="${PGPASSWORD:-postgres}" psql "$pg/postgres" -qc "CREATE DATABASE $db" 2>/dev/null; then
    "$bin" --db "$pg/$db" --users "$users"
    PGPASSWORD="${PGPASSWORD:-postgres}" psql "$pg/postgres" -qc "DROP DATABASE $db WITH (FORCE)"
else
    echo "PostgreSQL not reachable at $pg: measured SQLite only" >&2
fi
