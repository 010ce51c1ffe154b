package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func tinyIndex(t *testing.T, dir string) *index {
	t.Helper()
	ix, err := openIndex(indexConfig{Dir: dir, SlotsPerFile: 4, EntriesPerFile: 16})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestIndexAddQuery(t *testing.T) {
	dir := t.TempDir()
	ix := tinyIndex(t, dir)
	// 100 entries over 7 files; 4 slots force long collision chains.
	for i := range 100 {
		if err := ix.Add(fmt.Sprintf("T#k%d", i%10), int64(i*100), int64(1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	got := ix.Query("T#k3", 0, 1<<62, 100)
	want := []int64{9300, 8300, 7300, 6300, 5300, 4300, 3300, 2300, 1300, 300}
	if !slices.Equal(got, want) {
		t.Fatalf("Query = %v, want %v (newest first)", got, want)
	}
	if got := ix.Query("T#k3", 1023, 1053, 100); !slices.Equal(got, []int64{5300, 4300, 3300, 2300}) {
		t.Fatalf("time range: %v", got)
	}
	if got := ix.Query("T#k3", 0, 1<<62, 3); len(got) != 3 {
		t.Fatalf("max: %v", got)
	}
	if got := ix.Query("T#none", 0, 1<<62, 10); len(got) != 0 {
		t.Fatalf("unknown key: %v", got)
	}
	if ix.MaxPhyOffset() != 9900 {
		t.Fatalf("MaxPhyOffset = %d", ix.MaxPhyOffset())
	}
	ix.Flush()
	ix.Close()
	ix = tinyIndex(t, dir)
	defer ix.Close()
	if got := ix.Query("T#k3", 0, 1<<62, 100); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %v", got)
	}
	// Truncate in the middle of a file, then add again.
	if err := ix.TruncateFrom(5050); err != nil {
		t.Fatal(err)
	}
	if ix.MaxPhyOffset() != 5000 {
		t.Fatalf("after truncate MaxPhyOffset = %d", ix.MaxPhyOffset())
	}
	if got := ix.Query("T#k3", 0, 1<<62, 100); !slices.Equal(got, want[5:]) {
		t.Fatalf("after truncate: %v", got)
	}
	ix.Add("T#k3", 5100, 2000)
	if got := ix.Query("T#k3", 0, 1<<62, 1); !slices.Equal(got, []int64{5100}) {
		t.Fatalf("add after truncate: %v", got)
	}
	// Retention keeps the newest file.
	n, err := ix.DeleteBelow(1 << 40)
	if err != nil || n == 0 || len(ix.files) != 1 {
		t.Fatalf("DeleteBelow: %d files removed, %d left, %v", n, len(ix.files), err)
	}
}

func TestIndexCorruptFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, segmentName(0)), []byte("not an index file at all, nope"), 0o644)
	if _, err := openIndex(indexConfig{Dir: dir, SlotsPerFile: 4, EntriesPerFile: 16}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt file: %v", err)
	}
}

func TestIndexConcurrentAddQuery(t *testing.T) {
	ix := tinyIndex(t, t.TempDir())
	defer ix.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 500 {
			ix.Add("T#k", int64(i), int64(i))
		}
	})
	for range 2 {
		wg.Go(func() {
			for range 200 {
				got := ix.Query("T#k", 0, 1<<62, 1000)
				if !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
					t.Error("query saw entries out of order")
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzIndexOpen: any bytes as an index file give an error or answers,
// never a panic.
func FuzzIndexOpen(f *testing.F) {
	dir := f.TempDir()
	ix, _ := openIndex(indexConfig{Dir: dir, SlotsPerFile: 2, EntriesPerFile: 4})
	for i := range 3 {
		ix.Add("k", int64(i), int64(i))
	}
	ix.Close()
	valid, _ := os.ReadFile(filepath.Join(dir, segmentName(0)))
	f.Add(valid)                    // a good file
	f.Add(valid[:40])               // truncated header
	f.Add(make([]byte, len(valid))) // zeros: bad magic
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, segmentName(0)), data, 0o644)
		ix, err := openIndex(indexConfig{Dir: d, SlotsPerFile: 2, EntriesPerFile: 4})
		if err != nil {
			return
		}
		defer ix.Close()
		ix.Query("k", 0, 1<<62, 10)
		ix.MaxPhyOffset()
		ix.TruncateFrom(1)
	})
}
