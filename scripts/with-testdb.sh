#!/usr/bin/env bash
# with-testdb.sh CMD...: runs CMD with TEST_DATABASE_URL pointing at a
# PostgreSQL server that lives only for the run.
#
# When TEST_DATABASE_URL is already set, CMD runs against that server and
# nothing is started. Otherwise a throwaway cluster is created in a temporary
# directory from the PostgreSQL binaries installed on this machine (Debian's
# `postgresql` package) and removed afterwards. On a CI machine (CI=true) or
# with SURGE_INSTALL_DEPS=1, a missing PostgreSQL is installed with apt-get.
set -euo pipefail

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
	exec "$@"
fi

find_bin() {
	local dir
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

bin=$(find_bin || true)
if [[ -z "$bin" && ( "${CI:-}" == "true" || "${SURGE_INSTALL_DEPS:-}" == "1" ) ]] && command -v apt-get >/dev/null 2>&1; then
	echo "with-testdb: installing PostgreSQL from Debian packages" >&2
	sudo=""
	[[ $(id -u) -ne 0 ]] && sudo="sudo"
	$sudo apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
	bin=$(find_bin || true)
fi
if [[ -z "$bin" ]]; then
	cat >&2 <<'MSG'
with-testdb: no PostgreSQL server found, and TEST_DATABASE_URL is not set.
The service tests need PostgreSQL 13 or newer. Either
  - install it: sudo apt-get install postgresql   (Debian/Ubuntu; then rerun)
  - or point the tests at a server: TEST_DATABASE_URL=postgres://user:pass@host:5432/db make test
  - or let this script install it: SURGE_INSTALL_DEPS=1 make test
MSG
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/surge-testdb.XXXXXX")
chmod 755 "$dir"
# initdb refuses to run as root; use the postgres account the package made.
run=()
if [[ $(id -u) -eq 0 ]]; then
	id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
	chown postgres "$dir"
	run=(runuser -u postgres --)
fi
port=${SURGE_TESTDB_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)}

cleanup() {
	"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

"${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a test database is thrown away, and the disk here is slow.
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	-o "-h 127.0.0.1 -p $port -k $dir -F -c max_connections=300 -c synchronous_commit=off" start >/dev/null ||
	{ cat "$dir/server.log" >&2; exit 1; }

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-testdb: PostgreSQL at $TEST_DATABASE_URL for this run" >&2
"$@"
