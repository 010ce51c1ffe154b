// Package client is Surge's Go SDK for brokers that speak Apache RocketMQ
// 4.x's protocol: Surge's own, or Apache RocketMQ's.
//
//   - Producer: synchronous, asynchronous and oneway sends, batches, queue
//     selection (round robin, by key for ordered messages, or a caller's
//     selector), retries across brokers, body compression, unique IDs.
//   - TransactionProducer: half messages committed or rolled back by a
//     local transaction, with the broker's check-backs answered.
//   - Consumer (push): clustering or broadcasting, concurrent or orderly,
//     rebalanced among the group's members (WithAllocation), a bounded
//     cache per queue (WithPullThresholds), retries through the broker, and
//     a Close that finishes the handlers in flight and commits.
//   - PullConsumer ("lite pull"): Subscribe or Assign, Poll, Commit, Seek.
//   - Admin: clusters, topics, groups, messages by ID, key or offset.
//
// Every blocking call takes a context. Errors match the sentinels of
// errors.go with errors.Is. Everything is safe for concurrent use, and
// Close leaves no goroutine behind.
//
//	p, err := client.NewProducer(client.WithNameServers("127.0.0.1:9876"), client.WithGroup("orders"))
//	res, err := p.Send(ctx, &client.Message{Topic: "OrderEvents", Body: b, Tags: "Created", Keys: []string{id}})
//	defer p.Close()
package client
