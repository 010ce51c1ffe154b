// Package pipeline runs the event side of a service: an idempotent
// consumer (consume.Router) and, for services that publish follow-up
// events, an outbox relay with its producer. It starts and stops them in
// the order that loses nothing: on Close the consumer stops first (in-flight
// messages finish and their offsets are committed), then the relay makes a
// last pass, then the producer closes.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/bus"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/outbox"
)

// Settings are the event-side settings every service has; each
// service's Config embeds them.
type Settings struct {
	// Pool is the service's database (its own role and schema).
	Pool        *pgxpool.Pool
	NameServers []string
	// Logger; nil discards.
	Logger *slog.Logger
	// Group is the consumer (and producer) group. Default
	// "<service>-service".
	Group string
	// SkipIdempotency is a teaching switch: events are applied without
	// recording their key, so a redelivered event takes effect twice (see
	// consume.Config). Off by default.
	SkipIdempotency bool
	// RelayInterval is how often the outbox (if the service has one) is
	// polled when nothing kicks it. Default 1s.
	RelayInterval time.Duration
}

// WithDefaults fills the zero fields: Group "<service>-service", a
// discarding Logger.
func (s Settings) WithDefaults(service string) Settings {
	if s.Group == "" {
		s.Group = service + "-service"
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Config configures a Pipeline.
type Config struct {
	Settings
	// Outbox runs a relay for the service's outbox table.
	Outbox bool
	// Producer sends the outbox; nil makes one of Group (closed by Close).
	Producer *client.Producer
	// Subscriptions are the topics and tags Start consumes.
	Subscriptions []Subscription
}

// Pipeline is a service's consumer and outbox relay. Register routes on
// Router before Start.
type Pipeline struct {
	Router *consume.Router

	cfg      Config
	log      *slog.Logger
	relay    *outbox.Relay
	producer *client.Producer
	ownsProd bool
	consumer *client.Consumer
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
}

// New returns a pipeline; nothing runs until Start.
func New(cfg Config) *Pipeline {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{cfg: cfg, log: log}
	rc := consume.Config{Pool: cfg.Pool, Logger: log, SkipIdempotency: cfg.SkipIdempotency}
	if cfg.Outbox {
		rc.AfterCommit = p.Kick
	}
	p.Router = consume.NewRouter(rc)
	return p
}

// Consuming returns the pipeline of a service that reacts to one event
// type: a subscription to tag on topic, applied by apply.
func Consuming[T any, P interface {
	*T
	events.Payload
}](set Settings, topic, tag string, apply func(ctx context.Context, tx pgx.Tx, ev P) error) *Pipeline {
	p := New(Config{Settings: set, Subscriptions: []Subscription{{Topic: topic, Tags: []string{tag}}}})
	consume.On(p.Router, tag, apply)
	return p
}

// Kick wakes the outbox relay (after a commit that added to the outbox
// outside a consumer, e.g. in an HTTP handler).
func (p *Pipeline) Kick() {
	if p.relay != nil {
		p.relay.Kick()
	}
}

// Subscription is a topic and the tags of it the service handles (none:
// every tag).
type Subscription struct {
	Topic string
	Tags  []string
}

// Stats counts the events the consumer applied and skipped.
func (p *Pipeline) Stats() consume.Stats { return p.Router.Stats() }

// Start starts the relay and the consumer of the subscriptions.
func (p *Pipeline) Start(ctx context.Context) error {
	if p.cfg.Outbox {
		p.producer = p.cfg.Producer
		if p.producer == nil {
			prod, err := client.NewProducer(client.WithNameServers(p.cfg.NameServers...), client.WithGroup(p.cfg.Group), client.WithLogger(p.log))
			if err != nil {
				return fmt.Errorf("pipeline %s: producer: %w", p.cfg.Group, err)
			}
			p.producer, p.ownsProd = prod, true
		}
		p.relay = outbox.NewRelay(outbox.Config{Pool: p.cfg.Pool, Sender: p.producer, Logger: p.log, Interval: p.cfg.RelayInterval})
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		p.cancel = cancel
		p.wg.Go(func() { p.relay.Run(rctx) })
	}
	var bs []bus.Subscription
	for _, s := range p.cfg.Subscriptions {
		expr := strings.Join(slices.Sorted(slices.Values(s.Tags)), " || ")
		if expr == "" {
			expr = "*"
		}
		bs = append(bs, bus.Subscription{Topic: s.Topic, Expr: expr, Handler: p.Router.Handle})
	}
	c, err := bus.StartConsumer(ctx, p.cfg.NameServers, p.cfg.Group, p.log, bs...)
	if err != nil {
		p.Close()
		return err
	}
	p.consumer = c
	return nil
}

// Close stops the consumer, lets the relay send what is committed, and
// closes the producer it made. It is idempotent.
func (p *Pipeline) Close() error {
	var err error
	p.once.Do(func() {
		if p.consumer != nil {
			err = p.consumer.Close()
		}
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		if p.ownsProd {
			err = errors.Join(err, p.producer.Close())
		}
	})
	return err
}
