package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/events"
)

// store holds the inventory's SQL.
type store struct {
	pool            *pgxpool.Pool
	checkThenUpdate bool
	raceWindow      time.Duration
}

const productColumns = "sku, name, price_cents, available, updated_at"

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.SKU, &p.Name, &p.PriceCents, &p.Stock, &p.UpdatedAt)
	return p, err
}

func (s *store) list(ctx context.Context) ([]Product, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+productColumns+" FROM products ORDER BY sku")
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Product, error) { return scanProduct(r) })
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return ps, nil
}

func (s *store) get(ctx context.Context, sku string) (Product, error) {
	p, err := scanProduct(s.pool.QueryRow(ctx, "SELECT "+productColumns+" FROM products WHERE sku = $1", sku))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("get product %s: %w", sku, err)
	}
	return p, nil
}

// put creates a product or sets its name, price and stock.
func (s *store) put(ctx context.Context, p Product) (Product, error) {
	out, err := scanProduct(s.pool.QueryRow(ctx, `INSERT INTO products (sku, name, price_cents, available) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents,
			available = EXCLUDED.available, updated_at = now()
		RETURNING `+productColumns, p.SKU, p.Name, p.PriceCents, p.Stock))
	if err != nil {
		return out, fmt.Errorf("put product %s: %w", p.SKU, err)
	}
	return out, nil
}

// rejection says why an order's stock was not reserved.
type rejection struct {
	reason, sku string
}

// reserve takes every item of an order out of stock, or none: it works in
// a savepoint of tx and rolls it back at the first item that cannot be
// had. Items are taken in SKU order, so two orders never wait for each
// other's rows in opposite orders. It returns the order's amount, or why
// it was rejected.
func (s *store) reserve(ctx context.Context, tx pgx.Tx, orderID string, items []events.Item) (int64, *rejection, error) {
	if len(items) == 0 {
		return 0, &rejection{reason: events.RejectInvalidOrder}, nil
	}
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b events.Item) int { return strings.Compare(a.SKU, b.SKU) })
	for i, it := range items {
		if it.Quantity < 1 || (i > 0 && items[i-1].SKU == it.SKU) {
			return 0, &rejection{reason: events.RejectInvalidOrder, sku: it.SKU}, nil
		}
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	defer sp.Rollback(ctx)
	take := s.take
	if s.checkThenUpdate {
		take = s.checkThenTake
	}
	var amount int64
	for _, it := range items {
		price, rej, err := take(ctx, sp, it)
		if err != nil || rej != nil {
			return 0, rej, err
		}
		if _, err := sp.Exec(ctx, "INSERT INTO reservations (order_id, sku, quantity, price_cents) VALUES ($1, $2, $3, $4)",
			orderID, it.SKU, it.Quantity, price); err != nil {
			return 0, nil, fmt.Errorf("reserve %s: record %s: %w", orderID, it.SKU, err)
		}
		amount += price * int64(it.Quantity)
	}
	if err := sp.Commit(ctx); err != nil {
		return 0, nil, fmt.Errorf("reserve %s: %w", orderID, err)
	}
	return amount, nil, nil
}

// take is the safe path: one conditional UPDATE decides.
func (s *store) take(ctx context.Context, tx pgx.Tx, it events.Item) (int64, *rejection, error) {
	var price int64
	err := tx.QueryRow(ctx, `UPDATE products SET available = available - $2, updated_at = now()
		WHERE sku = $1 AND available >= $2 RETURNING price_cents`, it.SKU, it.Quantity).Scan(&price)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, s.why(ctx, tx, it.SKU), nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("take %s: %w", it.SKU, err)
	}
	return price, nil, nil
}

// checkThenTake is the CheckThenUpdate teaching switch: a read, a check in
// Go, and a write of the computed value. Nothing stops another
// transaction from reading the same stock between the read and the write
// (a lost update), so the product can be sold more times than it has
// stock.
func (s *store) checkThenTake(ctx context.Context, tx pgx.Tx, it events.Item) (int64, *rejection, error) {
	var available int
	var price int64
	err := tx.QueryRow(ctx, "SELECT available, price_cents FROM products WHERE sku = $1", it.SKU).Scan(&available, &price)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &rejection{reason: events.RejectUnknownSKU, sku: it.SKU}, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("check %s: %w", it.SKU, err)
	}
	if available < it.Quantity {
		return 0, &rejection{reason: events.RejectOutOfStock, sku: it.SKU}, nil
	}
	if s.raceWindow > 0 {
		time.Sleep(s.raceWindow)
	}
	if _, err := tx.Exec(ctx, "UPDATE products SET available = $2, updated_at = now() WHERE sku = $1", it.SKU, available-it.Quantity); err != nil {
		return 0, nil, fmt.Errorf("update %s: %w", it.SKU, err)
	}
	return price, nil, nil
}

// why tells an unknown SKU from one without enough stock.
func (s *store) why(ctx context.Context, tx pgx.Tx, sku string) *rejection {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM products WHERE sku = $1)", sku).Scan(&exists); err == nil && !exists {
		return &rejection{reason: events.RejectUnknownSKU, sku: sku}
	}
	return &rejection{reason: events.RejectOutOfStock, sku: sku}
}

// release gives an order's unreleased reservations back to stock and
// reports how many lines it released.
func (s *store) release(ctx context.Context, tx pgx.Tx, orderID string) (int, error) {
	rows, err := tx.Query(ctx, `UPDATE reservations SET released_at = now()
		WHERE order_id = $1 AND released_at IS NULL RETURNING sku, quantity`, orderID)
	if err != nil {
		return 0, fmt.Errorf("release %s: %w", orderID, err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.Item, error) {
		var it events.Item
		return it, r.Scan(&it.SKU, &it.Quantity)
	})
	if err != nil {
		return 0, fmt.Errorf("release %s: %w", orderID, err)
	}
	slices.SortFunc(lines, func(a, b events.Item) int { return strings.Compare(a.SKU, b.SKU) })
	for _, it := range lines {
		if _, err := tx.Exec(ctx, "UPDATE products SET available = available + $2, updated_at = now() WHERE sku = $1", it.SKU, it.Quantity); err != nil {
			return 0, fmt.Errorf("release %s: %s: %w", orderID, it.SKU, err)
		}
	}
	return len(lines), nil
}
