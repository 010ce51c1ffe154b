// Package migrations holds Surge's database schema as SQL, embedded so that
// binaries carry it:
//
//   - bootstrap.sql creates the services' roles and schemas (run by a
//     superuser; idempotent);
//   - <service>/NNNNN_name.sql are each service's migrations in goose's
//     format, applied in the service's own schema as the service's role.
//
// The SQL files are the single source: the PostgreSQL container runs
// bootstrap.sql at first start, and the services module applies the rest
// with goose (services/internal/migrate).
package migrations

import "embed"

// FS holds bootstrap.sql and one directory of migrations per service.
//
//go:embed bootstrap.sql order inventory points coupon
var FS embed.FS

// Bootstrap is the path of the roles-and-schemas script in FS.
const Bootstrap = "bootstrap.sql"
