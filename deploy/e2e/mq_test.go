//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// The whole platform, and each part of it, must fit in 1.5 GiB.
const memoryBudget = 3 << 29

// TestBrokerInContainers starts PostgreSQL, a NameServer and a Broker from
// docker-compose.yml and checks them from inside the compose network: the
// database bootstrap ran (roles, schemas, password logins over TCP), and
// mqadmin sends and consumes messages, none lost across a broker restart.
func TestBrokerInContainers(t *testing.T) {
	requireBinaries(t, "mqnamesrv", "mqbroker", "mqadmin", "probe")
	s := startStack(t, "surge-e2e-mq", "postgres", "namesrv", "broker")

	// Each service's role logs in with its password over TCP and lands in
	// its own schema.
	for _, svc := range []string{"order", "inventory", "points", "coupon"} {
		role := svc + "_svc"
		out := s.exec("postgres", "env", "PGPASSWORD="+role, "psql", "-h", "127.0.0.1", "-U", role, "-d", "surge",
			"-v", "ON_ERROR_STOP=1", "-tAc", "CREATE TABLE e2e_probe (id int); SELECT current_schema()")
		if got := strings.TrimSpace(lastLine(out)); got != svc {
			t.Errorf("role %s: current schema %q, want %q", role, got, svc)
		}
	}
	if out, err := s.compose("exec", "-T", "postgres", "env", "PGPASSWORD=order_svc", "psql", "-h", "127.0.0.1",
		"-U", "order_svc", "-d", "surge", "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE public.e2e_probe (id int)"); err == nil {
		t.Errorf("order_svc could create a table in the public schema:\n%s", out)
	}

	// The database outlives a restart of its container, and the bootstrap
	// does not run again.
	s.restart("postgres")
	out := s.exec("postgres", "psql", "-U", "postgres", "-d", "surge", "-tAc",
		"SELECT count(*) FROM pg_tables WHERE tablename = 'e2e_probe'")
	if got := strings.TrimSpace(out); got != "4" {
		t.Errorf("after a restart of PostgreSQL, %s of the 4 services' tables are left", got)
	}
	if logs, _ := s.compose("logs", "--no-color", "postgres"); strings.Count(logs, "running /docker-entrypoint-initdb.d/") > 1 {
		t.Errorf("the bootstrap ran again at the restart:\n%s", logs)
	}

	// 50 messages before the broker restarts and 50 after; a new consumer
	// group then reads all 100 from the first.
	const n = 50
	produce := func() {
		out := s.exec("broker", "mqadmin", "quickstartProducer", "--count", fmt.Sprint(n))
		if got := strings.Count(out, "sendStatus=SEND_OK"); got != n {
			t.Fatalf("quickstartProducer: %d of %d sent\n%s", got, n, out)
		}
	}
	produce()
	s.restart("broker")
	produce()
	out = s.exec("broker", "mqadmin", "consumeMessage", "-t", "TopicTest", "--count", fmt.Sprint(2*n), "--wait", "90s")
	for i := range n {
		if got := strings.Count(out, fmt.Sprintf("body=Hello RocketMQ %d\n", i)); got != 2 {
			t.Errorf("message %d consumed %d times, want 2 (one sent before the restart, one after)", i, got)
		}
	}
	s.checkMemory(memoryBudget)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
