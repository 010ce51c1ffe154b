package inventory

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/outbox"
)

func (s *Service) routeEvents() {
	consume.On(s.Router, events.TagOrderCreated, s.onOrderCreated)
	consume.On(s.Router, events.TagOrderCancelled, s.onOrderCancelled)
}

// onOrderCreated reserves the order's stock and answers StockReserved or
// StockRejected, in the transaction that records the event.
func (s *Service) onOrderCreated(ctx context.Context, tx pgx.Tx, ev *events.OrderCreated) error {
	amount, rej, err := s.store.reserve(ctx, tx, ev.OrderID, ev.Items)
	if err != nil {
		return err
	}
	if rej != nil {
		s.log.Info("stock rejected", "order", ev.OrderID, "reason", rej.reason, "sku", rej.sku)
		return outbox.Add(ctx, tx, events.TopicStock, events.TagStockRejected, ev.OrderID,
			&events.StockRejected{OrderID: ev.OrderID, Reason: rej.reason, SKU: rej.sku})
	}
	return outbox.Add(ctx, tx, events.TopicStock, events.TagStockReserved, ev.OrderID,
		&events.StockReserved{OrderID: ev.OrderID, AmountCents: amount})
}

// onOrderCancelled gives back the stock reserved for the order, if any.
func (s *Service) onOrderCancelled(ctx context.Context, tx pgx.Tx, ev *events.OrderCancelled) error {
	n, err := s.store.release(ctx, tx, ev.OrderID)
	if n > 0 {
		s.log.Info("stock released", "order", ev.OrderID, "lines", n)
	}
	return err
}
