package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// Request-reply: a responder sends its reply with SEND_REPLY_MESSAGE
// (324, 325); the broker stores it like any message and pushes it to the
// requester, the client whose ID is the request's REPLY_TO_CLIENT, with
// PUSH_REPLY_MESSAGE_TO_CLIENT (326) on that client's connection.

// pushReply delivers a stored reply to its requester. It answers the
// replier: success only if the requester got it.
func (b *Broker) pushReply(ctx context.Context, req *remoting.Command, h *protocol.SendMessageHeader, m *protocol.Message, res store.PutResult) *remoting.Command {
	clientID := m.Property(protocol.PropertyReplyToClient)
	cc := b.clients.connByClientID(clientID)
	if cc == nil {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("push reply failed: the requester %q is not connected to this broker", clientID))
	}
	ph := protocol.PushReplyMessageRequestHeader{
		ProducerGroup: h.ProducerGroup, Topic: h.Topic, DefaultTopic: h.DefaultTopic, DefaultTopicQueueNums: h.DefaultTopicQueueNums,
		QueueID: m.QueueID, SysFlag: m.SysFlag, BornTimestamp: m.BornTimestamp, Flag: m.Flag,
		Properties: protocol.SetProperty(m.Properties, "PUSH_REPLY_TIME", itoa(time.Now().UnixMilli())), ReconsumeTimes: m.ReconsumeTimes,
		BornHost: m.BornHost.String(), StoreHost: b.Addr(), StoreTimestamp: res.StoreTimestamp,
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cc.conn.Invoke(pctx, remoting.NewRequest(protocol.PushReplyMessageToClient, ph.Ext(), m.Body))
	if err != nil || resp.Code != protocol.Success {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("push reply to %s failed: %v", clientID, err))
	}
	out := remoting.NewResponse(req, protocol.Success, "")
	out.ExtFields = map[string]string{"msgId": "0", "queueId": itoa(int64(m.QueueID)), "queueOffset": "0"}
	return out
}
