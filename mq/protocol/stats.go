package protocol

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Admin and tooling bodies. Three of them (ResetOffsetBody, ConsumeStats,
// TopicStatsTable) are maps keyed by MessageQueue, which Java serializes
// with fastjson as objects used as keys:
//
//	{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:100}}
//
// That is not JSON, but it is the only form Java admin tools decode, and the
// Go client's RESET_CONSUMER_CLIENT_OFFSET handler splits exactly this text
// (doc 6.3). So Marshal emits it: compact, queues in MessageQueue.Compare
// order, key fields sorted. The Unmarshal functions accept it and also the
// JSON form the Go client checks for first, an array of [queue, value]
// pairs.

// appendQueueMap appends m in fastjson's object-keyed form.
func appendQueueMap[V any](dst []byte, m map[MessageQueue]V) ([]byte, error) {
	dst = append(dst, '{')
	for i, q := range slices.SortedFunc(maps.Keys(m), MessageQueue.Compare) {
		if i > 0 {
			dst = append(dst, ',')
		}
		k, err := json.Marshal(q)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m[q])
		if err != nil {
			return nil, fmt.Errorf("queue %s:%d: %w", q.BrokerName, q.QueueID, err)
		}
		dst = append(dst, k...)
		dst = append(dst, ':')
		dst = append(dst, v...)
	}
	return append(dst, '}'), nil
}

// parseQueueMap reads a map keyed by MessageQueue in the fastjson form or
// as an array of [queue, value] pairs.
func parseQueueMap[V any](raw []byte) (map[MessageQueue]V, error) {
	out := make(map[MessageQueue]V)
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return out, nil
	}
	if len(raw) > 0 && raw[0] == '[' {
		var pairs [][2]json.RawMessage
		if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
		}
		for _, p := range pairs {
			var q MessageQueue
			var v V
			if err := unmarshalMember(p[0], &q); err != nil {
				return nil, err
			}
			if err := unmarshalMember(p[1], &v); err != nil {
				return nil, err
			}
			out[q] = v
		}
		return out, nil
	}
	members, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		var q MessageQueue
		var v V
		if err := unmarshalMember(m.key, &q); err != nil {
			return nil, fmt.Errorf("queue key %s: %w", m.key, err)
		}
		if err := unmarshalMember(m.value, &v); err != nil {
			return nil, fmt.Errorf("queue %s:%d: %w", q.BrokerName, q.QueueID, err)
		}
		out[q] = v
	}
	return out, nil
}

// fields splits a top-level object in fastjson syntax into its named
// members.
func fields(b []byte) (map[string][]byte, error) {
	members, err := splitObject(b)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(members))
	for _, m := range members {
		if name := keyName(m.key); name != "" {
			out[name] = m.value
		}
	}
	return out, nil
}

// ResetOffsetBody is the body of RESET_CONSUMER_CLIENT_OFFSET (220, broker
// to client) and of the INVOKE_BROKER_TO_RESET_OFFSET answer: the new
// offset of each queue.
type ResetOffsetBody struct {
	OffsetTable map[MessageQueue]int64
}

// Marshal renders b in fastjson's form (see above).
func (b *ResetOffsetBody) Marshal() ([]byte, error) {
	dst := []byte(`{"offsetTable":`)
	dst, err := appendQueueMap(dst, b.OffsetTable)
	if err != nil {
		return nil, fmt.Errorf("encode reset offset body: %w", err)
	}
	return append(dst, '}'), nil
}

// UnmarshalResetOffsetBody decodes a ResetOffsetBody in either form.
func UnmarshalResetOffsetBody(b []byte) (*ResetOffsetBody, error) {
	f, err := fields(b)
	if err != nil {
		return nil, fmt.Errorf("decode reset offset body: %w", err)
	}
	t, err := parseQueueMap[int64](f["offsetTable"])
	if err != nil {
		return nil, fmt.Errorf("decode reset offset body: %w", err)
	}
	return &ResetOffsetBody{OffsetTable: t}, nil
}

// OffsetWrapper is one queue's progress in ConsumeStats.
type OffsetWrapper struct {
	// BrokerOffset is the queue's max offset.
	BrokerOffset int64 `json:"brokerOffset"`
	// ConsumerOffset is the group's committed offset.
	ConsumerOffset int64 `json:"consumerOffset"`
	// LastTimestamp is the store time (ms) of the last consumed message.
	LastTimestamp int64 `json:"lastTimestamp"`
}

// ConsumeStats is the body of a GET_CONSUME_STATS (208) answer: a group's
// lag per queue.
type ConsumeStats struct {
	ConsumeTPS  float64
	OffsetTable map[MessageQueue]OffsetWrapper
}

// Marshal renders s in fastjson's form. A NaN or infinite ConsumeTPS is an
// error, as in encoding/json.
func (s *ConsumeStats) Marshal() ([]byte, error) {
	tps, err := json.Marshal(s.ConsumeTPS)
	if err != nil {
		return nil, fmt.Errorf("encode consume stats: %w", err)
	}
	dst := append([]byte(`{"consumeTps":`), tps...)
	dst = append(dst, `,"offsetTable":`...)
	dst, err = appendQueueMap(dst, s.OffsetTable)
	if err != nil {
		return nil, fmt.Errorf("encode consume stats: %w", err)
	}
	return append(dst, '}'), nil
}

// UnmarshalConsumeStats decodes a ConsumeStats body in either form.
func UnmarshalConsumeStats(b []byte) (*ConsumeStats, error) {
	f, err := fields(b)
	if err != nil {
		return nil, fmt.Errorf("decode consume stats: %w", err)
	}
	var s ConsumeStats
	if raw, ok := f["consumeTps"]; ok {
		if err := unmarshalMember(raw, &s.ConsumeTPS); err != nil {
			return nil, fmt.Errorf("decode consume stats: consumeTps: %w", err)
		}
	}
	if s.OffsetTable, err = parseQueueMap[OffsetWrapper](f["offsetTable"]); err != nil {
		return nil, fmt.Errorf("decode consume stats: %w", err)
	}
	return &s, nil
}

// TopicOffset is one queue's extent in TopicStatsTable.
type TopicOffset struct {
	LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
	MaxOffset           int64 `json:"maxOffset"`
	MinOffset           int64 `json:"minOffset"`
}

// TopicStatsTable is the body of a GET_TOPIC_STATS_INFO (202) answer.
type TopicStatsTable struct {
	OffsetTable map[MessageQueue]TopicOffset
}

// Marshal renders t in fastjson's form.
func (t *TopicStatsTable) Marshal() ([]byte, error) {
	dst := []byte(`{"offsetTable":`)
	dst, err := appendQueueMap(dst, t.OffsetTable)
	if err != nil {
		return nil, fmt.Errorf("encode topic stats: %w", err)
	}
	return append(dst, '}'), nil
}

// UnmarshalTopicStatsTable decodes a TopicStatsTable body in either form.
func UnmarshalTopicStatsTable(b []byte) (*TopicStatsTable, error) {
	f, err := fields(b)
	if err != nil {
		return nil, fmt.Errorf("decode topic stats: %w", err)
	}
	t, err := parseQueueMap[TopicOffset](f["offsetTable"])
	if err != nil {
		return nil, fmt.Errorf("decode topic stats: %w", err)
	}
	return &TopicStatsTable{OffsetTable: t}, nil
}

// Connection describes one client connection in the connection lists.
type Connection struct {
	ClientAddr string `json:"clientAddr"`
	ClientID   string `json:"clientId"`
	// Language is the client's language name from its request headers
	// ("JAVA", "GO").
	Language string `json:"language"`
	// Version is the client's version ordinal (Go 317, Java 4.9.7 407).
	Version int32 `json:"version"`
}

// ConsumerConnection is the body of a GET_CONSUMER_CONNECTION_LIST (203)
// answer. It is plain JSON (the subscription table has string keys).
type ConsumerConnection struct {
	ConnectionSet     []Connection                `json:"connectionSet"`
	ConsumeFromWhere  string                      `json:"consumeFromWhere"`
	ConsumeType       string                      `json:"consumeType"`
	MessageModel      string                      `json:"messageModel"`
	SubscriptionTable map[string]SubscriptionData `json:"subscriptionTable"`
}

// Marshal renders c, connections sorted by client ID, empty collections as
// [] and {}.
func (c *ConsumerConnection) Marshal() ([]byte, error) {
	out := *c
	out.ConnectionSet = sortedConnections(c.ConnectionSet)
	if out.SubscriptionTable == nil {
		out.SubscriptionTable = map[string]SubscriptionData{}
	}
	subs := make(map[string]SubscriptionData, len(out.SubscriptionTable))
	for topic, s := range out.SubscriptionTable {
		s.TagsSet, s.CodeSet = orEmpty(s.TagsSet), orEmpty(s.CodeSet)
		subs[topic] = s
	}
	out.SubscriptionTable = subs
	return json.Marshal(out)
}

// UnmarshalConsumerConnection decodes a ConsumerConnection body.
func UnmarshalConsumerConnection(b []byte) (*ConsumerConnection, error) {
	var c ConsumerConnection
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode consumer connection: %w: %v", ErrBadBody, err)
	}
	return &c, nil
}

// ProducerConnection is the body of a GET_PRODUCER_CONNECTION_LIST (204)
// answer.
type ProducerConnection struct {
	ConnectionSet []Connection `json:"connectionSet"`
}

// Marshal renders p, connections sorted by client ID.
func (p *ProducerConnection) Marshal() ([]byte, error) {
	return json.Marshal(ProducerConnection{ConnectionSet: sortedConnections(p.ConnectionSet)})
}

// UnmarshalProducerConnection decodes a ProducerConnection body.
func UnmarshalProducerConnection(b []byte) (*ProducerConnection, error) {
	var p ProducerConnection
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode producer connection: %w: %v", ErrBadBody, err)
	}
	return &p, nil
}

func sortedConnections(cs []Connection) []Connection {
	out := slices.Clone(orEmpty(cs))
	slices.SortFunc(out, func(a, b Connection) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.ClientAddr, b.ClientAddr))
	})
	return out
}
