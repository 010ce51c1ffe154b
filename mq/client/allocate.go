package client

import "slices"

// Allocator decides which queues of a topic one member of a consumer group
// consumes. queues and members are sorted the same way on every member
// (queues by broker name then queue ID; members as strings), and every
// member must use the same Allocator, or some queues are consumed twice
// and others not at all.
type Allocator func(queues []Queue, members []string, me string) []Queue

// AllocateAveragely gives each member a contiguous block of queues, the
// first len(queues)%len(members) members one more. It assigns exactly what
// the official clients' AllocateMessageQueueAveragely assigns, so Surge and
// Apache RocketMQ clients can share a group. It is the default.
func AllocateAveragely(queues []Queue, members []string, me string) []Queue {
	idx := slices.Index(members, me)
	if idx < 0 || len(queues) == 0 {
		return nil
	}
	n := len(members)
	per, extra := len(queues)/n, len(queues)%n
	start := idx*per + min(idx, extra)
	size := per
	if idx < extra {
		size++
	}
	return queues[start:min(start+size, len(queues))]
}

// AllocateAveragelyByCircle deals the queues out to the members like cards:
// member i gets queues i, i+n, i+2n... It matches the official clients'
// AllocateMessageQueueAveragelyByCircle, and spreads each broker's queues
// over the members when topics live on several brokers.
func AllocateAveragelyByCircle(queues []Queue, members []string, me string) []Queue {
	idx := slices.Index(members, me)
	if idx < 0 {
		return nil
	}
	var out []Queue
	for i := idx; i < len(queues); i += len(members) {
		out = append(out, queues[i])
	}
	return out
}

// WithAllocation sets how a clustering consumer group shares queues.
// Default AllocateAveragely.
func WithAllocation(a Allocator) Option { return func(c *config) { c.allocate = a } }
