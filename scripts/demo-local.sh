#!/usr/bin/env bash
# demo-local.sh: the whole platform as local processes, without containers:
# a PostgreSQL of its own (from this machine's PostgreSQL binaries, in a
# temporary directory), a NameServer, a Broker, the four services and the
# gateway. Prints the URLs; Ctrl-C stops everything and removes the data.
#
# DEMO_DATABASE_URL=<superuser URL> uses your PostgreSQL server instead (the
# database "surge", or DEMO_DATABASE_NAME, and the services' roles are
# created there if missing).
# Binaries come from bin/ (make build), or from the directory SURGE_BIN
# names. Ports: GATEWAY_PORT (8080), ORDER_PORT (8081), INVENTORY_PORT
# (8082), POINTS_PORT (8083), COUPON_PORT (8084), NAMESRV_PORT (9876),
# BROKER_PORT (10911).
#
# Extra environment for one process: ORDER_ENV, INVENTORY_ENV, POINTS_ENV,
# COUPON_ENV, GATEWAY_ENV, each space-separated NAME=value words, e.g.
#   INVENTORY_ENV='TEACH_CHECK_THEN_UPDATE=true TEACH_RACE_WINDOW=20ms'
#   ORDER_ENV=SECKILL_CONSUME_DELAY=20ms
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib/pg.sh"
bin=${SURGE_BIN:-$root/bin}

gw=${GATEWAY_PORT:-8080} op=${ORDER_PORT:-8081} ip=${INVENTORY_PORT:-8082}
pp=${POINTS_PORT:-8083} cp=${COUPON_PORT:-8084} np=${NAMESRV_PORT:-9876} bp=${BROKER_PORT:-10911}

for b in mqnamesrv mqbroker order inventory points coupon gateway; do
	[[ -x "$bin/$b" ]] || { echo "demo-local: $bin/$b is missing; run make build first" >&2; exit 1; }
done
db=${DEMO_DATABASE_NAME:-surge}
[[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "demo-local: DEMO_DATABASE_NAME \"$db\": want lower-case letters, digits and _" >&2; exit 1; }
for v in ORDER_ENV INVENTORY_ENV POINTS_ENV COUPON_ENV GATEWAY_ENV; do
	for w in ${!v:-}; do
		[[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "demo-local: $v: \"$w\" is not NAME=value" >&2; exit 1; }
	done
done

run=$(mktemp -d "${TMPDIR:-/tmp}/surge-demo.XXXXXX")
# PostgreSQL runs as the postgres account when we are root: it must be able
# to reach its directory inside this one.
chmod 711 "$run"
pids=()
cleanup() {
	trap - EXIT INT TERM
	echo
	echo "stopping..."
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	[[ -z "${DEMO_DATABASE_URL:-}" ]] && pg_stop "$run/pg"
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n "${DEMO_DATABASE_URL:-}" ]]; then
	admin=$DEMO_DATABASE_URL
	pghost=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"{p.hostname}:{p.port or 5432}")' "$admin")
else
	mkdir -p "$run/pg"
	port=$(pg_free_port)
	pg_start "$run/pg" "$port"
	admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	pghost=127.0.0.1:$port
fi
psql "$admin" -qAt -v ON_ERROR_STOP=1 -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
	psql "$admin" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
surge=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$admin" "$db")
psql "$surge" -q -v ON_ERROR_STOP=1 -f "$root/migrations/bootstrap.sql" >/dev/null

start() { # start NAME CMD... : runs CMD in the background, its log in $run/NAME.log
	local name=$1
	shift
	"$@" >"$run/$name.log" 2>&1 &
	pids+=($!)
}
dburl() { echo "postgres://$1_svc:$1_svc@$pghost/$db?sslmode=disable"; }

export NAMESRV_ADDR=127.0.0.1:$np
start namesrv "$bin/mqnamesrv" --listen "127.0.0.1:$np"
mkdir -p "$run/store"
cat >"$run/broker.conf" <<CONF
brokerIP1=127.0.0.1
storePathRootDir=$run/store
autoCreateTopicEnable=true
listenPort=$bp
CONF
start broker "$bin/mqbroker" -c "$run/broker.conf"
# The *_ENV words are split on purpose: each is one NAME=value for env.
start order env HTTP_ADDR=127.0.0.1:$op DATABASE_URL="$(dburl order)" ${ORDER_ENV:-} "$bin/order"
start inventory env HTTP_ADDR=127.0.0.1:$ip DATABASE_URL="$(dburl inventory)" ${INVENTORY_ENV:-} "$bin/inventory"
start points env HTTP_ADDR=127.0.0.1:$pp DATABASE_URL="$(dburl points)" ${POINTS_ENV:-} "$bin/points"
start coupon env HTTP_ADDR=127.0.0.1:$cp DATABASE_URL="$(dburl coupon)" ${COUPON_ENV:-} "$bin/coupon"
start gateway env HTTP_ADDR=127.0.0.1:$gw ORDER_URL=http://127.0.0.1:$op INVENTORY_URL=http://127.0.0.1:$ip \
	POINTS_URL=http://127.0.0.1:$pp COUPON_URL=http://127.0.0.1:$cp ${GATEWAY_ENV:-} "$bin/gateway"

echo "waiting for the services to be ready (logs in $run)..."
for port in $op $ip $pp $cp $gw; do
	for ((i = 0; ; i++)); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		if ((i >= 120)); then
			echo "demo-local: the service on :$port is not ready after 60 s; its log:" >&2
			tail -n 20 "$run"/*.log >&2
			exit 1
		fi
		sleep 0.5
	done
done
cat <<MSG

Surge is up (local processes):
  gateway      http://127.0.0.1:$gw   e.g. curl http://127.0.0.1:$gw/api/products
  order        http://127.0.0.1:$op
  inventory    http://127.0.0.1:$ip
  points       http://127.0.0.1:$pp
  coupon       http://127.0.0.1:$cp
  NameServer   127.0.0.1:$np          e.g. $bin/mqadmin topicList -n 127.0.0.1:$np
  PostgreSQL   $pghost (database $db)
  logs         $run/*.log
Press Ctrl-C to stop everything.
MSG
wait -n "${pids[@]}" || true
echo "demo-local: a process exited; its log:" >&2
tail -n 20 "$run"/*.log >&2
exit 1
