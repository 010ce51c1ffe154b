package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// The crash test re-runs this test binary as a child that appends and
// prints one line per acknowledged append; the parent kills it with
// SIGKILL at a random moment and checks, after recovery, that every
// acknowledged message is there. This is not a skip: without the variable
// the helper is not a test of its own.
const crashChildEnv = "SURGE_STORE_CRASH_CHILD"

func crashConfig(dir string, flush FlushType) Config {
	return Config{
		Dir: dir, FlushType: flush, SegmentSize: 64 << 10, ConsumeQueueEntries: 64,
		MaxMessageSize: 8 << 10, IndexSlots: 64, IndexEntries: 512,
		StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
	}
}

func TestCrashHelperProcess(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		return
	}
	dir, flush, _ := strings.Cut(spec, ",")
	ft := AsyncFlush
	if flush == "sync" {
		ft = SyncFlush
	}
	s, err := Open(crashConfig(dir, ft))
	if err != nil {
		fmt.Println("OPEN-ERROR", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				body := fmt.Sprintf("w%d-%d-%d", w, os.Getpid(), i)
				m := &protocol.Message{Topic: "Crash", QueueID: int32(w % 2), Body: []byte(strings.Repeat(body+" ", 1+i%40))}
				if _, err := s.PutMessage(context.Background(), m); err != nil {
					if errors.Is(err, ErrBusy) || errors.Is(err, ErrFlushTimeout) {
						// A refusal under load, not an acknowledgement:
						// the next round tries again.
						continue
					}
					fmt.Fprintln(os.Stderr, "put:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintln(out, "ACK", w%2, string(m.Body))
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashKill9(t *testing.T) {
	for _, flush := range []string{"sync", "async"} {
		t.Run("flush="+flush, func(t *testing.T) {
			dir := t.TempDir()
			rounds := 12
			if testing.Short() {
				rounds = 3
			}
			acked := map[string]bool{}
			for round := range rounds {
				crashRound(t, dir, flush, rand.IntN(1500)+20, acked)
				s, err := Open(crashConfig(dir, AsyncFlush))
				if err != nil {
					t.Fatalf("round %d: open after kill: %v", round, err)
				}
				seen := map[string]bool{}
				for q := range int32(2) {
					msgs := readAll(t, s, "Crash", q)
					for i, m := range msgs {
						if m.QueueOffset != int64(i) {
							t.Fatalf("round %d: queue %d offset %d at position %d", round, q, m.QueueOffset, i)
						}
						key := fmt.Sprint(q, " ", string(m.Body))
						if seen[key] {
							t.Fatalf("round %d: duplicate %q", round, key)
						}
						seen[key] = true
					}
				}
				for k := range acked {
					if !seen[k] {
						t.Fatalf("round %d: acknowledged message lost: %.40q", round, k)
					}
				}
				// The recovered store takes appends.
				marker := fmt.Sprint("after-recovery-", round)
				put(t, s, newMsg("Crash", 0, marker, nil))
				acked["0 "+marker] = true
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// crashRound runs a child until it acknowledged n appends, then kills it.
func crashRound(t *testing.T, dir, flush string, n int, acked map[string]bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir+","+flush)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	got := 0
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "ACK "); ok {
			acked[rest] = true
			if got++; got == n {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		} else if strings.HasPrefix(line, "OPEN-ERROR") {
			t.Fatalf("child could not open the store: %s", line)
		}
	}
	cmd.Wait()
	if got < n {
		t.Fatalf("child stopped after %d acknowledgements, before the kill: %s", got, stderr.String())
	}
}
