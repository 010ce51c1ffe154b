package compat_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// buildServers builds mqnamesrv and mqbroker into a temporary directory.
func buildServers(t *testing.T) (namesrv, broker string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/surge-mq/surge/mq/cmd/mqnamesrv", "github.com/surge-mq/surge/mq/cmd/mqbroker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "mqnamesrv"), filepath.Join(dir, "mqbroker")
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a server process; its output goes to a log file that the test
// prints if it fails.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer runs a server binary and waits until it accepts connections
// on addr.
func startServer(t *testing.T, addr, logName, bin string, args ...string) *server {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s:\n%s", logName, out)
			}
		}
	})
	s := &server{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-s.done })
	waitUntil(t, 15*time.Second, filepath.Base(bin)+" to listen on "+addr, func() bool {
		select {
		case <-s.done:
			t.Fatalf("%s exited: %v", filepath.Base(bin), s.cmd.ProcessState)
		default:
		}
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return s
}

// TestCompatBrokerKill9 sends synchronously from several goroutines to a
// broker process running with SYNC_FLUSH, kills it with SIGKILL in the
// middle of the stream, starts it again on the same store and checks that
// every acknowledged message is there, at the queue and offset its
// acknowledgement named.
func TestCompatBrokerKill9(t *testing.T) {
	t.Parallel()
	namesrvBin, brokerBin := buildServers(t)
	nsAddr := freeAddr(t)
	startServer(t, nsAddr, "mqnamesrv.log", namesrvBin, "--listen", nsAddr)
	brokerAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(brokerAddr)
	store := t.TempDir()
	conf := filepath.Join(t.TempDir(), "broker.conf")
	confText := fmt.Sprintf("brokerClusterName=DefaultCluster\nbrokerName=broker-a\nlistenPort=%s\nbrokerIP1=127.0.0.1\nflushDiskType=SYNC_FLUSH\n", port)
	if err := os.WriteFile(conf, []byte(confText), 0o644); err != nil {
		t.Fatal(err)
	}
	brokerArgs := []string{"-n", nsAddr, "-c", conf, "--store", store, "--listen", brokerAddr}
	broker := startServer(t, brokerAddr, "mqbroker-1.log", brokerBin, brokerArgs...)

	p, err := producer.NewDefaultProducer(producer.WithNameServer([]string{nsAddr}), producer.WithGroupName("kill-pg"),
		producer.WithInstanceName(newInstanceName()), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	// The first send creates the topic; it must survive the kill too.
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("Durable", []byte("first"))); err != nil {
		t.Fatalf("first send: %v", err)
	}

	type position struct {
		queue  int
		offset int64
	}
	var (
		mu       sync.Mutex
		acked    = map[string]position{"first": {-1, -1}}
		killed   atomic.Bool
		senders  sync.WaitGroup
		sendErrs = make(chan error, 4)
		next     atomic.Int64
	)
	const killAfter = 300
	for range 4 {
		senders.Go(func() {
			for {
				body := strconv.FormatInt(next.Add(1), 10)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				res, err := p.SendSync(ctx, primitive.NewMessage("Durable", []byte(body)))
				cancel()
				if err != nil {
					if !killed.Load() {
						sendErrs <- fmt.Errorf("send %s before the kill: %w", body, err)
					}
					return
				}
				if res.Status != primitive.SendOK {
					continue
				}
				mu.Lock()
				acked[body] = position{res.MessageQueue.QueueId, res.QueueOffset}
				n := len(acked)
				mu.Unlock()
				if n == killAfter && killed.CompareAndSwap(false, true) {
					broker.cmd.Process.Signal(syscall.SIGKILL)
				}
				if n > 100*killAfter {
					sendErrs <- fmt.Errorf("sends keep succeeding after SIGKILL")
					return
				}
			}
		})
	}
	senders.Wait()
	close(sendErrs)
	for err := range sendErrs {
		t.Fatal(err)
	}
	<-broker.done
	t.Logf("%d sends acknowledged before SIGKILL took effect", len(acked))

	startServer(t, brokerAddr, "mqbroker-2.log", brokerBin, brokerArgs...)
	in := newInbox()
	pc, err := consumer.NewPushConsumer(consumer.WithNameServer([]string{nsAddr}), consumer.WithGroupName("kill-cg"),
		consumer.WithInstance(newInstanceName()), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("Durable", all, in.callback(consumer.ConsumeSuccess)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	// The restarted broker registers within a moment; until it has, the
	// topic may have no route.
	waitTopicListedAt(t, nsAddr, "Durable", true)
	if err := pc.Start(); err != nil {
		t.Fatalf("start a consumer on the restarted broker: %v", err)
	}
	in.waitFor(t, 30*time.Second, "every acknowledged message", func(ds []delivery) bool {
		seen := map[string]bool{}
		for _, d := range ds {
			seen[string(d.msg.Body)] = true
		}
		for body := range acked {
			if !seen[body] {
				return false
			}
		}
		return true
	})
	for _, d := range in.deliveries() {
		want, ok := acked[string(d.msg.Body)]
		if ok && want.queue >= 0 && (queueID(d.msg) != want.queue || d.msg.QueueOffset != want.offset) {
			t.Errorf("acknowledged %s at q%d@%d, found at q%d@%d", d.msg.Body, want.queue, want.offset, queueID(d.msg), d.msg.QueueOffset)
		}
	}
}
