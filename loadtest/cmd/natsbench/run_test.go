package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	o, err := parse([]string{"pub", "-c", "64", "-m", "async", "-w", "8", "-x", "1000"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.mode != "pub" || o.concurrency != 64 || o.sendMode != "async" || o.window != 8 || o.count != 1000 || o.size != 1024 {
		t.Errorf("options = %+v", o)
	}
	for _, args := range [][]string{{}, {"sub"}, {"pub", "-m", "oneway"}, {"pub", "-c", "0"}, {"consume", "-b", "0"}, {"pub", "extra"}} {
		if _, err := parse(args, new(bytes.Buffer)); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestRunNoServer(t *testing.T) {
	// A port nothing listens on: the run fails at once and says where.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, []string{"pub", "-s", "nats://" + addr, "-d", "1s"}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want a connect error naming %s", err, addr)
	}
}
