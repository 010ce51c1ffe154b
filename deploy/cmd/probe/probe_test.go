package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbeHTTP(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"not_ready","message":"database unreachable"}}`))
	}))
	defer notReady.Close()

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{ready.URL + "/readyz"}, &stderr); code != 0 {
		t.Fatalf("ready server: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	code := run(context.Background(), []string{ready.URL, notReady.URL + "/readyz"}, &stderr)
	if code != 1 {
		t.Fatalf("one target not ready: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "503") || !strings.Contains(stderr.String(), "database unreachable") {
		t.Fatalf("stderr %q does not name the status and the reason", stderr.String())
	}
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"tcp://" + addr}, &stderr); code != 0 {
		t.Fatalf("listening: exit %d, stderr %q", code, stderr.String())
	}
	ln.Close()
	stderr.Reset()
	if code := run(context.Background(), []string{"-timeout", "2s", "tcp://" + addr}, &stderr); code != 1 {
		t.Fatalf("closed listener: exit %d, want 1 (stderr %q)", code, stderr.String())
	}
}

func TestProbeBadArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"ftp://x:1"}, {"tcp://nohostport"}, {"tcp://h:1/path"}, {"http://"}, {"-nope"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &stderr); code != 2 {
			t.Errorf("probe %q: exit %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("probe %q: nothing said on stderr", args)
		}
	}
}

func TestProbeTimeout(t *testing.T) {
	// A server that never answers: the probe gives up after -timeout.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-timeout", (200 * time.Millisecond).String(), srv.URL}, &stderr); code != 1 {
		t.Fatalf("hanging server: exit %d, want 1", code)
	}
}
