// Package inventory is the inventory service: products with prices and
// stock, and the stock reservations of the order saga.
//
// On OrderCreated it reserves every item of the order or none, with one
// conditional UPDATE per item (available = available - n WHERE available
// >= n): the products row is the single source of truth, so concurrent
// orders cannot oversell. It answers StockReserved (with the order's
// amount, from its prices) or StockRejected through its outbox. On
// OrderCancelled it gives back what it had reserved for the order.
package inventory

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/pipeline"
)

// Product is a product and its available stock. Prices are in cents.
type Product struct {
	SKU        string    `json:"sku"`
	Name       string    `json:"name"`
	PriceCents int64     `json:"price_cents"`
	Stock      int       `json:"stock"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ErrNotFound is returned for an unknown SKU.
var ErrNotFound = errors.New("inventory: product not found")

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Config configures the service.
type Config struct {
	Pool        *pgxpool.Pool
	NameServers []string
	// Logger; nil discards.
	Logger *slog.Logger
	// Group is the consumer and producer group. Default "inventory-service".
	Group string
	// SkipIdempotency: teaching switch, see consume.Config.
	SkipIdempotency bool
	// CheckThenUpdate is a teaching switch: reserve by reading the stock,
	// checking it in Go and writing the difference back. Two orders that
	// read the same stock both succeed, and the product is oversold. Off
	// by default.
	CheckThenUpdate bool
	// RaceWindow is a pause between the check and the update of
	// CheckThenUpdate, to make its lost update easy to show. Default 0.
	RaceWindow time.Duration
	// RelayInterval is how often the outbox is polled without a kick.
	// Default 1s.
	RelayInterval time.Duration
}

// Service is the inventory service.
type Service struct {
	cfg   Config
	log   *slog.Logger
	store *store
	pipe  *pipeline.Pipeline
}

// New returns the service; Start starts its consumer and relay.
func New(cfg Config) *Service {
	if cfg.Group == "" {
		cfg.Group = "inventory-service"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: log, store: &store{pool: cfg.Pool, checkThenUpdate: cfg.CheckThenUpdate, raceWindow: cfg.RaceWindow}}
	s.pipe = pipeline.New(pipeline.Config{
		Group: cfg.Group, NameServers: cfg.NameServers, Pool: cfg.Pool, Logger: log,
		SkipIdempotency: cfg.SkipIdempotency, Outbox: true, RelayInterval: cfg.RelayInterval,
	})
	s.routeEvents()
	return s
}

// Start starts consuming ORDER_EVENTS and relaying the outbox.
func (s *Service) Start(ctx context.Context) error {
	return s.pipe.Start(ctx, pipeline.Subscription{Topic: events.TopicOrder, Tags: []string{events.TagOrderCreated, events.TagOrderCancelled}})
}

// Close stops consuming, sends what is committed, and closes the producer.
func (s *Service) Close() error { return s.pipe.Close() }

// Stats counts the events the service's consumer applied and skipped.
func (s *Service) Stats() consume.Stats { return s.pipe.Router.Stats() }

// Routes adds the HTTP API.
func (s *Service) Routes(r chi.Router) { s.routes(r) }
