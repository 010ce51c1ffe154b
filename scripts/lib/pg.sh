# Sourced by scripts that need a PostgreSQL server of their own for a while
# (tests, the local demo). Defines:
#   pg_bin            prints the directory of initdb/pg_ctl, installing Debian's
#                     package first when CI=true or SURGE_INSTALL_DEPS=1
#   pg_start DIR PORT creates a cluster in DIR/data (trust auth on 127.0.0.1,
#                     superuser "postgres") and starts it on PORT
#   pg_stop DIR       stops it (the caller removes DIR)
#   pg_free_port      prints a free loopback port

pg_find_bin() {
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

pg_bin() {
	local bin
	bin=$(pg_find_bin || true)
	if [[ -z "$bin" && ("${CI:-}" == "true" || "${SURGE_INSTALL_DEPS:-}" == "1") ]] && command -v apt-get >/dev/null 2>&1; then
		echo "installing PostgreSQL from Debian packages" >&2
		local sudo=""
		[[ $(id -u) -ne 0 ]] && sudo="sudo"
		$sudo apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
		bin=$(pg_find_bin || true)
	fi
	if [[ -z "$bin" ]]; then
		cat >&2 <<'MSG'
No PostgreSQL server binaries found (initdb, pg_ctl). Surge needs PostgreSQL 13
or newer. Either
  - install it: sudo apt-get install postgresql   (Debian/Ubuntu), then rerun
  - or use a server you have: TEST_DATABASE_URL=postgres://user:pass@host:5432/db make test
  - or let the script install it: SURGE_INSTALL_DEPS=1 make test
MSG
		return 1
	fi
	echo "$bin"
}

# pg_run runs a PostgreSQL program as the postgres account when we are root
# (initdb and the server refuse to run as root).
pg_run() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432
}

pg_start() {
	local dir=$1 port=$2 bin
	bin=$(pg_bin) || return 1
	chmod 755 "$dir"
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
		chown postgres "$dir"
	fi
	pg_run "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	# fsync off: this server's data is thrown away, and it is much faster.
	pg_run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-h 127.0.0.1 -p $port -k $dir -F -c max_connections=300 -c synchronous_commit=off" start >/dev/null ||
		{ cat "$dir/server.log" >&2; return 1; }
}

pg_stop() {
	local dir=$1 bin
	bin=$(pg_find_bin || true)
	[[ -n "$bin" && -d "$dir/data" ]] && pg_run "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}
