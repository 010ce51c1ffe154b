package migrate_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/services/internal/migrate"
	"github.com/surge-mq/surge/services/internal/pgtest"
)

// All can run again on a migrated database (as `make migrate` does on
// every call), and what the migrations create belongs to each service's
// role, in its schema.
func TestAllAgainChangesNothingAndServicesOwnTheirTables(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if err := migrate.All(ctx, db.AdminURL(), nil); err != nil {
		t.Fatalf("second run: %v", err)
	}
	conn, err := pgx.Connect(ctx, db.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, svc := range migrate.Services {
		var tables, foreign int
		err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE tableowner <> $2)
			FROM pg_tables WHERE schemaname = $1`, svc, migrate.Role(svc)).Scan(&tables, &foreign)
		if err != nil {
			t.Fatal(err)
		}
		if tables < 2 || foreign != 0 {
			t.Errorf("schema %s: %d tables, %d not owned by %s", svc, tables, foreign, migrate.Role(svc))
		}
		var versions int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{svc, "goose_db_version"}.Sanitize()+` WHERE version_id > 0`).Scan(&versions); err != nil {
			t.Fatalf("%s: goose version table: %v", svc, err)
		}
		if versions == 0 {
			t.Errorf("%s: no migration recorded", svc)
		}
	}
	var seeded int
	conn.QueryRow(ctx, "SELECT count(*) FROM inventory.products").Scan(&seeded)
	if seeded < 5 {
		t.Errorf("%d demo products seeded", seeded)
	}
}
