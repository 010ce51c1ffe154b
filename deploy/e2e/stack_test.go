//go:build e2e

// Package e2e holds the end-to-end tests of Surge's compose platform: they
// start docker-compose.yml's containers (through deploy/compose.sh, as
// `make up` does) and drive them from outside. Run them with `make e2e`,
// which builds the images first; they need a Docker engine.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// platformImage is the image docker-compose.yml runs the binaries from.
func platformImage() string {
	if v := os.Getenv("SURGE_IMAGE"); v != "" {
		return v
	}
	return "surge/platform:dev"
}

// repoRoot is the directory holding docker-compose.yml.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err != nil {
		t.Fatalf("no docker-compose.yml at %s: run the e2e tests from deploy/e2e (make e2e)", dir)
	}
	return dir
}

// requireDocker fails the test when no Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("the e2e tests need a running Docker engine (docker info: %v: %s)", err, bytes.TrimSpace(out))
	}
}

// requireBinaries fails the test, naming them, when the platform image lacks
// binaries the test needs.
func requireBinaries(t *testing.T, names ...string) {
	t.Helper()
	requireDocker(t)
	out, err := exec.Command("docker", "image", "inspect", "-f", `{{index .Config.Labels "io.surge.binaries"}}`, platformImage()).CombinedOutput()
	if err != nil {
		t.Fatalf("no image %s (run `make images`): %s", platformImage(), bytes.TrimSpace(out))
	}
	held := strings.Fields(string(out))
	var missing []string
	for _, n := range names {
		if !contains(held, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("image %s lacks the binaries %s: their packages (services/cmd/<name>, gateway/cmd/gateway) are not in this tree yet, or `make images` did not run since they landed",
			platformImage(), strings.Join(missing, ", "))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A stack is one compose project of docker-compose.yml.
type stack struct {
	t       *testing.T
	root    string
	project string
	env     []string
	ports   map[string]int // published host port by service
}

// startStack starts the services of docker-compose.yml in a project of its
// own, with every HTTP port published on a free loopback port, waits until
// all are healthy and removes everything, volumes included, at the end.
func startStack(t *testing.T, project string, services ...string) *stack {
	t.Helper()
	requireDocker(t)
	s := &stack{t: t, root: repoRoot(t), project: project, ports: map[string]int{}}
	s.env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+project, "SURGE_BIND=127.0.0.1", "SURGE_WAIT=240")
	for svc, v := range map[string]string{"gateway": "GATEWAY_PORT", "order": "ORDER_PORT", "inventory": "INVENTORY_PORT", "points": "POINTS_PORT", "coupon": "COUPON_PORT"} {
		s.ports[svc] = freePort(t)
		s.env = append(s.env, v+"="+strconv.Itoa(s.ports[svc]))
	}
	s.script("down-volumes") // leftovers of an interrupted run
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.compose("ps")
			t.Logf("compose ps:\n%s", out)
			out, _ = s.compose("logs", "--no-color", "--tail", "40")
			t.Logf("compose logs:\n%s", out)
			if os.Getenv("SURGE_E2E_KEEP") != "" {
				t.Logf("SURGE_E2E_KEEP is set: project %s left running; remove it with COMPOSE_PROJECT_NAME=%s deploy/compose.sh down-volumes", project, project)
				return
			}
		}
		if out, err := s.script("down-volumes"); err != nil {
			t.Errorf("down-volumes: %v\n%s", err, out)
		}
	})
	start := time.Now()
	if out, err := s.script(append([]string{"up"}, services...)...); err != nil {
		t.Fatalf("compose.sh up %s: %v\n%s", strings.Join(services, " "), err, out)
	}
	t.Logf("%s healthy in %s", strings.Join(services, ", "), time.Since(start).Round(time.Second))
	return s
}

// script runs deploy/compose.sh with the stack's environment.
func (s *stack) script(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.root, "deploy", "compose.sh"), args...)
	cmd.Env = s.env
	cmd.Dir = s.root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// compose runs a Compose command in the stack's project.
func (s *stack) compose(args ...string) (string, error) {
	return s.script(append([]string{"compose"}, args...)...)
}

// exec runs a command in a service's container and fails the test if it fails.
func (s *stack) exec(service string, args ...string) string {
	s.t.Helper()
	out, err := s.compose(append([]string{"exec", "-T", service}, args...)...)
	if err != nil {
		s.t.Fatalf("exec %s %s: %v\n%s", service, strings.Join(args, " "), err, out)
	}
	return out
}

// restart restarts a service's container (a graceful stop, then a start) and
// waits until it is healthy again.
func (s *stack) restart(service string) {
	s.t.Helper()
	if out, err := s.compose("restart", service); err != nil {
		s.t.Fatalf("restart %s: %v\n%s", service, err, out)
	}
	if out, err := s.script("wait", service); err != nil {
		s.t.Fatalf("%s not healthy after its restart: %v\n%s", service, err, out)
	}
}

// url is the base URL of a service's published HTTP port.
func (s *stack) url(service string) string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.ports[service])
}

// memory returns the memory each of the stack's containers uses now
// (docker stats, which leaves out the page cache), by container name.
func (s *stack) memory() map[string]int64 {
	s.t.Helper()
	ids, err := s.compose("ps", "-q")
	if err != nil {
		s.t.Fatalf("compose ps -q: %v\n%s", err, ids)
	}
	args := append([]string{"stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"}, strings.Fields(ids)...)
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("docker stats: %v\n%s", err, out)
	}
	mem := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, usage, ok := strings.Cut(line, "\t")
		if !ok {
			s.t.Fatalf("docker stats line %q", line)
		}
		n, err := parseMemUsage(usage)
		if err != nil {
			s.t.Fatal(err)
		}
		mem[name] = n
	}
	return mem
}

// checkMemory fails the test when the stack's containers use more than
// limit bytes together.
func (s *stack) checkMemory(limit int64) {
	s.t.Helper()
	var total int64
	mem := s.memory()
	for name, n := range mem {
		total += n
		s.t.Logf("memory %-28s %6.1f MiB", name, float64(n)/(1<<20))
	}
	s.t.Logf("memory total %.1f MiB of %d containers", float64(total)/(1<<20), len(mem))
	if total > limit {
		s.t.Errorf("the containers use %.1f MiB together, more than %.1f MiB", float64(total)/(1<<20), float64(limit)/(1<<20))
	}
}
