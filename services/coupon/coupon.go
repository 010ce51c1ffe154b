// Package coupon is the coupon service. Its rule: a confirmed order of at
// least MinOrderCents (100.00) earns its user one coupon worth ValueCents
// (10.00), named after the order. An order that carries one of the user's
// unused coupons marks it used when the order is confirmed. (The discount
// itself is not deducted from the order's amount in this version; the
// coupon is bookkeeping of who earned and spent what.)
package coupon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/httpx"
	"github.com/surge-mq/surge/services/internal/pipeline"
)

// The issuing rule.
const (
	MinOrderCents = 10000
	ValueCents    = 1000
)

// Code returns the code of the coupon an order earns.
func Code(orderID string) string { return "CPN-" + orderID }

// Coupon is a coupon as the API shows it.
type Coupon struct {
	Code        string     `json:"code"`
	UserID      string     `json:"user_id"`
	ValueCents  int64      `json:"value_cents"`
	SourceOrder string     `json:"source_order"`
	UsedOrder   *string    `json:"used_order,omitempty"`
	UsedAt      *time.Time `json:"used_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Config configures the service.
type Config struct {
	pipeline.Settings
}

// Service is the coupon service.
type Service struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	*pipeline.Pipeline
}

// New returns the service; Start starts its consumer of OrderConfirmed,
// Close stops it (the message in hand finishes), Stats counts events.
func New(cfg Config) *Service {
	set := cfg.Settings.WithDefaults("coupon")
	s := &Service{pool: set.Pool, log: set.Logger}
	s.Pipeline = pipeline.Consuming(set, events.TopicOrder, events.TagOrderConfirmed, s.onOrderConfirmed)
	return s
}

func (s *Service) onOrderConfirmed(ctx context.Context, tx pgx.Tx, ev *events.OrderConfirmed) error {
	if ev.Coupon != "" {
		tag, err := tx.Exec(ctx, `UPDATE coupons SET used_order = $3, used_at = now()
			WHERE code = $1 AND user_id = $2 AND used_at IS NULL`, ev.Coupon, ev.UserID, ev.OrderID)
		if err != nil {
			return fmt.Errorf("use coupon %s: %w", ev.Coupon, err)
		}
		if tag.RowsAffected() == 0 {
			s.log.Info("order carries a coupon that is unknown, another user's or used; not marked", "order", ev.OrderID, "coupon", ev.Coupon)
		}
	}
	if ev.AmountCents < MinOrderCents {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO coupons (code, user_id, value_cents, source_order) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO NOTHING`, Code(ev.OrderID), ev.UserID, ValueCents, ev.OrderID); err != nil {
		return fmt.Errorf("issue coupon for %s: %w", ev.OrderID, err)
	}
	return nil
}

// ByUser lists a user's coupons, oldest first.
func (s *Service) ByUser(ctx context.Context, user string) ([]Coupon, error) {
	rows, err := s.pool.Query(ctx, `SELECT code, user_id, value_cents, source_order, used_order, used_at, created_at
		FROM coupons WHERE user_id = $1 ORDER BY created_at, code`, user)
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", user, err)
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Coupon])
	if err != nil {
		return nil, fmt.Errorf("coupons of %s: %w", user, err)
	}
	return cs, nil
}

// Routes adds GET /coupons?user=.
func (s *Service) Routes(r chi.Router) {
	r.Get("/coupons", httpx.Handle(s.log, func(w http.ResponseWriter, r *http.Request) error {
		user := r.URL.Query().Get("user")
		if !events.ValidID(user) {
			return httpx.BadRequest("query parameter user: required, %s", events.IDRule)
		}
		cs, err := s.ByUser(r.Context(), user)
		return httpx.List(w, cs, err)
	}))
}
