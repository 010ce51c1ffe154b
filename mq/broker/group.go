package broker

import (
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// groupTable holds the consumer groups' broker-side configuration
// (RocketMQ's SubscriptionGroupConfig), persisted in
// config/subscriptionGroup.json in the shape GET_ALL_SUBSCRIPTIONGROUP_CONFIG
// returns.
type groupTable struct {
	path string
	// retryMax is the retryMaxTimes of auto-created groups.
	retryMax int32

	mu sync.RWMutex
	w  protocol.SubscriptionGroupWrapper

	saveMu sync.Mutex // serializes saves, each of the newest table
}

func openGroupTable(dir string, retryMax int) (*groupTable, error) {
	g := &groupTable{path: filepath.Join(dir, "subscriptionGroup.json"), retryMax: int32(retryMax)}
	if _, err := loadJSON(g.path, &g.w); err != nil {
		return nil, err
	}
	if g.w.SubscriptionGroupTable == nil {
		g.w.SubscriptionGroupTable = map[string]protocol.SubscriptionGroupConfig{}
	}
	return g, nil
}

func (g *groupTable) get(name string) (protocol.SubscriptionGroupConfig, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	sg, ok := g.w.SubscriptionGroupTable[name]
	return sg, ok
}

// ensure makes sure a group exists, creating it with Java's defaults when
// autoCreate is set.
func (g *groupTable) ensure(name string, autoCreate bool) error {
	if _, ok := g.get(name); ok {
		return nil
	}
	if !autoCreate {
		return fmt.Errorf("subscription group %s does not exist and autoCreateSubscriptionGroup=false; create it first", name)
	}
	sg := protocol.DefaultSubscriptionGroupConfig(name)
	sg.RetryMaxTimes = g.retryMax
	return g.put(sg)
}

func (g *groupTable) put(sg protocol.SubscriptionGroupConfig) error {
	return g.update(func(m map[string]protocol.SubscriptionGroupConfig) { m[sg.GroupName] = sg })
}

func (g *groupTable) remove(name string) error {
	return g.update(func(m map[string]protocol.SubscriptionGroupConfig) { delete(m, name) })
}

func (g *groupTable) update(fn func(map[string]protocol.SubscriptionGroupConfig)) error {
	g.mu.Lock()
	fn(g.w.SubscriptionGroupTable)
	g.w.DataVersion = g.w.DataVersion.Next(time.Now().UnixMilli())
	g.mu.Unlock()
	g.saveMu.Lock()
	defer g.saveMu.Unlock()
	return saveJSON(g.path, g.snapshot())
}

func (g *groupTable) snapshot() protocol.SubscriptionGroupWrapper {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: maps.Clone(g.w.SubscriptionGroupTable), DataVersion: g.w.DataVersion}
}
