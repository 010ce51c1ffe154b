// Package bench is the engine of the mqbench commands, modeled on
// RocketMQ's benchmark/producer.sh and consumer.sh: it sends or consumes at
// full speed (or a fixed rate) through a Driver, prints the throughput every
// second, and ends with latency percentiles from an HDR histogram and an
// optional JSON summary.
//
// The Driver is the client under test. Surge's own is SurgeDriver; the
// compat module has one for Apache RocketMQ's official Go client, so the
// two can be compared with the same flags, pacing and figures while this
// module does not depend on the official client.
package bench

import (
	"context"
)

// Driver is a client a benchmark drives.
type Driver interface {
	// Name names the client in the report, e.g. "surge".
	Name() string
	// NewProducer returns a producer of o.Topic.
	NewProducer(ctx context.Context, o Options) (Producer, error)
	// Consume consumes o.Topic as o.Group, from the first offset for a new
	// group, until ctx ends, calling got with each message's store
	// timestamp (ms since the epoch). got may be called from several
	// goroutines at once.
	Consume(ctx context.Context, o Options, got func(storeTimestamp int64)) error
}

// Producer sends bodies to the benchmark's topic. Every call returns once
// the broker answered (oneway: once the request is written); it is called
// from several goroutines at once.
type Producer interface {
	// Send sends one message synchronously.
	Send(ctx context.Context, body []byte) error
	// SendAsync sends one message asynchronously and waits for its
	// callback.
	SendAsync(ctx context.Context, body []byte) error
	// SendOneway sends one message without waiting for the broker.
	SendOneway(ctx context.Context, body []byte) error
	// SendBatch sends n messages with the same body in one request.
	SendBatch(ctx context.Context, body []byte, n int) error
	Close() error
}
