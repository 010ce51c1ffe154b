// Package services is the home of Surge's business services: order,
// inventory, points and coupon, one package and one binary (cmd/<name>)
// each. They talk to each other only through topics on the Surge broker,
// with the contracts of package events; each owns one PostgreSQL schema
// and connects as its own role. A service never imports another (checked
// by this package's tests); what they share lives in small packages under
// internal/: app (the binary runner), pipeline (consumer and outbox relay),
// consume (idempotent consumer), outbox, bus, httpx, pg, migrate, env, and
// for tests pgtest and svctest.
//
// docs/services.md describes the services, their events, environment and
// API. This package's tests run all four services in-process against a
// real broker and PostgreSQL.
package services
