package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// consumerNotOnline is Java's CONSUMER_NOT_ONLINE response code.
const consumerNotOnline int16 = 206

// routeAdmin registers the admin and query handlers that mqadmin and the
// official admin clients use.
func (b *Broker) routeAdmin(mux *remoting.Mux) {
	mux.HandleFunc(protocol.UpdateAndCreateTopic, b.handleCreateTopic)
	mux.HandleFunc(protocol.DeleteTopicInBroker, b.handleDeleteTopic)
	mux.HandleFunc(protocol.GetAllTopicConfig, b.handleAllTopicConfig)
	mux.HandleFunc(protocol.UpdateAndCreateSubscription, b.handleCreateGroup)
	mux.HandleFunc(protocol.GetAllSubscriptionGroupConfig, b.handleAllGroups)
	mux.HandleFunc(protocol.DeleteSubscriptionGroup, b.handleDeleteGroup)
	mux.HandleFunc(protocol.ViewMessageByID, b.handleViewMessage)
	mux.HandleFunc(protocol.QueryMessage, b.handleQueryMessage)
	mux.HandleFunc(protocol.GetTopicStatsInfo, b.handleTopicStats)
	mux.HandleFunc(protocol.GetConsumeStats, b.handleConsumeStats)
	mux.HandleFunc(protocol.GetConsumerConnectionList, b.handleConsumerConnections)
	mux.HandleFunc(protocol.GetProducerConnectionList, b.handleProducerConnections)
	mux.HandleFunc(protocol.GetBrokerRuntimeInfo, b.handleRuntimeInfo)
	mux.HandleFunc(protocol.InvokeBrokerToResetOffset, b.handleResetOffset)
	mux.HandleFunc(protocol.GetConsumerRunningInfo, b.handleRelayToClient)
	mux.HandleFunc(protocol.ConsumeMessageDirectly, b.handleRelayToClient)
}

// handleRelayToClient serves GET_CONSUMER_RUNNING_INFO (307) and
// CONSUME_MESSAGE_DIRECTLY (309) from admin tools: the request goes to the
// named client's connection and its answer comes back verbatim. For 309 the
// body is the one stored message the msgId names.
func (b *Broker) handleRelayToClient(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	clientID := req.Ext("clientId")
	cc := b.clients.connByClientID(clientID)
	if cc == nil {
		return remoting.NewResponse(req, consumerNotOnline, fmt.Sprintf("the consumer client %q is not online", clientID))
	}
	ext := maps.Clone(req.ExtFields)
	var body []byte
	if req.Code == protocol.ConsumeMessageDirectly {
		_, off, err := protocol.ParseOffsetMessageID(req.Ext("msgId"))
		if err != nil {
			return remoting.NewResponse(req, protocol.SystemError, err.Error())
		}
		m, err := b.store.Message(off)
		if err != nil {
			return remoting.NewResponse(req, protocol.SystemError, "can not find message by the offset, "+itoa(off))
		}
		body = m.AppendEncode(nil)
		ext["brokerName"] = b.cfg.BrokerName
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cc.conn.Invoke(rctx, remoting.NewRequest(req.Code, ext, body))
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("ask client %s: %v", clientID, err))
	}
	out := remoting.NewResponse(req, resp.Code, resp.Remark)
	out.ExtFields, out.Body = resp.ExtFields, resp.Body
	return out
}

func bodyResponse(req *remoting.Command, body []byte, err error) *remoting.Command {
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

// handleCreateTopic serves UPDATE_AND_CREATE_TOPIC (17).
func (b *Broker) handleCreateTopic(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeCreateTopicRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if err := store.ValidTopic(h.Topic); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if isSystemTopic(h.Topic) || h.Topic == TopicAutoCreate {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("the topic[%s] is a system topic and cannot be changed", h.Topic))
	}
	if h.ReadQueueNums < 1 || h.WriteQueueNums < 1 || h.ReadQueueNums > 1024 || h.WriteQueueNums > 1024 {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("queue numbers read=%d write=%d: want 1..1024", h.ReadQueueNums, h.WriteQueueNums))
	}
	tc := h.TopicConfig()
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = FilterSingleTag
	}
	if err := b.topics.put(tc); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	b.log.Info("topic created or updated", "topic", h.Topic, "read", h.ReadQueueNums, "write", h.WriteQueueNums, "perm", h.Perm)
	return remoting.NewResponse(req, protocol.Success, "")
}

// handleDeleteTopic serves DELETE_TOPIC_IN_BROKER (215): the config, the
// consume queues and the consumer offsets go; records stay in the commit
// log until retention.
func (b *Broker) handleDeleteTopic(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeDeleteTopicRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if isSystemTopic(h.Topic) || h.Topic == TopicAutoCreate {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("the topic[%s] is a system topic and cannot be deleted", h.Topic))
	}
	if _, err := b.topics.remove(h.Topic); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	b.offsets.removeTopic(h.Topic)
	if err := b.store.DeleteTopic(h.Topic); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	b.log.Info("topic deleted", "topic", h.Topic)
	return remoting.NewResponse(req, protocol.Success, "")
}

// handleAllTopicConfig serves GET_ALL_TOPIC_CONFIG (21).
func (b *Broker) handleAllTopicConfig(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	topics, version := b.topics.snapshot()
	body, err := json.Marshal(protocol.TopicConfigSerializeWrapper{DataVersion: version, TopicConfigTable: topics})
	return bodyResponse(req, body, err)
}

// handleCreateGroup serves UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200); the
// body is the group's config.
func (b *Broker) handleCreateGroup(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	// Fields the body leaves out keep Java's defaults (a partial body must
	// not give the group retryQueueNums 0, which drops its retries).
	var sg protocol.SubscriptionGroupConfig
	if err := json.Unmarshal(req.Body, &struct {
		GroupName *string `json:"groupName"`
	}{&sg.GroupName}); err == nil && sg.GroupName != "" {
		sg = protocol.DefaultSubscriptionGroupConfig(sg.GroupName)
	}
	if err := json.Unmarshal(req.Body, &sg); err != nil || sg.GroupName == "" {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("subscription group body: want a config with groupName (%v)", err))
	}
	return bodyResponse(req, nil, b.groups.put(sg))
}

// handleAllGroups serves GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
func (b *Broker) handleAllGroups(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	w := b.groups.snapshot()
	body, err := w.Marshal()
	return bodyResponse(req, body, err)
}

// handleDeleteGroup serves DELETE_SUBSCRIPTIONGROUP (207).
func (b *Broker) handleDeleteGroup(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return bodyResponse(req, nil, b.groups.remove(req.Ext("groupName")))
}

// handleViewMessage serves VIEW_MESSAGE_BY_ID (33): the record at a
// commit-log offset.
func (b *Broker) handleViewMessage(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeViewMessageRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	m, err := b.store.Message(h.Offset)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, "can not find message by the offset, "+itoa(h.Offset))
	}
	return bodyResponse(req, m.AppendEncode(nil), nil)
}

// handleQueryMessage serves QUERY_MESSAGE (12): messages by key or unique
// key within a store-time range.
func (b *Broker) handleQueryMessage(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeQueryMessageRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	maxNum := int(h.MaxNum)
	if h.UniqueKeyQuery || maxNum <= 0 {
		maxNum = 32
	}
	end := h.EndTimestamp
	if end <= 0 {
		end = 1<<63 - 1
	}
	msgs, err := b.store.QueryByKey(h.Topic, h.Key, maxNum, h.BeginTimestamp, end)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if len(msgs) == 0 {
		return remoting.NewResponse(req, protocol.QueryNotFound, "can not find message, maybe time range not correct")
	}
	var body []byte
	for _, m := range msgs {
		body = m.AppendEncode(body)
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	st := b.store.Stats()
	resp.ExtFields = protocol.QueryMessageResponseHeader{IndexLastUpdateTimestamp: time.Now().UnixMilli(), IndexLastUpdatePhyoffset: st.IndexedOffset}.Ext()
	resp.Body = body
	return resp
}

// handleTopicStats serves GET_TOPIC_STATS_INFO (202).
func (b *Broker) handleTopicStats(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	topic := req.Ext("topic")
	tc, ok := b.topics.get(topic)
	if !ok {
		return remoting.NewResponse(req, protocol.TopicNotExist, "topic["+topic+"] not exist")
	}
	t := protocol.TopicStatsTable{OffsetTable: map[protocol.MessageQueue]protocol.TopicOffset{}}
	for q := range max(tc.ReadQueueNums, tc.WriteQueueNums) {
		to := protocol.TopicOffset{MinOffset: b.store.MinOffset(topic, q), MaxOffset: b.store.MaxOffset(topic, q)}
		if to.MaxOffset > 0 {
			to.LastUpdateTimestamp, _ = b.store.StoreTimeAtOffset(topic, q, to.MaxOffset-1)
		}
		t.OffsetTable[protocol.MessageQueue{Topic: topic, BrokerName: b.cfg.BrokerName, QueueID: q}] = to
	}
	body, err := t.Marshal()
	return bodyResponse(req, body, err)
}

// consumeStats computes a group's progress on its topics: broker offset,
// committed offset and the store time of the last consumed message.
func (b *Broker) consumeStats(group, topic string) protocol.ConsumeStats {
	topics := []string{topic}
	if topic == "" {
		topics = b.offsets.topicsOf(group)
	}
	cs := protocol.ConsumeStats{OffsetTable: map[protocol.MessageQueue]protocol.OffsetWrapper{}}
	for _, t := range topics {
		tc, ok := b.topics.get(t)
		if !ok {
			continue
		}
		committed := b.offsets.group(group, t)
		for q := range tc.ReadQueueNums {
			ow := protocol.OffsetWrapper{BrokerOffset: b.store.MaxOffset(t, q), ConsumerOffset: committed[q]}
			if ow.ConsumerOffset > 0 {
				ow.LastTimestamp, _ = b.store.StoreTimeAtOffset(t, q, ow.ConsumerOffset-1)
			}
			cs.OffsetTable[protocol.MessageQueue{Topic: t, BrokerName: b.cfg.BrokerName, QueueID: q}] = ow
		}
	}
	return cs
}

// handleConsumeStats serves GET_CONSUME_STATS (208).
func (b *Broker) handleConsumeStats(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeGetConsumeStatsRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	cs := b.consumeStats(h.ConsumerGroup, h.Topic)
	body, err := cs.Marshal()
	return bodyResponse(req, body, err)
}

// handleConsumerConnections serves GET_CONSUMER_CONNECTION_LIST (203).
func (b *Broker) handleConsumerConnections(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	group := req.Ext("consumerGroup")
	gi, ok := b.clients.group(group)
	if !ok {
		return remoting.NewResponse(req, consumerNotOnline, "the consumer group["+group+"] not online")
	}
	cc := protocol.ConsumerConnection{ConsumeType: gi.ConsumeType, MessageModel: gi.MessageModel, ConsumeFromWhere: gi.ConsumeFromWhere, SubscriptionTable: map[string]protocol.SubscriptionData{}}
	for _, conn := range gi.Conns {
		cc.ConnectionSet = append(cc.ConnectionSet, connection(conn))
	}
	for _, s := range gi.Subs {
		cc.SubscriptionTable[s.Topic] = s
	}
	body, err := cc.Marshal()
	return bodyResponse(req, body, err)
}

func connection(c clientConn) protocol.Connection {
	return protocol.Connection{ClientID: c.clientID, ClientAddr: c.conn.RemoteAddr().String(), Language: c.language, Version: int32(c.version)}
}

// handleProducerConnections serves GET_PRODUCER_CONNECTION_LIST (204).
func (b *Broker) handleProducerConnections(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	var pc protocol.ProducerConnection
	for _, conn := range b.clients.producerConns(req.Ext("producerGroup")) {
		pc.ConnectionSet = append(pc.ConnectionSet, connection(*conn))
	}
	body, err := pc.Marshal()
	return bodyResponse(req, body, err)
}

// startedAt is when the process started, for the runtime info's uptime.
var startedAt = time.Now()

// handleRuntimeInfo serves GET_BROKER_RUNTIME_INFO (28).
func (b *Broker) handleRuntimeInfo(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	st := b.store.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := strconv.FormatFloat
	t := protocol.KVTable{Table: map[string]string{
		"brokerVersionDesc":    "Surge (RocketMQ 4.9.7 protocol)",
		"brokerVersion":        strconv.Itoa(brokerVersion),
		"brokerName":           b.cfg.BrokerName,
		"clusterName":          b.cfg.ClusterName,
		"brokerAddr":           b.Addr(),
		"bootTimestamp":        itoa(startedAt.UnixMilli()),
		"runtime":              time.Since(startedAt).Round(time.Second).String(),
		"commitLogMinOffset":   itoa(st.CommitLogMinOffset),
		"commitLogMaxOffset":   itoa(st.CommitLogMaxOffset),
		"commitLogFlushed":     itoa(st.FlushedOffset),
		"dispatchBehindBytes":  itoa(st.CommitLogMaxOffset - st.IndexedOffset),
		"commitLogDiskRatio":   f(st.DiskUsedPercent/100, 'f', 4, 64),
		"diskFull":             strconv.FormatBool(st.DiskFull),
		"flushDiskType":        st.FlushType.String(),
		"consumeQueues":        strconv.Itoa(st.Queues),
		"pullRequestsHeld":     itoa(b.polls.count()),
		"consumerGroupsOnline": strconv.Itoa(len(b.clients.consumerGroups())),
		"goroutines":           strconv.Itoa(runtime.NumGoroutine()),
		"heapInuseBytes":       strconv.FormatUint(ms.HeapInuse, 10),
		"msgPutTotalTodayNow":  itoa(b.stats.putMessages.Load()),
		"msgGetTotalTodayNow":  itoa(b.stats.getMessages.Load()),
		"putMessageTimesTotal": itoa(b.stats.putMessages.Load()),
		"getMessageTimesTotal": itoa(b.stats.getMessages.Load()),
	}}
	body, err := t.Marshal()
	return bodyResponse(req, body, err)
}

// handleResetOffset serves INVOKE_BROKER_TO_RESET_OFFSET (222): the
// group's offsets on a topic move to the first message stored at or after
// the timestamp (-1: the end); live consumers are told with
// RESET_CONSUMER_CLIENT_OFFSET.
func (b *Broker) handleResetOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeResetOffsetRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	tc, ok := b.topics.get(h.Topic)
	if !ok {
		return remoting.NewResponse(req, protocol.TopicNotExist, "topic["+h.Topic+"] not exist")
	}
	table := map[protocol.MessageQueue]int64{}
	committed := b.offsets.group(h.Group, h.Topic)
	for q := range tc.ReadQueueNums {
		off := b.store.MaxOffset(h.Topic, q)
		if h.Timestamp >= 0 {
			if off, err = b.store.OffsetByTime(h.Topic, q, h.Timestamp); err != nil {
				return remoting.NewResponse(req, protocol.SystemError, err.Error())
			}
		}
		if cur, ok := committed[q]; ok && !h.IsForce && off > cur {
			off = cur // not forced: only move back
		}
		b.offsets.commit(h.Group, h.Topic, q, off)
		table[protocol.MessageQueue{Topic: h.Topic, BrokerName: b.cfg.BrokerName, QueueID: q}] = off
	}
	body, err := (&protocol.ResetOffsetBody{OffsetTable: table}).Marshal()
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	for _, cc := range b.clients.consumerConns(h.Group) {
		push := remoting.NewRequest(protocol.ResetConsumerClientOffset, h.Ext(), body)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := cc.conn.InvokeOneway(pctx, push); err != nil && !errors.Is(err, context.Canceled) {
			b.log.Warn("reset offset push failed", "group", h.Group, "clientId", cc.clientID, "err", err)
		}
		cancel()
	}
	return bodyResponse(req, body, nil)
}
