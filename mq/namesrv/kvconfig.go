package namesrv

import (
	"maps"
	"sync"
)

// nsOrderTopicConfig is the KV namespace whose entries ("topic" ->
// "broker-a:4;broker-b:4") Java serves as a route's orderTopicConf and
// returns to registering brokers.
const nsOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// kvConfig is the NameServer's namespaced key/value settings
// (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE). Java persists them
// in kvConfig.json; Surge keeps them in memory, as nothing in Surge needs
// them to survive a restart. Safe for concurrent use.
type kvConfig struct {
	mu sync.RWMutex
	ns map[string]map[string]string // guarded by mu; no empty namespaces
}

func newKVConfig() *kvConfig { return &kvConfig{ns: map[string]map[string]string{}} }

func (kv *kvConfig) put(namespace, key, value string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.ns[namespace] == nil {
		kv.ns[namespace] = map[string]string{}
	}
	kv.ns[namespace][key] = value
}

func (kv *kvConfig) get(namespace, key string) (string, bool) {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	v, ok := kv.ns[namespace][key]
	return v, ok
}

func (kv *kvConfig) delete(namespace, key string) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.ns[namespace], key)
	if len(kv.ns[namespace]) == 0 {
		delete(kv.ns, namespace)
	}
}

// list returns a copy of a namespace, or false when it has no entries.
func (kv *kvConfig) list(namespace string) (map[string]string, bool) {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	m, ok := kv.ns[namespace]
	return maps.Clone(m), ok
}
