package order

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/events"
)

// store holds the order service's SQL.
type store struct{ pool *pgxpool.Pool }

const orderColumns = `o.id::text, o.user_id, o.status, coalesce(o.coupon, ''), o.amount_cents, coalesce(o.reason, ''),
	coalesce(o.activity, ''), coalesce(o.request_id, ''), o.created_at, o.updated_at,
	coalesce((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity) ORDER BY i.sku)
		FROM order_items i WHERE i.order_id = o.id), '[]')`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.UserID, &o.Status, &o.Coupon, &o.AmountCents, &o.Reason, &o.Activity, &o.RequestID, &o.CreatedAt, &o.UpdatedAt, &o.Items)
	return o, err
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// insert stores o PENDING with its items and returns it as stored. With
// an activity, it stores nothing and returns errDuplicate when the user
// already has an order of that activity.
func (s *store) insert(ctx context.Context, tx pgx.Tx, o Order) (Order, error) {
	err := tx.QueryRow(ctx, `INSERT INTO orders (id, user_id, status, coupon, activity, request_id) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (activity, user_id) WHERE activity IS NOT NULL DO NOTHING
		RETURNING created_at, updated_at`,
		o.ID, o.UserID, StatusPending, nullIfEmpty(o.Coupon), nullIfEmpty(o.Activity), nullIfEmpty(o.RequestID)).Scan(&o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, errDuplicate
	}
	if err != nil {
		return o, fmt.Errorf("insert order %s: %w", o.ID, err)
	}
	skus, qty := make([]string, len(o.Items)), make([]int32, len(o.Items))
	for i, it := range o.Items {
		skus[i], qty[i] = it.SKU, int32(it.Quantity)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO order_items (order_id, sku, quantity) SELECT $1, unnest($2::text[]), unnest($3::int[])", o.ID, skus, qty); err != nil {
		return o, fmt.Errorf("insert order %s: items: %w", o.ID, err)
	}
	o.Status = StatusPending
	return o, nil
}

// errDuplicate: the user already has an order of the activity.
var errDuplicate = errors.New("order: one order per user and activity")

// orderID parses an order ID; a malformed one names no order (ok false).
func orderID(id string) (uuid.UUID, bool) {
	u, err := uuid.Parse(id)
	return u, err == nil
}

func (s *store) get(ctx context.Context, id string) (Order, error) {
	u, ok := orderID(id)
	if !ok {
		return Order{}, ErrNotFound
	}
	o, err := scanOrder(s.pool.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders o WHERE o.id = $1", u))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("get order %s: %w", id, err)
	}
	return o, nil
}

func (s *store) exists(ctx context.Context, id string) (bool, error) {
	u, ok := orderID(id)
	if !ok {
		return false, nil
	}
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)", u).Scan(&ok)
	return ok, err
}

// byUser lists a user's newest orders.
func (s *store) byUser(ctx context.Context, user string, limit int) ([]Order, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+orderColumns+" FROM orders o WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id LIMIT $2", user, limit)
	if err != nil {
		return nil, fmt.Errorf("orders of %s: %w", user, err)
	}
	os, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrder(r) })
	if err != nil {
		return nil, fmt.Errorf("orders of %s: %w", user, err)
	}
	return os, nil
}

// settle moves a PENDING order to status and returns it; ok is false when
// the order is unknown or no longer PENDING.
func (s *store) settle(ctx context.Context, tx pgx.Tx, id, status string, amount *int64, reason string) (o Order, ok bool, err error) {
	u, ok := orderID(id)
	if !ok {
		return o, false, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE orders SET status = $2, amount_cents = $3, reason = $4, updated_at = now()
		WHERE id = $1 AND status = 'PENDING'`, u, status, amount, nullIfEmpty(reason))
	if err != nil {
		return o, false, fmt.Errorf("settle order %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return o, false, nil
	}
	o, err = scanOrder(tx.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders o WHERE o.id = $1", u))
	if err != nil {
		return o, false, fmt.Errorf("settle order %s: %w", id, err)
	}
	return o, true, nil
}

// addRequest records a flash-sale request and its first outcome; false
// if it was already recorded.
func (s *store) addRequest(ctx context.Context, tx pgx.Tx, ev *events.SeckillRequested, status, orderID, reason string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO seckill_requests (request_id, activity, user_id, status, order_id, reason)
		VALUES ($1, $2, $3, $4, $5::uuid, $6) ON CONFLICT (request_id) DO NOTHING`,
		ev.RequestID, ev.Activity, ev.UserID, status, nullIfEmpty(orderID), nullIfEmpty(reason))
	if err != nil {
		return false, fmt.Errorf("record request %s: %w", ev.RequestID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// setRequest sets a request's outcome.
func (s *store) setRequest(ctx context.Context, tx pgx.Tx, requestID, status, orderID, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE seckill_requests SET status = $2, order_id = $3::uuid, reason = $4, updated_at = now()
		WHERE request_id = $1`, requestID, status, nullIfEmpty(orderID), nullIfEmpty(reason)); err != nil {
		return fmt.Errorf("request %s: %w", requestID, err)
	}
	return nil
}

func (s *store) request(ctx context.Context, id string) (SeckillRequest, error) {
	var r SeckillRequest
	err := s.pool.QueryRow(ctx, `SELECT request_id, status, coalesce(order_id::text, ''), coalesce(reason, '')
		FROM seckill_requests WHERE request_id = $1`, id).Scan(&r.RequestID, &r.Status, &r.OrderID, &r.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("request %s: %w", id, err)
	}
	return r, nil
}
