-- Coupons issued for confirmed orders, and when they were used.

-- +goose Up
CREATE TABLE coupons (
	code         text PRIMARY KEY,
	user_id      text NOT NULL,
	value_cents  bigint NOT NULL CHECK (value_cents > 0),
	source_order text NOT NULL,
	used_order   text,
	used_at      timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coupons_by_user ON coupons (user_id, created_at);

CREATE TABLE processed_events (
	key          text PRIMARY KEY,
	processed_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE coupons;
