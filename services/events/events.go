// Package events holds the contracts between Surge's services: topic and tag
// names, and the versioned JSON payloads that travel on them. It is the only
// code the services share about each other; a service never imports another.
//
// Every event carries a business key (Key) that names the fact it reports,
// not the message that carried it: two deliveries of one event, or a
// producer's retry that stored it twice under two message IDs, have the same
// key. Consumers record that key in the same database transaction as the
// event's effect, so a redelivery changes nothing.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Topics. Events of one order share a queue: producers send them ordered by
// order ID (the message key), so a consumer sees an order's events in the
// order they happened.
const (
	// TopicOrder carries OrderCreated, OrderConfirmed and OrderCancelled,
	// produced by the order service.
	TopicOrder = "ORDER_EVENTS"
	// TopicStock carries StockReserved and StockRejected, produced by the
	// inventory service.
	TopicStock = "STOCK_EVENTS"
	// TopicSeckill carries SeckillRequested, produced by the gateway for
	// every admitted flash-sale request, keyed by the request ID.
	TopicSeckill = "SECKILL_REQUESTS"
)

// Tags: the event type of a message, so that a consumer subscribes to the
// kinds it handles ("OrderConfirmed || OrderCancelled").
const (
	TagOrderCreated     = "OrderCreated"
	TagOrderConfirmed   = "OrderConfirmed"
	TagOrderCancelled   = "OrderCancelled"
	TagStockReserved    = "StockReserved"
	TagStockRejected    = "StockRejected"
	TagSeckillRequested = "SeckillRequested"
)

// Version is the payload version this code writes. Decoders accept every
// version up to it and refuse newer ones, so an old consumer fails loudly
// (and the message is retried) rather than misreading a newer producer.
const Version = 1

// Item is one line of an order. Prices are in cents, never floats.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// OrderCreated: an order was stored PENDING. Inventory reserves its items.
type OrderCreated struct {
	Version   int       `json:"version"`
	OrderID   string    `json:"order_id"`
	UserID    string    `json:"user_id"`
	Items     []Item    `json:"items"`
	Coupon    string    `json:"coupon,omitempty"`
	Activity  string    `json:"activity,omitempty"`   // flash-sale activity, if the order came from one
	RequestID string    `json:"request_id,omitempty"` // flash-sale request, if any
	CreatedAt time.Time `json:"created_at"`
}

// StockReserved: inventory took the order's items out of available stock.
// Inventory owns the prices, so the order learns its amount here.
type StockReserved struct {
	Version     int    `json:"version"`
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
}

// StockRejected: inventory could not reserve the order's items; nothing was
// taken.
type StockRejected struct {
	Version int    `json:"version"`
	OrderID string `json:"order_id"`
	// Reason is machine-readable: RejectOutOfStock, RejectUnknownSKU,
	// RejectInvalidOrder.
	Reason string `json:"reason"`
	SKU    string `json:"sku,omitempty"` // the item that failed
}

// Reasons in StockRejected and OrderCancelled.
const (
	RejectOutOfStock = "out_of_stock"
	RejectUnknownSKU = "unknown_sku"
	// RejectInvalidOrder: the order has no items or a quantity below 1.
	RejectInvalidOrder = "invalid_order"
)

// OrderConfirmed: the order's stock is reserved; points and coupons follow.
type OrderConfirmed struct {
	Version     int    `json:"version"`
	OrderID     string `json:"order_id"`
	UserID      string `json:"user_id"`
	AmountCents int64  `json:"amount_cents"`
	Coupon      string `json:"coupon,omitempty"`
}

// OrderCancelled: the order will not be fulfilled. If inventory had
// reserved its stock, inventory releases it.
type OrderCancelled struct {
	Version int    `json:"version"`
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Reason  string `json:"reason"`
}

// SeckillRequested: the gateway admitted a flash-sale request. The order
// service turns it into an order, at most one per user and activity.
type SeckillRequested struct {
	Version     int       `json:"version"`
	RequestID   string    `json:"request_id"`
	Activity    string    `json:"activity"` // the flash-sale product's SKU
	UserID      string    `json:"user_id"`
	RequestedAt time.Time `json:"requested_at"`
}

// Key returns the event's business key, unique per fact: the tag joined to
// the ID the fact is about.
func Key(tag, id string) string { return tag + ":" + id }

// Key methods: each event's business key (see Key).
func (e *OrderCreated) Key() string     { return Key(TagOrderCreated, e.OrderID) }
func (e *StockReserved) Key() string    { return Key(TagStockReserved, e.OrderID) }
func (e *StockRejected) Key() string    { return Key(TagStockRejected, e.OrderID) }
func (e *OrderConfirmed) Key() string   { return Key(TagOrderConfirmed, e.OrderID) }
func (e *OrderCancelled) Key() string   { return Key(TagOrderCancelled, e.OrderID) }
func (e *SeckillRequested) Key() string { return Key(TagSeckillRequested, e.RequestID) }

// The forms of identifiers the services accept from clients and events.
var (
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)
	skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Rules of ValidID and ValidSKU, for error messages.
const (
	IDRule  = "1 to 64 letters, digits or ._@:-"
	SKURule = "1 to 64 letters, digits or ._-, starting with a letter or digit"
)

// ValidID reports whether s is a usable user, request or coupon ID.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidSKU reports whether s is a usable SKU (and flash-sale activity).
func ValidSKU(s string) bool { return skuPattern.MatchString(s) }

// ErrUnsupportedVersion is returned by Decode for a payload newer than
// Version, or without a version.
var ErrUnsupportedVersion = errors.New("events: unsupported payload version")

// Payload is implemented by every event type of this package.
type Payload interface {
	versionField() *int
	// Key is the event's business key.
	Key() string
}

func (e *OrderCreated) versionField() *int     { return &e.Version }
func (e *StockReserved) versionField() *int    { return &e.Version }
func (e *StockRejected) versionField() *int    { return &e.Version }
func (e *OrderConfirmed) versionField() *int   { return &e.Version }
func (e *OrderCancelled) versionField() *int   { return &e.Version }
func (e *SeckillRequested) versionField() *int { return &e.Version }

// Encode marshals an event payload, stamping the current Version.
func Encode(v Payload) ([]byte, error) {
	*v.versionField() = Version
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("events: encode %T: %w", v, err)
	}
	return b, nil
}

// Decode unmarshals a payload into v and checks its version.
func Decode(body []byte, v Payload) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("events: decode %T: %w", v, err)
	}
	if n := *v.versionField(); n < 1 || n > Version {
		return fmt.Errorf("%w: %T version %d (this build reads 1..%d)", ErrUnsupportedVersion, v, n, Version)
	}
	return nil
}
