// Package order is the order service: it takes orders and flash-sale
// requests, and drives the order saga.
//
// An order is stored PENDING and announced with OrderCreated as a
// transactional message: the half message goes first, the local
// transaction is the insert, and the broker's check-back looks the order up
// in the database. Inventory answers; StockReserved makes the order
// CONFIRMED (OrderConfirmed), StockRejected makes it CANCELLED
// (OrderCancelled). Those follow-up events leave through the outbox, in the
// transaction of the state change.
//
// Each SeckillRequested becomes an order of one unit of the activity's
// SKU, at most one per user and activity (a unique index decides); the
// request is QUEUED, then ORDERED when its order is confirmed or REJECTED
// (sold_out, duplicate, ...).
package order

import (
	"errors"
	"fmt"
	"time"

	"github.com/surge-mq/surge/services/events"
)

// Order states.
const (
	StatusPending   = "PENDING"
	StatusConfirmed = "CONFIRMED"
	StatusCancelled = "CANCELLED"
)

// Flash-sale request states and rejection reasons.
const (
	RequestQueued   = "QUEUED"
	RequestOrdered  = "ORDERED"
	RequestRejected = "REJECTED"

	ReasonSoldOut   = "sold_out"
	ReasonDuplicate = "duplicate"
)

// Order is an order as the API shows it.
type Order struct {
	ID          string        `json:"id"`
	UserID      string        `json:"user_id"`
	Status      string        `json:"status"`
	Items       []events.Item `json:"items"`
	Coupon      string        `json:"coupon,omitempty"`
	AmountCents *int64        `json:"amount_cents,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	Activity    string        `json:"activity,omitempty"`
	RequestID   string        `json:"request_id,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// SeckillRequest is a flash-sale request's outcome.
type SeckillRequest struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	OrderID   string `json:"order_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// NewOrder is what a client asks for.
type NewOrder struct {
	UserID string        `json:"user_id"`
	Items  []events.Item `json:"items"`
	Coupon string        `json:"coupon,omitempty"`
}

// Errors of the service. Compare with errors.Is.
var (
	ErrNotFound     = errors.New("order: not found")
	ErrInvalid      = errors.New("order: invalid")
	ErrUnavailable  = errors.New("order: broker unavailable, order not taken")
	ErrShuttingDown = errors.New("order: shutting down")
)

// Limits on an order.
const (
	MaxItems    = 50
	MaxQuantity = 1000
)

// Validate checks an order request and lists every problem at once; the
// error wraps ErrInvalid.
func (n NewOrder) Validate() error {
	var errs []error
	if !events.ValidID(n.UserID) {
		errs = append(errs, errors.New("user_id: required, "+events.IDRule))
	}
	if n.Coupon != "" && !events.ValidID(n.Coupon) {
		errs = append(errs, errors.New("coupon: "+events.IDRule))
	}
	if len(n.Items) == 0 || len(n.Items) > MaxItems {
		errs = append(errs, fmt.Errorf("items: 1 to %d lines", MaxItems))
	}
	seen := map[string]bool{}
	for i, it := range n.Items {
		if !events.ValidSKU(it.SKU) {
			errs = append(errs, fmt.Errorf("items[%d].sku: required, %s", i, events.SKURule))
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			errs = append(errs, fmt.Errorf("items[%d].quantity: 1 to %d", i, MaxQuantity))
		}
		if seen[it.SKU] {
			errs = append(errs, fmt.Errorf("items[%d].sku: %s appears twice; give one line per SKU", i, it.SKU))
		}
		seen[it.SKU] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// requestReason turns an inventory rejection into a flash-sale reason.
func requestReason(stockReason string) string {
	if stockReason == events.RejectOutOfStock {
		return ReasonSoldOut
	}
	return stockReason
}
