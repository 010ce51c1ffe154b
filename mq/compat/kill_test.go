package compat_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// buildBinaries builds mqnamesrv and mqbroker into a temp dir.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/surge-mq/surge/mq/cmd/mqnamesrv", "github.com/surge-mq/surge/mq/cmd/mqbroker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs a binary and waits until it accepts connections.
func startProcess(t *testing.T, addr string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start listening on %s", filepath.Base(name), addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompatBrokerKill9 sends synchronously while the broker process is
// killed with SIGKILL, restarts it on the same store and checks that every
// acknowledged message is there.
func TestCompatBrokerKill9(t *testing.T) {
	bin := buildBinaries(t)
	nsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProcess(t, nsAddr, filepath.Join(bin, "mqnamesrv"), "--listen", nsAddr)
	bport := freePort(t)
	baddr := fmt.Sprintf("127.0.0.1:%d", bport)
	store := t.TempDir()
	conf := filepath.Join(t.TempDir(), "broker.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listenPort=%d\nbrokerIP1=127.0.0.1\nflushDiskType=SYNC_FLUSH\nregisterNameServerPeriod=1000\nstorePathRootDir=%s\nmappedFileSizeCommitLog=67108864\n", bport, store)), 0o644)
	brokerArgs := []string{"-n", nsAddr, "-c", conf, "--listen", baddr}
	broker := startProcess(t, baddr, filepath.Join(bin, "mqbroker"), brokerArgs...)

	p, err := producer.NewDefaultProducer(producer.WithNameServer([]string{nsAddr}), producer.WithGroupName("kill-pg"), producer.WithRetry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	acked := map[string]bool{}
	for i := 0; ; i++ {
		if i == 150 {
			broker.Process.Signal(syscall.SIGKILL)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := p.SendSync(ctx, primitive.NewMessage("Durable", []byte(strconv.Itoa(i))))
		cancel()
		if err != nil {
			if i < 150 {
				t.Fatalf("send %d before the kill: %v", i, err)
			}
			break
		}
		if res.Status == primitive.SendOK {
			acked[strconv.Itoa(i)] = true
		}
		if i > 10000 {
			t.Fatal("sends keep succeeding after the broker was killed")
		}
	}
	broker.Wait()
	startProcess(t, baddr, filepath.Join(bin, "mqbroker"), brokerArgs...)

	r := newReceived()
	pc, err := consumer.NewPushConsumer(consumer.WithNameServer([]string{nsAddr}), consumer.WithGroupName("kill-cg"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	pc.Subscribe("Durable", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		r.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	r.waitFor(t, 60*time.Second, "every acknowledged message", func(got []*primitive.MessageExt) bool {
		seen := map[string]bool{}
		for _, m := range got {
			seen[string(m.Body)] = true
		}
		for k := range acked {
			if !seen[k] {
				return false
			}
		}
		return true
	})
}
