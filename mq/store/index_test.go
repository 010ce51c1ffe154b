package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// idxOpenTest opens an index with small files and closes it at the end of
// the test.
func idxOpenTest(t testing.TB, dir string, slots, entries int) *index {
	t.Helper()
	ix, err := openIndex(indexConfig{Dir: dir, SlotsPerFile: slots, EntriesPerFile: entries})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// idxModel is what the index should answer: every add, in order.
type idxModel struct {
	adds []idxModelAdd
}

type idxModelAdd struct {
	key     string
	phy, ts int64
}

func (m *idxModel) add(t testing.TB, ix *index, key string, phy, ts int64) {
	t.Helper()
	if err := ix.Add(key, phy, ts); err != nil {
		t.Fatalf("Add(%q, %d, %d): %v", key, phy, ts, err)
	}
	m.adds = append(m.adds, idxModelAdd{key, phy, ts})
}

// query answers like index.Query, without hash collisions.
func (m *idxModel) query(key string, begin, end int64, limit int) []int64 {
	var out []int64
	for i := len(m.adds) - 1; i >= 0 && len(out) < limit; i-- {
		a := m.adds[i]
		if a.key == key && a.ts >= begin && a.ts <= end && !slices.Contains(out, a.phy) {
			out = append(out, a.phy)
		}
	}
	return out
}

func (m *idxModel) truncate(phy int64) {
	m.adds = slices.DeleteFunc(m.adds, func(a idxModelAdd) bool { return a.phy >= phy })
}

func (m *idxModel) keys() []string {
	var keys []string
	for _, a := range m.adds {
		if !slices.Contains(keys, a.key) {
			keys = append(keys, a.key)
		}
	}
	return keys
}

// check compares every key's full-range answer with the model.
func (m *idxModel) check(t testing.TB, ix *index, when string) {
	t.Helper()
	for _, k := range m.keys() {
		want := m.query(k, math.MinInt64, math.MaxInt64, math.MaxInt)
		if got := ix.Query(k, math.MinInt64, math.MaxInt64, math.MaxInt); !slices.Equal(got, want) {
			t.Fatalf("%s: Query(%q) = %v, want %v", when, k, got, want)
		}
	}
	wantMax := int64(-1)
	if n := len(m.adds); n > 0 {
		wantMax = m.adds[n-1].phy
	}
	if got := ix.MaxPhyOffset(); got != wantMax {
		t.Fatalf("%s: MaxPhyOffset = %d, want %d", when, got, wantMax)
	}
}

// idxFillMessages adds n messages in the broker's way: each has a unique
// key and a business key shared by every 7th message. Message i is at
// offset 100i, stored at 1000+i ms.
func idxFillMessages(t testing.TB, ix *index, m *idxModel, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		phy, ts := int64(i*100), int64(1000+i)
		m.add(t, ix, fmt.Sprintf("T#uniq-%d", i), phy, ts)
		m.add(t, ix, fmt.Sprintf("T#order-%d", i%7), phy, ts)
	}
}

func idxFileNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestIndexAddQuery(t *testing.T) {
	dir := t.TempDir()
	ix := idxOpenTest(t, dir, 16, 64)
	var m idxModel
	idxFillMessages(t, ix, &m, 0, 500) // 1000 entries, 16 files

	m.check(t, ix, "after adds")
	if got := ix.Query("T#uniq-123", 0, math.MaxInt64, 10); !slices.Equal(got, []int64{12300}) {
		t.Errorf("unique key: %v", got)
	}
	if got := ix.Query("T#nobody", 0, math.MaxInt64, 10); got != nil {
		t.Errorf("unknown key: %v", got)
	}
	if n := len(idxFileNames(t, dir)); n != 16 {
		t.Errorf("%d files, want 16 (1000 entries, 64 a file)", n)
	}
}

func TestIndexFileNames(t *testing.T) {
	dir := t.TempDir()
	ix := idxOpenTest(t, dir, 2, 2)
	var m idxModel
	idxFillMessages(t, ix, &m, 0, 20) // 20 files, most within one ms
	names := idxFileNames(t, dir)
	if len(names) != 20 {
		t.Fatalf("%d files, want 20: %v", len(names), names)
	}
	for i, name := range names {
		n, ok := idxParseName(name)
		if !ok {
			t.Fatalf("file name %q is not 20 digits", name)
		}
		if prev, _ := idxParseName(names[max(i-1, 0)]); i > 0 && n <= prev {
			t.Fatalf("names not increasing: %v", names)
		}
	}
	m.check(t, ix, "after adds")
}

func TestIndexTimeRange(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 16, 64)
	var m idxModel
	// One key, 200 entries over 4 files; the clock steps back by 500 ms at
	// entry 150 so that a file's time bounds are not its first and last
	// entries.
	for i := range 200 {
		ts := int64(10_000 + i*10)
		if i >= 150 {
			ts -= 500
		}
		m.add(t, ix, "T#k", int64(i), ts)
	}
	tests := []struct {
		name       string
		begin, end int64
	}{
		{"everything", math.MinInt64, math.MaxInt64},
		{"one entry", 10_100, 10_100},
		{"between entries", 10_101, 10_109},
		{"inside one file", 10_200, 10_400},
		{"across files", 10_500, 11_500},
		{"stepped-back clock", 10_950, 11_050},
		{"a file's newest time is not its last", 11_450, 11_500},
		{"before all", 0, 9_999},
		{"after all", 12_000, 20_000},
		{"begin after end", 11_000, 10_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := m.query("T#k", tt.begin, tt.end, math.MaxInt)
			got := ix.Query("T#k", tt.begin, tt.end, math.MaxInt)
			if !slices.Equal(got, want) {
				t.Fatalf("Query [%d, %d] = %v, want %v", tt.begin, tt.end, got, want)
			}
		})
	}
}

func TestIndexCollisions(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 1, 64) // one slot: every key collides
	var m idxModel
	for i := range 600 {
		m.add(t, ix, fmt.Sprintf("T#key-%d", i%200), int64(i), int64(i))
	}
	m.check(t, ix, "after adds")
	for _, f := range ix.files {
		if used := idxLoad32(f.data, idxOffUsedSlots); used != 1 {
			t.Fatalf("%s: %d used slots, want 1", f.name, used)
		}
	}
}

func TestIndexLimit(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 16, 64)
	var m idxModel
	for i := range 100 {
		m.add(t, ix, "T#hot", int64(i), int64(i))
	}
	for _, limit := range []int{-1, 0, 1, 10, 64, 65, 100, 1000} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			got := ix.Query("T#hot", 0, math.MaxInt64, limit)
			if want := m.query("T#hot", 0, math.MaxInt64, limit); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestIndexDuplicates(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 4, 4)
	var m idxModel
	// KEYS "a a" and UNIQ_KEY "a": three entries, one message; the third
	// lands in the next file.
	m.add(t, ix, "T#x", 0, 1)
	m.add(t, ix, "T#x", 0, 1)
	m.add(t, ix, "T#a", 10, 2)
	m.add(t, ix, "T#a", 10, 2)
	m.add(t, ix, "T#a", 10, 2)
	m.add(t, ix, "T#a", 20, 3)
	if got := ix.Query("T#a", 0, 10, 10); !slices.Equal(got, []int64{20, 10}) {
		t.Fatalf("Query = %v, want [20 10]", got)
	}
	m.check(t, ix, "after adds")
}

func TestIndexAddOrder(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 4, 4)
	if err := ix.Add("T#a", 100, 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add("T#b", 100, 1); err != nil {
		t.Fatalf("same offset again (another key of the message): %v", err)
	}
	if err := ix.Add("T#c", 99, 1); err == nil {
		t.Fatal("a smaller offset was accepted")
	}
	if err := ix.Add("T#c", -1, 1); err == nil {
		t.Fatal("a negative offset was accepted")
	}
}

func TestIndexReopen(t *testing.T) {
	tests := []struct {
		name  string
		flush bool
	}{
		{"flushed", true},
		{"closed without flush", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ix := idxOpenTest(t, dir, 16, 64)
			var m idxModel
			idxFillMessages(t, ix, &m, 0, 250) // 7 full files and a partial one
			if tt.flush {
				if err := ix.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			files := idxFileNames(t, dir)

			ix = idxOpenTest(t, dir, 16, 64)
			m.check(t, ix, "after reopen")
			// The partial file takes the next entries.
			idxFillMessages(t, ix, &m, 250, 3)
			if got := idxFileNames(t, dir); !slices.Equal(got, files) {
				t.Fatalf("files %v after adding to a reopened index, want %v", got, files)
			}
			m.check(t, ix, "after more adds")
		})
	}
}

func TestIndexReopenOtherSizes(t *testing.T) {
	// Files keep the sizes they were made with when the config changes.
	dir := t.TempDir()
	ix := idxOpenTest(t, dir, 16, 64)
	var m idxModel
	idxFillMessages(t, ix, &m, 0, 40)
	ix.Close()
	ix = idxOpenTest(t, dir, 3, 5)
	m.check(t, ix, "after reopen with other sizes")
	idxFillMessages(t, ix, &m, 40, 40)
	m.check(t, ix, "after more adds")
	if f := ix.files[len(ix.files)-1]; f.slots != 3 || f.capacity != 5 {
		t.Fatalf("new file has %d slots, %d entries; want the new config's 3, 5", f.slots, f.capacity)
	}
}

func TestIndexTruncateFrom(t *testing.T) {
	// 100 messages (200 entries) in files of 64 entries: messages 0-31,
	// 32-63, 64-95, 96-99. Message i is at offset 100i.
	tests := []struct {
		name      string
		cut       int64
		wantFiles int
	}{
		{"beyond the end", 1_000_000, 4},
		{"at the last message", 9_900, 4},
		{"inside the newest file", 9_750, 4},
		{"at the newest file's first message", 9_600, 3},
		{"inside an older file", 5_000, 2},
		{"between two records", 5_050, 2},
		{"at a file's first message", 3_200, 1},
		{"below everything", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ix := idxOpenTest(t, dir, 16, 64)
			var m idxModel
			idxFillMessages(t, ix, &m, 0, 100)
			if err := ix.TruncateFrom(tt.cut); err != nil {
				t.Fatal(err)
			}
			m.truncate(tt.cut)
			m.check(t, ix, "after TruncateFrom")
			if n := len(idxFileNames(t, dir)); n != tt.wantFiles {
				t.Fatalf("%d files left, want %d", n, tt.wantFiles)
			}
			// Re-indexing resumes after the last entry, and survives a
			// reopen.
			from := 0
			if last := ix.MaxPhyOffset(); last >= 0 {
				from = int(last/100) + 1
			}
			idxFillMessages(t, ix, &m, from, 20)
			m.check(t, ix, "after re-indexing")
			ix.Close()
			ix = idxOpenTest(t, dir, 16, 64)
			m.check(t, ix, "after reopen")
		})
	}
}

func TestIndexDeleteBelow(t *testing.T) {
	dir := t.TempDir()
	ix := idxOpenTest(t, dir, 16, 64)
	var m idxModel
	idxFillMessages(t, ix, &m, 0, 100) // files end at messages 31, 63, 95, 99

	steps := []struct {
		min         int64
		wantDeleted int
		wantFiles   int
	}{
		{0, 0, 4},
		{3_100, 0, 4},         // the first file's last message is still wanted
		{3_101, 1, 3},         // now it is not
		{6_301, 1, 2},         // the second file goes
		{1 << 40, 1, 1},       // the newest file always stays
		{math.MaxInt64, 0, 1}, // and stays
	}
	for _, s := range steps {
		n, err := ix.DeleteBelow(s.min)
		if err != nil {
			t.Fatal(err)
		}
		if n != s.wantDeleted {
			t.Fatalf("DeleteBelow(%d) deleted %d files, want %d", s.min, n, s.wantDeleted)
		}
		if got := len(idxFileNames(t, dir)); got != s.wantFiles {
			t.Fatalf("DeleteBelow(%d) left %d files, want %d", s.min, got, s.wantFiles)
		}
	}
	for _, k := range m.keys() {
		if got := ix.Query(k, math.MinInt64, math.MaxInt64, 100); len(got) > 0 && got[len(got)-1] < 9_600 {
			t.Fatalf("Query(%q) = %v: entries of deleted files", k, got)
		}
	}
	if got := ix.Query("T#uniq-99", 0, math.MaxInt64, 10); !slices.Equal(got, []int64{9_900}) {
		t.Fatalf("newest file lost its entries: %v", got)
	}
}

// idxValidFile builds a closed index of one file (4 slots, 8 entries)
// holding n entries and returns its path and bytes.
func idxValidFile(t testing.TB, n int) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	ix, err := openIndex(indexConfig{Dir: dir, SlotsPerFile: 4, EntriesPerFile: 8})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 { // Add makes files; an empty one needs making by hand
		f, err := idxCreate(dir, idxName(1), 4, 8)
		if err != nil {
			t.Fatal(err)
		}
		f.close()
	}
	for i := range n {
		if err := ix.Add(fmt.Sprintf("T#k%d", i%5), int64(i*10), int64(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	names := idxFileNames(t, dir)
	if len(names) != 1 {
		t.Fatalf("want one file, have %v", names)
	}
	path := filepath.Join(dir, names[0])
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestIndexCorruptHeader(t *testing.T) {
	be := binary.BigEndian
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		want   string
	}{
		{"empty file", func(b []byte) []byte { return nil }, "shorter than the"},
		{"short header", func(b []byte) []byte { return b[:40] }, "shorter than the"},
		{"bad magic", func(b []byte) []byte { copy(b, "NOPE"); return b }, "bad magic"},
		{"foreign text", func(b []byte) []byte { return []byte(strings.Repeat("not an index file, ", 20)) }, "bad magic"},
		{"newer version", func(b []byte) []byte { be.PutUint32(b[idxOffVersion:], 2); return b }, "version 2"},
		{"zero slots", func(b []byte) []byte { be.PutUint32(b[idxOffSlots:], 0); return b }, "must be positive"},
		{"slots do not match the size", func(b []byte) []byte { be.PutUint32(b[idxOffSlots:], 5); return b }, "need"},
		{"huge sizes", func(b []byte) []byte { be.PutUint64(b[idxOffSlots:], math.MaxUint64); return b }, "need"},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }, "need"},
		{"grown body", func(b []byte) []byte { return append(b, 0) }, "need"},
		{"count above capacity", func(b []byte) []byte { be.PutUint32(b[idxOffCount:], 9); return b }, "above the capacity"},
		{"used slots above slots", func(b []byte) []byte { be.PutUint32(b[idxOffUsedSlots:], 5); return b }, "used slots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, data := idxValidFile(t, 5)
			if err := os.WriteFile(path, tt.damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			ix, err := openIndex(indexConfig{Dir: filepath.Dir(path), SlotsPerFile: 4, EntriesPerFile: 8})
			if err == nil {
				ix.Close()
				t.Fatal("opened a damaged file")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q: want ErrCorrupt naming %s and saying %q", err, path, tt.want)
			}
		})
	}
}

func TestIndexDirContents(t *testing.T) {
	t.Run("foreign file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o644)
		_, err := openIndex(indexConfig{Dir: dir})
		if !errors.Is(err, ErrForeignFormat) || !strings.Contains(err.Error(), "notes.txt") {
			t.Fatalf("error %v: want ErrForeignFormat naming notes.txt", err)
		}
	})
	t.Run("unfinished creation", func(t *testing.T) {
		// A crash between creating and renaming a file leaves a temporary
		// file, which is removed; other dot files and directories are left
		// alone.
		dir := t.TempDir()
		tmp := filepath.Join(dir, "."+idxName(5)+idxTmpSuffix)
		os.WriteFile(tmp, []byte("half"), 0o644)
		os.WriteFile(filepath.Join(dir, ".keep"), nil, 0o644)
		os.Mkdir(filepath.Join(dir, "lost+found"), 0o755)
		ix := idxOpenTest(t, dir, 4, 8)
		if ix.MaxPhyOffset() != -1 {
			t.Fatalf("MaxPhyOffset = %d in an empty index", ix.MaxPhyOffset())
		}
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("temporary file left: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ".keep")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIndexRepairAfterCrash(t *testing.T) {
	// An add cut short after it published its slot but before it stored the
	// count. Without repair, the next add would link the entry to itself and
	// cut the chain.
	dir := t.TempDir()
	ix := idxOpenTest(t, dir, 1, 64) // one slot: one chain
	var m idxModel
	for i := range 10 {
		m.add(t, ix, "T#k", int64(i), int64(i))
	}
	if err := ix.Add("T#k", 10, 10); err != nil {
		t.Fatal(err)
	}
	f := ix.files[0]
	idxStore32(f.data, idxOffCount, 10) // the crash: entry 11 not counted
	ix.Close()

	ix = idxOpenTest(t, dir, 1, 64)
	m.check(t, ix, "after repair") // entry 11 is gone, MaxPhyOffset is 9
	m.add(t, ix, "T#k", 10, 10)    // re-indexed from the commit log
	m.add(t, ix, "T#k", 11, 11)
	m.check(t, ix, "after re-indexing")
}

func TestIndexClosed(t *testing.T) {
	ix := idxOpenTest(t, t.TempDir(), 4, 8)
	if err := ix.Add("T#k", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := ix.Add("T#k", 2, 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if got := ix.Query("T#k", 0, 10, 10); got != nil {
		t.Fatalf("Query after Close: %v", got)
	}
	if ix.MaxPhyOffset() != -1 {
		t.Fatal("MaxPhyOffset after Close")
	}
	if err := ix.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
}

func TestIndexConfig(t *testing.T) {
	_, err := openIndex(indexConfig{SlotsPerFile: -1, EntriesPerFile: math.MaxUint32 + 1})
	for _, want := range []string{"Dir is required", "SlotsPerFile -1", "EntriesPerFile 4294967296"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want it to say %q", err, want)
		}
	}
	ix := idxOpenTest(t, t.TempDir(), 0, 0)
	if ix.cfg.SlotsPerFile != 5_000_000 || ix.cfg.EntriesPerFile != 20_000_000 {
		t.Errorf("defaults: %d slots, %d entries", ix.cfg.SlotsPerFile, ix.cfg.EntriesPerFile)
	}
}

func TestIndexHashStable(t *testing.T) {
	// The hash is on disk: it must never change.
	if got := idxHash("TopicTest#order-42"); got != 0x68f9a53b6afa8880 {
		t.Errorf("idxHash changed: %#x", got)
	}
	for _, k := range []string{"", "a", "TopicTest#KEY", "主题#键"} {
		h := fnv.New64a()
		h.Write([]byte(k))
		if got, want := idxHash(k), h.Sum64(); got != want {
			t.Errorf("idxHash(%q) = %#x, FNV-1a says %#x", k, got, want)
		}
	}
}

func TestIndexConcurrent(t *testing.T) {
	// One writer, readers, a flusher and retention at once. Readers check
	// that answers are sound: newest first, no duplicates, only offsets of
	// their key (offset i belongs to key i%5), and, for a time range, only
	// entries in it (entry i is stored at 10i).
	ix := idxOpenTest(t, t.TempDir(), 16, 64)
	const n = 3000
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range n {
			if err := ix.Add(fmt.Sprintf("T#k%d", i%5), int64(i), int64(10*i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				k := rng.IntN(5)
				begin := int64(rng.IntN(10 * n))
				end := begin + int64(rng.IntN(2000))
				got := ix.Query(fmt.Sprintf("T#k%d", k), begin, end, 50)
				// An entry is visible once its slot is stored, just before
				// the count that MaxPhyOffset reads.
				maxAfter := ix.MaxPhyOffset()
				for j, phy := range got {
					switch {
					case phy%5 != int64(k):
						t.Errorf("key %d got offset %d", k, phy)
					case phy*10 < begin || phy*10 > end:
						t.Errorf("range [%d, %d] got offset %d (stored at %d)", begin, end, phy, phy*10)
					case j > 0 && phy >= got[j-1]:
						t.Errorf("not newest first: %v", got)
					case phy > maxAfter+1:
						t.Errorf("offset %d beyond MaxPhyOffset %d read after the query", phy, maxAfter)
					default:
						continue
					}
					return
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := ix.Flush(); err != nil {
				t.Error(err)
				return
			}
			if _, err := ix.DeleteBelow(ix.MaxPhyOffset() - 1000); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if got := ix.Query("T#k4", 0, math.MaxInt64, 1); !slices.Equal(got, []int64{n - 1}) {
		t.Fatalf("newest entry: %v", got)
	}
}

// FuzzIndexOpen writes arbitrary bytes as the only index file and uses the
// index: open must return an error or an index, never panic; an index must
// answer queries without duplicates, take an add and find it, drop it again
// with TruncateFrom, and open again after Close.
//
// testdata/fuzz/FuzzIndexOpen holds a file whose offsets are out of order;
// TruncateFrom used to binary-search for the cut and could drop entries
// below it. It now walks back from the newest entry.
func FuzzIndexOpen(f *testing.F) {
	_, full := idxValidFile(f, 8)
	_, partial := idxValidFile(f, 5)
	_, empty := idxValidFile(f, 0)
	f.Add(full)                      // a full file: no repair, adds roll a new file
	f.Add(partial)                   // a partial file: repaired at open, adds go into it
	f.Add(empty)                     // a new file without entries
	f.Add(partial[:idxHeaderSize])   // truncated to the header
	f.Add(partial[:idxHeaderSize-1]) // truncated inside the header
	f.Add(partial[:len(partial)/2])  // truncated inside the entries
	f.Add([]byte{})                  // an empty file
	crashed := slices.Clone(partial)
	binary.BigEndian.PutUint32(crashed[idxOffCount:], 4)
	f.Add(crashed) // an add cut short: a slot points past the count
	looped := slices.Clone(partial)
	binary.BigEndian.PutUint32(looped[idxHeaderSize+4*4+24:], 1)
	f.Add(looped) // entry 1 names itself as its previous entry
	wild := slices.Clone(full)
	for s := range 4 {
		binary.BigEndian.PutUint32(wild[idxHeaderSize+4*s:], 0xffff_fff0+uint32(s))
	}
	f.Add(wild) // slots beyond the capacity

	keys := []string{"T#k0", "T#k1", "T#k2", "T#k3", "T#k4"}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := idxFuzzDir(t)
		if err := os.WriteFile(filepath.Join(dir, idxName(1)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := indexConfig{Dir: dir, SlotsPerFile: 4, EntriesPerFile: 8}
		ix, err := openIndex(cfg)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v is not ErrCorrupt", err)
			}
			return
		}
		defer ix.Close()
		idxFuzzQueries(t, ix, keys)

		next := max(ix.MaxPhyOffset(), 0) + 1
		if err := ix.Add("T#fuzz", next, 7); err != nil {
			t.Fatalf("Add after %d: %v", next-1, err)
		}
		if got := ix.Query("T#fuzz", 7, 7, 1); !slices.Equal(got, []int64{next}) {
			t.Fatalf("Query after Add = %v, want [%d]", got, next)
		}
		if got := ix.MaxPhyOffset(); got != next {
			t.Fatalf("MaxPhyOffset = %d after adding %d", got, next)
		}
		if err := ix.TruncateFrom(next); err != nil {
			t.Fatal(err)
		}
		if got := ix.MaxPhyOffset(); got >= next {
			t.Fatalf("MaxPhyOffset = %d after TruncateFrom(%d)", got, next)
		}
		// Only the entry we added is sure to go: a damaged file may hold
		// older entries above the cut, out of order (see TruncateFrom).
		if got := ix.Query("T#fuzz", 7, 7, 100); slices.Contains(got, next) {
			t.Fatalf("Query found %d after TruncateFrom(%d): %v", next, next, got)
		}
		if _, err := ix.DeleteBelow(next); err != nil {
			t.Fatal(err)
		}
		if err := ix.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		ix, err = openIndex(cfg)
		if err != nil {
			t.Fatalf("reopen what we wrote: %v", err)
		}
		idxFuzzQueries(t, ix, keys)
	})
}

// idxFuzzDir returns a fresh directory, on tmpfs when the machine has one:
// the fuzz target is about reading damaged files, and the fsyncs of file
// creation and Flush on a disk busy with other tests slowed it from over
// ten thousand runs a second to one.
func idxFuzzDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "surge-index-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

func idxFuzzQueries(t *testing.T, ix *index, keys []string) {
	t.Helper()
	for _, k := range keys {
		got := ix.Query(k, math.MinInt64, math.MaxInt64, 100)
		if len(got) > 100 {
			t.Fatalf("Query(%q) returned %d offsets, limit 100", k, len(got))
		}
		for i, phy := range got {
			if slices.Contains(got[:i], phy) {
				t.Fatalf("Query(%q) = %v: duplicates", k, got)
			}
		}
	}
	ix.MaxPhyOffset()
}

func BenchmarkIndexAdd(b *testing.B) {
	for _, keys := range []int{1, 1 << 16} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			ix := idxOpenTest(b, b.TempDir(), 1<<20, 1<<22)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("TopicTest#order-%d", i)
			}
			phy := int64(0)
			for b.Loop() {
				if err := ix.Add(names[phy%int64(keys)], phy, 1_700_000_000_000+phy); err != nil {
					b.Fatal(err)
				}
				phy++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

func BenchmarkIndexQuery(b *testing.B) {
	// 1M entries over 4 files; "unique" keys have one entry each, "hot"
	// keys 1,000 each (queries stop at 32).
	const entries = 1 << 20
	for _, tc := range []struct {
		name    string
		perKey  int
		limit   int
		inRange bool
	}{
		{"unique", 1, 32, true},
		{"hot", 1000, 32, true},
		{"miss", 1, 32, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ix := idxOpenTest(b, b.TempDir(), 1<<18, entries/4)
			nkeys := entries / tc.perKey
			for i := range entries {
				if err := ix.Add(fmt.Sprintf("TopicTest#k%d", i%nkeys), int64(i), int64(i)); err != nil {
					b.Fatal(err)
				}
			}
			names := make([]string, 4096)
			for i := range names {
				names[i] = fmt.Sprintf("TopicTest#k%d", rand.IntN(nkeys))
				if !tc.inRange {
					names[i] = fmt.Sprintf("TopicTest#absent%d", i)
				}
			}
			i := 0
			for b.Loop() {
				ix.Query(names[i%len(names)], 0, math.MaxInt64, tc.limit)
				i++
			}
		})
	}
}
