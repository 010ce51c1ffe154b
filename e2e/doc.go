// Package e2e holds Surge's end-to-end tests: the whole platform (a
// PostgreSQL, the NameServer, the broker, the four services and the
// gateway) started as local processes by scripts/demo-local.sh from
// binaries built for the test run, then driven from outside:
//
//   - TestTutorial runs the commands of docs/tutorial.md and checks the
//     outputs the document shows, so the tutorial cannot drift from the
//     platform;
//   - TestFlashSale runs the load test (package loadtest) through the real
//     gateway and asserts its reconciliation, once as configured and once
//     with the inventory's oversell teaching switch on, which it must catch.
//
// The tests need PostgreSQL: TEST_DATABASE_URL (a superuser's URL; make test
// and scripts/with-testdb.sh set it) or the PostgreSQL server binaries
// (initdb, pg_ctl) and psql on this machine.
package e2e
