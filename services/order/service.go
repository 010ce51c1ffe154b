package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/pipeline"
)

// Config configures the service.
type Config struct {
	pipeline.Settings
	// CheckGrace is how long the broker's check of an OrderCreated whose
	// order is not in the database is answered "unknown" (its local
	// transaction may still be running) before it is rolled back.
	// Default 1m.
	CheckGrace time.Duration
	// SeckillDelay is a pause before each SeckillRequested is handled (0:
	// none). A demo and teaching knob: it makes the order service a slow
	// consumer, so a flash sale's backlog grows and drains visibly.
	SeckillDelay time.Duration
}

// Service is the order service.
type Service struct {
	cfg   Config
	set   pipeline.Settings
	log   *slog.Logger
	store *store
	tp    *client.TransactionProducer
	pipe  *pipeline.Pipeline

	// mu guards closing; inflight counts local transactions under way.
	mu       sync.RWMutex
	closing  bool
	inflight sync.WaitGroup
}

// New returns the service; Start connects it to the broker.
func New(cfg Config) *Service {
	if cfg.CheckGrace == 0 {
		cfg.CheckGrace = time.Minute
	}
	set := cfg.Settings.WithDefaults("order")
	return &Service{cfg: cfg, set: set, log: set.Logger, store: &store{pool: set.Pool}}
}

// Start makes the transactional producer and starts consuming
// STOCK_EVENTS and SECKILL_REQUESTS and relaying the outbox.
func (s *Service) Start(ctx context.Context) error {
	tp, err := client.NewTransactionProducer(listener{s}, client.WithNameServers(s.set.NameServers...),
		client.WithGroup(s.set.Group), client.WithLogger(s.log))
	if err != nil {
		return fmt.Errorf("order: transaction producer: %w", err)
	}
	s.tp = tp
	s.pipe = pipeline.New(pipeline.Config{Settings: s.set, Outbox: true, Producer: tp.Producer, Subscriptions: []pipeline.Subscription{
		{Topic: events.TopicStock, Tags: []string{events.TagStockReserved, events.TagStockRejected}},
		{Topic: events.TopicSeckill, Tags: []string{events.TagSeckillRequested}},
	}})
	s.routeEvents()
	err = s.pipe.Start(ctx)
	if err != nil {
		tp.Close()
		return err
	}
	return nil
}

// Close stops consuming (in-flight messages finish), sends the committed
// outbox, waits for the local transactions under way and closes the
// producer. New orders are refused from the start of Close.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if s.pipe == nil { // never started
		return nil
	}
	err := s.pipe.Close()
	s.inflight.Wait()
	return errors.Join(err, s.tp.Close())
}

// Stats counts the events the service's consumer applied and skipped.
func (s *Service) Stats() consume.Stats { return s.pipe.Stats() }

// Routes adds the HTTP API.
func (s *Service) Routes(r chi.Router) { s.routes(r) }

// Place stores a new order PENDING and publishes OrderCreated with it, as
// one transactional message.
func (s *Service) Place(ctx context.Context, n NewOrder) (Order, error) {
	if err := n.Validate(); err != nil {
		return Order{}, err
	}
	o := Order{ID: uuid.Must(uuid.NewV7()).String(), UserID: n.UserID, Status: StatusPending, Items: n.Items, Coupon: n.Coupon}
	err := s.sendCreated(ctx, o, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		var err error
		o, err = s.store.insert(ctx, tx, o)
		return true, err
	})
	return o, err
}

// local is the local transaction of one SendInTransaction. run returns
// whether the order was stored (false: nothing to announce).
type local struct {
	run    func(ctx context.Context) (bool, error)
	stored bool
	err    error
}

type localKey struct{}

// sendCreated publishes o's OrderCreated in a transaction whose local part
// runs store in a database transaction. It returns the local part's error,
// or ErrUnavailable when the half message could not be sent.
func (s *Service) sendCreated(ctx context.Context, o Order, store func(ctx context.Context, tx pgx.Tx) (bool, error)) error {
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		return ErrShuttingDown
	}
	s.inflight.Add(1)
	s.mu.RUnlock()
	defer s.inflight.Done()

	body, err := events.Encode(&events.OrderCreated{OrderID: o.ID, UserID: o.UserID, Items: o.Items, Coupon: o.Coupon,
		Activity: o.Activity, RequestID: o.RequestID, CreatedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	l := &local{run: func(ctx context.Context) (stored bool, err error) {
		err = pgx.BeginFunc(ctx, s.set.Pool, func(tx pgx.Tx) error {
			stored, err = store(ctx, tx)
			return err
		})
		return stored && err == nil, err
	}}
	m := &client.Message{Topic: events.TopicOrder, Tags: events.TagOrderCreated, Keys: []string{o.ID}, Body: body,
		Properties: map[string]string{orderIDProperty: o.ID}}
	_, state, err := s.tp.SendInTransaction(context.WithValue(ctx, localKey{}, l), m, client.WithSelector(client.ByKey(o.ID)))
	switch {
	case l.err != nil:
		return l.err
	case err == nil:
	case state == client.TxUnknown: // the half message failed; nothing ran
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default: // decided locally; the broker learns the outcome from its check-back
		s.log.Warn("end of transaction not delivered; the broker will check back", "order", o.ID, "err", err)
	}
	return nil
}

// orderIDProperty carries the order ID on OrderCreated for check-backs.
const orderIDProperty = "ORDER_ID"

// listener runs local transactions and answers check-backs.
type listener struct{ s *Service }

// ExecuteLocal runs the local transaction that sendCreated put in ctx.
func (l listener) ExecuteLocal(ctx context.Context, _ *client.Message) client.TxState {
	lt, _ := ctx.Value(localKey{}).(*local)
	if lt == nil {
		return client.TxRollback
	}
	lt.stored, lt.err = lt.run(ctx)
	if lt.stored {
		return client.TxCommit
	}
	return client.TxRollback
}

// Check answers the broker about an OrderCreated it holds undecided: the
// order is in the database (commit), or is not and its message is older
// than CheckGrace (rollback), or may still be on its way (unknown).
func (l listener) Check(ctx context.Context, m *client.MessageExt) client.TxState {
	id := m.Property(orderIDProperty)
	exists, err := l.s.store.exists(ctx, id)
	switch {
	case err != nil:
		l.s.log.Warn("transaction check failed; the broker will ask again", "order", id, "err", err)
		return client.TxUnknown
	case exists:
		return client.TxCommit
	case time.Since(time.UnixMilli(m.BornTimestamp)) < l.s.cfg.CheckGrace:
		return client.TxUnknown
	}
	return client.TxRollback
}
