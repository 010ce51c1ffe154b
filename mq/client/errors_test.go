package client_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func TestBrokerErrorSentinels(t *testing.T) {
	for _, tc := range []struct {
		code int16
		want error
	}{
		{protocol.TopicNotExist, client.ErrTopicNotFound},
		{protocol.SystemBusy, client.ErrBrokerBusy},
		{protocol.MessageIllegal, client.ErrMessageTooLarge},
		{protocol.NoPermission, client.ErrNoPermission},
		{protocol.ServiceNotAvailable, client.ErrServiceNotAvail},
		{protocol.QueryNotFound, client.ErrMessageNotFound},
	} {
		err := error(&client.BrokerError{Addr: "b:10911", Code: tc.code})
		if !errors.Is(err, tc.want) || !errors.Is(err, client.ErrBroker) {
			t.Errorf("code %d: errors.Is(%v) false", tc.code, tc.want)
		}
		if errors.Is(err, client.ErrTimeout) {
			t.Errorf("code %d is a timeout", tc.code)
		}
	}
}

// silentPeer accepts connections and never answers.
func silentPeer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}

// busyPeer answers every request SYSTEM_BUSY, as an overloaded server does.
func busyPeer(t *testing.T) string {
	s := &remoting.Server{Handler: remoting.HandlerFunc(func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, protocol.SystemBusy, "[PC_SYNCHRONIZED]broker busy")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

func TestTimeoutAndBusyErrors(t *testing.T) {
	silent := silentPeer(t)
	p, err := client.NewProducer(client.WithNameServers(silent), client.WithSendTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Send(context.Background(), &client.Message{Topic: "T", Body: []byte("x")})
	if !errors.Is(err, client.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a silent NameServer: %v", err)
	}
	a, err := client.NewAdmin(client.WithNameServers(silent))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := a.Topics(ctx); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("admin call past the caller's deadline: %v", err)
	}

	busy, err := client.NewProducer(client.WithNameServers(busyPeer(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = busy.Send(context.Background(), &client.Message{Topic: "T", Body: []byte("x")})
	if !errors.Is(err, client.ErrBrokerBusy) || errors.Is(err, client.ErrTimeout) {
		t.Fatalf("send through a busy server: %v", err)
	}
}

func TestTopicNotFoundErrors(t *testing.T) {
	off := false
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) { cfg.AutoCreateTopicEnable = &off }))
	ctx := context.Background()
	push, _ := client.NewPushConsumer("cg", client.WithNameServers(c.NamesrvAddr))
	defer push.Close()
	push.Subscribe("Missing", "*", func(context.Context, []*client.MessageExt) error { return nil })
	if err := push.Start(ctx); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("push consumer of a missing topic: %v", err)
	}
	pull, _ := client.NewPullConsumer("cg", client.WithNameServers(c.NamesrvAddr))
	defer pull.Close()
	if _, err := pull.Queues(ctx, "Missing"); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("queues of a missing topic: %v", err)
	}
	if err := pull.Assign(ctx, client.Queue{Topic: "Missing", Broker: "broker-a"}); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("assign a queue of a missing topic: %v", err)
	}
	pull.Subscribe("Missing", "*")
	if err := pull.Start(ctx); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("pull consumer of a missing topic: %v", err)
	}
	a, _ := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	defer a.Close()
	if _, err := a.TopicRoute(ctx, "Missing"); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("route of a missing topic: %v", err)
	}
	if _, err := a.MessageAtOffset(ctx, "Missing", "broker-a", 0, 0); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("message of a missing topic: %v", err)
	}
}

func TestClosedAndStateErrors(t *testing.T) {
	c := mqtest.Start(t)
	ctx := context.Background()
	createTopic(t, c, "St", 4)

	push, _ := client.NewPushConsumer("cg", client.WithNameServers(c.NamesrvAddr))
	push.Subscribe("St", "*", func(context.Context, []*client.MessageExt) error { return nil })
	push.Close()
	if err := push.Start(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}

	pull, _ := client.NewPullConsumer("cg", client.WithNameServers(c.NamesrvAddr))
	if _, err := pull.Poll(ctx); !errors.Is(err, client.ErrNotStarted) {
		t.Errorf("Poll before Start: %v", err)
	}
	if err := pull.Seek(ctx, client.Queue{Topic: "St", Broker: "broker-a"}, 0); !errors.Is(err, client.ErrNotAssigned) {
		t.Errorf("Seek of a queue not assigned: %v", err)
	}
	pull.Close()
	if _, err := pull.Poll(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Poll after Close: %v", err)
	}
	if err := pull.Commit(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if err := pull.Assign(ctx, client.Queue{Topic: "St", Broker: "broker-a"}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Assign after Close: %v", err)
	}

	a, _ := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if _, err := a.MessageAtOffset(ctx, "St", "broker-a", 0, 1000); !errors.Is(err, client.ErrMessageNotFound) {
		t.Errorf("message past the end of a queue: %v", err)
	}
	a.Close()
	if _, err := a.Topics(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("admin after Close: %v", err)
	}
}
