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
	"errors"
	"log/slog"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/surge-mq/surge/services/events"
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

// Config configures the service.
type Config struct {
	pipeline.Settings
	// CheckThenUpdate is a teaching switch: reserve by reading the stock,
	// checking it in Go and writing the difference back. Two orders that
	// read the same stock both succeed, and the product is oversold. Off
	// by default.
	CheckThenUpdate bool
	// RaceWindow is a pause between the check and the update of
	// CheckThenUpdate, to make its lost update easy to show. Default 0.
	RaceWindow time.Duration
}

// Service is the inventory service. Start starts its consumer of
// OrderCreated and OrderCancelled and its outbox relay; Close stops the
// consumer (in-flight messages finish), sends what is committed and
// closes the producer.
type Service struct {
	log   *slog.Logger
	store *store
	*pipeline.Pipeline
}

// New returns the service.
func New(cfg Config) *Service {
	set := cfg.Settings.WithDefaults("inventory")
	s := &Service{log: set.Logger, store: &store{pool: set.Pool, checkThenUpdate: cfg.CheckThenUpdate, raceWindow: cfg.RaceWindow}}
	s.Pipeline = pipeline.New(pipeline.Config{Settings: set, Outbox: true, Subscriptions: []pipeline.Subscription{
		{Topic: events.TopicOrder, Tags: []string{events.TagOrderCreated, events.TagOrderCancelled}}}})
	s.routeEvents()
	return s
}

// Routes adds the HTTP API.
func (s *Service) Routes(r chi.Router) { s.routes(r) }
