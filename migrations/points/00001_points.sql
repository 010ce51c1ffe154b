-- Point balances and the ledger that explains them.

-- +goose Up
CREATE TABLE accounts (
	user_id text PRIMARY KEY,
	balance bigint NOT NULL DEFAULT 0
);

-- No uniqueness on order_id on purpose: the consumer's idempotency record
-- (processed_events) is what keeps a redelivered event from paying twice.
CREATE TABLE ledger (
	id         bigserial PRIMARY KEY,
	user_id    text NOT NULL,
	order_id   text NOT NULL,
	points     bigint NOT NULL,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_by_user ON ledger (user_id, id);

CREATE TABLE processed_events (
	key          text PRIMARY KEY,
	processed_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE ledger;
DROP TABLE accounts;
