package compat_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// TestCompatAdmin: the official admin creates topics on the broker (with
// its defaults and with explicit queue counts), which the NameServer then
// routes; lists topics; reads the subscription groups; deletes a topic
// from broker and NameServer, after which consumers cannot start on it.
func TestCompatAdmin(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	ctx := context.Background()
	withAdmin(t, c, func(a admin.Admin) {
		if err := a.CreateTopic(ctx, admin.WithTopicCreate("AdminDefault"), admin.WithBrokerAddrCreate(c.BrokerAddr)); err != nil {
			t.Fatalf("CreateTopic with defaults: %v", err)
		}
		if err := a.CreateTopic(ctx, admin.WithTopicCreate("AdminTwo"), admin.WithBrokerAddrCreate(c.BrokerAddr),
			admin.WithReadQueueNums(2), admin.WithWriteQueueNums(2)); err != nil {
			t.Fatalf("CreateTopic with 2 queues: %v", err)
		}
	})
	waitTopicListed(t, c, "AdminDefault", true)
	waitTopicListed(t, c, "AdminTwo", true)
	list := topicList(t, c)
	if !slices.Contains(list, "TBW102") {
		t.Errorf("topic list %v lacks TBW102", list)
	}
	withAdmin(t, c, func(a admin.Admin) {
		for topic, want := range map[string]int{"AdminDefault": 8, "AdminTwo": 2} {
			mqs, err := a.FetchPublishMessageQueues(ctx, topic)
			if err != nil {
				t.Fatalf("FetchPublishMessageQueues %s: %v", topic, err)
			}
			if len(mqs) != want {
				t.Errorf("%s: %d queues routed, want %d", topic, len(mqs), want)
			}
			for _, mq := range mqs {
				if mq.BrokerName != brokerName || mq.QueueId >= want {
					t.Errorf("%s: routed queue %v", topic, mq)
				}
			}
		}
	})

	// The created topic is usable: sends spread over exactly its queues.
	p := startProducer(t, c)
	used := map[int]bool{}
	for range 6 {
		used[sendSync(t, p, primitive.NewMessage("AdminTwo", []byte("x"))).MessageQueue.QueueId] = true
	}
	if len(used) != 2 || !used[0] || !used[1] {
		t.Errorf("sends to a 2-queue topic used queues %v", used)
	}
	in := newInbox()
	startPushConsumer(t, c, "cg-admin", "AdminTwo", all, in.callback(consumer.ConsumeSuccess))
	in.waitFor(t, 20*time.Second, "the 6 messages", func(d []delivery) bool { return len(d) >= 6 })

	withAdmin(t, c, func(a admin.Admin) {
		groups, err := a.GetAllSubscriptionGroup(ctx, c.BrokerAddr, 3*time.Second)
		if err != nil {
			t.Fatalf("GetAllSubscriptionGroup: %v", err)
		}
		if _, ok := groups.SubscriptionGroupTable["cg-admin"]; !ok {
			t.Errorf("subscription groups %v lack cg-admin", groups.SubscriptionGroupTable)
		}
		if err := a.DeleteTopic(ctx, admin.WithTopicDelete("AdminDefault"), admin.WithBrokerAddrDelete(c.BrokerAddr),
			admin.WithNameSrvAddr([]string{c.NamesrvAddr})); err != nil {
			t.Fatalf("DeleteTopic: %v", err)
		}
	})
	waitTopicListed(t, c, "AdminDefault", false)
	pc := pushConsumer(t, c, "cg-deleted", "AdminDefault", all, newInbox().callback(consumer.ConsumeSuccess))
	if err := pc.Start(); err == nil || !strings.Contains(err.Error(), "route info not found") {
		t.Errorf("consumer start on a deleted topic: %v, want \"route info not found\"", err)
	}
	// The broker must not bring the topic back when it next registers,
	// which it does at once after creating another topic.
	createTopic(t, c, "AdminAfter", 1)
	if slices.Contains(topicList(t, c), "AdminDefault") {
		t.Error("the deleted topic is routed again after the broker's next registration")
	}
}

// TestCompatAdminToolRequests: admin tools reach a consumer through the
// broker, which relays GET_CONSUMER_RUNNING_INFO (307) and
// CONSUME_MESSAGE_DIRECTLY (309) to the client's connection and returns
// the answer verbatim (the Go client's running info is not valid JSON:
// its maps have object keys). For 309 the broker must send exactly one
// stored message, which the official consumer then runs its callback on.
// The official Go client has no admin calls for these, so the test plays
// the admin tool with Surge's remoting package.
func TestCompatAdminToolRequests(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Relayed", 2)
	p := startProducer(t, c)
	res := sendSync(t, p, primitive.NewMessage("Relayed", []byte("direct me")).WithTag("TagD"))
	in := newInbox()
	startPushConsumer(t, c, "cg-relay", "Relayed", all, in.callback(consumer.ConsumeSuccess))
	in.waitBodies(t, 20*time.Second, "direct me")

	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	conns, err := a.ConsumerConnections(context.Background(), "cg-relay", "Relayed")
	if err != nil || len(conns.ConnectionSet) != 1 {
		t.Fatalf("consumer connections of cg-relay: %+v, %v", conns, err)
	}
	if conn := conns.ConnectionSet[0]; conn.Language != "GO" || conn.Version != 317 {
		t.Errorf("connection of the official client: language %q version %d, want GO 317", conn.Language, conn.Version)
	}
	clientID := conns.ConnectionSet[0].ClientID

	rc := remoting.NewClient(remoting.ClientConfig{})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	info, err := rc.Invoke(ctx, c.BrokerAddr, remoting.NewRequest(protocol.GetConsumerRunningInfo,
		protocol.GetConsumerRunningInfoRequestHeader{ConsumerGroup: "cg-relay", ClientID: clientID}.Ext(), nil))
	if err != nil {
		t.Fatalf("GET_CONSUMER_RUNNING_INFO through the broker: %v", err)
	}
	if info.Code != protocol.Success || !bytes.Contains(info.Body, []byte(`"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"`)) ||
		!bytes.Contains(info.Body, []byte(`{"topic":"Relayed","brokerName":"broker-a","queueId":`)) {
		t.Errorf("running info: code %d remark %q body %.300s", info.Code, info.Remark, info.Body)
	}

	direct, err := rc.Invoke(ctx, c.BrokerAddr, remoting.NewRequest(protocol.ConsumeMessageDirectly,
		protocol.ConsumeMessageDirectlyRequestHeader{ConsumerGroup: "cg-relay", ClientID: clientID, MsgID: res.OffsetMsgID}.Ext(), nil))
	if err != nil {
		t.Fatalf("CONSUME_MESSAGE_DIRECTLY through the broker: %v", err)
	}
	if direct.Code != protocol.Success || !bytes.Contains(direct.Body, []byte(`"consumeResult":0`)) {
		t.Errorf("consume directly: code %d remark %q body %s", direct.Code, direct.Remark, direct.Body)
	}
	got := in.waitFor(t, 5*time.Second, "the directly consumed message in the callback", func(d []delivery) bool { return len(d) >= 2 })
	if m := got[1].msg; string(m.Body) != "direct me" || m.OffsetMsgId != res.OffsetMsgID || m.GetTags() != "TagD" {
		t.Errorf("callback got %q (id %s, tag %q), want the stored message %s", m.Body, m.OffsetMsgId, m.GetTags(), res.OffsetMsgID)
	}
}
