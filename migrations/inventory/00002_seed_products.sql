-- Demo products. Prices in cents. SECKILL-1 is the flash-sale product (set
-- its stock with PUT /admin/products/SECKILL-1 before a sale).

-- +goose Up
INSERT INTO products (sku, name, price_cents, available) VALUES
	('BOOK-1', 'The Broker Book', 2500, 1000),
	('MUG-1', 'Surge mug', 1200, 500),
	('TEE-1', 'Surge T-shirt', 1999, 300),
	('KBD-1', 'Mechanical keyboard', 12900, 50),
	('SECKILL-1', 'Flash-sale headphones', 9900, 100)
ON CONFLICT (sku) DO NOTHING;

-- +goose Down
DELETE FROM products WHERE sku IN ('BOOK-1', 'MUG-1', 'TEE-1', 'KBD-1', 'SECKILL-1');
