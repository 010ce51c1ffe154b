package protocol

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Consume types (ConsumerData.ConsumeType).
const (
	ConsumeActively  = "CONSUME_ACTIVELY"  // pull consumer
	ConsumePassively = "CONSUME_PASSIVELY" // push consumer
)

// Message models (ConsumerData.MessageModel).
const (
	Clustering   = "CLUSTERING"
	Broadcasting = "BROADCASTING"
)

// Where a new consumer group starts (ConsumerData.ConsumeFromWhere).
const (
	ConsumeFromLastOffset  = "CONSUME_FROM_LAST_OFFSET"
	ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET"
	ConsumeFromTimestamp   = "CONSUME_FROM_TIMESTAMP"
)

// SubAll is the tag expression that matches every message.
const SubAll = "*"

// HeartbeatData is the body of HEART_BEAT (34): every producer and
// consumer group of one client instance, with the consumers'
// subscriptions. It registers the connection it arrives on.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData is one consumer group of a client.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one topic subscription of a consumer group.
type SubscriptionData struct {
	ClassFilterMode bool   `json:"classFilterMode"`
	Topic           string `json:"topic"`
	// SubString is the expression: tags joined by "||", SubAll, or SQL92.
	SubString string `json:"subString"`
	// TagsSet holds the tags of a TAG expression; empty for SubAll and
	// SQL92.
	TagsSet []string `json:"tagsSet"`
	// CodeSet holds TagHash of each tag. Decoding accepts JSON strings (Go
	// client) and numbers (Java), then recomputes the codes from the tags:
	// the Go client hashes bytes, which is wrong for non-ASCII tags.
	// Marshal writes numbers, as Java does.
	CodeSet []int64 `json:"codeSet"`
	// SubVersion orders subscriptions of a group and topic (Go sends
	// nanoseconds, Java milliseconds): compare, never interpret.
	SubVersion     int64  `json:"subVersion"`
	ExpressionType string `json:"expressionType"`
	// FilterClassSource is a legacy Java field, kept when present.
	FilterClassSource string `json:"filterClassSource,omitempty"`
}

// UnmarshalJSON decodes s, accepting codeSet elements as numbers or
// numeric strings, then recomputes TagsSet and CodeSet (see Normalize).
func (s *SubscriptionData) UnmarshalJSON(b []byte) error {
	type plain SubscriptionData
	var v struct {
		plain
		CodeSet []json.RawMessage `json:"codeSet"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = SubscriptionData(v.plain)
	s.CodeSet = nil
	for _, raw := range v.CodeSet {
		raw = bytes.Trim(raw, `"`)
		if _, err := strconv.ParseInt(string(raw), 10, 32); err != nil {
			return fmt.Errorf("subscription %q: codeSet element %s is not a 32-bit integer", s.Topic, raw)
		}
	}
	s.Normalize()
	return nil
}

// Normalize makes TagsSet and CodeSet agree with the expression, the way a
// Java broker would have built them: for a TAG (or untyped) subscription
// the tags are TagsSet if given, else SubString parsed with
// ParseTagExpression; CodeSet is their TagHash values, sorted; both are
// empty for SubAll and for SQL92.
func (s *SubscriptionData) Normalize() {
	if s.ExpressionType != "" && s.ExpressionType != ExpressionTag {
		s.TagsSet, s.CodeSet = []string{}, []int64{}
		return
	}
	var tags []string
	for _, t := range s.TagsSet {
		if t = strings.TrimSpace(t); t != "" && t != SubAll {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		tags = ParseTagExpression(s.SubString)
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	codes := make([]int64, 0, len(tags))
	for _, t := range tags {
		codes = append(codes, TagHash(t))
	}
	slices.Sort(codes)
	s.TagsSet = append([]string{}, tags...)
	s.CodeSet = slices.Compact(codes)
}

// MatchesAll reports whether s accepts every message by tag: a TAG
// subscription with no tags (SubAll or empty).
func (s *SubscriptionData) MatchesAll() bool {
	return (s.ExpressionType == "" || s.ExpressionType == ExpressionTag) && len(s.TagsSet) == 0
}

// MatchesTagCode is the broker-side tag filter of a TAG subscription: the
// message's tag code (0 when untagged) is in CodeSet, or s matches all.
// Hash collisions pass; clients compare tag strings afterwards.
func (s *SubscriptionData) MatchesTagCode(code int64) bool {
	if s.MatchesAll() {
		return true
	}
	_, found := slices.BinarySearch(s.CodeSet, code)
	return found
}

// ParseTagExpression splits a TAG expression into its tags: split on
// "||", each trimmed, empties dropped. It returns nil for "" and SubAll,
// which match every message.
func ParseTagExpression(expr string) []string {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == SubAll {
		return nil
	}
	var tags []string
	for t := range strings.SplitSeq(expr, "||") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// UnmarshalHeartbeatData decodes a HEART_BEAT body. Subscriptions come back
// normalized (SubscriptionData.Normalize).
func UnmarshalHeartbeatData(b []byte) (*HeartbeatData, error) {
	var h HeartbeatData
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("decode heartbeat: %w: %v", ErrBadBody, err)
	}
	return &h, nil
}

// Marshal renders h compactly, empty sets as [].
func (h *HeartbeatData) Marshal() ([]byte, error) {
	out := HeartbeatData{
		ClientID:        h.ClientID,
		ProducerDataSet: orEmpty(h.ProducerDataSet),
		ConsumerDataSet: make([]ConsumerData, 0, len(h.ConsumerDataSet)),
	}
	for _, c := range h.ConsumerDataSet {
		subs := make([]SubscriptionData, 0, len(c.SubscriptionDataSet))
		for _, s := range c.SubscriptionDataSet {
			s.TagsSet = orEmpty(s.TagsSet)
			s.CodeSet = orEmpty(s.CodeSet)
			subs = append(subs, s)
		}
		c.SubscriptionDataSet = subs
		out.ConsumerDataSet = append(out.ConsumerDataSet, c)
	}
	return json.Marshal(out)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MessageQueue identifies one queue: queue IDs are per broker name.
// Field order is fastjson's (sorted), so a MessageQueue renders the same as
// a map key and as a value.
type MessageQueue struct {
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
	Topic      string `json:"topic"`
}

// Compare orders queues by topic, broker name, then queue ID, as both
// clients sort them before allocating.
func (q MessageQueue) Compare(o MessageQueue) int {
	if c := strings.Compare(q.Topic, o.Topic); c != 0 {
		return c
	}
	if c := strings.Compare(q.BrokerName, o.BrokerName); c != 0 {
		return c
	}
	return cmp.Compare(q.QueueID, o.QueueID)
}

// ConsumerIDList is the body of a GET_CONSUMER_LIST_BY_GROUP (38) answer.
// It must list every live client of the group, the asker included: the Go
// client drops all its queues on an empty list.
type ConsumerIDList struct {
	ConsumerIDList []string `json:"consumerIdList"`
}

// Marshal renders l with IDs sorted and [] for none.
func (l *ConsumerIDList) Marshal() ([]byte, error) {
	ids := slices.Clone(orEmpty(l.ConsumerIDList))
	slices.Sort(ids)
	return json.Marshal(ConsumerIDList{ConsumerIDList: ids})
}

// UnmarshalConsumerIDList decodes a consumer list body.
func UnmarshalConsumerIDList(b []byte) (*ConsumerIDList, error) {
	var l ConsumerIDList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode consumer id list: %w: %v", ErrBadBody, err)
	}
	return &l, nil
}

// LockBatchRequestBody is the body of LOCK_BATCH_MQ (41): an orderly
// consumer asks for exclusive use of queues.
type LockBatchRequestBody struct {
	ClientID      string         `json:"clientId"`
	ConsumerGroup string         `json:"consumerGroup"`
	MQSet         []MessageQueue `json:"mqSet"`
}

// Marshal renders b, [] for no queues.
func (b *LockBatchRequestBody) Marshal() ([]byte, error) {
	out := *b
	out.MQSet = orEmpty(out.MQSet)
	return json.Marshal(out)
}

// UnmarshalLockBatchRequestBody decodes a LOCK_BATCH_MQ body.
func UnmarshalLockBatchRequestBody(b []byte) (*LockBatchRequestBody, error) {
	var v LockBatchRequestBody
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode lock batch request: %w: %v", ErrBadBody, err)
	}
	return &v, nil
}

// LockBatchResponseBody is the body of a LOCK_BATCH_MQ answer: the queues
// now locked by the requester.
type LockBatchResponseBody struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}

// Marshal renders b, [] for no queues.
func (b *LockBatchResponseBody) Marshal() ([]byte, error) {
	return json.Marshal(LockBatchResponseBody{LockOKMQSet: orEmpty(b.LockOKMQSet)})
}

// UnmarshalLockBatchResponseBody decodes a LOCK_BATCH_MQ answer body.
func UnmarshalLockBatchResponseBody(b []byte) (*LockBatchResponseBody, error) {
	var v LockBatchResponseBody
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode lock batch response: %w: %v", ErrBadBody, err)
	}
	return &v, nil
}

// UnlockBatchRequestBody is the body of UNLOCK_BATCH_MQ (42): release the
// requester's locks on these queues.
type UnlockBatchRequestBody struct {
	ClientID      string         `json:"clientId"`
	ConsumerGroup string         `json:"consumerGroup"`
	MQSet         []MessageQueue `json:"mqSet"`
}

// Marshal renders b, [] for no queues.
func (b *UnlockBatchRequestBody) Marshal() ([]byte, error) {
	out := *b
	out.MQSet = orEmpty(out.MQSet)
	return json.Marshal(out)
}

// UnmarshalUnlockBatchRequestBody decodes an UNLOCK_BATCH_MQ body.
func UnmarshalUnlockBatchRequestBody(b []byte) (*UnlockBatchRequestBody, error) {
	var v UnlockBatchRequestBody
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode unlock batch request: %w: %v", ErrBadBody, err)
	}
	return &v, nil
}
