package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/surge-mq/surge/mq/client"
)

func ExampleNewProducer() {
	p, err := client.NewProducer(client.WithNameServers("127.0.0.1:9876"), client.WithGroup("orders"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// One order's events go to one queue, in order.
	res, err := p.Send(ctx, &client.Message{Topic: "OrderEvents", Tags: "Created", Keys: []string{"order-42"}, Body: []byte(`{"id":42}`)},
		client.WithSelector(client.ByKey("order-42")))
	switch {
	case errors.Is(err, client.ErrTimeout):
		log.Print("no answer in time; the message may or may not be stored")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("stored as", res.MsgID, "in queue", res.Queue.QueueID, "at offset", res.QueueOffset)
	}
}

func ExampleProducer_SendAsync() {
	p, err := client.NewProducer(client.WithNameServers("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close() // waits for the callbacks
	for i := range 10 {
		err := p.SendAsync(context.Background(), &client.Message{Topic: "Clicks", Body: fmt.Append(nil, i)}, func(res *client.SendResult, err error) {
			if err != nil {
				log.Print("send failed: ", err)
			}
		})
		if err != nil {
			log.Fatal(err)
		}
	}
}

func ExampleNewPushConsumer() {
	c, err := client.NewPushConsumer("inventory",
		client.WithNameServers("127.0.0.1:9876"),
		client.WithConsumeFromTimestamp(time.Now().Add(-time.Hour)), // a new group starts an hour back
		client.WithPullThresholds(500, 16<<20),
	)
	if err != nil {
		log.Fatal(err)
	}
	err = c.Subscribe("OrderEvents", "Created || Cancelled", func(ctx context.Context, msgs []*client.MessageExt) error {
		for _, m := range msgs {
			fmt.Println(m.Tags(), m.MsgID, string(m.Body))
		}
		return nil // an error sends the batch back for a later retry
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	c.Close() // finishes the handlers in flight and commits their offsets
}

func ExampleNewPullConsumer() {
	c, err := client.NewPullConsumer("reports", client.WithNameServers("127.0.0.1:9876"), client.WithAutoCommit(0))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe("OrderEvents", "*"); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	for {
		msgs, err := c.Poll(ctx)
		if err != nil {
			return // ctx ended, or the consumer was closed
		}
		for _, m := range msgs {
			fmt.Println(m.Topic, m.QueueID, m.QueueOffset, string(m.Body))
		}
		if err := c.Commit(ctx); err != nil {
			log.Print("commit: ", err)
		}
	}
}

func ExamplePullConsumer_Assign() {
	c, err := client.NewPullConsumer("replay", client.WithNameServers("127.0.0.1:9876"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	queues, err := c.Queues(ctx, "OrderEvents")
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Assign(ctx, queues[0]); err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	// Replay the first queue from yesterday.
	if err := c.SeekToTime(ctx, queues[0], time.Now().Add(-24*time.Hour)); err != nil {
		log.Fatal(err)
	}
	msgs, err := c.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(msgs), "messages")
}

// orders is a TransactionListener backed by the service's database.
type orders struct{}

func (orders) ExecuteLocal(ctx context.Context, m *client.Message) client.TxState {
	// Insert the order in the same database transaction that decides
	// the outcome; TxUnknown leaves it to Check.
	return client.TxCommit
}

func (orders) Check(ctx context.Context, m *client.MessageExt) client.TxState {
	// Look the order up by m.Keys in the database: committed or not.
	return client.TxRollback
}

func ExampleNewTransactionProducer() {
	tp, err := client.NewTransactionProducer(orders{}, client.WithNameServers("127.0.0.1:9876"), client.WithGroup("order-service"))
	if err != nil {
		log.Fatal(err)
	}
	defer tp.Close()
	res, state, err := tp.SendInTransaction(context.Background(), &client.Message{Topic: "OrderEvents", Tags: "Created", Keys: []string{"order-42"}, Body: []byte(`{"id":42}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.MsgID, state == client.TxCommit)
}
