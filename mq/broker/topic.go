package broker

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// System topics, with RocketMQ's names.
const (
	TopicAutoCreate   = "TBW102"
	TopicSchedule     = "SCHEDULE_TOPIC_XXXX"
	TopicTransHalf    = "RMQ_SYS_TRANS_HALF_TOPIC"
	TopicTransOp      = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TopicTransMaxTime = "TRANS_CHECK_MAX_TIME_TOPIC"
	TopicSelfTest     = "SELF_TEST_TOPIC"
	TopicOffsetMoved  = "OFFSET_MOVED_EVENT"
	TopicTrace        = "RMQ_SYS_TRACE_TOPIC"
	RetryGroupPrefix  = "%RETRY%"
	DLQGroupPrefix    = "%DLQ%"
)

// Topic filter types.
const (
	FilterSingleTag = "SINGLE_TAG"
	FilterMultiTag  = "MULTI_TAG"
)

// isSystemTopic reports topics that producers may not write to directly.
func isSystemTopic(t string) bool {
	switch t {
	case TopicSchedule, TopicTransHalf, TopicTransOp, TopicTransMaxTime, TopicSelfTest, TopicOffsetMoved:
		return true
	}
	return false
}

// RetryTopic is the retry topic of a consumer group.
func RetryTopic(group string) string { return RetryGroupPrefix + group }

// DLQTopic is the dead-letter topic of a consumer group.
func DLQTopic(group string) string { return DLQGroupPrefix + group }

// topicTable is the broker's topic configuration, persisted in
// config/topics.json, versioned for NameServer registration.
type topicTable struct {
	path     string
	onChange func() // called (without the lock) after any change

	mu      sync.RWMutex
	topics  map[string]protocol.TopicConfig
	version protocol.DataVersion

	// saveMu serializes saves, each of the newest table, so that an older
	// snapshot never overwrites a newer one.
	saveMu sync.Mutex
}

type topicsFile struct {
	DataVersion      protocol.DataVersion            `json:"dataVersion"`
	TopicConfigTable map[string]protocol.TopicConfig `json:"topicConfigTable"`
}

func openTopicTable(dir string) (*topicTable, error) {
	t := &topicTable{path: filepath.Join(dir, "topics.json"), topics: map[string]protocol.TopicConfig{}}
	var f topicsFile
	if _, err := loadJSON(t.path, &f); err != nil {
		return nil, err
	}
	if f.TopicConfigTable != nil {
		t.topics = f.TopicConfigTable
	}
	t.version = f.DataVersion
	return t, nil
}

func (t *topicTable) get(name string) (protocol.TopicConfig, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tc, ok := t.topics[name]
	return tc, ok
}

// snapshot returns a copy of the table and its version.
func (t *topicTable) snapshot() (map[string]protocol.TopicConfig, protocol.DataVersion) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.topics), t.version
}

// put creates or replaces a topic and persists the table.
func (t *topicTable) put(tc protocol.TopicConfig) error {
	return t.update(func(m map[string]protocol.TopicConfig) bool {
		if old, ok := m[tc.TopicName]; ok && old == tc {
			return false
		}
		m[tc.TopicName] = tc
		return true
	})
}

// putIfAbsent creates a topic unless it exists, and returns the config in
// force.
func (t *topicTable) putIfAbsent(tc protocol.TopicConfig) (protocol.TopicConfig, error) {
	var cur protocol.TopicConfig
	err := t.update(func(m map[string]protocol.TopicConfig) bool {
		if old, ok := m[tc.TopicName]; ok {
			cur = old
			return false
		}
		m[tc.TopicName], cur = tc, tc
		return true
	})
	return cur, err
}

func (t *topicTable) remove(name string) (bool, error) {
	found := false
	err := t.update(func(m map[string]protocol.TopicConfig) bool {
		_, found = m[name]
		delete(m, name)
		return found
	})
	return found, err
}

// update applies fn under the lock; if fn reports a change, the version is
// bumped, the table saved and onChange called.
func (t *topicTable) update(fn func(map[string]protocol.TopicConfig) bool) error {
	t.mu.Lock()
	if !fn(t.topics) {
		t.mu.Unlock()
		return nil
	}
	t.version = t.version.Next(time.Now().UnixMilli())
	t.mu.Unlock()
	t.saveMu.Lock()
	topics, version := t.snapshot()
	err := saveJSON(t.path, topicsFile{DataVersion: version, TopicConfigTable: topics})
	t.saveMu.Unlock()
	if err != nil {
		return fmt.Errorf("save topics: %w", err)
	}
	if t.onChange != nil {
		t.onChange()
	}
	return nil
}

func newTopicConfig(name string, queues int32, perm int32) protocol.TopicConfig {
	return protocol.TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm, TopicFilterType: FilterSingleTag}
}

// ensureSystemTopics creates the topics every broker has.
func (b *Broker) ensureSystemTopics() error {
	rw := protocol.PermRead | protocol.PermWrite
	topics := []protocol.TopicConfig{
		newTopicConfig(TopicSchedule, int32(len(b.cfg.MessageDelayLevel)), rw),
		newTopicConfig(TopicSelfTest, 1, rw),
		newTopicConfig(TopicOffsetMoved, 1, rw),
		newTopicConfig(TopicTrace, 1, rw),
		newTopicConfig(b.cfg.ClusterName, 16, rw|protocol.PermInherit),
		newTopicConfig(b.cfg.BrokerName, 1, rw|protocol.PermInherit),
		newTopicConfig(b.cfg.ClusterName+"_REPLY_TOPIC", 1, rw),
	}
	if *b.cfg.AutoCreateTopicEnable {
		topics = append(topics, newTopicConfig(TopicAutoCreate, int32(b.cfg.DefaultTopicQueueNums), rw|protocol.PermInherit))
	} else if _, err := b.topics.remove(TopicAutoCreate); err != nil {
		return err
	}
	for _, tc := range topics {
		if _, err := b.topics.putIfAbsent(tc); err != nil {
			return err
		}
	}
	return nil
}

// topicForSend returns the config of a topic a producer sends to, creating
// it from the default topic when allowed (RocketMQ's auto-create). The
// response code and remark say why not otherwise.
func (b *Broker) topicForSend(topic, defaultTopic string, defaultQueueNums int32) (protocol.TopicConfig, int16, string) {
	if tc, ok := b.topics.get(topic); ok {
		return tc, protocol.Success, ""
	}
	if strings.HasPrefix(topic, RetryGroupPrefix) {
		tc, err := b.topics.putIfAbsent(newTopicConfig(topic, 1, protocol.PermRead|protocol.PermWrite))
		if err != nil {
			return tc, protocol.SystemError, err.Error()
		}
		return tc, protocol.Success, ""
	}
	if !*b.cfg.AutoCreateTopicEnable {
		return protocol.TopicConfig{}, protocol.TopicNotExist,
			fmt.Sprintf("topic[%s] not exist, apply first please! (auto-create is off: set autoCreateTopicEnable=true or create it with mqadmin updateTopic)", topic)
	}
	def, ok := b.topics.get(defaultTopic)
	if !ok || def.Perm&protocol.PermInherit == 0 {
		return protocol.TopicConfig{}, protocol.TopicNotExist,
			fmt.Sprintf("topic[%s] not exist, and the default topic[%s] cannot be used to create it", topic, defaultTopic)
	}
	n := min(max(defaultQueueNums, 1), def.WriteQueueNums)
	tc, err := b.topics.putIfAbsent(protocol.TopicConfig{
		TopicName: topic, ReadQueueNums: n, WriteQueueNums: n,
		Perm: def.Perm &^ protocol.PermInherit, TopicFilterType: FilterSingleTag,
	})
	if err != nil {
		return tc, protocol.SystemError, err.Error()
	}
	b.log.Info("topic auto-created", "topic", topic, "queues", n)
	return tc, protocol.Success, ""
}
