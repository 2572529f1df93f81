#!/usr/bin/env bash
# Runs Dialtone's tests: every crate's unit tests, the store tests on SQLite and PostgreSQL, and
# the end-to-end tests of the real server. PostgreSQL is found at $DIALTONE_TEST_POSTGRES
# (default postgres://postgres:postgres@127.0.0.1:5432/postgres). When it cannot be reached the
# PostgreSQL halves are skipped, and said so here, unless DIALTONE_REQUIRE_PEERS=1 (CI), which
# makes a missing peer a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

pg="${DIALTONE_TEST_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
hostport="${pg#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432
if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    if [ "${DIALTONE_REQUIRE_PEERS:-0}" = 1 ]; then
        echo "PostgreSQL is not reachable at $host:$port and DIALTONE_REQUIRE_PEERS=1: failing." >&2
        exit 1
    fi
    echo "NOTE: PostgreSQL is not reachable at $host:$port: the PostgreSQL halves of the tests will be SKIPPED." >&2
    echo "      Start one (see README) or set DIALTONE_TEST_POSTGRES to test on both backends." >&2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# Every fuzz target for a few seconds from its seeds (fuzz/run; DIALTONE_FUZZ_SECS=0 leaves it
# out): a crash, a hang or runaway memory fails the run.
fuzz_secs="${DIALTONE_FUZZ_SECS:-10}"
fuzz=skipped
if [ "$fuzz_secs" != 0 ]; then
    if FUZZ_SECS="$fuzz_secs" bash fuzz/run; then fuzz=ok; else fuzz=FAILED; status=1; fi
fi
# schemathesis against the served OpenAPI document, on a server of its own, for
# DIALTONE_SCHEMATHESIS_SECS (default 180; 0 leaves it out): a 5xx or an answer the document does
# not describe fails the run. Without schemathesis installed it is skipped, unless
# DIALTONE_REQUIRE_PEERS=1.
st_secs="${DIALTONE_SCHEMATHESIS_SECS:-180}"
api=skipped
if [ "$st_secs" != 0 ]; then
    if command -v schemathesis >/dev/null 2>&1 || [ -n "${SCHEMATHESIS:-}" ]; then
        if ST_SECONDS="$st_secs" bash scripts/schemathesis.sh; then api=ok; else api=FAILED; status=1; fi
    elif [ "${DIALTONE_REQUIRE_PEERS:-0}" = 1 ]; then
        echo "schemathesis is not installed and DIALTONE_REQUIRE_PEERS=1: failing." >&2
        api=FAILED; status=1
    else
        echo "NOTE: schemathesis is not installed (pip install schemathesis): the API fuzzing is SKIPPED." >&2
    fi
fi
# One closing line for the whole run, summed over every test binary.
awk -v fuzz="$fuzz" -v api="$api" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped; fuzzing %s; schemathesis %s\n", p, f, s, fuzz, api }' "$log"
exit "$status"
