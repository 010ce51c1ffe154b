// Package gateway is Surge's HTTP edge: it routes the public API to the
// owning service and admits flash-sale requests into a queue through token
// buckets, rejecting the overflow fast.
//
// A Gateway puts the parts together: package proxy forwards /api/orders,
// /api/products, /api/points and /api/coupons; package seckill serves
// POST /api/seckill/{activity} (buckets from package admission, sends to
// SECKILL_REQUESTS) and the request status; the gateway adds /api/stats,
// /metrics, /healthz, /readyz and a request log. The command in
// cmd/gateway reads the configuration from the environment and owns the
// HTTP server and its shutdown.
package gateway
