package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestRunCheckAndPrint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "broker.conf")
	os.WriteFile(good, []byte("brokerName=broker-x\nlistenPort=10999\nstorePathRootDir="+dir+"\nsendMessageThreadPoolNums=8\n"), 0o644)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--check", "-c", good}, &out, &errOut, noEnv); err != nil {
		t.Fatalf("--check of a good config: %v", err)
	}
	if !strings.Contains(out.String(), "configuration OK") || !strings.Contains(errOut.String(), "broker.conf:4: sendMessageThreadPoolNums is ignored") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
	out.Reset()
	env := func(k string) string {
		if k == "NAMESRV_ADDR" {
			return "10.0.0.1:9876;10.0.0.2:9876"
		}
		return ""
	}
	if err := run(context.Background(), []string{"-p", "-c", good}, &out, &errOut, env); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"brokerName=broker-x", "listenPort=10999", "namesrvAddr=10.0.0.1:9876;10.0.0.2:9876", "flushDiskType=ASYNC_FLUSH"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-p output lacks %q:\n%s", want, out.String())
		}
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("listenPort=ten\nflushDiskType=NEVER\nbrokerRole=SLAVE\nstorePathRootDir="+dir+"\n"), 0o644)
	err := run(context.Background(), []string{"--check", "-c", bad}, &out, &errOut, noEnv)
	if err == nil {
		t.Fatal("--check accepted a broken config")
	}
	for _, want := range []string{"bad.conf:1: listenPort", "bad.conf:2: flushDiskType"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	err = run(context.Background(), []string{"--check", "-c", filepath.Join(dir, "missing.conf")}, &out, &errOut, noEnv)
	if err == nil {
		t.Fatal("a missing config file was accepted")
	}
}

func TestRunDevStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--dev", "-n", "127.0.0.1:0", "--listen", "127.0.0.1:0"}, &syncWriter{w: &out}, &errOut, noEnv)
	}()
	// The dev banner names both addresses once the broker is up.
	for !strings.Contains(syncString(&out), "Press Ctrl-C to stop") {
		select {
		case err := <-done:
			t.Fatalf("--dev stopped early: %v\n%s", err, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if s := syncString(&out); !strings.Contains(s, "NameServer:") || !strings.Contains(s, "Broker:") {
		t.Fatalf("banner: %s", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("--dev shutdown: %v", err)
	}
}

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	tuneGC(noEnv)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want the broker's default %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != memoryLimit {
		t.Errorf("memory limit %d, want the broker's default %d", got, memoryLimit)
	}
	// Set in the environment: the runtime's value is left alone.
	debug.SetGCPercent(77)
	debug.SetMemoryLimit(1 << 40)
	tuneGC(func(k string) string { return map[string]string{"GOGC": "77", "GOMEMLIMIT": "1TiB"}[k] })
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("GOGC=77 overridden: %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 1<<40 {
		t.Errorf("GOMEMLIMIT=1TiB overridden: %d", got)
	}
}
