#!/usr/bin/env bash
# bench-compare.sh: Surge's broker (measured with mqbench) against NATS
# JetStream (measured with loadtest/cmd/natsbench) on this machine, in one
# run, alternating A B A B, 1 KiB messages. Prints the median of the runs
# of each case and the Surge/NATS ratios, with each side's flush setting.
#
#   scripts/bench-compare.sh                 # full comparison (about 10 min)
#   scripts/bench-compare.sh --smoke         # a few seconds per case, to check the script
#   scripts/bench-compare.sh --runs 7 --seconds 20 --out docs/bench-compare.md
#
# Cases (each on fresh servers with empty stores):
#   sync-1        sync send, 1 sender, wait for each ack
#   sync-N        sync send, N senders (default 64)
#   batch         Surge: batches of 32 from 16 senders; NATS: async publish,
#                 32 acks outstanding per sender, 16 senders
#   consume       drain a stored backlog (default 200,000 messages)
#   durable-sync-N  sync-N with both sides syncing to disk before the ack:
#                 Surge SYNC_FLUSH (group commit) vs JetStream sync_interval: always
# The first four run with each side's default flush: Surge ASYNC_FLUSH (the
# commit log synced every 500 ms), JetStream sync_interval 2m (its default).
#
# nats-server is built with `go install` into the work dir (or pass
# --nats-server PATH / NATS_SERVER=PATH to reuse a binary). Nothing of it is
# kept. Servers listen on free loopback ports only.
set -euo pipefail

runs=5
seconds=10
senders=64
backlog=200000
out=""
keep=0
nats_server="${NATS_SERVER:-}"
nats_version="v2.15.3"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs="$2"; shift 2 ;;
	--seconds) seconds="$2"; shift 2 ;;
	--senders) senders="$2"; shift 2 ;;
	--backlog) backlog="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--nats-server) nats_server="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--smoke) runs=2; seconds=2; backlog=20000; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench-compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$runs" "$seconds" "$senders" "$backlog"; do
	case "$v" in '' | *[!0-9]*) echo "bench-compare: --runs, --seconds, --senders and --backlog take positive integers" >&2; exit 2 ;; esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/surge-bench-compare.XXXXXX")"
bin="$work/bin"
results="$work/results"
mkdir -p "$bin" "$results"
pids=()

stop_servers() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
cleanup() {
	stop_servers
	if [ "$keep" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "building mqnamesrv, mqbroker, mqbench and natsbench"
(cd "$root/mq" && CGO_ENABLED=0 go build -o "$bin/" ./cmd/mqnamesrv ./cmd/mqbroker ./cmd/mqbench)
(cd "$root/loadtest" && CGO_ENABLED=0 go build -o "$bin/" ./cmd/natsbench)
if [ -z "$nats_server" ]; then
	log "building nats-server $nats_version with go install"
	(cd "$work" && GOBIN="$work/gobin" GOFLAGS=-mod=mod GOWORK=off go install "github.com/nats-io/nats-server/v2@$nats_version")
	nats_server="$work/gobin/nats-server"
fi
"$nats_server" --version >&2

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

wait_port() {
	local i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench-compare: nothing listens on 127.0.0.1:$1 after 10s" >&2
	return 1
}

# start_servers FLUSH SYNC: a NameServer + Broker with flushDiskType=FLUSH and
# a nats-server with JetStream's sync_interval=SYNC, each on empty stores.
start_servers() {
	local flush="$1" sync="$2" dir="$work/servers"
	rm -rf "$dir"
	mkdir -p "$dir/nats"
	ns_port=$(free_port)
	broker_port=$(free_port)
	nats_port=$(free_port)
	cat >"$dir/broker.conf" <<-EOF
		brokerIP1=127.0.0.1
		listenPort=$broker_port
		storePathRootDir=$dir/surge
		flushDiskType=$flush
		autoCreateTopicEnable=true
	EOF
	local sync_line=""
	[ "$sync" = "default" ] || sync_line="sync_interval: $sync"
	cat >"$dir/nats.conf" <<-EOF
		listen: 127.0.0.1:$nats_port
		jetstream {
		  store_dir: "$dir/nats"
		  $sync_line
		}
	EOF
	"$bin/mqnamesrv" -listen "127.0.0.1:$ns_port" >"$dir/namesrv.log" 2>&1 &
	pids+=($!)
	wait_port "$ns_port"
	"$bin/mqbroker" -n "127.0.0.1:$ns_port" -c "$dir/broker.conf" -log-level warn >"$dir/broker.log" 2>&1 &
	pids+=($!)
	"$nats_server" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
	pids+=($!)
	wait_port "$broker_port"
	wait_port "$nats_port"
	# The broker registers with the NameServer right after it listens.
	for _ in $(seq 1 50); do
		"$bin/mqbench" producer -n "127.0.0.1:$ns_port" -t Warmup -c 1 -x 1 -d 5s >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "bench-compare: the broker did not take a message; see $dir/broker.log" >&2
	return 1
}

surge() { "$bin/mqbench" "$1" -n "127.0.0.1:$ns_port" "${@:2}" >>"$work/surge.log" 2>&1; }
nats() { "$bin/natsbench" "$1" -s "nats://127.0.0.1:$nats_port" -flush "$nats_label" "${@:2}" >>"$work/nats.log" 2>&1; }

# run_case NAME: RUNS rounds of Surge then NATS (A B A B ...).
run_case() {
	local name="$1" r
	for r in $(seq 1 "$runs"); do
		log "$name: round $r/$runs"
		case "$name" in
		sync-1)
			surge producer -t "S1_$r" -c 1 -m sync -d "${seconds}s" -json "$results/$name.surge.$r.json"
			nats pub -stream "S1_$r" -subject "s1.$r" -c 1 -m sync -d "${seconds}s" -json "$results/$name.nats.$r.json" ;;
		sync-N | durable-sync-N)
			surge producer -t "SN_$r" -c "$senders" -m sync -d "${seconds}s" -json "$results/$name.surge.$r.json"
			nats pub -stream "SN_$r" -subject "sn.$r" -c "$senders" -m sync -d "${seconds}s" -json "$results/$name.nats.$r.json" ;;
		batch)
			surge producer -t "B_$r" -c 16 -b 32 -d "${seconds}s" -json "$results/$name.surge.$r.json"
			nats pub -stream "B_$r" -subject "b.$r" -c 16 -m async -w 32 -d "${seconds}s" -json "$results/$name.nats.$r.json" ;;
		consume)
			# Fill both backlogs first, then drain them in turn.
			surge producer -t "C_$r" -c 16 -b 32 -x "$backlog" -d 600s
			nats pub -stream "C_$r" -subject "c.$r" -c 16 -m async -w 32 -x "$backlog" -d 600s
			surge consumer -t "C_$r" -g "drain_$r" -pull 256 -x "$backlog" -d 600s -json "$results/$name.surge.$r.json"
			nats consume -stream "C_$r" -subject "c.$r" -g "drain_$r" -x "$backlog" -d 600s -json "$results/$name.nats.$r.json" ;;
		esac
	done
}

# field FILE KEY: a number from a summary (MarshalIndent puts one key a line).
field() { sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# summarize NAME: one TSV line: case, side, flush, median tps, p50, p99, p999, runs.
summarize() {
	local name="$1" side files key
	for side in surge nats; do
		files=("$results/$name.$side".*.json)
		[ -e "${files[0]}" ] || continue
		printf '%s\t%s\t%s' "$name" "$side" "$(field "${files[0]}" brokerFlushDiskType)"
		for key in tps p50Micros p99Micros p999Micros; do
			printf '\t%s' "$(for f in "${files[@]}"; do field "$f" "$key"; done | median)"
		done
		printf '\t%s\n' "${#files[@]}"
	done
}

nats_label="sync_interval=2m (default)"
for name in sync-1 sync-N batch consume; do
	start_servers ASYNC_FLUSH default
	run_case "$name"
	stop_servers
done
nats_label="sync_interval=always"
start_servers SYNC_FLUSH always
run_case durable-sync-N
stop_servers

table="$work/table.tsv"
for name in sync-1 sync-N batch consume durable-sync-N; do summarize "$name"; done >"$table"

report() {
	echo "Surge vs NATS JetStream, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(go version | cut -d' ' -f3), nats-server $nats_version"
	echo "1 KiB messages; medians of $runs alternating runs (A B A B); $seconds s per send run; backlog $backlog; N = $senders senders."
	echo "Latency: sends from send to ack (batch: per batch for Surge, per message for NATS); none for consume."
	echo
	echo "| case | side | flush | msgs/s | p50 µs | p99 µs | p99.9 µs |"
	echo "|---|---|---|---|---|---|---|"
	# A consume has no latency figures: a stored message's age is not one.
	awk -F'\t' '{if ($1=="consume") $5=$6=$7="—"; printf "| %s | %s | %s | %.0f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$table"
	echo
	echo "| case | Surge/NATS msgs/s | Surge/NATS p99 |"
	echo "|---|---|---|"
	awk -F'\t' '$2=="surge"{tps[$1]=$4; p99[$1]=$6}
		$2=="nats" && ($1 in tps) && $4>0 {r="—"; if ($1!="consume" && $6>0) r=sprintf("%.2f", p99[$1]/$6); printf "| %s | %.2f | %s |\n", $1, tps[$1]/$4, r}' "$table"
}
report | tee "${out:-/dev/null}"
