package broker

import (
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// SubscriptionGroup is a consumer group's broker-side configuration
// (RocketMQ's SubscriptionGroupConfig), persisted in
// config/subscriptionGroup.json.
type SubscriptionGroup struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

type groupsFile struct {
	SubscriptionGroupTable map[string]SubscriptionGroup `json:"subscriptionGroupTable"`
	DataVersion            protocol.DataVersion         `json:"dataVersion"`
}

type groupTable struct {
	path string

	mu      sync.RWMutex
	groups  map[string]SubscriptionGroup
	version protocol.DataVersion
}

func openGroupTable(dir string) (*groupTable, error) {
	g := &groupTable{path: filepath.Join(dir, "subscriptionGroup.json"), groups: map[string]SubscriptionGroup{}}
	var f groupsFile
	if _, err := loadJSON(g.path, &f); err != nil {
		return nil, err
	}
	if f.SubscriptionGroupTable != nil {
		g.groups = f.SubscriptionGroupTable
	}
	g.version = f.DataVersion
	return g, nil
}

func newSubscriptionGroup(name string, retryMax int) SubscriptionGroup {
	return SubscriptionGroup{
		GroupName: name, ConsumeEnable: true, ConsumeFromMinEnable: true, ConsumeBroadcastEnable: true,
		RetryQueueNums: 1, RetryMaxTimes: retryMax, WhichBrokerWhenConsumeSlowly: 1, NotifyConsumerIdsChangedEnable: true,
	}
}

func (g *groupTable) get(name string) (SubscriptionGroup, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	sg, ok := g.groups[name]
	return sg, ok
}

// ensure makes sure a group exists, creating it when autoCreate is set.
func (g *groupTable) ensure(name string, autoCreate bool) error {
	if _, ok := g.get(name); ok {
		return nil
	}
	if !autoCreate {
		return fmt.Errorf("subscription group %s does not exist and autoCreateSubscriptionGroup=false; create it first", name)
	}
	return g.put(newSubscriptionGroup(name, 16))
}

func (g *groupTable) put(sg SubscriptionGroup) error {
	g.mu.Lock()
	g.groups[sg.GroupName] = sg
	g.version = g.version.Next(time.Now().UnixMilli())
	f := groupsFile{SubscriptionGroupTable: maps.Clone(g.groups), DataVersion: g.version}
	g.mu.Unlock()
	return saveJSON(g.path, f)
}

func (g *groupTable) remove(name string) error {
	g.mu.Lock()
	delete(g.groups, name)
	g.version = g.version.Next(time.Now().UnixMilli())
	f := groupsFile{SubscriptionGroupTable: maps.Clone(g.groups), DataVersion: g.version}
	g.mu.Unlock()
	return saveJSON(g.path, f)
}

func (g *groupTable) snapshot() groupsFile {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return groupsFile{SubscriptionGroupTable: maps.Clone(g.groups), DataVersion: g.version}
}
