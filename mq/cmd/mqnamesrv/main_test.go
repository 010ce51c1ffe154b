package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// TestMain lets TestMainHandlesSIGTERM run this test binary as mqnamesrv.
func TestMain(m *testing.M) {
	if os.Getenv("MQNAMESRV_TEST_MAIN") == "1" {
		os.Args = append([]string{"mqnamesrv"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "namesrv.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunPrint(t *testing.T) {
	conf := writeFile(t, "# RocketMQ's sample plus ours\nlistenPort=19876\nkvConfigPath=/x\nscanNotActiveBrokerInterval=5000\ntypo=1\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"defaults", []string{"-p"},
			"# broker expiry: 120000 ms (fixed, as in RocketMQ)\nlistenAddr=0.0.0.0:9876\norderMessageEnable=false\nscanNotActiveBrokerInterval=10000\n"},
		{"config file", []string{"-p", "-c", conf},
			"# broker expiry: 120000 ms (fixed, as in RocketMQ)\nlistenAddr=0.0.0.0:19876\norderMessageEnable=false\nscanNotActiveBrokerInterval=5000\n"},
		{"--listen overrides the file", []string{"-c", conf, "--listen", "127.0.0.1:29876", "-p"},
			"# broker expiry: 120000 ms (fixed, as in RocketMQ)\nlistenAddr=127.0.0.1:29876\norderMessageEnable=false\nscanNotActiveBrokerInterval=5000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), tt.args, &out, &errOut); err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			if out.String() != tt.want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
	t.Run("warnings name file and line", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"-p", "-c", conf}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`level=WARN msg="RocketMQ config key ignored by Surge" at=` + conf + `:3 key=kvConfigPath detail="KV settings are kept in memory"`,
			`level=WARN msg="unknown config key ignored (a typo?)" at=` + conf + `:5 key=typo` + "\n",
		} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("stderr lacks %s\nstderr:\n%s", want, errOut.String())
			}
		}
	})
}

func TestRunCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--check", "-c", writeFile(t, "listenPort=9876\n")}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != "mqnamesrv: configuration OK\n" {
		t.Fatalf("stdout %q", out.String())
	}

	conf := writeFile(t, "listenPort=99999\nscanNotActiveBrokerInterval=soon\n")
	err := run(context.Background(), []string{"--check", "-c", conf}, &out, &errOut)
	if exitCode(err) != exitUsage {
		t.Fatalf("exit code %d for %v, want %d", exitCode(err), err, exitUsage)
	}
	for _, want := range []string{conf + ":1: listenPort", conf + ":2: scanNotActiveBrokerInterval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRunRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--port", "1"}, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, `unexpected argument "serve"`},
		{"missing config file", []string{"-c", "/no/such/namesrv.conf"}, "/no/such/namesrv.conf"},
		{"bad --listen", []string{"--listen", "9876", "--check"}, `ListenAddr "9876"`},
		{"bad --log-level", []string{"--log-level", "loud"}, "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != exitUsage {
				t.Fatalf("run %q: %v (exit %d), want a usage error containing %q", tt.args, err, exitCode(err), tt.want)
			}
		})
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); err != nil {
		t.Fatalf("-h: %v", err)
	}
}

// lockedBuffer is a writer the server's logger and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

var listeningRE = regexp.MustCompile(`msg="NameServer listening" addr=(\S+)`)

// waitListening waits for the startup log line and returns the address.
func waitListening(t *testing.T, logs func() string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(logs()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no startup line; logs:\n%s", logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func askRoute(t *testing.T, addr string) int16 {
	t.Helper()
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, addr, remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "T"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Code
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--listen", "127.0.0.1:0"}, io.Discard, &logs) }()
	addr := waitListening(t, logs.String)
	if code := askRoute(t, addr); code != protocol.TopicNotExist {
		t.Fatalf("route: %d, want 17", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if !strings.Contains(logs.String(), `msg="NameServer stopped"`) {
		t.Fatalf("no shutdown line; logs:\n%s", logs.String())
	}
}

func TestMainHandlesSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "MQNAMESRV_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs lockedBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
		}
	}()
	addr := waitListening(t, logs.String)
	if code := askRoute(t, addr); code != protocol.TopicNotExist {
		t.Fatalf("route: %d, want 17", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("mqnamesrv exited with %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mqnamesrv did not exit after SIGTERM")
	}
	if !strings.Contains(logs.String(), `msg="NameServer stopped"`) {
		t.Fatalf("no shutdown line; logs:\n%s", logs.String())
	}
}
