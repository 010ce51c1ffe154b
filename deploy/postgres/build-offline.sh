#!/usr/bin/env bash
# build-offline.sh [IMAGE]: builds a PostgreSQL 15 image from Debian's
# packages without any container registry, for machines that cannot pull
# the official postgres image.
#
#   1. debootstrap a minimal Debian bookworm root file system on this host,
#   2. install postgresql-15 into it with chroot (so nothing inside a
#      `docker build` needs to reach a mirror),
#   3. `docker import` it as a base image,
#   4. `docker build` this directory's Dockerfile on top: an entrypoint that
#      behaves like the official image's for POSTGRES_PASSWORD, POSTGRES_USER,
#      POSTGRES_DB and /docker-entrypoint-initdb.d/.
#
# Needs root (or sudo), debootstrap (`apt-get install debootstrap`; installed
# automatically with SURGE_INSTALL_DEPS=1 or CI=true) and a Debian mirror:
# DEBIAN_MIRROR (default http://deb.debian.org/debian), honouring the usual
# http_proxy.
set -euo pipefail

image=${1:-${POSTGRES_OFFLINE_IMAGE:-surge/postgres:15-offline}}
name=${image%:*} tag=${image##*:}
[[ $image == *:* && $tag != */* ]] || { name=$image tag=latest; }
base=$name-rootfs:$tag
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"

if ! command -v debootstrap >/dev/null 2>&1; then
	if [[ "${CI:-}" == "true" || "${SURGE_INSTALL_DEPS:-}" == "1" ]] && command -v apt-get >/dev/null 2>&1; then
		echo "offline-image: installing debootstrap" >&2
		$sudo apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq debootstrap >/dev/null
	else
		cat >&2 <<'MSG'
offline-image: debootstrap is not installed. Either
  - install it: sudo apt-get install debootstrap   (Debian/Ubuntu; then rerun)
  - or let this script install it: SURGE_INSTALL_DEPS=1 make offline-images
  - or use the official image where a registry is reachable: docker pull postgres:16
MSG
		exit 1
	fi
fi

rootfs=$(mktemp -d "${TMPDIR:-/tmp}/surge-pg-rootfs.XXXXXX")
cleanup() { $sudo rm -rf "$rootfs"; }
trap cleanup EXIT

start=$SECONDS
echo "offline-image: debootstrap $suite from $mirror" >&2
$sudo debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
	{ tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

echo "offline-image: installing postgresql-15 in the root file system" >&2
$sudo cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# No daemon may start inside the chroot, and the package must not create
# its default cluster: the entrypoint creates one in the volume.
printf '#!/bin/sh\nexit 101\n' | $sudo tee "$rootfs/usr/sbin/policy-rc.d" >/dev/null
$sudo chmod 755 "$rootfs/usr/sbin/policy-rc.d"
$sudo mkdir -p "$rootfs/etc/postgresql-common"
echo "create_main_cluster = false" | $sudo tee "$rootfs/etc/postgresql-common/createcluster.conf" >/dev/null
$sudo chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	http_proxy="${http_proxy:-}" https_proxy="${https_proxy:-}" \
	sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15 && apt-get clean' >"$rootfs.log" 2>&1 ||
	{ tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
# PostgreSQL's JIT (LLVM, 130 MB of the image) is optional: without its
# provider library the server runs with JIT off. Translations and the
# locale sources are not needed either (C.UTF-8 is built into libc).
$sudo rm -rf "$rootfs"/usr/lib/postgresql/15/lib/llvmjit* "$rootfs"/usr/lib/postgresql/15/lib/bitcode \
	"$rootfs"/usr/lib/*/libLLVM* "$rootfs"/usr/lib/*/libz3.so* \
	"$rootfs"/usr/share/locale/* "$rootfs"/usr/share/i18n
$sudo rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
	"$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log \
	"$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf"
$sudo touch "$rootfs/etc/resolv.conf"

# The images this build replaces, removed at the end if nothing uses them.
old_ids=$(docker image inspect -f '{{.Id}}' "$image" "$base" 2>/dev/null || true)

echo "offline-image: importing $base" >&2
$sudo tar --numeric-owner -C "$rootfs" -c . | docker import \
	-c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	-c 'ENV LANG=C.UTF-8' \
	-m "Debian $suite minbase with postgresql-15, built by build-offline.sh" - "$base" >/dev/null

echo "offline-image: building $image" >&2
docker build -q --build-arg "BASE=$base" -t "$image" "$here" >"$rootfs.log" 2>&1 ||
	{ cat "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
for id in $old_ids; do
	docker rmi "$id" >/dev/null 2>&1 || true
done
echo "offline-image: $image ready in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
