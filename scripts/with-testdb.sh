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
source "$(dirname "$0")/lib/pg.sh"

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
	exec "$@"
fi
pg_bin >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/surge-testdb.XXXXXX")
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
port=${SURGE_TESTDB_PORT:-$(pg_free_port)}
pg_start "$dir" "$port"
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-testdb: PostgreSQL at $TEST_DATABASE_URL for this run" >&2
"$@"
