-- Products and stock, the reservations taken for orders, and the inventory
-- service's consumer and outbox bookkeeping.

-- +goose Up
CREATE TABLE products (
	sku         text PRIMARY KEY,
	name        text NOT NULL,
	price_cents bigint NOT NULL CHECK (price_cents >= 0),
	-- available is the single source of truth for stock: reservations take
	-- from it with one conditional UPDATE (... WHERE available >= n).
	available   integer NOT NULL CHECK (available >= 0),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
	order_id    text NOT NULL,
	sku         text NOT NULL,
	quantity    integer NOT NULL CHECK (quantity > 0),
	price_cents bigint NOT NULL,
	reserved_at timestamptz NOT NULL DEFAULT now(),
	released_at timestamptz,
	PRIMARY KEY (order_id, sku)
);

CREATE TABLE processed_events (
	key          text PRIMARY KEY,
	processed_at timestamptz NOT NULL DEFAULT now()
);

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
DROP TABLE reservations;
DROP TABLE products;
