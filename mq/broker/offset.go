package broker

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"sync"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// offsetTable holds consumer offsets of clustering groups, per (topic,
// group, queue): the next queue offset the group will consume. Kept in
// memory, saved to config/consumerOffset.json every OffsetFlushInterval and
// at shutdown (RocketMQ's layout: "topic@group" -> queueId -> offset).
type offsetTable struct {
	path string

	mu    sync.Mutex
	table map[string]map[int32]int64
	dirty bool
}

type offsetsFile struct {
	OffsetTable map[string]map[int32]int64 `json:"offsetTable"`
}

func openOffsetTable(dir string) (*offsetTable, error) {
	t := &offsetTable{path: filepath.Join(dir, "consumerOffset.json"), table: map[string]map[int32]int64{}}
	var f offsetsFile
	if _, err := loadJSON(t.path, &f); err != nil {
		return nil, err
	}
	if f.OffsetTable != nil {
		t.table = f.OffsetTable
	}
	return t, nil
}

func offsetKey(topic, group string) string { return topic + "@" + group }

func (t *offsetTable) commit(group, topic string, queueID int32, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := offsetKey(topic, group)
	q := t.table[k]
	if q == nil {
		q = map[int32]int64{}
		t.table[k] = q
	}
	if q[queueID] != offset {
		q[queueID] = offset
		t.dirty = true
	}
}

func (t *offsetTable) query(group, topic string, queueID int32) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	off, ok := t.table[offsetKey(topic, group)][queueID]
	return off, ok
}

// group returns a copy of a group's offsets of one topic.
func (t *offsetTable) group(group, topic string) map[int32]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.table[offsetKey(topic, group)])
}

// groupsOf lists the groups with offsets in a topic.
func (t *offsetTable) groupsOf(topic string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range t.table {
		if tp, g, ok := strings.Cut(k, "@"); ok && tp == topic {
			out = append(out, g)
		}
	}
	return out
}

// topicsOf lists the topics a group has offsets in.
func (t *offsetTable) topicsOf(group string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range t.table {
		if tp, g, ok := strings.Cut(k, "@"); ok && g == group {
			out = append(out, tp)
		}
	}
	return out
}

// removeTopic drops every group's offsets of a topic.
func (t *offsetTable) removeTopic(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.table {
		if tp, _, _ := strings.Cut(k, "@"); tp == topic {
			delete(t.table, k)
			t.dirty = true
		}
	}
}

func (t *offsetTable) flush() error {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return nil
	}
	f := offsetsFile{OffsetTable: make(map[string]map[int32]int64, len(t.table))}
	for k, v := range t.table {
		f.OffsetTable[k] = maps.Clone(v)
	}
	t.dirty = false
	t.mu.Unlock()
	if err := saveJSON(t.path, f); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return err
	}
	return nil
}

func offsetResponse(req *remoting.Command, offset int64) *remoting.Command {
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.OffsetResponseHeader{Offset: offset}.Ext()
	return resp
}

// badHeader answers a request whose header does not decode.
func badHeader(req *remoting.Command, err error) *remoting.Command {
	return remoting.NewResponse(req, protocol.SystemError, err.Error())
}

// handleQueryOffset serves QUERY_CONSUMER_OFFSET (14). With nothing stored,
// a queue whose first message is still there answers 0 (consume the
// backlog of a young topic, as Java does); otherwise QUERY_NOT_FOUND lets
// the client pick its start (CONSUME_FROM_*).
func (b *Broker) handleQueryOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeQueryConsumerOffsetRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if off, ok := b.offsets.query(h.ConsumerGroup, h.Topic, h.QueueID); ok {
		return offsetResponse(req, off)
	}
	// A group that asked to start from a timestamp gets "not found" so
	// that the client searches by time; Java would answer 0 on a young
	// queue and ignore the timestamp.
	gi, _ := b.clients.group(h.ConsumerGroup)
	if b.store.MinOffset(h.Topic, h.QueueID) <= 0 && gi.ConsumeFromWhere != "CONSUME_FROM_TIMESTAMP" {
		return offsetResponse(req, 0)
	}
	return remoting.NewResponse(req, protocol.QueryNotFound, "no offset stored for this group and queue")
}

// handleUpdateOffset serves UPDATE_CONSUMER_OFFSET (15).
func (b *Broker) handleUpdateOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeUpdateConsumerOffsetRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	b.offsets.commit(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	return remoting.NewResponse(req, protocol.Success, "")
}

// handleMaxOffset serves GET_MAX_OFFSET (30).
func (b *Broker) handleMaxOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeTopicQueueRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	return offsetResponse(req, b.store.MaxOffset(h.Topic, h.QueueID))
}

// handleMinOffset serves GET_MIN_OFFSET (31).
func (b *Broker) handleMinOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeTopicQueueRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	return offsetResponse(req, b.store.MinOffset(h.Topic, h.QueueID))
}

// handleSearchOffset serves SEARCH_OFFSET_BY_TIMESTAMP (29): the first
// message stored at or after the timestamp.
func (b *Broker) handleSearchOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeSearchOffsetRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	off, err := b.store.OffsetByTime(h.Topic, h.QueueID, h.Timestamp)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	return offsetResponse(req, off)
}

// handleEarliestStoreTime serves GET_EARLIEST_MSG_STORETIME (32).
func (b *Broker) handleEarliestStoreTime(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeTopicQueueRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	ts, err := b.store.EarliestStoreTime(h.Topic, h.QueueID)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.GetEarliestMsgStoreTimeResponseHeader{Timestamp: ts}.Ext()
	return resp
}
