package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Admin inspects and changes clusters, topics and consumer groups. It is
// safe for concurrent use; Close releases its connections.
type Admin struct {
	cfg    config
	rc     *remoting.Client
	routes *routes
	closed atomic.Bool
}

// NewAdmin returns an Admin; WithNameServers is required.
func NewAdmin(opts ...Option) (*Admin, error) {
	cfg := config{timeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.namesrvs) == 0 {
		return nil, errors.New("client: WithNameServers is required")
	}
	rc := remoting.NewClient(remoting.ClientConfig{Logger: loggerOrDiscard(cfg.logger)})
	return &Admin{cfg: cfg, rc: rc, routes: &routes{rc: rc, namesrvs: cfg.namesrvs, timeout: cfg.timeout, byTopic: map[string]routeEntry{}}}, nil
}

// Close releases the connections; later calls fail with ErrClosed.
func (a *Admin) Close() error {
	a.closed.Store(true)
	return a.rc.Close()
}

// route returns a topic's route from the NameServers.
func (a *Admin) route(ctx context.Context, topic string) (*protocol.TopicRouteData, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	return a.routes.fetch(ctx, topic)
}

// call sends a request and turns an error response into a *BrokerError.
func (a *Admin) call(ctx context.Context, addr string, code int16, ext map[string]string, body []byte) (*remoting.Command, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.timeout)
	defer cancel()
	return call(ctx, a.rc, addr, remoting.NewRequest(code, ext, body))
}

// callNamesrv asks the NameServers in turn until one answers.
func (a *Admin) callNamesrv(ctx context.Context, code int16, ext map[string]string) (*remoting.Command, error) {
	var last error
	for _, addr := range a.cfg.namesrvs {
		resp, err := a.call(ctx, addr, code, ext, nil)
		if err == nil {
			return resp, nil
		}
		last = err
		var be *BrokerError
		if errors.As(err, &be) {
			break // an answer, not a transport failure
		}
	}
	return nil, last
}

// ClusterInfo lists clusters and their brokers.
func (a *Admin) ClusterInfo(ctx context.Context) (*protocol.ClusterInfo, error) {
	resp, err := a.callNamesrv(ctx, protocol.GetBrokerClusterInfo, nil)
	if err != nil {
		return nil, err
	}
	return protocol.UnmarshalClusterInfo(resp.Body)
}

// Topics lists every topic the NameServer routes.
func (a *Admin) Topics(ctx context.Context) ([]string, error) {
	resp, err := a.callNamesrv(ctx, protocol.GetAllTopicListFromNameServer, nil)
	if err != nil {
		return nil, err
	}
	l, err := protocol.UnmarshalTopicList(resp.Body)
	if err != nil {
		return nil, err
	}
	slices.Sort(l.TopicList)
	return l.TopicList, nil
}

// TopicRoute returns a topic's route; ErrTopicNotFound if it has none.
func (a *Admin) TopicRoute(ctx context.Context, topic string) (*protocol.TopicRouteData, error) {
	return a.route(ctx, topic)
}

// masters returns the master addresses of a cluster's brokers (all
// clusters when cluster is "").
func (a *Admin) masters(ctx context.Context, cluster string) ([]string, error) {
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for name, bd := range ci.BrokerAddrTable {
		if cluster != "" && !slices.Contains(ci.ClusterAddrTable[cluster], name) {
			continue
		}
		if addr := bd.MasterAddr(); addr != "" {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %q: no master broker registered", cluster)
	}
	slices.Sort(out)
	return out, nil
}

// TopicConfig describes a topic to create.
type TopicConfig struct {
	Name           string
	ReadQueueNums  int32 // default 8
	WriteQueueNums int32 // default 8
	Perm           int32 // default 6 (read and write)
	Order          bool
}

// CreateTopic creates or updates a topic on every master of a cluster
// ("" = every cluster).
func (a *Admin) CreateTopic(ctx context.Context, cluster string, tc TopicConfig) error {
	h := protocol.CreateTopicRequestHeader{Topic: tc.Name, DefaultTopic: autoCreateTopic, ReadQueueNums: tc.ReadQueueNums, WriteQueueNums: tc.WriteQueueNums,
		Perm: tc.Perm, TopicFilterType: protocol.TopicFilterSingleTag, Order: tc.Order}
	if h.ReadQueueNums == 0 {
		h.ReadQueueNums = 8
	}
	if h.WriteQueueNums == 0 {
		h.WriteQueueNums = 8
	}
	if h.Perm == 0 {
		h.Perm = protocol.PermRead | protocol.PermWrite
	}
	addrs, err := a.masters(ctx, cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if _, err := a.call(ctx, addr, protocol.UpdateAndCreateTopic, h.Ext(), nil); err != nil {
			return fmt.Errorf("create topic %s on %s: %w", tc.Name, addr, err)
		}
	}
	return nil
}

// DeleteTopic deletes a topic from a cluster's brokers and from every
// NameServer.
func (a *Admin) DeleteTopic(ctx context.Context, cluster, topic string) error {
	addrs, err := a.masters(ctx, cluster)
	if err != nil {
		return err
	}
	h := protocol.DeleteTopicRequestHeader{Topic: topic}
	for _, addr := range addrs {
		if _, err := a.call(ctx, addr, protocol.DeleteTopicInBroker, h.Ext(), nil); err != nil {
			return fmt.Errorf("delete topic %s on %s: %w", topic, addr, err)
		}
	}
	h.ClusterName = cluster
	for _, ns := range a.cfg.namesrvs {
		if _, err := a.call(ctx, ns, protocol.DeleteTopicInNamesrv, h.Ext(), nil); err != nil {
			return fmt.Errorf("delete topic %s on NameServer %s: %w", topic, ns, err)
		}
	}
	return nil
}

// topicBrokers returns the master addresses hosting a topic.
func (a *Admin) topicBrokers(ctx context.Context, topic string) (map[string]string, error) {
	rd, err := a.route(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := map[string]string{}
	for _, bd := range rd.BrokerDatas {
		if addr := bd.MasterAddr(); addr != "" {
			out[bd.BrokerName] = addr
		}
	}
	return out, nil
}

// TopicStatus returns min and max offsets and last update time per queue.
func (a *Admin) TopicStatus(ctx context.Context, topic string) (map[protocol.MessageQueue]protocol.TopicOffset, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[protocol.MessageQueue]protocol.TopicOffset{}
	for _, addr := range brokers {
		resp, err := a.call(ctx, addr, protocol.GetTopicStatsInfo, map[string]string{"topic": topic}, nil)
		if err != nil {
			return nil, err
		}
		t, err := protocol.UnmarshalTopicStatsTable(resp.Body)
		if err != nil {
			return nil, err
		}
		for q, o := range t.OffsetTable {
			out[q] = o
		}
	}
	return out, nil
}

// ConsumerProgress returns a group's broker and consumer offsets per queue
// of a topic (its lag is BrokerOffset - ConsumerOffset).
func (a *Admin) ConsumerProgress(ctx context.Context, group, topic string) (map[protocol.MessageQueue]protocol.OffsetWrapper, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[protocol.MessageQueue]protocol.OffsetWrapper{}
	for _, addr := range brokers {
		resp, err := a.call(ctx, addr, protocol.GetConsumeStats, protocol.GetConsumeStatsRequestHeader{ConsumerGroup: group, Topic: topic}.Ext(), nil)
		if err != nil {
			return nil, err
		}
		cs, err := protocol.UnmarshalConsumeStats(resp.Body)
		if err != nil {
			return nil, err
		}
		for q, o := range cs.OffsetTable {
			out[q] = o
		}
	}
	return out, nil
}

// ConsumerConnections lists a group's live clients on the brokers of a
// topic it consumes.
func (a *Admin) ConsumerConnections(ctx context.Context, group, topic string) (*protocol.ConsumerConnection, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	var last error
	for _, addr := range brokers {
		resp, err := a.call(ctx, addr, protocol.GetConsumerConnectionList, map[string]string{"consumerGroup": group}, nil)
		if err != nil {
			last = err
			continue
		}
		return protocol.UnmarshalConsumerConnection(resp.Body)
	}
	return nil, last
}

// ConsumerRunningInfo asks one client of a group, through a broker of
// topic that it is connected to, what it is doing: above all which queues
// it holds (MQTable). Surge's consumers and the official clients answer.
func (a *Admin) ConsumerRunningInfo(ctx context.Context, group, topic, clientID string) (*protocol.ConsumerRunningInfo, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	ext := map[string]string{"consumerGroup": group, "clientId": clientID, "jstackEnable": "false"}
	var last error
	for _, addr := range brokers {
		resp, err := a.call(ctx, addr, protocol.GetConsumerRunningInfo, ext, nil)
		if err != nil {
			last = err
			continue
		}
		return protocol.UnmarshalConsumerRunningInfo(resp.Body)
	}
	return nil, last
}

// BrokerRuntime returns a broker's runtime figures.
func (a *Admin) BrokerRuntime(ctx context.Context, addr string) (map[string]string, error) {
	resp, err := a.call(ctx, addr, protocol.GetBrokerRuntimeInfo, nil, nil)
	if err != nil {
		return nil, err
	}
	kv, err := protocol.UnmarshalKVTable(resp.Body)
	if err != nil {
		return nil, err
	}
	return kv.Table, nil
}

// ViewMessage returns the message an offset message ID names.
func (a *Admin) ViewMessage(ctx context.Context, offsetMsgID string) (*protocol.Message, error) {
	host, off, err := protocol.ParseOffsetMessageID(offsetMsgID)
	if err != nil {
		return nil, err
	}
	resp, err := a.call(ctx, host.String(), protocol.ViewMessageByID, protocol.ViewMessageRequestHeader{Offset: off}.Ext(), nil)
	if err != nil {
		return nil, err
	}
	return decodeMessage(resp.Body)
}

// MessageAtOffset returns the message at an offset of a queue, given by
// topic, broker name and queue ID; ErrMessageNotFound if the queue has no
// message there.
func (a *Admin) MessageAtOffset(ctx context.Context, topic, brokerName string, queueID int32, offset int64) (*protocol.Message, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	addr, ok := brokers[brokerName]
	if !ok {
		return nil, fmt.Errorf("topic %s has no queues on broker %q", topic, brokerName)
	}
	h := protocol.PullMessageRequestHeader{
		ConsumerGroup: "TOOLS_CONSUMER", Topic: topic, QueueID: queueID, QueueOffset: offset, MaxMsgNums: 1,
		SysFlag: protocol.PullSubscription, Subscription: "*", ExpressionType: protocol.ExpressionTag,
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.timeout)
	defer cancel()
	resp, err := invoke(ctx, a.rc, addr, remoting.NewRequest(protocol.PullMessage, h.Ext(), nil))
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%s/%s/%d offset %d", topic, brokerName, queueID, offset)
	switch resp.Code {
	case protocol.Success:
	case protocol.PullNotFound, protocol.PullOffsetMoved, protocol.PullRetryImmediately:
		return nil, fmt.Errorf("%s (queue offsets from %s, next %s): %w", where, resp.Ext("minOffset"), resp.Ext("maxOffset"), ErrMessageNotFound)
	default:
		return nil, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark}
	}
	msgs, err := decodeMessages(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(msgs) == 0 || msgs[0].QueueOffset != offset {
		return nil, fmt.Errorf("%s: %w", where, ErrMessageNotFound)
	}
	return msgs[0], nil
}

// QueryByKey returns up to max messages of a topic with a key (or unique
// ID), newest first, from every broker of the topic.
func (a *Admin) QueryByKey(ctx context.Context, topic, key string, max int) ([]*protocol.Message, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []*protocol.Message
	for _, addr := range brokers {
		h := protocol.QueryMessageRequestHeader{Topic: topic, Key: key, MaxNum: int32(max), EndTimestamp: time.Now().Add(time.Minute).UnixMilli()}
		resp, err := a.call(ctx, addr, protocol.QueryMessage, h.Ext(), nil)
		var be *BrokerError
		if errors.As(err, &be) && be.Code == protocol.QueryNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		msgs, err := decodeMessages(resp.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// ResetOffsetByTime moves a group's offsets on a topic to the first
// message stored at or after ts (ms; -1 = the end), on every broker; live
// consumers are told.
func (a *Admin) ResetOffsetByTime(ctx context.Context, group, topic string, ts int64) (map[protocol.MessageQueue]int64, error) {
	brokers, err := a.topicBrokers(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[protocol.MessageQueue]int64{}
	for _, addr := range brokers {
		h := protocol.ResetOffsetRequestHeader{Topic: topic, Group: group, Timestamp: ts, IsForce: true}
		resp, err := a.call(ctx, addr, protocol.InvokeBrokerToResetOffset, h.Ext(), nil)
		if err != nil {
			return nil, err
		}
		b, err := protocol.UnmarshalResetOffsetBody(resp.Body)
		if err != nil {
			return nil, err
		}
		for q, o := range b.OffsetTable {
			out[q] = o
		}
	}
	return out, nil
}
