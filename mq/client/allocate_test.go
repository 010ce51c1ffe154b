package client_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// queues returns n queues of topic T per broker, sorted as consumers sort
// them.
func queues(n int, brokers ...string) []client.Queue {
	var out []client.Queue
	for _, b := range brokers {
		for i := range n {
			out = append(out, client.Queue{Topic: "T", Broker: b, QueueID: int32(i)})
		}
	}
	return out
}

func clients(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.0.%d@1", i+1)
	}
	return out
}

// pick names queues by index into a queue list.
func pick(qs []client.Queue, idx ...int) []client.Queue {
	out := []client.Queue{}
	for _, i := range idx {
		out = append(out, qs[i])
	}
	return out
}

// The expected shares are those of the official clients' strategies
// (AllocateMessageQueueAveragely, AllocateMessageQueueAveragelyByCircle)
// for the same sorted lists, worked out by hand.
func TestAllocationStrategies(t *testing.T) {
	eight := queues(8, "broker-a")
	five := queues(5, "broker-a")
	two := queues(2, "broker-a")
	split := queues(4, "broker-a", "broker-b")
	for _, tc := range []struct {
		name     string
		alloc    client.Allocator
		queues   []client.Queue
		clients  int
		expected [][]int // per client index
	}{
		{"average 8/3", client.AllocateAveragely, eight, 3, [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}}},
		{"average 5/3", client.AllocateAveragely, five, 3, [][]int{{0, 1}, {2, 3}, {4}}},
		{"average 2/4", client.AllocateAveragely, two, 4, [][]int{{0}, {1}, {}, {}}},
		{"average 8/4", client.AllocateAveragely, eight, 4, [][]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}}},
		{"average 8/1", client.AllocateAveragely, eight, 1, [][]int{{0, 1, 2, 3, 4, 5, 6, 7}}},
		{"average two brokers", client.AllocateAveragely, split, 3, [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}}},
		{"circle 8/3", client.AllocateAveragelyByCircle, eight, 3, [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5}}},
		{"circle 5/3", client.AllocateAveragelyByCircle, five, 3, [][]int{{0, 3}, {1, 4}, {2}}},
		{"circle 2/4", client.AllocateAveragelyByCircle, two, 4, [][]int{{0}, {1}, {}, {}}},
		{"circle two brokers", client.AllocateAveragelyByCircle, split, 2, [][]int{{0, 2, 4, 6}, {1, 3, 5, 7}}},
	} {
		cs := clients(tc.clients)
		for i, want := range tc.expected {
			got := tc.alloc(tc.queues, cs, cs[i])
			if !slices.Equal(append([]client.Queue{}, got...), pick(tc.queues, want...)) {
				t.Errorf("%s: client %d got %v, want queues %v", tc.name, i, got, want)
			}
		}
		if got := tc.alloc(tc.queues, cs, "not-a-member"); len(got) != 0 {
			t.Errorf("%s: a stranger got %v", tc.name, got)
		}
	}
}

// Every queue goes to exactly one member, whatever the counts.
func TestAllocationCoversEveryQueueOnce(t *testing.T) {
	for _, alloc := range []client.Allocator{client.AllocateAveragely, client.AllocateAveragelyByCircle} {
		for nq := 0; nq <= 20; nq++ {
			for nc := 1; nc <= 8; nc++ {
				qs, cs := queues(nq, "b"), clients(nc)
				owners := map[client.Queue]int{}
				for _, c := range cs {
					for _, q := range alloc(qs, cs, c) {
						owners[q]++
					}
				}
				if len(owners) != nq {
					t.Fatalf("%d queues, %d clients: %d allocated", nq, nc, len(owners))
				}
				for q, n := range owners {
					if n != 1 {
						t.Fatalf("%d queues, %d clients: %v allocated %d times", nq, nc, q, n)
					}
				}
			}
		}
	}
}

// Two members allocating by circle take alternate queues of the topic.
func TestConsumerWithAllocationByCircle(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Circle", 8)
	nop := func(context.Context, []*client.MessageExt) error { return nil }
	c1 := newConsumer(t, c, "cg-circle", "Circle", "*", nop, client.WithAllocation(client.AllocateAveragelyByCircle))
	c2 := newConsumer(t, c, "cg-circle", "Circle", "*", nop, client.WithAllocation(client.AllocateAveragelyByCircle))
	ids := func(cons *client.Consumer) []int32 {
		var out []int32
		for q := range maps.Keys(cons.Cached()) {
			if q.Topic == "Circle" {
				out = append(out, q.QueueID)
			}
		}
		slices.Sort(out)
		return out
	}
	even, odd := []int32{0, 2, 4, 6}, []int32{1, 3, 5, 7}
	waitUntil(t, 30*time.Second, "alternate queues on the two members", func() bool {
		i1, i2 := ids(c1), ids(c2)
		return (slices.Equal(i1, even) && slices.Equal(i2, odd)) || (slices.Equal(i1, odd) && slices.Equal(i2, even))
	})
}
