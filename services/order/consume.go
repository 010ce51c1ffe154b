package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/outbox"
)

func (s *Service) routeEvents() {
	consume.On(s.pipe.Router, events.TagStockReserved, s.onStockReserved)
	consume.On(s.pipe.Router, events.TagStockRejected, s.onStockRejected)
	s.pipe.Router.HandleRaw(events.TagSeckillRequested, s.onSeckillRequested)
}

// onStockReserved confirms the order and announces OrderConfirmed.
func (s *Service) onStockReserved(ctx context.Context, tx pgx.Tx, ev *events.StockReserved) error {
	o, ok, err := s.store.settle(ctx, tx, ev.OrderID, StatusConfirmed, &ev.AmountCents, "")
	if err != nil || !ok {
		if err == nil {
			s.log.Warn("stock reserved for an order that is not pending; ignored", "order", ev.OrderID)
		}
		return err
	}
	if o.RequestID != "" {
		if err := s.store.setRequest(ctx, tx, o.RequestID, RequestOrdered, o.ID, ""); err != nil {
			return err
		}
	}
	return outbox.Add(ctx, tx, events.TopicOrder, events.TagOrderConfirmed, o.ID,
		&events.OrderConfirmed{OrderID: o.ID, UserID: o.UserID, AmountCents: ev.AmountCents, Coupon: o.Coupon})
}

// onStockRejected cancels the order and announces OrderCancelled.
func (s *Service) onStockRejected(ctx context.Context, tx pgx.Tx, ev *events.StockRejected) error {
	o, ok, err := s.store.settle(ctx, tx, ev.OrderID, StatusCancelled, nil, ev.Reason)
	if err != nil || !ok {
		if err == nil {
			s.log.Warn("stock rejected for an order that is not pending; ignored", "order", ev.OrderID)
		}
		return err
	}
	if o.RequestID != "" {
		if err := s.store.setRequest(ctx, tx, o.RequestID, RequestRejected, o.ID, requestReason(ev.Reason)); err != nil {
			return err
		}
	}
	return outbox.Add(ctx, tx, events.TopicOrder, events.TagOrderCancelled, o.ID,
		&events.OrderCancelled{OrderID: o.ID, UserID: o.UserID, Reason: ev.Reason})
}

// ReasonInvalid rejects a flash-sale request without a usable user or
// activity.
const ReasonInvalid = "invalid_request"

// onSeckillRequested turns a flash-sale request into an order of one unit
// of the activity's SKU, announced like any order. The request, its
// idempotency record and the order are stored in the local transaction;
// a second order of the same user and activity is refused by the unique
// index, and the request is rejected as a duplicate.
func (s *Service) onSeckillRequested(ctx context.Context, m *client.MessageExt) error {
	if err := pause(ctx, s.cfg.SeckillDelay); err != nil {
		return err
	}
	var ev events.SeckillRequested
	if err := events.Decode(m.Body, &ev); err != nil {
		return err
	}
	if !events.ValidID(ev.RequestID) {
		s.log.Error("flash-sale request without a usable request_id dropped", "msgId", m.MsgID, "request", ev.RequestID)
		return nil
	}
	o := Order{ID: uuid.Must(uuid.NewV7()).String(), UserID: ev.UserID, Status: StatusPending,
		Items: []events.Item{{SKU: ev.Activity, Quantity: 1}}, Activity: ev.Activity, RequestID: ev.RequestID}
	err := s.sendCreated(ctx, o, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		if fresh, err := s.pipe.Router.Claim(ctx, tx, ev.Key()); err != nil || !fresh {
			return false, err
		}
		status, orderID, reason := RequestQueued, o.ID, ""
		if !events.ValidID(ev.UserID) || !events.ValidSKU(ev.Activity) {
			status, orderID, reason = RequestRejected, "", ReasonInvalid
		} else if _, err := s.store.insert(ctx, tx, o); errors.Is(err, errDuplicate) {
			status, orderID, reason = RequestRejected, "", ReasonDuplicate
		} else if err != nil {
			return false, err
		}
		added, err := s.store.addRequest(ctx, tx, &ev, status, orderID, reason)
		if err == nil && !added && status == RequestQueued {
			err = errRequestSeen // keep no order for a request decided before
		}
		return added && status == RequestQueued, err
	})
	if errors.Is(err, errRequestSeen) {
		return nil
	}
	return err
}

// errRequestSeen rolls back a flash-sale request that was recorded
// before (possible only with the idempotency switch off).
var errRequestSeen = errors.New("order: flash-sale request already recorded")

// pause waits d, or until ctx ends (then the message is left unhandled
// and is delivered again). The pause counts against the handling deadline
// of each message (consume.Config.HandleTimeout).
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("order: consume delay: %w", ctx.Err())
	}
}
