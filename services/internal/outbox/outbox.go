// Package outbox publishes the events a service's database changes
// produce, without losing one when the process dies between its commit
// and its send.
//
// Add writes the event into the service's outbox table in the same
// transaction as the change it reports. A Relay reads unsent rows in
// order, sends each to the broker (keyed by its shard key, so one order's
// events share a queue) and marks it sent. A crash after a send and before
// the mark sends the event again at restart: delivery is at least once,
// and consumers drop the copy by its business key.
//
// Several relays may share a table (FOR UPDATE SKIP LOCKED keeps them off
// each other's rows); events of one shard key then stay in order only as
// long as one relay sends them, which holds while a single instance runs.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
)

// Add encodes payload and queues it for topic with tag, in tx.
func Add(ctx context.Context, tx pgx.Tx, topic, tag, shardKey string, payload events.Payload) error {
	body, err := events.Encode(payload)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outbox (topic, tag, shard_key, body) VALUES ($1, $2, $3, $4)", topic, tag, shardKey, body); err != nil {
		return fmt.Errorf("outbox: add %s: %w", tag, err)
	}
	return nil
}

// Sender sends one message; *client.Producer is one.
type Sender interface {
	Send(ctx context.Context, m *client.Message, opts ...client.SendOption) (*client.SendResult, error)
}

// Config configures a Relay.
type Config struct {
	Pool   *pgxpool.Pool
	Sender Sender
	// Logger; nil discards.
	Logger *slog.Logger
	// Interval is how often the relay looks for unsent rows when nobody
	// kicks it. Default 1s.
	Interval time.Duration
	// Batch is how many rows one pass sends at most. Default 100.
	Batch int
}

// Relay sends the outbox. Run it in one goroutine; Kick wakes it.
type Relay struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}
}

// NewRelay returns a relay; Run starts it.
func NewRelay(cfg Config) *Relay {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 100
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, log: log, kick: make(chan struct{}, 1)}
}

// Kick asks the relay to look at the outbox now (after a commit).
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run sends the outbox until ctx ends, then makes a last pass so that
// events committed before the shutdown leave with it. A pass is never cut
// short by ctx (each is bounded by passTimeout): a pass interrupted
// between its sends and its marks would send its events twice.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), passTimeout)
		n, err := r.Flush(pctx)
		cancel()
		stopping := ctx.Err() != nil
		switch {
		case err != nil && stopping:
			r.log.Warn("outbox left unsent at shutdown; it is sent at the next start", "err", err)
		case err != nil:
			r.log.Warn("outbox relay pass failed; retrying", "err", err)
		}
		full := err == nil && n == r.cfg.Batch
		if full {
			continue // more waiting
		}
		if stopping {
			return
		}
		select {
		case <-ctx.Done(): // one last pass
		case <-r.kick:
		case <-t.C:
		}
	}
}

// passTimeout bounds one pass of the relay.
const passTimeout = 30 * time.Second

// Flush sends up to Batch unsent rows in id order and marks them sent;
// it stops at the first failed send (marking those before it). It returns
// how many rows it sent.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	sent := 0
	err := pgx.BeginFunc(ctx, r.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, topic, tag, shard_key, body FROM outbox
			WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, r.cfg.Batch)
		if err != nil {
			return fmt.Errorf("outbox: read: %w", err)
		}
		type row struct {
			id                   int64
			topic, tag, shardKey string
			body                 []byte
		}
		var pending []row
		for rows.Next() {
			var x row
			if err := rows.Scan(&x.id, &x.topic, &x.tag, &x.shardKey, &x.body); err != nil {
				rows.Close()
				return fmt.Errorf("outbox: read: %w", err)
			}
			pending = append(pending, x)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("outbox: read: %w", err)
		}
		var ids []int64
		var sendErr error
		for _, x := range pending {
			m := &client.Message{Topic: x.topic, Tags: x.tag, Keys: []string{x.shardKey}, Body: x.body}
			if _, sendErr = r.cfg.Sender.Send(ctx, m, client.WithSelector(client.ByKey(x.shardKey))); sendErr != nil {
				sendErr = fmt.Errorf("outbox: send %s %s: %w", x.tag, x.shardKey, sendErr)
				break
			}
			ids = append(ids, x.id)
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, "UPDATE outbox SET sent_at = now() WHERE id = ANY($1)", ids); err != nil {
				return fmt.Errorf("outbox: mark sent: %w", err)
			}
		}
		sent = len(ids)
		if sendErr != nil {
			// Commit the marks of what did go out, then report.
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("outbox: mark sent: %w", err)
			}
			return sendErr
		}
		return nil
	})
	return sent, err
}
