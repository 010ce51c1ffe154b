-- Orders, their items, the flash-sale requests they came from, and the
-- order service's consumer and outbox bookkeeping.

-- +goose Up
CREATE TABLE orders (
	id           uuid PRIMARY KEY,
	user_id      text NOT NULL,
	status       text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
	coupon       text,
	activity     text,           -- flash-sale activity (SKU) the order came from
	request_id   text,           -- flash-sale request the order came from
	amount_cents bigint,         -- known once inventory reserved the stock
	reason       text,           -- why it was cancelled
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
-- One order per user and flash-sale activity, whatever the number of requests.
CREATE UNIQUE INDEX orders_one_per_user_activity ON orders (activity, user_id) WHERE activity IS NOT NULL;

CREATE TABLE order_items (
	order_id uuid NOT NULL REFERENCES orders (id),
	sku      text NOT NULL,
	quantity integer NOT NULL CHECK (quantity > 0),
	PRIMARY KEY (order_id, sku)
);

CREATE TABLE seckill_requests (
	request_id text PRIMARY KEY,
	activity   text NOT NULL,
	user_id    text NOT NULL,
	status     text NOT NULL CHECK (status IN ('QUEUED', 'ORDERED', 'REJECTED')),
	order_id   uuid,
	reason     text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seckill_requests_by_order ON seckill_requests (order_id);

-- Business keys of the events this service has applied (see services/internal/consume).
CREATE TABLE processed_events (
	key          text PRIMARY KEY,
	processed_at timestamptz NOT NULL DEFAULT now()
);

-- Events to publish, written in the transaction of the change they report
-- (see services/internal/outbox).
CREATE TABLE outbox (
	id         bigserial PRIMARY KEY,
	topic      text NOT NULL,
	tag        text NOT NULL,
	shard_key  text NOT NULL,
	body       bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at    timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE processed_events;
DROP TABLE seckill_requests;
DROP TABLE order_items;
DROP TABLE orders;
