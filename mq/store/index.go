package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The index maps keys (topic#KEYS token, topic#UNIQ_KEY) to commit-log
// offsets, queryable by key and store-time range. It follows RocketMQ's
// IndexFile idea: fixed-size, memory-mapped files, each an on-disk hash
// table whose slots hold the newest entry of a chain; memory stays bounded
// whatever the number of messages.
//
// File layout (big-endian), named by a 20-digit sequence number:
//
//	0   4  magic "SIX1"
//	4   4  slot count N
//	8   4  entry capacity M
//	12  4  entries used
//	16  8  begin store timestamp (ms)
//	24  8  end store timestamp
//	32  8  begin commit-log offset
//	40  8  end commit-log offset
//	64  4N slots: 1-based number of the newest entry of the slot, 0 = empty
//	..  28M entries: key hash (8), commit-log offset (8), store time (8),
//	          previous entry in the chain (4, 0 = none)
//
// Entries are added in commit-log order by one writer (the store's index
// loop); queries run concurrently under a read lock.

const (
	indexMagic      = 0x53495831 // "SIX1"
	indexHeaderSize = 64
	indexSlotSize   = 4
	indexEntrySize  = 28
)

type indexConfig struct {
	Dir            string
	SlotsPerFile   int
	EntriesPerFile int
	Logger         *slog.Logger
}

type index struct {
	cfg indexConfig

	mu    sync.RWMutex
	files []*indexFile
}

type indexFile struct {
	path  string
	f     *os.File
	data  []byte
	slots int
	cap   int
	dirty bool // written since the last Flush; guarded by index.mu
}

func indexFileSize(slots, entries int) int64 {
	return indexHeaderSize + int64(slots)*indexSlotSize + int64(entries)*indexEntrySize
}

func openIndex(cfg indexConfig) (*index, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("index dir: %w", err)
	}
	bases, err := listSegments(cfg.Dir)
	if err != nil {
		return nil, err
	}
	ix := &index{cfg: cfg}
	for _, b := range bases {
		f, err := openIndexFile(filepath.Join(cfg.Dir, segmentName(b)))
		if err != nil {
			ix.Close()
			return nil, err
		}
		ix.files = append(ix.files, f)
	}
	return ix, nil
}

func openIndexFile(path string) (*indexFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open index file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var hdr [16]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		f.Close()
		return nil, &CorruptError{File: path, Reason: "index header unreadable: " + err.Error()}
	}
	be := binary.BigEndian
	slots, capacity, used := int(be.Uint32(hdr[4:])), int(be.Uint32(hdr[8:])), int(be.Uint32(hdr[12:]))
	switch {
	case be.Uint32(hdr[0:]) != indexMagic:
		f.Close()
		return nil, &CorruptError{File: path, Reason: "not an index file (bad magic)"}
	case slots <= 0 || capacity <= 0 || used > capacity || st.Size() != indexFileSize(slots, capacity):
		f.Close()
		return nil, &CorruptError{File: path, Reason: fmt.Sprintf("index header (%d slots, %d/%d entries) does not match the file size %d", slots, used, capacity, st.Size())}
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &indexFile{path: path, f: f, data: data, slots: slots, cap: capacity}, nil
}

func createIndexFile(path string, slots, entries int) (*indexFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create index file: %w", err)
	}
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], indexMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(slots))
	binary.BigEndian.PutUint32(hdr[8:], uint32(entries))
	err = errors.Join(f.Truncate(indexFileSize(slots, entries)), func() error { _, err := f.WriteAt(hdr[:], 0); return err }())
	f.Close()
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create index file: %w", err)
	}
	return openIndexFile(path)
}

func (f *indexFile) used() int      { return int(binary.BigEndian.Uint32(f.data[12:])) }
func (f *indexFile) beginTs() int64 { return int64(binary.BigEndian.Uint64(f.data[16:])) }
func (f *indexFile) endTs() int64   { return int64(binary.BigEndian.Uint64(f.data[24:])) }
func (f *indexFile) beginPhy() int64 {
	return int64(binary.BigEndian.Uint64(f.data[32:]))
}
func (f *indexFile) endPhy() int64 { return int64(binary.BigEndian.Uint64(f.data[40:])) }

func (f *indexFile) slotOff(h uint64) int {
	return indexHeaderSize + int(h%uint64(f.slots))*indexSlotSize
}

func (f *indexFile) entryOff(n int) int { // n is 1-based
	return indexHeaderSize + f.slots*indexSlotSize + (n-1)*indexEntrySize
}

type indexEntry struct {
	hash uint64
	phy  int64
	ts   int64
	prev int
}

func (f *indexFile) entry(n int) indexEntry {
	b := f.data[f.entryOff(n):]
	be := binary.BigEndian
	return indexEntry{be.Uint64(b), int64(be.Uint64(b[8:])), int64(be.Uint64(b[16:])), int(be.Uint32(b[24:]))}
}

// add appends an entry; the file must have room.
func (f *indexFile) add(h uint64, phy, ts int64) {
	be := binary.BigEndian
	n := f.used() + 1
	so := f.slotOff(h)
	b := f.data[f.entryOff(n):]
	be.PutUint64(b, h)
	be.PutUint64(b[8:], uint64(phy))
	be.PutUint64(b[16:], uint64(ts))
	be.PutUint32(b[24:], be.Uint32(f.data[so:]))
	be.PutUint32(f.data[so:], uint32(n))
	if n == 1 {
		be.PutUint64(f.data[16:], uint64(ts))
		be.PutUint64(f.data[32:], uint64(phy))
	}
	be.PutUint64(f.data[24:], uint64(max(ts, f.endTs())))
	be.PutUint64(f.data[40:], uint64(phy))
	be.PutUint32(f.data[12:], uint32(n))
}

func indexHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// Add indexes key at a commit-log offset. Offsets must not decrease.
func (ix *index) Add(key string, phy, ts int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var cur *indexFile
	if n := len(ix.files); n > 0 {
		cur = ix.files[n-1]
	}
	if cur == nil || cur.used() >= cur.cap {
		seq := int64(0)
		if cur != nil {
			b, _ := parseSegmentName(filepath.Base(cur.path))
			seq = b + 1
		}
		f, err := createIndexFile(filepath.Join(ix.cfg.Dir, segmentName(seq)), ix.cfg.SlotsPerFile, ix.cfg.EntriesPerFile)
		if err != nil {
			return err
		}
		ix.files = append(ix.files, f)
		cur = f
	}
	cur.add(indexHash(key), phy, ts)
	cur.dirty = true
	return nil
}

// Query returns the offsets of entries whose key hash matches key and whose
// store time is within [begin, end], newest first, without duplicates, at
// most max. Hash collisions are possible: callers check the messages.
func (ix *index) Query(key string, begin, end int64, max int) []int64 {
	h := indexHash(key)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []int64
	seen := map[int64]bool{}
	for i := len(ix.files) - 1; i >= 0 && len(out) < max; i-- {
		f := ix.files[i]
		if f.used() == 0 || f.endTs() < begin || f.beginTs() > end {
			continue
		}
		n := int(binary.BigEndian.Uint32(f.data[f.slotOff(h):]))
		for n > 0 && n <= f.used() && len(out) < max {
			e := f.entry(n)
			if e.hash == h && e.ts >= begin && e.ts <= end && !seen[e.phy] {
				seen[e.phy] = true
				out = append(out, e.phy)
			}
			if e.prev >= n { // chains only go back; anything else is damage
				break
			}
			n = e.prev
		}
	}
	return out
}

// MaxPhyOffset is the offset of the newest entry, -1 if none.
func (ix *index) MaxPhyOffset() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := len(ix.files) - 1; i >= 0; i-- {
		if f := ix.files[i]; f.used() > 0 {
			return f.endPhy()
		}
	}
	return -1
}

// TruncateFrom drops entries at or above a commit-log offset (recovery cut
// the commit log there).
func (ix *index) TruncateFrom(phy int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for len(ix.files) > 0 {
		f := ix.files[len(ix.files)-1]
		if f.used() > 0 && f.beginPhy() >= phy || f.used() == 0 {
			if err := f.remove(); err != nil {
				return err
			}
			ix.files = ix.files[:len(ix.files)-1]
			continue
		}
		if f.endPhy() >= phy {
			f.truncate(phy)
		}
		return nil
	}
	return nil
}

// truncate keeps the entries below phy and rebuilds the slot chains.
func (f *indexFile) truncate(phy int64) {
	keep := 0
	for keep < f.used() && f.entry(keep+1).phy < phy {
		keep++
	}
	be := binary.BigEndian
	clear(f.data[indexHeaderSize : indexHeaderSize+f.slots*indexSlotSize])
	be.PutUint32(f.data[12:], 0)
	entries := make([]indexEntry, keep)
	for i := range entries {
		entries[i] = f.entry(i + 1)
	}
	be.PutUint64(f.data[24:], 0)
	for _, e := range entries {
		f.add(e.hash, e.phy, e.ts)
	}
}

// DeleteBelow removes whole files whose entries all point below minPhy,
// never the newest file.
func (ix *index) DeleteBelow(minPhy int64) (int, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for len(ix.files) > 1 && ix.files[0].endPhy() < minPhy {
		if err := ix.files[0].remove(); err != nil {
			return n, err
		}
		ix.files = ix.files[1:]
		n++
	}
	return n, nil
}

// Flush makes the index durable.
func (ix *index) Flush() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, f := range ix.files {
		if !f.dirty {
			continue
		}
		if err := unix.Msync(f.data, unix.MS_SYNC); err != nil {
			return fmt.Errorf("msync index %s: %w", f.path, err)
		}
		f.dirty = false
	}
	return nil
}

// Close unmaps every file.
func (ix *index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var errs []error
	for _, f := range ix.files {
		errs = append(errs, f.close())
	}
	ix.files = nil
	return errors.Join(errs...)
}

func (f *indexFile) close() error {
	err := unix.Munmap(f.data)
	return errors.Join(err, f.f.Close())
}

func (f *indexFile) remove() error {
	return errors.Join(f.close(), os.Remove(f.path))
}
