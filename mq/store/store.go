package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// formatFile marks a directory as a Surge store and names its format.
const (
	formatFile    = "FORMAT"
	formatVersion = "surge-store 1\n"
	abortFile     = "abort"
)

type queueKey struct {
	topic   string
	queueID int32
}

// Store is the broker's message store: one commit log, a consume queue per
// (topic, queue) and a key index. It is safe for concurrent use; appends are
// serialized internally.
type Store struct {
	cfg Config
	log *slog.Logger
	cl  *commitLog
	ix  *index

	// putMu serializes appends: commit-log writes and the consume-queue
	// entries they produce. lockedAt is when it was taken (unix ns, 0 when
	// free) so that waiters can tell "busy" from "slow".
	putMu    sync.Mutex
	lockedAt atomic.Int64

	// queuesMu guards queues (not the queues' contents).
	queuesMu sync.RWMutex
	queues   map[queueKey]*consumeQueue

	flushWake   chan struct{} // SYNC_FLUSH: an append wants a sync
	flushed     notifier      // broadcast when the commit log's flushed offset moves
	indexWake   chan struct{} // new records for the index
	warmWake    chan struct{} // the write position nears the warmed pages
	indexedTo   atomic.Int64  // commit-log offset up to which the index is built
	diskFull    atomic.Bool
	diskUsage   atomic.Uint64 // last measured usage, percent * 100
	flushErr    atomic.Pointer[error]
	stop        chan struct{}
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
	closed      atomic.Bool
	recoveredAt time.Time
}

// PutResult describes an append.
type PutResult struct {
	// QueueOffset is the queue offset of the first message.
	QueueOffset int64
	// Offsets holds each message's commit-log offset.
	Offsets []int64
	// StoreTimestamp is the broker time written into the records (ms).
	StoreTimestamp int64
	// Bytes is the total size of the records.
	Bytes int
}

// Open opens or creates the store in cfg.Dir. If the previous run did not
// close cleanly it recovers first: see recover.go.
func Open(cfg Config) (*Store, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	if err := checkFormat(cfg.Dir); err != nil {
		return nil, err
	}
	cl, err := openCommitLog(cfg.CommitLogDir, cfg.SegmentSize)
	if err != nil {
		return nil, fmt.Errorf("open commit log: %w", err)
	}
	s := &Store{
		cfg:       cfg,
		log:       cfg.Logger,
		cl:        cl,
		queues:    make(map[queueKey]*consumeQueue),
		flushWake: make(chan struct{}, 1),
		indexWake: make(chan struct{}, 1),
		warmWake:  make(chan struct{}, 1),
		flushed:   newNotifier(),
		stop:      make(chan struct{}),
	}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	// The abort marker exists while the store is open: finding it at start
	// means the last run crashed.
	if err := writeFileSync(filepath.Join(cfg.Dir, abortFile), []byte("open\n")); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("write abort marker: %w", err)
	}
	s.checkDisk()
	s.start()
	return s, nil
}

// checkFormat creates the format marker in a new store directory and refuses
// a directory written by something else.
func checkFormat(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store dir: %w", err)
	}
	path := filepath.Join(dir, formatFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if string(b) != formatVersion {
			return fmt.Errorf("%s: %w: format %q, this broker reads %q", dir, ErrForeignFormat, string(b), formatVersion)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for _, name := range []string{"commitlog", "consumequeue", "index", "checkpoint", abortFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s: %w: it has %q but no %s marker (a RocketMQ Java store, or an older layout); use a new storePathRootDir", dir, ErrForeignFormat, name, formatFile)
		}
	}
	return writeFileSync(path, []byte(formatVersion))
}

// writeFileSync writes a small file atomically: temp file, fsync, rename,
// fsync of the directory.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *Store) cqRoot() string     { return filepath.Join(s.cfg.Dir, "consumequeue") }
func (s *Store) indexDir() string   { return filepath.Join(s.cfg.Dir, "index") }
func (s *Store) checkpoint() string { return filepath.Join(s.cfg.Dir, "checkpoint") }

// queue returns the consume queue of (topic, queueID), creating it in
// memory if create is set.
func (s *Store) queue(topic string, queueID int32, create bool) *consumeQueue {
	k := queueKey{topic, queueID}
	s.queuesMu.RLock()
	cq := s.queues[k]
	s.queuesMu.RUnlock()
	if cq != nil || !create {
		return cq
	}
	s.queuesMu.Lock()
	defer s.queuesMu.Unlock()
	if cq = s.queues[k]; cq == nil {
		cq = &consumeQueue{topic: topic, queueID: queueID, dir: cqDir(s.cqRoot(), topic, queueID), perFile: int64(s.cfg.ConsumeQueueEntries)}
		s.queues[k] = cq
	}
	return cq
}

// queueList is a snapshot of the consume queues, to work on without
// holding queuesMu.
func (s *Store) queueList() []*consumeQueue {
	s.queuesMu.RLock()
	defer s.queuesMu.RUnlock()
	queues := make([]*consumeQueue, 0, len(s.queues))
	for _, cq := range s.queues {
		queues = append(queues, cq)
	}
	return queues
}

// PutMessage appends one message. It fills in the queue offset, commit-log
// offset, store time and store host. With SYNC_FLUSH it returns once the
// message is on disk (unless its WAIT property is "false"); ErrFlushTimeout
// comes with a valid result: the message is stored, only not yet durable.
func (s *Store) PutMessage(ctx context.Context, m *protocol.Message) (PutResult, error) {
	return s.PutMessages(ctx, []*protocol.Message{m})
}

// PutMessages appends messages as one unit (a batch): consecutive queue
// offsets in each message's queue, no other append in between.
func (s *Store) PutMessages(ctx context.Context, msgs []*protocol.Message) (PutResult, error) {
	var res PutResult
	if len(msgs) == 0 {
		return res, nil
	}
	if s.closed.Load() {
		return res, ErrClosed
	}
	if s.diskFull.Load() {
		return res, fmt.Errorf("%w: disk %.1f%% used, limit diskSpaceWarningLevelRatio=%d%%", ErrDiskFull, float64(s.diskUsage.Load())/100, s.cfg.DiskHardWatermark)
	}
	validTopic := ""
	for _, m := range msgs {
		if m.Topic != validTopic || validTopic == "" {
			// The messages of a batch share a topic: check it once.
			if err := ValidTopic(m.Topic); err != nil {
				return res, err
			}
			validTopic = m.Topic
		}
		if err := m.Validate(); err != nil {
			return res, err
		}
		if n := m.EncodedSize(); n > s.cfg.MaxMessageSize {
			return res, fmt.Errorf("%w: %d bytes, limit maxMessageSize=%d", ErrMessageTooLarge, n, s.cfg.MaxMessageSize)
		}
		if m.BodyCRC == 0 {
			m.BodyCRC = protocol.BodyChecksum(m.Body)
		}
	}
	if t := s.lockedAt.Load(); t != 0 && time.Since(time.Unix(0, t)) > s.cfg.BusyTimeout {
		return res, fmt.Errorf("%w: an append has held it for over %v (osPageCacheBusyTimeOutMills)", ErrBusy, s.cfg.BusyTimeout)
	}
	res.Offsets = make([]int64, 0, len(msgs))

	s.putMu.Lock()
	now := s.cfg.Now()
	s.lockedAt.Store(now.UnixNano())
	res.StoreTimestamp = now.UnixMilli()
	err := s.appendLocked(msgs, &res)
	end := s.cl.written.Load()
	s.lockedAt.Store(0)
	s.putMu.Unlock()
	if err != nil {
		return PutResult{}, err
	}
	if s.cfg.OnAppend != nil {
		last := msgs[len(msgs)-1]
		s.cfg.OnAppend(last.Topic, last.QueueID, last.QueueOffset+1)
	}
	wake(s.indexWake)
	if end+warmAhead/2 > s.cl.warmed.Load() {
		wake(s.warmWake)
	}
	if s.cfg.FlushType == SyncFlush && msgs[0].Property(protocol.PropertyWaitStoreMsgOK) != "false" {
		return res, s.waitFlushed(ctx, end)
	}
	return res, nil
}

// SetStoreHost changes the address written into new records (a broker
// learns its port only when it listens).
func (s *Store) SetStoreHost(a netip.AddrPort) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.cfg.StoreHost = a
}

// appendLocked writes the records and their consume-queue entries.
func (s *Store) appendLocked(msgs []*protocol.Message, res *PutResult) error {
	var cq *consumeQueue
	for _, m := range msgs {
		if cq == nil || cq.topic != m.Topic || cq.queueID != m.QueueID {
			// A batch goes to one queue: look it up once.
			cq = s.queue(m.Topic, m.QueueID, true)
		}
		qo := cq.max.Load()
		if err := cq.ensure(qo); err != nil {
			return err
		}
		size := m.EncodedSize()
		seg, pos, err := s.cl.reserve(size)
		if err != nil {
			return err
		}
		m.QueueOffset = qo
		m.PhysicalOffset = pos
		m.StoreHost = s.cfg.StoreHost
		m.StoreTimestamp = res.StoreTimestamp
		m.Encode(seg.data[pos-seg.base:])
		s.cl.written.Store(pos + int64(size))
		cq.write(qo, cqEntry{phy: pos, size: int32(size), tag: s.cfg.TagCode(m)})
		if len(res.Offsets) == 0 {
			res.QueueOffset = qo
		}
		res.Offsets = append(res.Offsets, pos)
		res.Bytes += size
	}
	return nil
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// GetStatus says what a read found. The names are RocketMQ's
// GetMessageStatus.
type GetStatus int

const (
	Found GetStatus = iota
	NoMatchedMessage
	MessageWasRemoving
	OffsetFoundNull
	OffsetOverflowBadly
	OffsetOverflowOne
	OffsetTooSmall
	NoMatchedLogicQueue
	NoMessageInQueue
)

var getStatusNames = [...]string{"FOUND", "NO_MATCHED_MESSAGE", "MESSAGE_WAS_REMOVING", "OFFSET_FOUND_NULL", "OFFSET_OVERFLOW_BADLY", "OFFSET_OVERFLOW_ONE", "OFFSET_TOO_SMALL", "NO_MATCHED_LOGIC_QUEUE", "NO_MESSAGE_IN_QUEUE"}

func (g GetStatus) String() string { return getStatusNames[g] }

// GetRequest asks for messages of one queue.
type GetRequest struct {
	Topic    string
	QueueID  int32
	Offset   int64
	MaxCount int // default 32
	// MaxBytes caps the total size of the records returned; at least one
	// record is returned if any matches. Default 256 KiB
	// (maxTransferBytesOnMessageInMemory).
	MaxBytes int
	// Tags, if not nil, keeps only messages whose tag code is in it.
	Tags []int64
}

// GetResult is what a read returns.
type GetResult struct {
	Status GetStatus
	// Body holds the matched records back to back, as stored (the wire form
	// of a pull response body).
	Body  []byte
	Count int
	// NextOffset is where the next read of this queue should start.
	NextOffset int64
	MinOffset  int64
	MaxOffset  int64
}

// maxFilterScan bounds how many entries one read looks at when a tag
// filter skips messages, so a read cannot scan a huge backlog.
const maxFilterScan = 16000

// GetMessages reads stored messages of a queue from an offset. It never
// blocks on appends.
func (s *Store) GetMessages(req GetRequest) (GetResult, error) {
	if s.closed.Load() {
		return GetResult{}, ErrClosed
	}
	maxCount := req.MaxCount
	if maxCount <= 0 {
		maxCount = 32
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 256 << 10
	}
	cq := s.queue(req.Topic, req.QueueID, false)
	if cq == nil {
		return GetResult{Status: NoMatchedLogicQueue}, nil
	}
	res := GetResult{MinOffset: cq.min.Load(), MaxOffset: cq.max.Load()}
	off := req.Offset
	switch {
	case res.MaxOffset == 0:
		res.Status, res.NextOffset = NoMessageInQueue, 0
		return res, nil
	case off < res.MinOffset:
		res.Status, res.NextOffset = OffsetTooSmall, res.MinOffset
		return res, nil
	case off == res.MaxOffset:
		res.Status, res.NextOffset = OffsetOverflowOne, off
		return res, nil
	case off > res.MaxOffset:
		res.Status, res.NextOffset = OffsetOverflowBadly, res.MaxOffset
		if res.MinOffset == 0 {
			res.NextOffset = 0
		}
		return res, nil
	}
	clMin := s.cl.minOffset()
	end := min(res.MaxOffset, off+int64(max(maxCount, maxFilterScan)))
	var buf [64]cqEntry
	res.Status = NoMatchedMessage
	next := off
	removing := false
scan:
	for next < end {
		batch := cq.entries(buf[:0], next, min(end, next+int64(len(buf))))
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if res.Count >= maxCount || (res.Count > 0 && len(res.Body)+int(e.size) > maxBytes) {
				break scan
			}
			next++
			if e.size == 0 {
				continue
			}
			if e.phy < clMin {
				removing = true
				continue
			}
			if req.Tags != nil && !containsTag(req.Tags, e.tag) {
				continue
			}
			if res.Body == nil {
				res.Body = make([]byte, 0, bodySizeHint(e.size, maxCount, maxBytes, res.MaxOffset-next+1))
			}
			var err error
			if res.Body, err = s.cl.appendRecord(res.Body, e.phy); err != nil {
				removing = true
				continue
			}
			res.Count++
		}
		if res.Count == 0 && next-off >= maxFilterScan {
			break
		}
	}
	res.NextOffset = next
	switch {
	case res.Count > 0:
		res.Status = Found
	case removing:
		res.Status = MessageWasRemoving
	}
	return res, nil
}

// bodySizeHint is the capacity to give a read's body when its first record
// has size bytes: room for as many records of that size as the read may
// return (at most count, at most left in the queue, maxBytes in all), so
// that a read of equal-size messages allocates its body once instead of
// growing it record by record.
func bodySizeHint(size int32, count, maxBytes int, left int64) int {
	n := min(int64(count), max(left, 1))
	return int(max(int64(size), min(int64(maxBytes), n*int64(size))))
}

func containsTag(tags []int64, t int64) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

// MinOffset is the smallest readable queue offset of a queue (0 if the
// queue does not exist).
func (s *Store) MinOffset(topic string, queueID int32) int64 {
	if cq := s.queue(topic, queueID, false); cq != nil {
		return cq.min.Load()
	}
	return 0
}

// MaxOffset is the next queue offset to be written in a queue (0 if the
// queue does not exist).
func (s *Store) MaxOffset(topic string, queueID int32) int64 {
	if cq := s.queue(topic, queueID, false); cq != nil {
		return cq.max.Load()
	}
	return 0
}

// storeTimeAt returns the store timestamp of the record at phy.
func (s *Store) storeTimeAt(phy int64) (int64, error) {
	rec, err := s.cl.recordAt(phy)
	if err != nil {
		return 0, err
	}
	m, err := protocol.DecodeMessage(rec, false)
	if err != nil {
		return 0, &CorruptError{File: s.cl.dir, Offset: phy, Reason: err.Error()}
	}
	return m.StoreTimestamp, nil
}

// OffsetByTime returns the queue offset of the first message of the queue
// stored at or after ts (ms), found by binary search over store times; the
// max offset if every message is older.
func (s *Store) OffsetByTime(topic string, queueID int32, ts int64) (int64, error) {
	cq := s.queue(topic, queueID, false)
	if cq == nil {
		return 0, nil
	}
	lo, hi := cq.min.Load(), cq.max.Load()
	clMin := s.cl.minOffset()
	for lo < hi {
		mid := lo + (hi-lo)/2
		e := cq.entry(mid)
		if e.size == 0 || e.phy < clMin {
			lo = mid + 1
			continue
		}
		t, err := s.storeTimeAt(e.phy)
		if err != nil {
			return 0, err
		}
		if t >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// EarliestStoreTime returns the store time of the oldest message of a queue.
func (s *Store) EarliestStoreTime(topic string, queueID int32) (int64, error) {
	return s.StoreTimeAtOffset(topic, queueID, s.MinOffset(topic, queueID))
}

// StoreTimeAtOffset returns the store time of the message at a queue offset.
func (s *Store) StoreTimeAtOffset(topic string, queueID int32, qo int64) (int64, error) {
	cq := s.queue(topic, queueID, false)
	if cq == nil || qo < cq.min.Load() || qo >= cq.max.Load() {
		return 0, fmt.Errorf("%s/%d offset %d: %w", topic, queueID, qo, ErrNotFound)
	}
	e := cq.entry(qo)
	if e.size == 0 {
		return 0, fmt.Errorf("%s/%d offset %d: %w", topic, queueID, qo, ErrNotFound)
	}
	return s.storeTimeAt(e.phy)
}

// Message returns the record stored at a commit-log offset, decoded. Any
// offset is safe to ask for; one that is not the start of a message gives
// ErrNotFound.
func (s *Store) Message(phy int64) (*protocol.Message, error) {
	rec, err := s.cl.recordAt(phy)
	if err != nil {
		return nil, err
	}
	m, err := protocol.DecodeMessage(rec, false)
	if err != nil || m.PhysicalOffset != phy {
		return nil, fmt.Errorf("offset %d is not the start of a message: %w", phy, ErrNotFound)
	}
	return m, nil
}

// MessageAtQueueOffset returns the message at a queue offset.
func (s *Store) MessageAtQueueOffset(topic string, queueID int32, qo int64) (*protocol.Message, error) {
	cq := s.queue(topic, queueID, false)
	if cq == nil || qo < cq.min.Load() || qo >= cq.max.Load() {
		return nil, fmt.Errorf("%s/%d offset %d: %w", topic, queueID, qo, ErrNotFound)
	}
	return s.Message(cq.entry(qo).phy)
}

// QueryByKey returns up to max messages of topic whose KEYS contain key or
// whose UNIQ_KEY is key, stored within [begin, end] (ms), newest first.
func (s *Store) QueryByKey(topic, key string, max int, begin, end int64) ([]*protocol.Message, error) {
	if s.ix == nil {
		return nil, nil
	}
	if max <= 0 {
		max = 32
	}
	var out []*protocol.Message
	// Ask for more than max: hash collisions are filtered out here.
	for _, phy := range s.ix.Query(indexKey(topic, key), begin, end, max*2+8) {
		m, err := s.Message(phy)
		if err != nil || m.Topic != topic {
			continue
		}
		if m.Property(protocol.PropertyUniqKey) != key && !hasKey(m.Property(protocol.PropertyKeys), key) {
			continue
		}
		out = append(out, m)
		if len(out) == max {
			break
		}
	}
	return out, nil
}

func indexKey(topic, key string) string { return topic + "#" + key }

func hasKey(keys, key string) bool {
	for _, k := range protocol.Keys(keys) {
		if k == key {
			return true
		}
	}
	return false
}

// QueueInfo names one queue and its bounds.
type QueueInfo struct {
	Topic     string
	QueueID   int32
	MinOffset int64
	MaxOffset int64
}

// Queues lists every consume queue.
func (s *Store) Queues() []QueueInfo {
	s.queuesMu.RLock()
	defer s.queuesMu.RUnlock()
	out := make([]QueueInfo, 0, len(s.queues))
	for k, cq := range s.queues {
		out = append(out, QueueInfo{Topic: k.topic, QueueID: k.queueID, MinOffset: cq.min.Load(), MaxOffset: cq.max.Load()})
	}
	return out
}

// DeleteTopic removes a topic's consume queues. Its records stay in the
// commit log until retention removes their segments.
func (s *Store) DeleteTopic(topic string) error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.queuesMu.Lock()
	var doomed []*consumeQueue
	for k, cq := range s.queues {
		if k.topic == topic {
			doomed = append(doomed, cq)
			delete(s.queues, k)
		}
	}
	s.queuesMu.Unlock()
	var errs []error
	for _, cq := range doomed {
		errs = append(errs, cq.remove())
	}
	errs = append(errs, os.RemoveAll(filepath.Join(s.cqRoot(), topic)))
	return errors.Join(errs...)
}

// Stats is a snapshot of the store's state.
type Stats struct {
	CommitLogMinOffset int64
	CommitLogMaxOffset int64
	FlushedOffset      int64
	IndexedOffset      int64
	DiskUsedPercent    float64
	DiskFull           bool
	FlushType          FlushType
	Queues             int
}

// Stats returns a snapshot of the store's state.
func (s *Store) Stats() Stats {
	s.queuesMu.RLock()
	nq := len(s.queues)
	s.queuesMu.RUnlock()
	return Stats{
		CommitLogMinOffset: s.cl.minOffset(),
		CommitLogMaxOffset: s.cl.written.Load(),
		FlushedOffset:      s.cl.flushed.Load(),
		IndexedOffset:      s.indexedTo.Load(),
		DiskUsedPercent:    float64(s.diskUsage.Load()) / 100,
		DiskFull:           s.diskFull.Load(),
		FlushType:          s.cfg.FlushType,
		Queues:             nq,
	}
}

// Close stops the background work, flushes everything, writes the
// checkpoint and removes the abort marker. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.putMu.Lock() // no append in flight from here on
		s.closed.Store(true)
		s.putMu.Unlock()
		close(s.stop)
		s.wg.Wait()
		errs := []error{s.catchUpIndex(), s.flushAll(true)}
		if errs[0] == nil && errs[1] == nil {
			errs = append(errs, os.Remove(filepath.Join(s.cfg.Dir, abortFile)))
		}
		errs = append(errs, s.closeFiles())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Store) closeFiles() error {
	var errs []error
	s.queuesMu.Lock()
	for _, cq := range s.queues {
		errs = append(errs, cq.close())
	}
	s.queuesMu.Unlock()
	if s.ix != nil {
		errs = append(errs, s.ix.Close())
	}
	errs = append(errs, s.cl.close())
	return errors.Join(errs...)
}
