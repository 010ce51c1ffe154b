package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/mqtest"
)

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, envOf(nil)); err != nil {
		t.Fatal(err)
	}
	for _, e := range envVars {
		if !strings.Contains(out.String(), e.name) {
			t.Errorf("-h does not list %s", e.name)
		}
	}
	if err := run(context.Background(), []string{"extra"}, io.Discard, envOf(nil)); err == nil {
		t.Error("an extra argument was accepted")
	}
	if err := run(context.Background(), nil, io.Discard, envOf(map[string]string{"SECKILL_RATE": "0"})); err == nil {
		t.Error("SECKILL_RATE=0 was accepted")
	}
}

// TestServeShutdown: on cancellation the gateway stops accepting, lets the
// request in progress finish, and returns without error.
func TestServeShutdown(t *testing.T) {
	c := mqtest.Start(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	inventory := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "late answer")
	}))
	defer inventory.Close()

	s, err := loadSettings(envOf(map[string]string{"NAMESRV_ADDR": c.NamesrvAddr, "INVENTORY_URL": inventory.URL}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, s, ln, slog.New(slog.DiscardHandler)) }()

	resp, err := http.Post(base+"/api/seckill/sku-1", "application/json", strings.NewReader(`{"user_id":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("seckill: %d", resp.StatusCode)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/api/products")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- string(b)
	}()
	<-arrived
	cancel()
	// Wait until the listener is closed: shutdown has begun.
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the gateway still accepts connections after cancellation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("serve returned (%v) while a request was in progress", err)
	default:
	}
	close(release)
	if got := <-slow; got != "late answer" {
		t.Errorf("request in progress at shutdown got %q", got)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}
