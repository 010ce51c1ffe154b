package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// Kill -9 tests
//
// TestCrash*Kill9 re-runs this test binary as a child process
// (TestCrashHelperProcess) that opens a store and appends from several
// goroutines, printing one line per acknowledged append: one whose
// PutMessage returned nil. The parent reads the lines, sends SIGKILL after a
// random number of them, reads whatever the child printed before it died,
// then opens the store itself (the abort marker is still there, so this is
// crash recovery) and checks every acknowledged message. The store directory
// is kept from round to round, so later rounds recover stores that were
// recovered before; on odd rounds the parent leaves its own store as a crash
// would, so that the next child recovers too, and every fourth round starts
// with a child killed within 50 ms, most often in the middle of that
// recovery.
//
// The helper is not a test of its own: without crashDirEnv it returns at
// once (the helper-process pattern of os/exec's tests).

// Environment of the child: the store directory, the flush type and the
// round, which makes message IDs unique across children.
const (
	crashDirEnv   = "SURGE_STORE_CRASH_DIR"
	crashFlushEnv = "SURGE_STORE_CRASH_FLUSH"
	crashRoundEnv = "SURGE_STORE_CRASH_ROUND"
)

const (
	crashTopic     = "CrashTopic"
	crashQueues    = 3
	crashAppenders = 4
	// crashChildLimit ends a child whose parent never killed it.
	crashChildLimit = time.Minute
)

// crashConfig is the store both processes open: 64 KiB segments (a round
// rolls over dozens of times) and 64-entry consume-queue files.
func crashConfig(dir string, flush FlushType) Config {
	return Config{
		Dir:                 dir,
		FlushType:           flush,
		SegmentSize:         64 << 10,
		ConsumeQueueEntries: 64,
		MaxMessageSize:      8 << 10,
		IndexSlots:          256,
		IndexEntries:        4096,
		StoreHost:           netip.MustParseAddrPort("10.0.0.1:10911"),
		// The disk the tests run on may be full; this test is about crashes.
		DiskUsage: func(string) (float64, error) { return 0.1, nil },
	}
}

// crashMessage is the message with the given ID: KEYS is the ID, and the
// body (64 bytes to 3 KiB) is derived from it, so that the parent can check
// the content of every message it finds.
func crashMessage(id string, queueID int32) *protocol.Message {
	return &protocol.Message{
		Topic:         crashTopic,
		QueueID:       queueID,
		Body:          crashBody(id),
		Properties:    protocol.MarshalProperties(map[string]string{protocol.PropertyKeys: id, protocol.PropertyTags: "crash"}),
		BornTimestamp: time.Now().UnixMilli(),
		BornHost:      netip.MustParseAddrPort("10.0.0.2:5555"),
	}
}

func crashBody(id string) []byte {
	h := fnv.New32a()
	h.Write([]byte(id))
	n := 64 + int(h.Sum32()%(3<<10))
	return bytes.Repeat([]byte(id+"|"), n/(len(id)+1)+1)[:n]
}

// TestCrashHelperProcess is the child of the kill -9 tests.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return // not started by a kill -9 test
	}
	flush, err := ParseFlushType(os.Getenv(crashFlushEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	round := os.Getenv(crashRoundEnv)
	s, err := Open(crashConfig(dir, flush))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	for w := range crashAppenders {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				q := int32((w + i) % crashQueues)
				res, err := s.PutMessage(context.Background(), crashMessage(id, q))
				switch {
				case errors.Is(err, ErrBusy) || errors.Is(err, ErrFlushTimeout):
					// Refused, or stored but not durable in time: not
					// acknowledged either way. A slow disk causes these;
					// the parent counts them.
					if _, err := fmt.Printf("refused %s %v .\n", id, err); err != nil {
						os.Exit(4)
					}
					continue
				case err != nil:
					fmt.Fprintln(os.Stderr, "child: put:", err)
					os.Exit(3)
				}
				// One write per line: lines of concurrent appenders never
				// interleave, and a line is either wholly in the pipe when
				// the kill comes or not at all. The trailing "." lets the
				// parent tell a complete line.
				line := fmt.Sprintf("ack %s %d %d %d .\n", id, q, res.QueueOffset, res.Offsets[0])
				if _, err := os.Stdout.WriteString(line); err != nil {
					os.Exit(4) // the parent is gone
				}
			}
		}()
	}
	time.Sleep(crashChildLimit)
	fmt.Fprintln(os.Stderr, "child: not killed within", crashChildLimit)
	os.Exit(5)
}

func TestCrashSyncFlushKill9(t *testing.T) {
	t.Parallel()
	testCrashKill9(t, SyncFlush)
}

// TestCrashAsyncFlushKill9: with ASYNC_FLUSH an acknowledged append is only
// in the page cache, which a process crash does not lose.
func TestCrashAsyncFlushKill9(t *testing.T) {
	t.Parallel()
	testCrashKill9(t, AsyncFlush)
}

// crashPos is where a message is stored.
type crashPos struct {
	queueID     int32
	queueOffset int64
	phy         int64
}

func testCrashKill9(t *testing.T, flush FlushType) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	cfg := crashConfig(dir, flush)
	acked := map[string]crashPos{} // every acknowledged message so far
	known := map[string]crashPos{} // every message found after the last recovery
	for round := range rounds {
		if round%4 == 3 {
			// A child killed at a random moment of its first 50 ms, most
			// likely while it recovers the store the previous round left
			// crashed: recovery itself must survive a kill.
			delay := time.Duration(rng.IntN(50_000)) * time.Microsecond
			n, err := runCrashChild(t, dir, flush, fmt.Sprint(round, "early"), 0, delay, acked)
			if err != nil {
				t.Fatalf("round %d: child killed after %v: %v", round, delay, err)
			}
			t.Logf("round %d: a child killed %v after its start acknowledged %d", round, delay, n)
		}
		kill := 50 + rng.IntN(1951)
		n, err := runCrashChild(t, dir, flush, fmt.Sprint(round), kill, 0, acked)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("round %d: open after kill -9 (%d acknowledged appends): %v", round, n, err)
		}
		found := checkCrashStore(t, s, round, acked, known)
		t.Logf("round %d: SIGKILL sent at ack %d, the child acknowledged %d; %d messages stored, %d acknowledged over all rounds", round, kill, n, len(found), len(acked))
		known = found

		// The recovered store takes appends, at the next queue offsets.
		for q := range int32(crashQueues) {
			id := fmt.Sprintf("r%d-parent-q%d", round, q)
			want := s.MaxOffset(crashTopic, q)
			res, err := s.PutMessage(context.Background(), crashMessage(id, q))
			if err != nil {
				t.Fatalf("round %d: append after recovery: %v", round, err)
			}
			if res.QueueOffset != want {
				t.Fatalf("round %d: append after recovery got queue offset %d, want %d", round, res.QueueOffset, want)
			}
			pos := crashPos{q, res.QueueOffset, res.Offsets[0]}
			if got := readCrashMessage(t, s, q, res.QueueOffset); got != id {
				t.Fatalf("round %d: read back %q after recovery, want %q", round, got, id)
			}
			acked[id], known[id] = pos, pos
		}
		if round%2 == 1 {
			s.crash() // the next child starts with crash recovery
			continue
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
}

// runCrashChild starts a child on dir and kills it with SIGKILL once it
// has acknowledged kill appends, or when delay has passed if kill is 0. It
// records every append the child acknowledged and returns how many.
func runCrashChild(t *testing.T, dir string, flush FlushType, round string, kill int, delay time.Duration, acked map[string]crashPos) (int, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	cmd.Env = append(os.Environ(),
		crashDirEnv+"="+dir,
		crashFlushEnv+"="+flush.String(),
		crashRoundEnv+"="+round)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Process.Kill() // if we return early
	if kill == 0 {
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	n, refused := 0, 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "refused" {
			if refused++; refused == 1 {
				t.Logf("round %s: the child's appends are refused: %s", round, sc.Text())
			}
			continue
		}
		if len(f) != 6 || f[0] != "ack" || f[5] != "." {
			continue // not an acknowledgement (test framework output)
		}
		q, err1 := strconv.ParseInt(f[2], 10, 32)
		qo, err2 := strconv.ParseInt(f[3], 10, 64)
		phy, err3 := strconv.ParseInt(f[4], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return n, fmt.Errorf("child printed %q: %w", sc.Text(), err)
		}
		acked[f[1]] = crashPos{int32(q), qo, phy}
		// Keep reading after the kill: lines already in the pipe are
		// acknowledgements too.
		if n++; n == kill {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return n, fmt.Errorf("kill child: %w", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read child output: %w", err)
	}
	err = cmd.Wait()
	if refused > 0 {
		t.Logf("round %s: %d appends refused (not acknowledged)", round, refused)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return n, fmt.Errorf("child ended by itself after %d acknowledgements (%v): %s", n, err, stderr.String())
	}
	return n, nil
}

// checkCrashStore reads every queue of the recovered store and checks the
// messages: queue offsets dense from 0, body CRCs, acknowledged messages
// whose content matches their ID, no duplicates, every acknowledged message
// where its append put it, and every message found after an earlier
// recovery still where it was. It returns what it found.
func checkCrashStore(t *testing.T, s *Store, round int, acked, known map[string]crashPos) map[string]crashPos {
	t.Helper()
	found := map[string]crashPos{}
	for q := range int32(crashQueues) {
		if first := s.MinOffset(crashTopic, q); first != 0 {
			t.Fatalf("round %d: queue %d starts at offset %d, want 0", round, q, first)
		}
		next := int64(0)
		for {
			res, err := s.GetMessages(GetRequest{Topic: crashTopic, QueueID: q, Offset: next})
			if err != nil {
				t.Fatalf("round %d: GetMessages queue %d offset %d: %v", round, q, next, err)
			}
			if res.Status != Found {
				if next != res.MaxOffset {
					t.Fatalf("round %d: queue %d: read stops at offset %d with %v, max offset is %d", round, q, next, res.Status, res.MaxOffset)
				}
				break
			}
			msgs, err := protocol.DecodeMessages(res.Body)
			if err != nil {
				t.Fatalf("round %d: queue %d offset %d: %v", round, q, next, err)
			}
			for _, m := range msgs {
				id := m.Property(protocol.PropertyKeys)
				switch {
				case m.QueueOffset != next:
					t.Fatalf("round %d: queue %d: message %q has queue offset %d, want %d (offsets must be dense from 0)", round, q, id, m.QueueOffset, next)
				case m.Topic != crashTopic || m.QueueID != q:
					t.Fatalf("round %d: queue %d offset %d holds a message of %s/%d", round, q, next, m.Topic, m.QueueID)
				case protocol.BodyChecksum(m.Body) != m.BodyCRC:
					t.Fatalf("round %d: queue %d offset %d: body CRC mismatch", round, q, next)
				case !bytes.Equal(m.Body, crashBody(id)):
					if _, ok := acked[id]; ok {
						t.Fatalf("round %d: queue %d offset %d: body of acknowledged %q is not its own (%d bytes)", round, q, next, id, len(m.Body))
					}
					// A record the child was writing when it died must not
					// come back (its header is written last).
					t.Fatalf("round %d: queue %d offset %d: recovered a torn record that was never acknowledged: KEYS %q, properties %q", round, q, next, id, m.Properties)
				}
				if _, dup := found[id]; dup {
					t.Fatalf("round %d: %q stored twice: at %v and at queue %d offset %d", round, id, found[id], q, next)
				}
				found[id] = crashPos{q, m.QueueOffset, m.PhysicalOffset}
				next++
			}
			if res.NextOffset != next {
				t.Fatalf("round %d: queue %d: next offset %d after %d messages, want %d", round, q, res.NextOffset, len(msgs), next)
			}
		}
	}
	for id, want := range acked {
		got, ok := found[id]
		switch {
		case !ok:
			t.Fatalf("round %d: acknowledged message %q (queue %d offset %d, commit log %d) lost", round, id, want.queueID, want.queueOffset, want.phy)
		case got != want:
			t.Fatalf("round %d: acknowledged message %q at %+v, its append returned %+v", round, id, got, want)
		}
	}
	for id, want := range known {
		if got := found[id]; got != want {
			t.Fatalf("round %d: message %q was at %+v after the previous recovery, now at %+v", round, id, want, got)
		}
	}
	return found
}

// readCrashMessage returns the ID of the message at a queue offset.
func readCrashMessage(t *testing.T, s *Store, q int32, qo int64) string {
	t.Helper()
	res, err := s.GetMessages(GetRequest{Topic: crashTopic, QueueID: q, Offset: qo, MaxCount: 1})
	if err != nil || res.Status != Found {
		t.Fatalf("read queue %d offset %d: %v %v", q, qo, res.Status, err)
	}
	m, err := protocol.DecodeMessage(res.Body, true)
	if err != nil {
		t.Fatalf("read queue %d offset %d: %v", q, qo, err)
	}
	return m.Property(protocol.PropertyKeys)
}
