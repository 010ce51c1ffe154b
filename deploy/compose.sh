#!/usr/bin/env bash
# compose.sh: runs Surge's docker-compose.yml with whichever Compose this
# machine has (`docker compose` or docker-compose 1.x).
#
#   compose.sh up [SERVICE...]    check images, start, wait until healthy, print URLs
#   compose.sh wait [SERVICE...]  wait until the containers are healthy
#   compose.sh down               stop and remove the containers (data is kept)
#   compose.sh down-volumes       ... and delete the volumes (database, broker store)
#   compose.sh urls               print the published URLs
#   compose.sh postgres-image     make sure a PostgreSQL image is here (pull, or build the offline one)
#   compose.sh compose ARGS...    any Compose command (ps, logs, exec, restart ...)
#
# Environment: COMPOSE_PROJECT_NAME (default surge), SURGE_IMAGE (default
# surge/platform:dev), POSTGRES_IMAGE (default postgres:16, or the offline
# image when only that one is here), SURGE_WAIT (seconds, default 300), and
# the ports of docker-compose.yml (GATEWAY_PORT ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-surge}
export COMPOSE_FILE=$root/docker-compose.yml
export SURGE_IMAGE=${SURGE_IMAGE:-surge/platform:dev}
offline_image=${POSTGRES_OFFLINE_IMAGE:-surge/postgres:15-offline}
all_services=(postgres namesrv broker order inventory points coupon gateway)

die() {
	echo "compose: $*" >&2
	exit 1
}

if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	die "neither 'docker compose' nor docker-compose is installed (https://docs.docker.com/compose/install/)"
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# binaries SERVICE: the binaries of the platform image a service runs.
binaries() {
	case $1 in
	postgres) ;;
	namesrv) echo mqnamesrv probe ;;
	broker) echo mqbroker mqadmin ;;
	*) echo "$1" probe ;;
	esac
}

# check_images SERVICE...: the images the services need are here, the
# platform image holds their binaries, and PostgreSQL's image is chosen.
check_images() {
	local svc need=() missing=() held
	for svc in "$@"; do
		# shellcheck disable=SC2207
		need+=($(binaries "$svc"))
	done
	if ((${#need[@]})); then
		have_image "$SURGE_IMAGE" || die "no image $SURGE_IMAGE: run 'make images' first"
		held=" $(docker image inspect -f '{{index .Config.Labels "io.surge.binaries"}}' "$SURGE_IMAGE") "
		for b in "${need[@]}"; do
			[[ $held == *" $b "* || " ${missing[*]} " == *" $b "* ]] || missing+=("$b")
		done
		((${#missing[@]} == 0)) ||
			die "image $SURGE_IMAGE lacks the binaries: ${missing[*]} (run 'make images'; it builds every binary whose package exists)"
	fi
	[[ " $* " == *" postgres "* ]] || return 0
	[[ -f $root/migrations/bootstrap.sql ]] ||
		die "migrations/bootstrap.sql is missing: PostgreSQL's first start runs it to create the services' roles and schemas"
	postgres_image
}

# postgres_image [build]: picks PostgreSQL's image: POSTGRES_IMAGE, else
# postgres:16 when it is here, else the offline image when it is here, else
# postgres:16 pulled. When nothing can be pulled, "build" builds the offline
# image; otherwise it is an error saying how to get one.
postgres_image() {
	if [[ -z ${POSTGRES_IMAGE:-} ]]; then
		if have_image postgres:16; then
			POSTGRES_IMAGE=postgres:16
		elif have_image "$offline_image"; then
			POSTGRES_IMAGE=$offline_image
			echo "compose: using $offline_image (postgres:16 is not here)" >&2
		else
			POSTGRES_IMAGE=postgres:16
		fi
	fi
	export POSTGRES_IMAGE
	have_image "$POSTGRES_IMAGE" && return 0
	docker pull -q "$POSTGRES_IMAGE" >/dev/null 2>&1 && return 0
	if [[ ${1:-} == build && $POSTGRES_IMAGE == postgres:16 ]]; then
		echo "compose: cannot pull $POSTGRES_IMAGE; building $offline_image from Debian packages" >&2
		"$root/deploy/postgres/build-offline.sh" "$offline_image"
		POSTGRES_IMAGE=$offline_image
		return 0
	fi
	die "cannot pull $POSTGRES_IMAGE: on a machine without a registry run 'make offline-images' (builds $offline_image from Debian packages), or set POSTGRES_IMAGE"
}

# wait_healthy SERVICE...: waits until every container of the services is
# healthy; stops with the unhealthy one's last log lines otherwise.
wait_healthy() {
	local deadline=$((SECONDS + ${SURGE_WAIT:-300})) ids name state restarts pending
	while :; do
		# -a: Compose v2 lists only running containers otherwise.
		ids=$("${compose[@]}" ps -a -q "$@")
		[[ -n $ids ]] || die "no containers for: $*"
		pending=()
		while read -r name state restarts; do
			name=${name#/}
			if ((restarts >= 3)); then
				state="restarting over and over ($restarts restarts)"
			fi
			case $state in
			healthy) ;;
			starting | created | running) pending+=("$name") ;;
			*)
				echo "compose: $name is $state; its last log lines:" >&2
				docker logs --tail 30 "$name" >&2 || true
				exit 1
				;;
			esac
		done < <(
			# shellcheck disable=SC2086
			docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}} {{.RestartCount}}' $ids
		)
		((${#pending[@]} == 0)) && return 0
		if ((SECONDS >= deadline)); then
			for name in "${pending[@]}"; do
				echo "compose: $name is not healthy yet; its last log lines:" >&2
				docker logs --tail 30 "$name" >&2 || true
			done
			die "still not healthy after ${SURGE_WAIT:-300}s: ${pending[*]}"
		fi
		sleep 2
	done
}

urls() {
	local svc port addr
	for svc in gateway order inventory points coupon; do
		case $svc in
		gateway) port=8080 ;; order) port=8081 ;; inventory) port=8082 ;; points) port=8083 ;; coupon) port=8084 ;;
		esac
		addr=$("${compose[@]}" port "$svc" "$port" 2>/dev/null) || continue
		[[ -n $addr ]] && printf '  %-10s http://%s\n' "$svc" "$addr"
	done
	return 0
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
up)
	(($#)) || set -- "${all_services[@]}"
	check_images "$@"
	start=$SECONDS
	"${compose[@]}" up -d --no-build "$@"
	wait_healthy "$@"
	echo "Surge is up ($((SECONDS - start))s, project $COMPOSE_PROJECT_NAME, PostgreSQL image ${POSTGRES_IMAGE:-none}):"
	urls
	cat <<EOF
Try: curl http://127.0.0.1:${GATEWAY_PORT:-8080}/api/products
Logs: ${compose[*]} -p $COMPOSE_PROJECT_NAME logs -f
Stop: make down    (make down-volumes also deletes the database and the broker store)
EOF
	;;
postgres-image)
	postgres_image build
	echo "compose: PostgreSQL image $POSTGRES_IMAGE" >&2
	;;
wait)
	(($#)) || set -- "${all_services[@]}"
	wait_healthy "$@"
	;;
down) "${compose[@]}" down --remove-orphans ;;
down-volumes) "${compose[@]}" down --remove-orphans --volumes ;;
urls) urls ;;
compose) "${compose[@]}" "$@" ;;
*)
	sed -n '2,17p' "$0" >&2
	exit 2
	;;
esac
