#!/usr/bin/env bash
# fuzz.sh [FUZZTIME] [REGEXP]: runs every fuzz target of every module for
# FUZZTIME each (default 30s), or only the targets matching REGEXP.
# New failing inputs land in the package's testdata/fuzz/<Target>/; keep the
# ones that found bugs, committed next to the fix, so `make test` replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
only=${2:-.}
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT
for mod in $(go work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p'); do
	(cd "$mod" && go list ./...) | while read -r pkg; do
		for target in $(cd "$mod" && go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E "$only" || true); do
			echo "== $pkg $target ($fuzztime)"
			if ! (cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"); then
				echo "FAIL $pkg $target" >>"$failures"
			fi
		done
	done
done
if [[ -s "$failures" ]]; then
	cat "$failures"
	exit 1
fi
echo "all fuzz targets ran for $fuzztime without a failure"
