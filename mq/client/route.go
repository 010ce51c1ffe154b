package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// autoCreateTopic is the template topic brokers create new topics from.
const autoCreateTopic = "TBW102"

// routeTTL is how long a topic's route is used before it is asked again.
const routeTTL = 30 * time.Second

// Queue identifies one message queue.
type Queue struct {
	Topic   string
	Broker  string // broker name
	QueueID int32
}

// publishQueue is a queue a producer can write, with its master's address.
type publishQueue struct {
	Queue
	addr string
}

type routeEntry struct {
	queues  []publishQueue
	fetched time.Time
}

// routes caches topic routes from the NameServers.
type routes struct {
	rc        *remoting.Client
	namesrvs  []string
	timeout   time.Duration
	mu        sync.Mutex
	byTopic   map[string]routeEntry
	nextNamer int
}

func (r *routes) publishQueues(ctx context.Context, topic string) ([]publishQueue, error) {
	r.mu.Lock()
	e, ok := r.byTopic[topic]
	r.mu.Unlock()
	if ok && time.Since(e.fetched) < routeTTL {
		return e.queues, nil
	}
	rd, err := r.fetch(ctx, topic)
	if errorsIsTopicNotFound(err) {
		// A new topic: borrow the auto-create template's route; the broker
		// creates the topic at the first send.
		rd, err = r.fetch(ctx, autoCreateTopic)
		if err == nil {
			for i := range rd.QueueDatas {
				rd.QueueDatas[i].WriteQueueNums = min(rd.QueueDatas[i].WriteQueueNums, 4)
			}
		} else {
			err = fmt.Errorf("route of %s: %w", topic, ErrTopicNotFound)
		}
	}
	if err != nil {
		if ok { // keep using a stale route rather than fail
			return e.queues, nil
		}
		return nil, err
	}
	qs := writableQueues(topic, rd)
	if len(qs) == 0 {
		return nil, fmt.Errorf("topic %s: %w", topic, ErrNoRoute)
	}
	r.mu.Lock()
	r.byTopic[topic] = routeEntry{queues: qs, fetched: time.Now()}
	r.mu.Unlock()
	return qs, nil
}

func errorsIsTopicNotFound(err error) bool {
	be, ok := err.(*BrokerError)
	return ok && be.Code == protocol.TopicNotExist
}

// readQueues returns a topic's readable queues, sorted as every member of
// a group sorts them (broker name, then queue ID). Like the official
// clients it lists the queues of a broker without a master too (they are
// read from a slave), so that mixed groups allocate alike.
func (r *routes) readQueues(ctx context.Context, topic string) ([]publishQueue, error) {
	rd, err := r.fetch(ctx, topic)
	if err != nil {
		return nil, err
	}
	addrs := map[string]string{}
	for _, bd := range rd.BrokerDatas {
		addrs[bd.BrokerName] = bd.MasterAddr()
		if addrs[bd.BrokerName] == "" && len(bd.BrokerAddrs) > 0 {
			addrs[bd.BrokerName] = bd.BrokerAddrs[slices.Min(slices.Collect(maps.Keys(bd.BrokerAddrs)))]
		}
	}
	var qs []publishQueue
	for _, qd := range rd.QueueDatas {
		if qd.Perm&protocol.PermRead == 0 || addrs[qd.BrokerName] == "" {
			continue
		}
		for i := range qd.ReadQueueNums {
			qs = append(qs, publishQueue{Queue: Queue{Topic: topic, Broker: qd.BrokerName, QueueID: i}, addr: addrs[qd.BrokerName]})
		}
	}
	slices.SortFunc(qs, func(a, b publishQueue) int {
		if c := strings.Compare(a.Broker, b.Broker); c != 0 {
			return c
		}
		return cmp.Compare(a.QueueID, b.QueueID)
	})
	return qs, nil
}

// invoke sends a request and waits for the answer; a timeout wraps
// ErrTimeout.
func invoke(ctx context.Context, rc *remoting.Client, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := rc.Invoke(ctx, addr, req)
	return resp, timeout(err)
}

// call is invoke that turns an error response into a *BrokerError.
func call(ctx context.Context, rc *remoting.Client, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := invoke(ctx, rc, addr, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != protocol.Success {
		return nil, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark}
	}
	return resp, nil
}

// fetch asks the NameServers in turn for a topic's route.
func (r *routes) fetch(ctx context.Context, topic string) (*protocol.TopicRouteData, error) {
	resp, err := r.askNamesrv(ctx, remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil))
	var be *BrokerError
	if errors.As(err, &be) {
		return nil, err // the NameServer's answer, as callers test it
	}
	if err != nil {
		return nil, fmt.Errorf("route of %s from %w", topic, err)
	}
	return protocol.UnmarshalTopicRouteData(resp.Body)
}

// askNamesrv sends req to the NameServers in turn, starting after the one
// asked last, until one answers; an answer other than success is a
// *BrokerError.
func (r *routes) askNamesrv(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	var last error
	for range r.namesrvs {
		r.mu.Lock()
		addr := r.namesrvs[r.nextNamer%len(r.namesrvs)]
		r.nextNamer++
		r.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		resp, err := invoke(cctx, r.rc, addr, req)
		cancel()
		if err != nil {
			last = fmt.Errorf("%s: %w", addr, err)
			continue
		}
		if resp.Code != protocol.Success {
			return nil, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark}
		}
		return resp, nil
	}
	return nil, last
}

func writableQueues(topic string, rd *protocol.TopicRouteData) []publishQueue {
	masters := map[string]string{}
	for _, bd := range rd.BrokerDatas {
		if a := bd.MasterAddr(); a != "" {
			masters[bd.BrokerName] = a
		}
	}
	var qs []publishQueue
	for _, qd := range rd.QueueDatas {
		addr, ok := masters[qd.BrokerName]
		if !ok || qd.Perm&protocol.PermWrite == 0 {
			continue
		}
		for i := range qd.WriteQueueNums {
			qs = append(qs, publishQueue{Queue: Queue{Topic: topic, Broker: qd.BrokerName, QueueID: i}, addr: addr})
		}
	}
	return qs
}
