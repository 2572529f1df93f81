#!/usr/bin/env bash
# Phone files rendered from the store with a cold render cache, per core (the `render` program
# keeps itself to one CPU): per family one request at a time and 256 at once, then a full scan
# of every phone. The database is seeded by `phone-files` (PHONES phones, 7960 and 8861 in
# turn, two lines each, one shared) plus SOFT soft clients with their users and VENDOR phones of
# each other vendor (Yealink T46U, Poly VVX 450, Grandstream GXP2170, Snom D785) with theirs.
# Usage: PHONES=100000 SOFT=2000 VENDOR=2000 bash bench/render.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PHONES=${PHONES:-100000}; SOFT=${SOFT:-2000}; PER_FAMILY=${PER_FAMILY:-5000}; VENDOR=${VENDOR:-2000}
cargo build --release -q -p dialtone-bench
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "# $(nproc) cores, $(uname -r), $(date -u +%F), $PHONES phones + $SOFT soft clients + $VENDOR of each other vendor, commit $(git rev-parse --short HEAD)" >&2
target/release/phone-files --db "sqlite:$dir/render.db" --phones "$PHONES" --export "$dir/www" --seconds 0 >/dev/null
rm -rf "$dir/www"
target/release/render --db "sqlite:$dir/render.db" --per-family "$PER_FAMILY" --soft "$SOFT" --vendor "$VENDOR"
