#!/bin/sh
# Runs at a PostgreSQL container's first start (official image or Surge's
# offline image): creates the services' roles and schemas from the
# repository's migrations/bootstrap.sql, mounted at /surge/migrations.
set -eu
f=/surge/migrations/bootstrap.sql
if [ ! -f "$f" ]; then
	echo "surge: $f not found: mount the repository's migrations/ directory at /surge/migrations" >&2
	exit 1
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f"
