#!/usr/bin/env bash
# Entrypoint of Surge's offline PostgreSQL image. It does what the official
# postgres image's entrypoint does for the parts Surge uses:
#   - POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#     POSTGRES_USER (default postgres), POSTGRES_DB (default the user),
#     POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256);
#   - on the first start (no PG_VERSION in PGDATA) initdb into PGDATA, then a
#     temporary server on the Unix socket only runs
#     /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh in name order;
#   - then PostgreSQL runs in the foreground, listening on all addresses,
#     clients from other hosts authenticating with a password.
# Started as root it fixes the data directory's owner and drops to postgres.
set -Eeuo pipefail

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

log() { echo "entrypoint: $*" >&2; }

if [[ "${1:-}" == -* ]]; then
	set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
	exec "$@"
fi

if [[ $(id -u) -eq 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

psql_init() {
	psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

run_initdb_scripts() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[[ -e "$f" ]] || continue
		case "$f" in
		*.sh)
			if [[ -x "$f" ]]; then
				log "running $f"
				"$f"
			else
				log "sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			log "running $f"
			psql_init --dbname "$POSTGRES_DB" -f "$f"
			;;
		*.sql.gz)
			log "running $f"
			gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB"
			;;
		*) log "ignoring $f" ;;
		esac
	done
}

init_cluster() {
	local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
		log "the database is not initialised and POSTGRES_PASSWORD is not set."
		log "Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one)."
		exit 1
	fi
	log "initialising a cluster in $PGDATA"
	local pwfile
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags
	initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
		--encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" \
		${POSTGRES_INITDB_ARGS:-} >/dev/null
	rm -f "$pwfile"
	echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

	# A temporary server reachable only over the Unix socket: nothing outside
	# sees a half-initialised database (health checks probe over TCP).
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start >/dev/null
	if [[ "$POSTGRES_DB" != postgres ]]; then
		echo 'CREATE DATABASE :"db";' | psql_init --dbname postgres -v db="$POSTGRES_DB" >/dev/null
	fi
	run_initdb_scripts
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	log "initialisation done"
}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
	init_cluster
fi
shift
exec postgres "$@"
