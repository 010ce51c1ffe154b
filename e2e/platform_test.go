package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// root is the repository's top directory (this package is e2e/).
const root = ".."

// bin is the directory of the binaries TestMain builds.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "surge-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bin = dir
	return m.Run()
}

// buildBinaries builds every command of the platform into dir.
func buildBinaries(dir string) error {
	for _, module := range []string{"mq", "services", "gateway"} {
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
		cmd.Dir = filepath.Join(root, module)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building the binaries of %s: %w\n%s", module, err, out)
		}
	}
	return nil
}

// platform is a running Surge: every process local, on free ports.
type platform struct {
	Gateway   string // base URLs
	Order     string
	Inventory string
	Namesrv   string // host:port
	Bin       string // where mqadmin and the other binaries are
}

// errNoPostgres explains how to give the tests a PostgreSQL.
var errNoPostgres = errors.New(`no PostgreSQL for the platform: set TEST_DATABASE_URL to a superuser's URL ` +
	`(scripts/with-testdb.sh does it, and make test runs it), or install the PostgreSQL server binaries ` +
	`(initdb, pg_ctl) and psql, e.g. sudo apt-get install postgresql`)

// startPlatform runs scripts/demo-local.sh on free ports until the test
// ends. env adds variables for the script, e.g. INVENTORY_ENV=... to pass
// settings to one process.
func startPlatform(t *testing.T, env ...string) *platform {
	t.Helper()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal(errNoPostgres)
	}
	ports := freePorts(t, 7)
	p := &platform{
		Gateway:   fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		Order:     fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		Inventory: fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		Namesrv:   fmt.Sprintf("127.0.0.1:%d", ports[5]),
		Bin:       bin,
	}
	vars := []string{
		"SURGE_BIN=" + bin,
		fmt.Sprintf("GATEWAY_PORT=%d", ports[0]), fmt.Sprintf("ORDER_PORT=%d", ports[1]),
		fmt.Sprintf("INVENTORY_PORT=%d", ports[2]), fmt.Sprintf("POINTS_PORT=%d", ports[3]),
		fmt.Sprintf("COUPON_PORT=%d", ports[4]), fmt.Sprintf("NAMESRV_PORT=%d", ports[5]),
		fmt.Sprintf("BROKER_PORT=%d", ports[6]),
	}
	if admin := os.Getenv("TEST_DATABASE_URL"); admin != "" {
		db := "surge_e2e_" + strings.ToLower(rand.Text()[:10])
		vars = append(vars, "DEMO_DATABASE_URL="+admin, "DEMO_DATABASE_NAME="+db)
		t.Cleanup(func() { dropDatabase(t, admin, db) })
	} else if err := exec.Command("bash", "-c", "source "+filepath.Join(root, "scripts/lib/pg.sh")+"; pg_find_bin").Run(); err != nil {
		t.Fatal(errNoPostgres)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "demo-local.sh"))
	cmd.Env = append(append(os.Environ(), vars...), env...)
	// Its own process group, for the last resort in stopPlatform; SIGTERM
	// (the script's Ctrl-C) if this test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out := &lockedBuffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = out
	started := make(chan error, 1)
	up := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// The death signal comes when the thread that started the child
		// ends, so this goroutine keeps its thread until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if strings.HasPrefix(line, "Surge is up") {
				close(up)
			}
		}
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("demo-local.sh: %v", err)
	}
	t.Cleanup(func() { stopPlatform(t, cmd, done, out) })
	select {
	case <-up:
	case err := <-done:
		done <- err
		t.Fatalf("demo-local.sh ended before the platform was up (%v):\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("the platform was not up after 3 minutes:\n%s", out)
	}
	return p
}

// logsLine is where demo-local.sh says its processes log.
var logsLine = regexp.MustCompile(`\(logs in (\S+)\)`)

// stopPlatform stops demo-local.sh the way Ctrl-C does (it stops every
// process and removes its data); when a test failed, it logs the end of
// each process's log first.
func stopPlatform(t *testing.T, cmd *exec.Cmd, done chan error, out *lockedBuffer) {
	if m := logsLine.FindStringSubmatch(out.String()); t.Failed() && m != nil {
		files, _ := filepath.Glob(filepath.Join(m[1], "*.log"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			t.Logf("%s (last lines):\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Errorf("demo-local.sh did not stop within 60 s of SIGTERM; killing its process group:\n%s", out)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// dropDatabase removes the database a platform used on the server of
// TEST_DATABASE_URL.
func dropDatabase(t *testing.T, admin, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", admin, "-q", "-v", "ON_ERROR_STOP=1",
		"-c", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)").CombinedOutput()
	if err != nil {
		t.Errorf("dropping database %s: %v\n%s", db, err, out)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	_, _ = b.Write([]byte(s))
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
