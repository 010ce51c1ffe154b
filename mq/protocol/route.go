package protocol

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Topic permission bits (QueueData.Perm, TopicConfig.Perm).
const (
	PermPriority int32 = 8
	PermRead     int32 = 4
	PermWrite    int32 = 2
	// PermInherit marks a topic that may serve as an auto-create template
	// (TBW102 has perm 7).
	PermInherit int32 = 1
)

// Topic filter types (TopicConfig.TopicFilterType).
const (
	TopicFilterSingleTag = "SINGLE_TAG"
	TopicFilterMultiTag  = "MULTI_TAG"
)

// MasterID is the broker ID of a master in BrokerData.BrokerAddrs.
const MasterID int64 = 0

// TopicRouteData is the body of a successful GET_ROUTEINFO_BY_TOPIC (105)
// answer: which brokers host the topic and how to reach them.
//
// The Go client parses this body partly as text (doc 4.3), so Marshal
// enforces what it needs: compact JSON, queueDatas and brokerDatas as
// arrays, brokerAddrs present as an object with quoted keys, and addresses
// free of ',', '"' and whitespace. Field order (alphabetical, like fastjson)
// makes our bodies byte-identical to a Java NameServer's answer to a client
// announcing version 4.9.4 or later.
type TopicRouteData struct {
	BrokerDatas       []BrokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"`
	// OrderTopicConf ("broker-a:4;broker-b:4") is Java-only; the Go client
	// never reads it.
	OrderTopicConf string      `json:"orderTopicConf,omitempty"`
	QueueDatas     []QueueData `json:"queueDatas"`
}

// QueueData says how many queues one broker name (a master/slave set) has
// for a topic.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	Perm           int32  `json:"perm"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
	WriteQueueNums int32  `json:"writeQueueNums"`
}

// UnmarshalJSON accepts topicSysFlag and the older spelling topicSynFlag
// (Java before 4.9 and the Go client).
func (q *QueueData) UnmarshalJSON(b []byte) error {
	type plain QueueData
	var v struct {
		plain
		TopicSynFlag *int32 `json:"topicSynFlag"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*q = QueueData(v.plain)
	if v.TopicSynFlag != nil && q.TopicSysFlag == 0 {
		q.TopicSysFlag = *v.TopicSynFlag
	}
	return nil
}

// BrokerData is the address book of one broker name.
type BrokerData struct {
	// BrokerAddrs maps broker ID to "ip:port"; MasterID (0) is the master.
	// It must not be nil when marshalled: the Go client crashes on a missing
	// or null brokerAddrs (Marshal emits {}).
	BrokerAddrs map[int64]string `json:"brokerAddrs"`
	BrokerName  string           `json:"brokerName"`
	Cluster     string           `json:"cluster"`
}

// MasterAddr returns the master's address, "" if there is none.
func (b BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// normalized returns a copy of r ready to marshal: nil collections made
// empty, queue and broker data sorted by broker name so that the client's
// change detection (an ordered comparison) sees no change between equal
// routes, and addresses checked.
func (r *TopicRouteData) normalized() (TopicRouteData, error) {
	out := TopicRouteData{
		OrderTopicConf:    r.OrderTopicConf,
		QueueDatas:        slices.Clone(r.QueueDatas),
		BrokerDatas:       make([]BrokerData, 0, len(r.BrokerDatas)),
		FilterServerTable: r.FilterServerTable,
	}
	if out.QueueDatas == nil {
		out.QueueDatas = []QueueData{}
	}
	if out.FilterServerTable == nil {
		out.FilterServerTable = map[string][]string{}
	}
	for _, bd := range r.BrokerDatas {
		bd, err := bd.normalized()
		if err != nil {
			return TopicRouteData{}, err
		}
		out.BrokerDatas = append(out.BrokerDatas, bd)
	}
	slices.SortStableFunc(out.QueueDatas, func(a, b QueueData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
	slices.SortStableFunc(out.BrokerDatas, func(a, b BrokerData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
	return out, nil
}

func (b BrokerData) normalized() (BrokerData, error) {
	if b.BrokerAddrs == nil {
		b.BrokerAddrs = map[int64]string{}
	}
	for id, addr := range b.BrokerAddrs {
		if addr == "" || strings.ContainsAny(addr, ",\" \t\r\n{}") {
			return BrokerData{}, fmt.Errorf("%w: broker %q id %d address %q", ErrInvalidRoute, b.BrokerName, id, addr)
		}
	}
	return b, nil
}

// Validate reports what would make clients misbehave beyond what Marshal
// refuses: a queueData whose broker name has no brokerData (Go consumers
// then fail every pull of those queues with "no broker found") and broker
// names listed twice. A NameServer assembling routes from live registrations
// can call it in tests; Marshal does not, because Java NameServers serve
// such routes too and a transient gap should not hide the whole topic.
func (r *TopicRouteData) Validate() error {
	var errs []error
	brokers := make(map[string]bool, len(r.BrokerDatas))
	for _, bd := range r.BrokerDatas {
		if brokers[bd.BrokerName] {
			errs = append(errs, fmt.Errorf("%w: broker %q listed twice", ErrInvalidRoute, bd.BrokerName))
		}
		brokers[bd.BrokerName] = true
		if _, err := bd.normalized(); err != nil {
			errs = append(errs, err)
		}
	}
	queues := make(map[string]bool, len(r.QueueDatas))
	for _, qd := range r.QueueDatas {
		if queues[qd.BrokerName] {
			errs = append(errs, fmt.Errorf("%w: queue data of broker %q listed twice", ErrInvalidRoute, qd.BrokerName))
		}
		queues[qd.BrokerName] = true
		if !brokers[qd.BrokerName] {
			errs = append(errs, fmt.Errorf("%w: queue data of broker %q without broker data", ErrInvalidRoute, qd.BrokerName))
		}
	}
	return errors.Join(errs...)
}

// Marshal renders r as the compact JSON body the clients parse. It fails
// only on an address the Go client would split wrongly.
func (r *TopicRouteData) Marshal() ([]byte, error) {
	n, err := r.normalized()
	if err != nil {
		return nil, err
	}
	return json.Marshal(n)
}

// UnmarshalTopicRouteData decodes a route body, in our form or in the
// fastjson form a Java NameServer sends (unquoted numeric brokerAddrs keys).
func UnmarshalTopicRouteData(b []byte) (*TopicRouteData, error) {
	var r TopicRouteData
	if err := json.Unmarshal(quoteNumericKeys(b), &r); err != nil {
		return nil, fmt.Errorf("decode topic route: %w: %v", ErrBadBody, err)
	}
	return &r, nil
}

// ClusterInfo is the body of GET_BROKER_CLUSTER_INFO (106).
type ClusterInfo struct {
	// BrokerAddrTable maps broker name to its address book.
	BrokerAddrTable map[string]BrokerData `json:"brokerAddrTable"`
	// ClusterAddrTable maps cluster name to its broker names.
	ClusterAddrTable map[string][]string `json:"clusterAddrTable"`
}

// Marshal renders c as compact JSON with quoted keys (Java admin tools read
// both that and fastjson's unquoted form), broker names sorted per cluster.
func (c *ClusterInfo) Marshal() ([]byte, error) {
	out := ClusterInfo{
		BrokerAddrTable:  make(map[string]BrokerData, len(c.BrokerAddrTable)),
		ClusterAddrTable: make(map[string][]string, len(c.ClusterAddrTable)),
	}
	for name, bd := range c.BrokerAddrTable {
		bd, err := bd.normalized()
		if err != nil {
			return nil, err
		}
		out.BrokerAddrTable[name] = bd
	}
	for cluster, names := range c.ClusterAddrTable {
		names = slices.Clone(names)
		if names == nil {
			names = []string{}
		}
		slices.Sort(names)
		out.ClusterAddrTable[cluster] = names
	}
	return json.Marshal(out)
}

// UnmarshalClusterInfo decodes a cluster info body, tolerating fastjson's
// unquoted numeric keys.
func UnmarshalClusterInfo(b []byte) (*ClusterInfo, error) {
	var c ClusterInfo
	if err := json.Unmarshal(quoteNumericKeys(b), &c); err != nil {
		return nil, fmt.Errorf("decode cluster info: %w: %v", ErrBadBody, err)
	}
	return &c, nil
}

// TopicList is the body of GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) and of
// the by-cluster topic lists. The Go admin decodes it with encoding/json.
type TopicList struct {
	// BrokerAddr is optional; Java fills it for some list requests.
	BrokerAddr string   `json:"brokerAddr,omitempty"`
	TopicList  []string `json:"topicList"`
}

// Marshal renders l with topics sorted and [] for an empty list.
func (l *TopicList) Marshal() ([]byte, error) {
	out := TopicList{BrokerAddr: l.BrokerAddr, TopicList: slices.Clone(l.TopicList)}
	if out.TopicList == nil {
		out.TopicList = []string{}
	}
	slices.Sort(out.TopicList)
	return json.Marshal(out)
}

// UnmarshalTopicList decodes a topic list body.
func UnmarshalTopicList(b []byte) (*TopicList, error) {
	var l TopicList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode topic list: %w: %v", ErrBadBody, err)
	}
	return &l, nil
}

// DataVersion versions a broker's topic (or subscription group) table. A
// NameServer re-reads a master's topics only when its DataVersion changed.
type DataVersion struct {
	Counter   int64 `json:"counter"`
	Timestamp int64 `json:"timestamp"` // ms since the epoch
}

// Next returns the version after v, stamped nowMillis: what a broker
// records after changing its table.
func (v DataVersion) Next(nowMillis int64) DataVersion {
	return DataVersion{Counter: v.Counter + 1, Timestamp: nowMillis}
}

// TopicConfig is a broker's configuration of one topic.
type TopicConfig struct {
	Order           bool   `json:"order"`
	Perm            int32  `json:"perm"`
	ReadQueueNums   int32  `json:"readQueueNums"`
	TopicFilterType string `json:"topicFilterType"`
	TopicName       string `json:"topicName"`
	TopicSysFlag    int32  `json:"topicSysFlag"`
	WriteQueueNums  int32  `json:"writeQueueNums"`
}

// QueueData returns the route entry of this topic on broker brokerName.
func (c TopicConfig) QueueData(brokerName string) QueueData {
	return QueueData{
		BrokerName:     brokerName,
		Perm:           c.Perm,
		ReadQueueNums:  c.ReadQueueNums,
		TopicSysFlag:   c.TopicSysFlag,
		WriteQueueNums: c.WriteQueueNums,
	}
}

// TopicConfigSerializeWrapper is a broker's whole topic table with its
// version, as registered with the NameServer (and as GET_ALL_TOPIC_CONFIG,
// 21, returns it).
type TopicConfigSerializeWrapper struct {
	DataVersion      DataVersion            `json:"dataVersion"`
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
}

// RegisterBrokerBody is the body of REGISTER_BROKER (103).
type RegisterBrokerBody struct {
	FilterServerList            []string                    `json:"filterServerList"`
	TopicConfigSerializeWrapper TopicConfigSerializeWrapper `json:"topicConfigSerializeWrapper"`
}

// Marshal renders b as uncompressed JSON (REGISTER_BROKER with
// compressed=false), empty collections as [] and {}.
func (b *RegisterBrokerBody) Marshal() ([]byte, error) {
	out := *b
	if out.FilterServerList == nil {
		out.FilterServerList = []string{}
	}
	if out.TopicConfigSerializeWrapper.TopicConfigTable == nil {
		out.TopicConfigSerializeWrapper.TopicConfigTable = map[string]TopicConfig{}
	}
	return json.Marshal(out)
}

// RegisterBrokerResult is what a NameServer answers to REGISTER_BROKER:
// the response ext (HAServerAddr, MasterAddr) and a KVTable body (the
// ORDER_TOPIC_CONFIG namespace, often empty).
type RegisterBrokerResult struct {
	RegisterBrokerResponseHeader
	KVTable KVTable
}

// KVTable is a string map body: the NameServer's KV namespaces and
// GET_BROKER_RUNTIME_INFO (28), whose table holds the broker's runtime
// figures as strings.
type KVTable struct {
	Table map[string]string `json:"table"`
}

// Marshal renders t, {} for an empty table.
func (t *KVTable) Marshal() ([]byte, error) {
	out := KVTable{Table: t.Table}
	if out.Table == nil {
		out.Table = map[string]string{}
	}
	return json.Marshal(out)
}

// UnmarshalKVTable decodes a KVTable body. An empty body is an empty table:
// Java NameServers answer REGISTER_BROKER without a body when they have no
// order-topic configuration.
func UnmarshalKVTable(b []byte) (*KVTable, error) {
	t := KVTable{Table: map[string]string{}}
	if len(b) == 0 {
		return &t, nil
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("decode KV table: %w: %v", ErrBadBody, err)
	}
	if t.Table == nil {
		t.Table = map[string]string{}
	}
	return &t, nil
}
