// Package points is the points service: every confirmed order earns its
// user one point per currency unit spent (100 cents; fractions are
// dropped), kept as a balance and a ledger that explains it.
package points

import (
	"context"
	"errors"
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

// CentsPerPoint is the price of one point.
const CentsPerPoint = 100

// Earned returns the points an order of amountCents earns.
func Earned(amountCents int64) int64 { return max(amountCents, 0) / CentsPerPoint }

// Entry is one line of a user's ledger.
type Entry struct {
	OrderID   string    `json:"order_id"`
	Points    int64     `json:"points"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// Account is a user's balance and ledger.
type Account struct {
	UserID  string  `json:"user_id"`
	Balance int64   `json:"balance"`
	Ledger  []Entry `json:"ledger"`
}

// Config configures the service. With SkipIdempotency (a teaching
// switch) a redelivered OrderConfirmed pays its points twice.
type Config struct {
	pipeline.Settings
}

// Service is the points service.
type Service struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	*pipeline.Pipeline
}

// New returns the service; Start starts its consumer of OrderConfirmed,
// Close stops it (the message in hand finishes), Stats counts events.
func New(cfg Config) *Service {
	set := cfg.Settings.WithDefaults("points")
	s := &Service{pool: set.Pool, log: set.Logger}
	s.Pipeline = pipeline.Consuming(set, events.TopicOrder, events.TagOrderConfirmed, s.onOrderConfirmed)
	return s
}

// ReasonOrder is the ledger reason of points earned by an order.
const ReasonOrder = "order_confirmed"

func (s *Service) onOrderConfirmed(ctx context.Context, tx pgx.Tx, ev *events.OrderConfirmed) error {
	pts := Earned(ev.AmountCents)
	if pts == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "INSERT INTO ledger (user_id, order_id, points, reason) VALUES ($1, $2, $3, $4)",
		ev.UserID, ev.OrderID, pts, ReasonOrder); err != nil {
		return fmt.Errorf("ledger %s: %w", ev.OrderID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO accounts (user_id, balance) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET balance = accounts.balance + EXCLUDED.balance`, ev.UserID, pts); err != nil {
		return fmt.Errorf("balance of %s: %w", ev.UserID, err)
	}
	return nil
}

// Account returns a user's balance and ledger (oldest first); a user
// without points has balance 0 and an empty ledger.
func (s *Service) Account(ctx context.Context, user string) (Account, error) {
	a := Account{UserID: user, Ledger: []Entry{}}
	err := s.pool.QueryRow(ctx, "SELECT balance FROM accounts WHERE user_id = $1", user).Scan(&a.Balance)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("account %s: %w", user, err)
	}
	rows, err := s.pool.Query(ctx, "SELECT order_id, points, reason, created_at FROM ledger WHERE user_id = $1 ORDER BY id", user)
	if err != nil {
		return a, fmt.Errorf("ledger of %s: %w", user, err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Entry])
	if err != nil {
		return a, fmt.Errorf("ledger of %s: %w", user, err)
	}
	a.Ledger = append(a.Ledger, entries...)
	return a, nil
}

// Routes adds GET /points/{user}.
func (s *Service) Routes(r chi.Router) {
	r.Get("/points/{user}", httpx.Handle(s.log, func(w http.ResponseWriter, r *http.Request) error {
		user := chi.URLParam(r, "user")
		if !events.ValidID(user) {
			return httpx.BadRequest("user: %s", events.IDRule)
		}
		a, err := s.Account(r.Context(), user)
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, a)
		return nil
	}))
}
