package store

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// residentKiB sums the resident memory (Rss in /proc/self/smaps) of this
// process's mappings of files under dir.
func residentKiB(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatalf("resident memory needs Linux's /proc/self/smaps: %v", err)
	}
	defer f.Close()
	total, inDir := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// Segments are mapped under the temporary name they were
			// created with, shown with " (deleted)" after it.
			inDir = len(fields) >= 6 && strings.HasPrefix(fields[5], dir+string(filepath.Separator))
		case inDir && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("smaps line %q: %v", sc.Text(), err)
			}
			total += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// TestReleaseMemory: an idle store drops its mappings of the commit log,
// the consume queues and the index (they stop counting as resident
// memory), and everything stays readable and appendable afterwards.
func TestReleaseMemory(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 1 << 20
	cfg.ConsumeQueueEntries = 1000
	cfg.IndexSlots, cfg.IndexEntries = 1024, 8192
	s := openStore(t, cfg)
	body := strings.Repeat("x", 1000)
	const n = 3000 // about 3 MiB: three commit-log segments, three queue segments
	for i := range n {
		put(t, s, newMsg("Mem", 0, body, map[string]string{"UNIQ_KEY": fmt.Sprint("k", i)}))
	}
	waitIndexed(t, s)
	s.flushCommitLog()
	if err := s.flushAll(false); err != nil {
		t.Fatal(err)
	}
	// Read everything, so that every page is mapped, and check that the
	// measurement sees it. The store's own release loop may drop pages
	// at any moment (all of them once it finds the store idle, if this
	// machine is slow), so read again until a measurement catches every
	// part mapped.
	for try := 0; ; try++ {
		if got := len(readAll(t, s, "Mem", 0)); got != n {
			t.Fatalf("read %d messages, want %d", got, n)
		}
		if _, err := s.QueryByKey("Mem", "k1", 1, 0, 1<<62); err != nil {
			t.Fatal(err)
		}
		var empty []string
		for _, sub := range []string{"commitlog", "consumequeue", "index"} {
			if residentKiB(t, filepath.Join(cfg.Dir, sub)) == 0 {
				empty = append(empty, sub)
			}
		}
		if len(empty) == 0 {
			break
		}
		if try == 20 {
			t.Fatalf("%v: nothing resident after reading everything; the measurement is broken", empty)
		}
	}

	// Busy: full queue segments and written index entries go; the commit
	// log keeps its last keepMapped bytes (all of it here).
	s.releaseMemory(false)
	if kib := residentKiB(t, filepath.Join(cfg.Dir, "consumequeue")); kib > 12*4 {
		t.Errorf("consume queues: %d KiB resident after a release under load, want only the segment being written (12 KiB)", kib)
	}
	s.releaseMemory(true)
	for _, sub := range []string{"commitlog", "consumequeue", "index"} {
		if kib := residentKiB(t, filepath.Join(cfg.Dir, sub)); kib != 0 {
			t.Errorf("%s: %d KiB resident after an idle release, want 0", sub, kib)
		}
	}

	msgs := readAll(t, s, "Mem", 0)
	if len(msgs) != n || string(msgs[n-1].Body) != body || msgs[n-1].QueueOffset != n-1 {
		t.Fatalf("after the release: %d messages", len(msgs))
	}
	if got, err := s.QueryByKey("Mem", "k42", 1, 0, 1<<62); err != nil || len(got) != 1 || got[0].QueueOffset != 42 {
		t.Fatalf("query by key after the release: %d messages, %v", len(got), err)
	}
	put(t, s, newMsg("Mem", 0, "after", nil))
	if msgs := readAll(t, s, "Mem", 0); len(msgs) != n+1 || string(msgs[n].Body) != "after" {
		t.Fatalf("append after the release: %d messages", len(msgs))
	}
}
