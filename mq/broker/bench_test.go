package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Benchmarks of the broker's own request handling: the handlers are called
// directly, without the network, against a real store in b.TempDir
// (default 1 GiB segments). docs/perf.md has the figures and the
// end-to-end ones measured with mqbench.

// benchBatch is a SEND_BATCH_MESSAGE request of n sub-messages of size
// bytes, as the Go client sends one: each sub-message with a UNIQ_KEY.
func benchBatch(b *testing.B, topic string, n, size int) *remoting.Command {
	b.Helper()
	body := make([]byte, 0, n*(size+64))
	payload := make([]byte, size)
	for i := range n {
		var err error
		body, err = protocol.AppendBatchMessage(body, protocol.BatchMessage{
			Body:       payload,
			Properties: fmt.Sprintf("UNIQ_KEY\x017F00000100002A9F00000000%08X\x02", i),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	h := protocol.SendMessageHeader{ProducerGroup: "pg", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4, QueueID: 0, Batch: true, BornTimestamp: 1700000000000}
	return remoting.NewRequest(protocol.SendBatchMessage, h.ExtV2(), body)
}

func startBenchBroker(b *testing.B) *testBroker {
	return startBroker(b, func(c *Config) { c.Store.SegmentSize = 0; c.Store.IndexSlots = 0; c.Store.IndexEntries = 0 })
}

// BenchmarkSendBatch measures handleSend for batches of 32 messages of
// 1 KiB: decoding the batch, the stored properties, the append (commit
// log, consume queue) and the response with 32 message IDs.
func BenchmarkSendBatch(b *testing.B) {
	const n, size = 32, 1 << 10
	tb := startBenchBroker(b)
	req := benchBatch(b, "BenchBatch", n, size)
	ctx := context.Background()
	b.SetBytes(n * size)
	b.ReportAllocs()
	for b.Loop() {
		if resp := tb.handleSend(ctx, nil, req); resp.Code != protocol.Success {
			b.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPull measures handlePull reading 32 messages of 1 KiB per
// request from a backlog of 64 Ki messages in one queue, walked in order
// and over again.
func BenchmarkPull(b *testing.B) {
	const n, batch, size = 64 << 10, 32, 1 << 10
	tb := startBenchBroker(b)
	ctx := context.Background()
	req := benchBatch(b, "BenchPull", batch, size)
	for range n / batch {
		if resp := tb.handleSend(ctx, nil, req); resp.Code != protocol.Success {
			b.Fatalf("send: %d %s", resp.Code, resp.Remark)
		}
	}
	h := protocol.PullMessageRequestHeader{
		ConsumerGroup: "bench", Topic: "BenchPull", QueueID: 0, MaxMsgNums: batch,
		SysFlag: protocol.PullSubscription, Subscription: "*", ExpressionType: protocol.ExpressionTag,
	}
	b.SetBytes(batch * size)
	b.ReportAllocs()
	for b.Loop() {
		resp := tb.handlePull(ctx, nil, remoting.NewRequest(protocol.PullMessage, h.Ext(), nil))
		if resp.Code != protocol.Success {
			b.Fatalf("pull at %d: %d %s", h.QueueOffset, resp.Code, resp.Remark)
		}
		if h.QueueOffset += batch; h.QueueOffset >= n {
			h.QueueOffset = 0
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}
