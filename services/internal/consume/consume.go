// Package consume turns a service's event handlers into an idempotent
// consumer of the Surge broker.
//
// Each event is applied in one database transaction that first records its
// business key (events.Key, not the message ID) in the service's
// processed_events table. A redelivery, or a second copy of the same fact
// under another message ID, finds the key there and changes nothing. The
// record and the effect commit together, so a crash between them cannot
// leave one without the other.
package consume

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
)

// Config configures a Router.
type Config struct {
	// Pool is the service's database.
	Pool *pgxpool.Pool
	// Logger; nil discards.
	Logger *slog.Logger
	// SkipIdempotency is a teaching switch: events are applied without
	// recording their key, so a redelivered event takes effect twice.
	// Off by default; never turn it on outside a demonstration.
	SkipIdempotency bool
	// AfterCommit, if set, runs after a transaction that applied an event
	// committed (e.g. to wake an outbox relay).
	AfterCommit func()
	// HandleTimeout bounds the work on one message. Default 30s.
	HandleTimeout time.Duration
}

// Router dispatches messages to handlers by tag.
type Router struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]func(ctx context.Context, m *client.MessageExt) error

	applied, duplicates, failed atomic.Int64
}

// Stats counts what a Router did since it was made.
type Stats struct {
	// Applied: events whose effect committed (through Apply or On).
	Applied int64
	// Duplicates: events skipped because their key was already recorded
	// (through Apply or On).
	Duplicates int64
	// Failed: messages whose handler failed (they are redelivered).
	Failed int64
}

// Stats returns the counts so far.
func (r *Router) Stats() Stats {
	return Stats{Applied: r.applied.Load(), Duplicates: r.duplicates.Load(), Failed: r.failed.Load()}
}

// NewRouter returns a Router without routes.
func NewRouter(cfg Config) *Router {
	if cfg.HandleTimeout == 0 {
		cfg.HandleTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{cfg: cfg, log: log, routes: map[string]func(context.Context, *client.MessageExt) error{}}
}

// Claim records key as processed in tx and reports whether it was new.
// With SkipIdempotency it records nothing and always reports true.
func (r *Router) Claim(ctx context.Context, tx pgx.Tx, key string) (bool, error) {
	if r.cfg.SkipIdempotency {
		return true, nil
	}
	tag, err := tx.Exec(ctx, "INSERT INTO processed_events (key) VALUES ($1) ON CONFLICT (key) DO NOTHING", key)
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Apply runs fn in a transaction that claims key first; fn does not run
// when the key was already processed. It reports whether fn ran and
// committed.
func (r *Router) Apply(ctx context.Context, key string, fn func(tx pgx.Tx) error) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		fresh, err := r.Claim(ctx, tx, key)
		if err != nil || !fresh {
			return err
		}
		applied = true
		return fn(tx)
	})
	if err != nil {
		return false, err
	}
	if !applied {
		r.duplicates.Add(1)
		return false, nil
	}
	r.applied.Add(1)
	if r.cfg.AfterCommit != nil {
		r.cfg.AfterCommit()
	}
	return true, nil
}

// On routes messages tagged tag: the body is decoded into a P, and apply
// makes its effect inside the transaction that records the event's Key.
func On[T any, P interface {
	*T
	events.Payload
}](r *Router, tag string, apply func(ctx context.Context, tx pgx.Tx, ev P) error) {
	r.HandleRaw(tag, func(ctx context.Context, m *client.MessageExt) error {
		ev := P(new(T))
		if err := events.Decode(m.Body, ev); err != nil {
			return err
		}
		_, err := r.Apply(ctx, ev.Key(), func(tx pgx.Tx) error { return apply(ctx, tx, ev) })
		return err
	})
}

// HandleRaw routes messages tagged tag to h, which must be idempotent on
// its own (use Apply or Claim).
func (r *Router) HandleRaw(tag string, h func(ctx context.Context, m *client.MessageExt) error) {
	r.routes[tag] = h
}

// Handle is a client.Handler. Messages are applied one by one, each with
// its own deadline and detached from the consumer's cancellation, so that
// a shutdown lets the batch in hand finish. An error sends the batch back
// for redelivery; the messages already applied are then skipped by key.
func (r *Router) Handle(ctx context.Context, msgs []*client.MessageExt) error {
	for _, m := range msgs {
		h := r.routes[m.Tags()]
		if h == nil {
			r.log.Debug("message without a route skipped", "topic", m.Topic, "tag", m.Tags(), "msgId", m.MsgID)
			continue
		}
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.HandleTimeout)
		err := h(hctx, m)
		cancel()
		if err != nil {
			r.failed.Add(1)
			r.log.Warn("event not applied; it will be redelivered", "topic", m.Topic, "tag", m.Tags(), "msgId", m.MsgID, "err", err)
			return fmt.Errorf("%s %s: %w", m.Tags(), m.MsgID, err)
		}
	}
	return nil
}
