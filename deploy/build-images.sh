#!/usr/bin/env bash
# build-images.sh: builds Surge's platform image (SURGE_IMAGE, default
# surge/platform:dev) from static binaries compiled on this host.
#
# Every binary whose main package exists is built with CGO_ENABLED=0; a
# binary whose package has not been written yet is reported and left out,
# so the image always holds whatever exists. The image's label
# io.surge.binaries lists what it holds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
image=${SURGE_IMAGE:-surge/platform:dev}
go=${GO:-go}

# module directory, package, binary name
binaries=(
	"mq ./cmd/mqnamesrv mqnamesrv"
	"mq ./cmd/mqbroker mqbroker"
	"mq ./cmd/mqadmin mqadmin"
	"services ./cmd/order order"
	"services ./cmd/inventory inventory"
	"services ./cmd/points points"
	"services ./cmd/coupon coupon"
	"gateway ./cmd/gateway gateway"
	"deploy ./cmd/probe probe"
)

ctx=$(mktemp -d "${TMPDIR:-/tmp}/surge-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/data" "$ctx/tmp"
chmod 1777 "$ctx/tmp"
# COPY of an empty directory is not kept by every builder.
touch "$ctx/data/.keep" "$ctx/tmp/.keep"

start=$SECONDS
built=() missing=()
for b in "${binaries[@]}"; do
	read -r mod pkg name <<<"$b"
	if [[ ! -d "$root/$mod/${pkg#./}" ]]; then
		missing+=("$mod/${pkg#./}")
		continue
	fi
	(cd "$root/$mod" && CGO_ENABLED=0 GOOS=linux $go build -trimpath -ldflags='-s -w' -o "$ctx/bin/$name" "$pkg")
	built+=("$name")
done
echo "images: built ${built[*]} in $((SECONDS - start))s" >&2
if ((${#missing[@]})); then
	echo "images: not built (package not there yet): ${missing[*]}" >&2
fi

cp "$root/deploy/image/Dockerfile" "$ctx/Dockerfile"
docker build -q --build-arg "BINARIES=${built[*]}" -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log" ||
	{ cat "$ctx/build.log" >&2; exit 1; }
echo "images: $image ready ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'), $((SECONDS - start))s)" >&2
