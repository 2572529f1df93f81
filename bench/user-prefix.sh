#!/usr/bin/env bash
# Finding users by name prefix among 1,000,000 users (USERS=N for another count) through the
# REST API, on SQLite and on PostgreSQL, in one run. Prints one JSON line per backend and order
# (the default order, by the name that matched, and sorted by last name): median and p99 latency
# of one client, requests/s of 8 clients. PostgreSQL at $DIALTONE_BENCH_POSTGRES (a server URL
# whose user may create databases; default postgres://postgres:postgres@127.0.0.1:5432).
# KEEP=DIR keeps the seeded databases (DIR/users-N.db and the PostgreSQL database
# dialtone_users_N) and measures them again on the next run: seeding a million users takes
# minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
users="${USERS:-1000000}"
cargo build --release -q -p dialtone-bench
bin=target/release/user-prefix
echo "# $(nproc) cores, $(uname -r), $(date -u +%F)" >&2
pg="${DIALTONE_BENCH_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432}"
psql_() { PGPASSWORD="${PGPASSWORD:-postgres}" psql "$pg/postgres" -qc "$1" 2>/dev/null; }
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP"
    "$bin" --db "sqlite:$KEEP/users-$users.db" --users "$users" --reuse
    db="dialtone_users_$users"
    psql_ "CREATE DATABASE $db" || true
    if psql_ "SELECT 1"; then
        "$bin" --db "$pg/$db" --users "$users" --reuse
    else
        echo "PostgreSQL not reachable at $pg: measured SQLite only" >&2
    fi
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" --db "sqlite:$dir/bench.db" --users "$users"
db="dialtone_bench_$$"
if psql_ "CREATE DATABASE $db"; then
    "$bin" --db "$pg/$db" --users "$users"
    psql_ "DROP DATABASE $db WITH (FORCE)"
else
    echo "PostgreSQL not reachable at $pg: measured SQLite only" >&2
fi
