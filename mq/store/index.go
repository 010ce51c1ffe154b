package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The key index maps keys (topic#KEYS token, topic#UNIQ_KEY) to commit-log
// offsets, queryable by key and store-time range. It follows RocketMQ's
// IndexFile idea: fixed-size, memory-mapped files, each an on-disk hash table
// whose slots hold the newest entry of a chain of entries. Memory stays
// bounded whatever the number of messages, and the index can always be
// rebuilt from the commit log.
//
// # Files
//
// <Dir>/<20 digits>: one index file, named by the unix time (ms) of its
// creation, or the previous file's name plus one if the clock has not moved
// past it, so names sort in creation order. A file is created as
// <Dir>/.<name>.idxtmp, sized, given its header, synced and renamed, so a
// crash never leaves a half-made file under a real name.
//
// Layout, big endian, N slots and M entries per file:
//
//	0    4  magic "SIDX"
//	4    4  format version (1)
//	8    4  N, slot count
//	12   4  M, entry capacity
//	16   8  lowest store timestamp (ms) of the file's entries
//	24   8  highest store timestamp
//	32   8  commit-log offset of the first entry
//	40   8  commit-log offset of the last entry
//	48   4  used slots (non-empty)
//	52   4  entry count
//	56   8  reserved, zero
//	64  4N  slots: the 1-based number of the newest entry whose key hash
//	        modulo N is the slot's number, 0 = empty
//	..  28M entries, entry n at 64 + 4N + 28(n-1):
//	          0  8  key hash (64-bit FNV-1a of the key)
//	          8  8  commit-log offset
//	         16  8  store timestamp (ms)
//	         24  4  previous entry of the same slot, 0 = none
//
// The file is preallocated with ftruncate (sparse) to 64 + 4N + 28M bytes;
// with the default 5,000,000 slots and 20,000,000 entries that is 580 MB.
//
// # Writing and reading
//
// One writer (the store's index loop) adds entries in commit-log order; a
// message with several keys adds several entries with the same offset. An
// add writes, in this order: the entry; the header's time and offset bounds;
// the slot (the entry is now visible to queries); the used-slot and entry
// counts. Slots, counts and bounds are stored and loaded atomically, and the
// entry's bytes are written before the slot that publishes them, so a
// concurrent query never sees a half-written entry. Queries walk a chain from
// its slot backwards; entry numbers only decrease along a chain, which also
// bounds the walk on a damaged file.
//
// # Crashes
//
// A kill of the process leaves every write made so far in the page cache; an
// add cut short leaves at most a slot pointing one entry past the count.
// Opening a file that is not full walks such slots back to entries within
// the count, and recomputes the header's offsets from the entries, so
// MaxPhyOffset names the last complete entry and the store re-indexes from
// there. After a power loss some pages may be older than others: entries may
// be lost from chains, never read out of bounds; the store's checkpoint
// (written after Flush) says how far the index is known to be durable.
//
// # Locks
//
// wmu serializes everything that writes (Add, TruncateFrom, DeleteBelow,
// Close); mu guards the file list and the lifetime of the mappings: queries,
// MaxPhyOffset and Flush hold it shared, changes of the list hold it
// exclusively. Lock order: wmu, then mu.

const (
	idxMagic      = "SIDX"
	idxVersion    = 1
	idxHeaderSize = 64
	idxSlotSize   = 4
	idxEntrySize  = 28

	// Header field offsets.
	idxOffVersion   = 4
	idxOffSlots     = 8
	idxOffCapacity  = 12
	idxOffLowTs     = 16
	idxOffHighTs    = 24
	idxOffFirstPhy  = 32
	idxOffLastPhy   = 40
	idxOffUsedSlots = 48
	idxOffCount     = 52

	idxDefaultSlots   = 5_000_000
	idxDefaultEntries = 20_000_000

	idxNameLen   = 20
	idxTmpSuffix = ".idxtmp"
)

// indexConfig configures openIndex. Zero fields take their defaults.
type indexConfig struct {
	// Dir holds the index files. Required; created if missing.
	Dir string
	// SlotsPerFile is the hash slot count N of new files (RocketMQ's
	// maxHashSlotNum). Default 5,000,000.
	SlotsPerFile int
	// EntriesPerFile is the entry capacity M of new files (RocketMQ's
	// maxIndexNum). Default 20,000,000.
	EntriesPerFile int
	// Logger receives rolls, repairs and deletions. Nil discards.
	Logger *slog.Logger
}

// index is the on-disk key index. See the comment above for the layout,
// the write order and the locks.
type index struct {
	cfg indexConfig
	log *slog.Logger

	wmu sync.Mutex // serializes writers; see "Locks"

	mu     sync.RWMutex
	files  []*idxFile // mu (and wmu to change); oldest first
	closed bool       // mu (and wmu to change)
}

// idxFile is one mapped index file. Its header fields live in data.
type idxFile struct {
	name     string // base name, 20 digits
	path     string
	f        *os.File
	data     []byte // the mapping, len = file size
	slots    uint32 // N, from the header
	capacity uint32 // M, from the header
	dirty    atomic.Bool
}

// idxEntry is one decoded entry.
type idxEntry struct {
	hash uint64
	phy  int64
	ts   int64
	prev uint32
}

// openIndex opens the index files in cfg.Dir, creating the directory if
// needed. A file that is not an index file, or whose header does not match
// its size, is an error naming the file (errors.Is(err, ErrCorrupt), or
// ErrForeignFormat for a name we would not have written).
func openIndex(cfg indexConfig) (*index, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create index dir: %w", err)
	}
	names, err := idxList(cfg.Dir)
	if err != nil {
		return nil, err
	}
	ix := &index{cfg: cfg, log: log}
	for _, name := range names {
		f, err := idxOpenFile(cfg.Dir, name)
		if err != nil {
			ix.Close()
			return nil, err
		}
		ix.files = append(ix.files, f)
		if f.count() < f.capacity {
			if fixed := f.repair(); fixed > 0 {
				log.Warn("index file repaired", "file", f.path, "slots", fixed, "entries", f.count())
			}
		}
	}
	return ix, nil
}

func (c *indexConfig) setDefaults() error {
	if c.SlotsPerFile == 0 {
		c.SlotsPerFile = idxDefaultSlots
	}
	if c.EntriesPerFile == 0 {
		c.EntriesPerFile = idxDefaultEntries
	}
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("index: Dir is required"))
	}
	// Entry numbers are uint32 and 0 means "none".
	if c.SlotsPerFile < 1 || c.SlotsPerFile > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("index: SlotsPerFile %d out of range [1, %d]", c.SlotsPerFile, uint32(math.MaxUint32)))
	}
	if c.EntriesPerFile < 1 || c.EntriesPerFile > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("index: EntriesPerFile %d out of range [1, %d]", c.EntriesPerFile, uint32(math.MaxUint32)))
	}
	return errors.Join(errs...)
}

// idxList returns the names of the index files in dir, oldest first. It
// removes files whose creation a crash interrupted and refuses names it
// would not have written.
func idxList(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read index dir: %w", err)
	}
	var names []string
	for _, de := range des {
		name := de.Name()
		switch {
		case de.IsDir():
			continue
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, idxTmpSuffix):
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove unfinished index file: %w", err)
			}
			continue
		case strings.HasPrefix(name, "."):
			continue
		}
		if _, ok := idxParseName(name); !ok {
			return nil, fmt.Errorf("index file %s: %w: unexpected name", filepath.Join(dir, name), ErrForeignFormat)
		}
		names = append(names, name)
	}
	return names, nil // ReadDir sorts by name; fixed width makes that numeric
}

func idxName(n int64) string { return fmt.Sprintf("%0*d", idxNameLen, n) }

func idxParseName(name string) (int64, bool) {
	if len(name) != idxNameLen {
		return 0, false
	}
	for i := range len(name) {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name, 10, 64)
	return n, err == nil
}

// idxFileSize is the size of a file of n slots and m entries.
func idxFileSize(n, m uint32) int64 {
	return idxHeaderSize + int64(n)*idxSlotSize + int64(m)*idxEntrySize
}

// idxOpenFile maps an existing file after checking its header.
func idxOpenFile(dir, name string) (*idxFile, error) {
	path := filepath.Join(dir, name)
	fd, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open index file: %w", err)
	}
	f, err := idxMapChecked(fd, path)
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.name = name
	return f, nil
}

func idxMapChecked(fd *os.File, path string) (*idxFile, error) {
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat index file: %w", err)
	}
	size := st.Size()
	corrupt := func(off int64, format string, args ...any) error {
		return &CorruptError{File: path, Offset: off, Reason: "index file: " + fmt.Sprintf(format, args...)}
	}
	if size < idxHeaderSize {
		return nil, corrupt(0, "%d bytes, shorter than the %d-byte header", size, idxHeaderSize)
	}
	var h [idxHeaderSize]byte
	if _, err := fd.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("read index header %s: %w", path, err)
	}
	be := binary.BigEndian
	n, m := be.Uint32(h[idxOffSlots:]), be.Uint32(h[idxOffCapacity:])
	count, used := be.Uint32(h[idxOffCount:]), be.Uint32(h[idxOffUsedSlots:])
	switch {
	case string(h[:4]) != idxMagic:
		return nil, corrupt(0, "bad magic %q, not an index file", h[:4])
	case be.Uint32(h[idxOffVersion:]) != idxVersion:
		return nil, corrupt(idxOffVersion, "format version %d, want %d", be.Uint32(h[idxOffVersion:]), idxVersion)
	case n == 0 || m == 0:
		return nil, corrupt(idxOffSlots, "%d slots, %d entries: both must be positive", n, m)
	case size != idxFileSize(n, m):
		return nil, corrupt(idxOffSlots, "%d slots and %d entries need %d bytes, the file has %d", n, m, idxFileSize(n, m), size)
	case count > m:
		return nil, corrupt(idxOffCount, "entry count %d above the capacity %d", count, m)
	case used > n:
		return nil, corrupt(idxOffUsedSlots, "%d used slots of %d", used, n)
	case size > math.MaxInt:
		return nil, corrupt(0, "%d bytes, too large to map", size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map index file %s: %w", path, err)
	}
	return &idxFile{path: path, f: fd, data: data, slots: n, capacity: m}, nil
}

// idxCreate makes a new empty file under a temporary name, then renames it.
func idxCreate(dir, name string, n, m uint32) (*idxFile, error) {
	path := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+idxTmpSuffix)
	fd, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create index file: %w", err)
	}
	var h [idxHeaderSize]byte
	copy(h[:], idxMagic)
	binary.BigEndian.PutUint32(h[idxOffVersion:], idxVersion)
	binary.BigEndian.PutUint32(h[idxOffSlots:], n)
	binary.BigEndian.PutUint32(h[idxOffCapacity:], m)
	err = fd.Truncate(idxFileSize(n, m))
	if err == nil {
		_, err = fd.WriteAt(h[:], 0)
	}
	if err == nil {
		err = fd.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = idxSyncDir(dir)
	}
	if err != nil {
		fd.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create index file %s: %w", path, err)
	}
	f, err := idxMapChecked(fd, path)
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.name = name
	return f, nil
}

func idxSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Atomic access to the mapping. The file is big endian; the atomics work in
// the host's order, so values are swapped on little-endian hosts. Offsets
// are aligned: the mapping starts on a page, 4-byte fields sit at multiples
// of 4 and 8-byte header fields at multiples of 8. (atomic.Uint32 and
// friends cannot overlay a byte slice, hence the functions.)

var idxSwap = binary.NativeEndian.Uint16([]byte{0, 1}) != 1

func idxLoad32(b []byte, off int) uint32 {
	v := atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[off : off+4][0])))
	if idxSwap {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func idxStore32(b []byte, off int, v uint32) {
	if idxSwap {
		v = bits.ReverseBytes32(v)
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b[off : off+4][0])), v)
}

func idxLoad64(b []byte, off int) int64 {
	v := atomic.LoadUint64((*uint64)(unsafe.Pointer(&b[off : off+8][0])))
	if idxSwap {
		v = bits.ReverseBytes64(v)
	}
	return int64(v)
}

func idxStore64(b []byte, off int, v int64) {
	u := uint64(v)
	if idxSwap {
		u = bits.ReverseBytes64(u)
	}
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&b[off : off+8][0])), u)
}

func (f *idxFile) count() uint32        { return idxLoad32(f.data, idxOffCount) }
func (f *idxFile) lowTs() int64         { return idxLoad64(f.data, idxOffLowTs) }
func (f *idxFile) highTs() int64        { return idxLoad64(f.data, idxOffHighTs) }
func (f *idxFile) slotOff(s uint32) int { return idxHeaderSize + int(s)*idxSlotSize }

func (f *idxFile) slotOf(h uint64) uint32 { return uint32(h % uint64(f.slots)) }

// entryOff is where entry n (1-based, at most capacity) starts.
func (f *idxFile) entryOff(n uint32) int {
	return idxHeaderSize + int(f.slots)*idxSlotSize + int(n-1)*idxEntrySize
}

func (f *idxFile) entry(n uint32) idxEntry {
	b := f.data[f.entryOff(n):][:idxEntrySize]
	be := binary.BigEndian
	return idxEntry{
		hash: be.Uint64(b[0:]),
		phy:  int64(be.Uint64(b[8:])),
		ts:   int64(be.Uint64(b[16:])),
		prev: be.Uint32(b[24:]),
	}
}

// lastPhy is the offset of the last counted entry, -1 if none.
func (f *idxFile) lastPhy() int64 {
	n := f.count()
	if n == 0 {
		return -1
	}
	return f.entry(n).phy
}

// add appends an entry in the order described in "Writing and reading".
// The caller holds wmu and has checked that the file has room.
func (f *idxFile) add(h uint64, phy, ts int64) {
	n := f.count() + 1
	so := f.slotOff(f.slotOf(h))
	head := idxLoad32(f.data, so)

	b := f.data[f.entryOff(n):][:idxEntrySize]
	be := binary.BigEndian
	be.PutUint64(b[0:], h)
	be.PutUint64(b[8:], uint64(phy))
	be.PutUint64(b[16:], uint64(ts))
	be.PutUint32(b[24:], head)

	if n == 1 {
		idxStore64(f.data, idxOffLowTs, ts)
		idxStore64(f.data, idxOffHighTs, ts)
		idxStore64(f.data, idxOffFirstPhy, phy)
	} else {
		idxStore64(f.data, idxOffLowTs, min(ts, f.lowTs()))
		idxStore64(f.data, idxOffHighTs, max(ts, f.highTs()))
	}
	idxStore64(f.data, idxOffLastPhy, phy)

	idxStore32(f.data, so, n) // publish
	if head == 0 {
		idxStore32(f.data, idxOffUsedSlots, idxLoad32(f.data, idxOffUsedSlots)+1)
	}
	idxStore32(f.data, idxOffCount, n)
	f.dirty.Store(true)
}

// repair brings a file that is not full back to a consistent state after a
// crash: slots pointing past the entry count are walked back along their
// chains, and the header's offsets and used-slot count are recomputed. It
// returns how many slots it changed. The caller owns the file exclusively.
func (f *idxFile) repair() int {
	count := f.count()
	fixed, used := 0, uint32(0)
	for s := range f.slots {
		so := f.slotOff(s)
		v := idxLoad32(f.data, so)
		head := v
		for v > count {
			if v > f.capacity {
				v = 0
				break
			}
			prev := f.entry(v).prev
			if prev >= v { // chains only go back; anything else is damage
				prev = 0
			}
			v = prev
		}
		if v != head {
			idxStore32(f.data, so, v)
			fixed++
		}
		if v != 0 {
			used++
		}
	}
	idxStore32(f.data, idxOffUsedSlots, used)
	if count == 0 {
		clear(f.data[idxOffLowTs:idxOffUsedSlots])
	} else {
		first, last := f.entry(1), f.entry(count)
		idxStore64(f.data, idxOffFirstPhy, first.phy)
		idxStore64(f.data, idxOffLastPhy, last.phy)
		// The bounds can only be too wide after a crash, unless pages were
		// lost: widen them to the entries we can see cheaply.
		idxStore64(f.data, idxOffLowTs, min(f.lowTs(), first.ts, last.ts))
		idxStore64(f.data, idxOffHighTs, max(f.highTs(), first.ts, last.ts))
	}
	f.dirty.Store(true)
	return fixed
}

// idxHash is 64-bit FNV-1a: fixed, so hashes stay valid across restarts.
func idxHash(key string) uint64 {
	const (
		offsetBasis = 14695981039346656037
		prime       = 1099511628211
	)
	h := uint64(offsetBasis)
	for i := range len(key) {
		h ^= uint64(key[i])
		h *= prime
	}
	return h
}

// Add indexes key at a commit-log offset and store time (ms). Offsets must
// not decrease from one call to the next (several keys of one message share
// an offset); a smaller one is refused. Add is for the store's single index
// writer; it may run concurrently with Query.
func (ix *index) Add(key string, phyOffset, storeTimestamp int64) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	if last := ix.maxPhyOffset(); phyOffset < last || phyOffset < 0 {
		return fmt.Errorf("index: add at offset %d, below the last indexed %d", phyOffset, last)
	}
	cur, err := ix.writableFile()
	if err != nil {
		return err
	}
	cur.add(idxHash(key), phyOffset, storeTimestamp)
	return nil
}

// writableFile returns the newest file if it has room, or a new one. The
// caller holds wmu.
func (ix *index) writableFile() (*idxFile, error) {
	var last *idxFile
	if n := len(ix.files); n > 0 {
		last = ix.files[n-1]
		if last.count() < last.capacity {
			return last, nil
		}
	}
	seq := time.Now().UnixMilli()
	if last != nil {
		prev, _ := idxParseName(last.name)
		seq = max(seq, prev+1)
	}
	f, err := idxCreate(ix.cfg.Dir, idxName(seq), uint32(ix.cfg.SlotsPerFile), uint32(ix.cfg.EntriesPerFile))
	if err != nil {
		return nil, err
	}
	ix.mu.Lock()
	ix.files = append(ix.files, f)
	ix.mu.Unlock()
	ix.log.Info("index file created", "file", f.path, "slots", f.slots, "entries", f.capacity)
	return f, nil
}

// Query returns the commit-log offsets of entries whose key hash matches key
// and whose store time is within [begin, end] (ms), newest first, without
// duplicates, at most limit of them. Different keys may share a hash: callers
// check the messages. Files whose time bounds miss [begin, end] are skipped
// whole. Query may run concurrently with everything, Add included.
func (ix *index) Query(key string, begin, end int64, limit int) []int64 {
	if limit <= 0 || begin > end {
		return nil
	}
	h := idxHash(key)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []int64
	low := int64(math.MaxInt64) // smallest offset in out
	for i := len(ix.files) - 1; i >= 0; i-- {
		f := ix.files[i]
		if f.count() == 0 || f.highTs() < begin || f.lowTs() > end {
			continue
		}
		n := idxLoad32(f.data, f.slotOff(f.slotOf(h)))
		for n != 0 && n <= f.capacity {
			e := f.entry(n)
			if e.hash == h && e.ts >= begin && e.ts <= end {
				// Offsets only decrease along the walk in a sound index,
				// so a duplicate can only be an offset not below low.
				if e.phy < low || !slices.Contains(out, e.phy) {
					out = append(out, e.phy)
					low = min(low, e.phy)
					if len(out) == limit {
						return out
					}
				}
			}
			if e.prev >= n {
				break
			}
			n = e.prev
		}
	}
	return out
}

// MaxPhyOffset is the commit-log offset of the newest entry, -1 if none:
// recovery re-indexes the commit log from the record after it.
func (ix *index) MaxPhyOffset() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.maxPhyOffset()
}

// maxPhyOffset is MaxPhyOffset; the caller holds mu or wmu.
func (ix *index) maxPhyOffset() int64 {
	for i := len(ix.files) - 1; i >= 0; i-- {
		if phy := ix.files[i].lastPhy(); phy >= 0 {
			return phy
		}
	}
	return -1
}

// TruncateFrom drops the entries at or above a commit-log offset, after
// recovery cut the commit log there: the newest entries, back to the first
// one below the offset. Files left empty are removed; the newest remaining
// one is trimmed in place. Add keeps offsets in order, so that is every
// entry at or above the offset; in a file damaged out of order some may
// stay, which Query's callers, who check every candidate, tolerate.
// Afterwards MaxPhyOffset is below the offset.
func (ix *index) TruncateFrom(phyOffset int64) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	var drop []*idxFile
	ix.mu.Lock()
	for len(ix.files) > 0 {
		f := ix.files[len(ix.files)-1]
		if f.lastPhy() < phyOffset && f.count() > 0 {
			break
		}
		keep := f.count()
		for keep > 0 && f.entry(keep).phy >= phyOffset {
			keep--
		}
		if keep == 0 {
			drop = append(drop, f)
			ix.files = ix.files[:len(ix.files)-1]
			continue
		}
		dropped := f.trim(keep)
		ix.log.Info("index file trimmed", "file", f.path, "offset", phyOffset, "kept", keep, "dropped", dropped)
		break
	}
	ix.mu.Unlock()
	return ix.removeFiles(drop, "offset", phyOffset)
}

// trim keeps the first keep entries (at least one) and drops the rest,
// newest first, undoing each add: the newest entry is the head of its slot,
// and its prev is what the slot held before. The caller holds wmu and mu.
// It returns how many entries it dropped.
func (f *idxFile) trim(keep uint32) (dropped uint32) {
	count := f.count()
	consistent := true
	used := idxLoad32(f.data, idxOffUsedSlots)
	for n := count; n > keep; n-- {
		e := f.entry(n)
		so := f.slotOff(f.slotOf(e.hash))
		switch {
		case idxLoad32(f.data, so) != n || e.prev >= n:
			consistent = false
		case e.prev == 0:
			idxStore32(f.data, so, 0)
			used = max(used, 1) - 1
		default:
			idxStore32(f.data, so, e.prev)
		}
		clear(f.data[f.entryOff(n):][:idxEntrySize])
	}
	idxStore32(f.data, idxOffCount, keep)
	idxStore32(f.data, idxOffUsedSlots, used)
	if !consistent {
		// Damaged chains: rebuild every slot from the kept entries.
		clear(f.data[idxHeaderSize:f.entryOff(1)])
		used = 0
		for n := uint32(1); n <= keep; n++ {
			e := f.entry(n)
			so := f.slotOff(f.slotOf(e.hash))
			head := idxLoad32(f.data, so)
			if head == 0 {
				used++
			}
			binary.BigEndian.PutUint32(f.data[f.entryOff(n)+24:], head)
			idxStore32(f.data, so, n)
		}
		idxStore32(f.data, idxOffUsedSlots, used)
	}
	// The time bounds stay as they were: too wide is safe, and narrowing
	// them would mean reading every kept entry.
	idxStore64(f.data, idxOffLastPhy, f.entry(keep).phy)
	f.dirty.Store(true)
	return count - keep
}

// DeleteBelow removes the oldest files whose entries all point below
// minPhyOffset (retention deleted those commit-log segments). The newest
// file always stays. It returns how many files it removed.
func (ix *index) DeleteBelow(minPhyOffset int64) (deleted int, err error) {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.closed {
		return 0, ErrClosed
	}
	ix.mu.Lock()
	n := 0
	for n < len(ix.files)-1 && ix.files[n].lastPhy() < minPhyOffset {
		n++
	}
	drop := slices.Clone(ix.files[:n])
	ix.files = slices.Delete(ix.files, 0, n)
	ix.mu.Unlock()
	return n, ix.removeFiles(drop, "minOffset", minPhyOffset)
}

// removeFiles unmaps and deletes files already taken off the list, so no
// query can reach them. The caller holds wmu.
func (ix *index) removeFiles(files []*idxFile, reasonKey string, reason int64) error {
	var errs []error
	for _, f := range files {
		if err := errors.Join(f.close(), os.Remove(f.path)); err != nil {
			errs = append(errs, fmt.Errorf("remove index file %s: %w", f.path, err))
			continue
		}
		ix.log.Info("index file removed", "file", f.path, reasonKey, reason)
	}
	return errors.Join(errs...)
}

// Flush writes the changed pages of every file to disk. It may run
// concurrently with Add: what Add writes meanwhile is flushed next time.
func (ix *index) Flush() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return ErrClosed
	}
	for _, f := range ix.files {
		if !f.dirty.Swap(false) {
			continue
		}
		if err := unix.Msync(f.data, unix.MS_SYNC); err != nil {
			f.dirty.Store(true)
			return fmt.Errorf("sync index file %s: %w", f.path, err)
		}
	}
	return nil
}

// Close unmaps and closes every file. It does not flush: the written pages
// stay in the page cache and reach the disk in time; call Flush first to
// make them durable now. Close is idempotent; other methods then return
// ErrClosed or nothing.
func (ix *index) Close() error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.mu.Lock()
	files := ix.files
	ix.files, ix.closed = nil, true
	ix.mu.Unlock()
	var errs []error
	for _, f := range files {
		errs = append(errs, f.close())
	}
	return errors.Join(errs...)
}

// release drops the index's mappings of entries already written: all of
// a full file, the entries of the file being written (its hash slots are
// updated all over and stay mapped), and everything when idle. See
// commitLog.release. Queries map the pages they read again.
func (ix *index) release(idle bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	page := os.Getpagesize()
	for i, f := range ix.files {
		if f.data == nil {
			continue
		}
		from, to := 0, len(f.data)
		if i == len(ix.files)-1 && !idle {
			// Whole pages of written entries only: the page the next entry
			// goes to stays.
			from = (f.entryOff(1) + page - 1) / page * page
			to = f.entryOff(1) + int(f.count())*idxEntrySize
			to -= to % page
		}
		if to > from {
			_ = unix.Madvise(f.data[from:to], unix.MADV_DONTNEED)
		}
	}
}

func (f *idxFile) close() error {
	var err error
	if f.data != nil {
		err = unix.Munmap(f.data)
		f.data = nil
	}
	return errors.Join(err, f.f.Close())
}
