// Package client is Surge's Go SDK for brokers that speak Apache RocketMQ
// 4.x's protocol: Surge's own, or Apache RocketMQ's.
//
// This first part is the Producer: synchronous, asynchronous and oneway
// sends, batches, queue selection (round robin, by key for ordered
// messages, or a caller's selector), retries across brokers, body
// compression and unique message IDs.
//
//	p, err := client.NewProducer(client.WithNameServers("127.0.0.1:9876"), client.WithGroup("orders"))
//	res, err := p.Send(ctx, &client.Message{Topic: "OrderEvents", Body: b, Tags: "Created", Keys: []string{id}})
//	defer p.Close()
package client
