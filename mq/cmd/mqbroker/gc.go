package main

import "runtime/debug"

// Garbage-collector defaults for the broker process.
//
// The broker's live heap is small (topic and group tables, connection
// state: tens of MiB), but every request allocates its frame and every pull
// its response body, so with Go's default GOGC=100 a loaded broker collects
// many times a second and spends a large share of its CPU marking and
// sweeping (docs/perf.md has the profiles). gcPercent lets the heap grow
// to five times the live data between collections; memoryLimit makes the
// collector work harder again before the heap gets large, so the broker's
// resident memory stays bounded whatever the load.
const (
	gcPercent   = 400
	memoryLimit = 256 << 20
)

// tuneGC applies the defaults above unless GOGC or GOMEMLIMIT is set in the
// environment, which keeps its usual meaning.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
