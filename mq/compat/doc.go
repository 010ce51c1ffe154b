// Package compat holds the compatibility tests that run Apache RocketMQ's
// official Go client (rocketmq-client-go v2.1.2) against a real Surge
// NameServer and Broker. It is a module of its own so that the official
// client's dependencies never reach the broker's module.
//
// Each TestCompat* test starts its own cluster with mqtest (TestCompatBrokerKill9
// builds and runs mqnamesrv and mqbroker as processes) and drives it with the
// official producer, push and pull consumers and admin client only; where
// the official client has no call for something (consumer progress, the
// broker's held pulls, admin-tool requests relayed to a consumer) a test
// asks with Surge's own client or reads the broker's store. Together they
// cover the pitfalls of section 10 of docs/rocketmq-wire-protocol.md that a
// client can observe.
//
// The TestCross* tests mix the two clients on one broker, both ways: plain
// messages with tags, keys and properties, ordered messages (per-key order
// kept, nothing lost) and transactions (exactly the committed messages
// arrive, check-backs answered by either client's listener).
//
// cmd/mqbench-official is mqbench driving the official client (see package
// bench of the mq module), to compare the two clients on one broker.
//
// # Running
//
//	cd mq/compat && go test ./...
//
// COMPAT_CLIENT_LOG=debug (or info, warn) shows the official client's log;
// COMPAT_BROKER_LOG=1 writes each test broker's debug log to the test output.
// TestMain runs the test binary a second time with
// rocketmq.client.localOffsetStoreDir pointing at a temporary directory (the
// client reads it once, at init), so broadcasting offsets never go to $HOME.
//
// # The race detector
//
// rocketmq-client-go v2.1.2 has data races of its own, whatever the server
// does, and with -race they fail whichever test hits them first in the
// process ("race detected during execution of test"). The ones seen:
//
//   - consumer/push_consumer.go:505 (messageQueueChanged writes SubVersion)
//     against internal/model.go:70 (SubscriptionData.Clone, from the route
//     refresh 10 ms after start or a heartbeat): every push consumer whose
//     rebalance lands near its first route refresh.
//   - consumer/process_queue.go:313 (takeMessages reads the message tree
//     without its lock) against putMessage: orderly consumers.
//   - consumer/pull_consumer.go:437 (PullFrom writes consumerGroup) against
//     the pull consumer's own rebalance (consumer.go:416, 747, 949).
//   - internal/client.go:555 (Shutdown writes close) against InvokeSync
//     (client.go:576) in a rebalance still running at shutdown.
//   - consumer/consumer.go:302 (shutdown closes a queue's message channel)
//     against process_queue.go:128 (a pull still delivering into it): pull
//     consumer shutdown.
//   - internal/client.go:409 (GetOrNewRocketMQClient rewrites a shared
//     client instance) against its route refresh: avoided here by giving
//     every producer and consumer its own instance name.
//
// Run the package without -race to judge Surge; the broker's own packages
// run with it.
package compat
