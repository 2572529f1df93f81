#!/usr/bin/env bash
# LDAP sync: a real OpenLDAP slapd holding N people (its own config and data, on a free port of
# 127.0.0.1), synced into an empty Dialtone (release build, `dialtone serve`) through the API
# (POST /api/v1/ldap-profiles/{key}/sync, what the CLI and the console call); then 1% of the
# directory changed with ldapmodify (half of that modified, a quarter deleted, a quarter added),
# a dry run and a re-sync timed. On SQLite and, when it answers at $DIALTONE_TEST_POSTGRES, on
# PostgreSQL. Usage: N=100000 bash bench/ldap-sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
PG=${DIALTONE_TEST_POSTGRES:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
SUFFIX="dc=example,dc=com"
for p in slapd slapadd ldapmodify; do
  command -v $p >/dev/null || [ -x /usr/sbin/$p ] || { echo "$p is not installed (apt-get install slapd ldap-utils)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin
cargo build --release -q -p dialtone
export DIALTONE_SECRET_KEY=$(head -c 32 /dev/urandom | base64) DIALTONE_ADMIN_PASSWORD=bench-password
dir=$(mktemp -d)
slapd_pid=
trap '[ -n "$slapd_pid" ] && kill $slapd_pid 2>/dev/null; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The directory: N people under ou=people, a reader to bind as.
python3 - "$dir" "$N" "$SUFFIX" <<'PY'
import sys
d, n, suffix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{d}/data.ldif", "w") as f:
    f.write(f"dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n")
    f.write(f"dn: ou=people,{suffix}\nobjectClass: organizationalUnit\nou: people\n\n")
    f.write(f"dn: cn=reader,{suffix}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-pw\n\n")
    for i in range(n):
        f.write(f"dn: uid=user{i:06d},ou=people,{suffix}\nobjectClass: inetOrgPerson\nuid: user{i:06d}\n"
                f"cn: First{i} Last{i}\ngivenName: First{i}\nsn: Last{i}\nmail: user{i:06d}@example.com\n"
                f"telephoneNumber: +1 408 {i:07d}\nou: Dept {i % 40}\n\n")
# 1% changed: half modified (a new surname), a quarter deleted, a quarter added.
c = max(n // 100, 4)
with open(f"{d}/change.ldif", "w") as f:
    for i in range(0, c // 2):
        f.write(f"dn: uid=user{i:06d},ou=people,{suffix}\nchangetype: modify\nreplace: sn\nsn: Renamed{i}\n\n")
    for i in range(c // 2, c // 2 + c // 4):
        f.write(f"dn: uid=user{i:06d},ou=people,{suffix}\nchangetype: delete\n\n")
    for i in range(n, n + c // 4):
        f.write(f"dn: uid=user{i:06d},ou=people,{suffix}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: user{i:06d}\n"
                f"cn: New{i}\ngivenName: New\nsn: Person{i}\nmail: user{i:06d}@example.com\n\n")
PY
mkdir -p "$dir/data"
cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
database mdb
maxsize 4294967296
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw admin-pw
directory $dir/data
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
CONF

echo "# $(nproc) cores, $(uname -r), $(date -u +%F), $N people, slapd $(slapd -VV 2>&1 | head -1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1)" >&2
run() { # backend url
  local backend=$1 url=$2 port lport
  rm -rf "$dir/data" && mkdir -p "$dir/data"
  slapadd -q -f "$dir/slapd.conf" -l "$dir/data.ldif"
  lport=$(free_port)
  slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$lport/" -d 0 >/dev/null 2>&1 &
  slapd_pid=$!
  port=$(free_port)
  target/release/dialtone --db "$url" serve --admin "127.0.0.1:$port" --http 127.0.0.1:0 >"$dir/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  python3 - "$port" "$lport" "$backend" "$N" "$SUFFIX" "$dir/change.ldif" <<'PY2'
import sys, time, json, base64, subprocess, urllib.request
port, lport, backend, n, suffix, change = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
auth = {"Authorization": "Basic " + base64.b64encode(b"admin:bench-password").decode(), "content-type": "application/json"}
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None, headers=auth)
    return json.load(urllib.request.urlopen(req, timeout=3600))
call("POST", "/api/v1/ldap-servers", {"name": "ldap1", "host": "127.0.0.1", "port": int(lport), "directory_type": "openldap"})
call("POST", "/api/v1/ldap-attribute-map/restore-defaults", {"directory_type": "openldap"})
call("POST", "/api/v1/ldap-profiles", {"name": "people", "primary_server": "ldap1", "bind_dn": f"cn=reader,{suffix}",
     "password": "reader-pw", "search_context": f"ou=people,{suffix}"})
def sync(what, dry):
    start = time.monotonic()
    r = call("POST", "/api/v1/ldap-profiles/people/sync", {"dry_run": dry})
    s = time.monotonic() - start
    print(f"{backend:<11} {what:<26} {s:7.2f} s  {r['entries'] / s:8.0f} entries/s  ({r['entries']} entries: "
          f"{r['to_create']} create, {r['to_update']} update, {r['to_deactivate']} inactive, {r['failed_users']} failed)", flush=True)
sync("first sync (empty)", False)
subprocess.run(["ldapmodify", "-x", "-H", f"ldap://127.0.0.1:{lport}/", "-D", f"cn=admin,{suffix}", "-w", "admin-pw",
                "-f", change], check=True, stdout=subprocess.DEVNULL)
sync("dry run, 1% changed", True)
sync("re-sync, 1% changed", False)
sync("re-sync, nothing changed", False)
PY2
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kill "$slapd_pid"; wait "$slapd_pid" 2>/dev/null || true
  slapd_pid=
}

run sqlite "sqlite:$dir/sync.db"
host=${PG#*@}; host=${host%%/*}
if (exec 3<>"/dev/tcp/${host%%:*}/${host##*:}") 2>/dev/null; then
  db="dialtone_bench_ldap_$$"
  psql "$PG" -qc "CREATE DATABASE $db" >/dev/null
  run postgresql "${PG%/*}/$db"
  psql "$PG" -qc "DROP DATABASE $db" >/dev/null
else
  echo "PostgreSQL is not reachable at $host: its half is skipped" >&2
fi
