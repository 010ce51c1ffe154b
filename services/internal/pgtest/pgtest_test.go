package pgtest_test

import (
	"context"
	"testing"

	"github.com/surge-mq/surge/services/internal/migrate"
	"github.com/surge-mq/surge/services/internal/pgtest"
)

// Each role sees its own schema and cannot touch another's or public.
func TestRolesAreLimitedToTheirSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	for _, svc := range migrate.Services {
		pool := db.Pool(t, svc)
		var schema string
		if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		if schema != svc {
			t.Errorf("%s: current_schema = %q", svc, schema)
		}
		if _, err := pool.Exec(ctx, "CREATE TABLE public.intruder (x int)"); err == nil {
			t.Errorf("%s could create a table in public", svc)
		}
		for _, other := range migrate.Services {
			if other == svc {
				continue
			}
			if _, err := pool.Exec(ctx, `SELECT * FROM "`+other+`".processed_events`); err == nil {
				t.Errorf("%s could read %s's tables", svc, other)
			}
		}
	}
}

// Two tests get two databases: a write in one is not seen by the other.
func TestDatabasesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := pgtest.New(t), pgtest.New(t)
	ctx := context.Background()
	if _, err := a.Pool(t, "points").Exec(ctx, "INSERT INTO accounts (user_id, balance) VALUES ('u', 5)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Pool(t, "points").QueryRow(ctx, "SELECT count(*) FROM accounts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees %d accounts of the first", n)
	}
}
