#!/usr/bin/env bash
# schemathesis (PyPI) against the OpenAPI document the server serves (issue 16): a server of its
# own on a throw-away SQLite database, since the fuzzing creates, changes and deletes records;
# bounded by examples per operation (ST_EXAMPLES, default 10) and by time (ST_SECONDS, default
# 600). Fails on any 5xx and on any answer the document does not describe.
# The operations that would end the run's own credentials are left out: revoking a token, and
# an administrator's record (changing a password ends every token, issue 16 finding 7).
# Arguments are passed to `schemathesis run` (e.g. --include-path-regex dial-rules).
# Without schemathesis it is skipped, said so, unless DIALTONE_REQUIRE_PEERS=1, which fails.
set -euo pipefail
cd "$(dirname "$0")/.."
st=${SCHEMATHESIS:-$(command -v schemathesis || true)}
if [ -z "$st" ]; then
    if [ "${DIALTONE_REQUIRE_PEERS:-0}" = 1 ]; then
        echo "schemathesis is not installed (pip install schemathesis) and DIALTONE_REQUIRE_PEERS=1: failing." >&2
        exit 1
    fi
    echo "NOTE: schemathesis is not installed (pip install schemathesis): the API fuzzing is SKIPPED." >&2
    exit 0
fi
cargo build -q -p dialtone
bin="${CARGO_TARGET_DIR:-target}/debug/dialtone"
dir=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin="http://127.0.0.1:$port"
DIALTONE_ADMIN_PASSWORD=schemathesis-password DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64) \
    "$bin" --db "sqlite:$dir/st.db" serve --admin "127.0.0.1:$port" --https "" \
    --http 127.0.0.1:0 >"$dir/server.log" 2>&1 &
server=$!
up=
for _ in $(seq 1 300); do
    "$bin" healthcheck --admin "127.0.0.1:$port" >/dev/null 2>&1 && up=1 && break
    sleep 0.1
done
if [ -z "$up" ]; then
    echo "schemathesis: the server did not start; its log:" >&2
    tail -20 "$dir/server.log" >&2
    exit 1
fi
token=$(curl -sf -u admin:schemathesis-password -H 'content-type: application/json' \
    -d '{"name": "schemathesis"}' "$admin/api/v1/tokens" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
status=0
# From the throw-away folder: schemathesis and hypothesis keep caches where they run.
(cd "$dir" && "$st" run "$admin/api/v1/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${ST_EXAMPLES:-10}" --max-time "${ST_SECONDS:-600}" \
    --exclude-path-regex '^/api/v1/(tokens/\{id\}|admins/\{username\})$' \
    --request-timeout 30 --no-color --suppress-health-check all "$@") || status=$?
if ! kill -0 "$server" 2>/dev/null; then
    echo "the server stopped during the run; its log:" >&2
    tail -20 "$dir/server.log" >&2
    status=1
fi
exit "$status"
