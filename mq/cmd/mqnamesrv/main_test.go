package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "namesrv.conf")
	os.WriteFile(conf, []byte("# comment\nlistenPort=19876\nkvConfigPath=/x\ntypo=1\n"), 0o644)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-p", "-c", conf}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "listenAddr=0.0.0.0:19876") {
		t.Fatalf("-p: %s", out.String())
	}
	if !strings.Contains(errOut.String(), "namesrv.conf:3: kvConfigPath is ignored") || !strings.Contains(errOut.String(), "namesrv.conf:4: unknown key typo") {
		t.Fatalf("warnings: %s", errOut.String())
	}
	os.WriteFile(conf, []byte("listenPort=99999\nscanNotActiveBrokerInterval=soon\n"), 0o644)
	err := run(context.Background(), []string{"--check", "-c", conf}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "namesrv.conf:1: listenPort") || !strings.Contains(err.Error(), "namesrv.conf:2: scanNotActiveBrokerInterval") {
		t.Fatalf("bad config: %v", err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() { done <- run(ctx, []string{"--listen", "127.0.0.1:0"}, &out, &errOut) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
