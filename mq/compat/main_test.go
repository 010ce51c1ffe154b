package compat_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// offsetDirEnv is where the official client keeps broadcasting offsets. It
// reads the variable once, in a package init, so TestMain cannot set it for
// itself: it runs the test binary again with the variable pointing at a
// temporary directory, and the tests never write under $HOME.
const offsetDirEnv = "rocketmq.client.localOffsetStoreDir"

// clientPanics collects panics the official client recovered in its own
// goroutines (primitive.PanicHandler): without a handler they would crash
// the whole test binary, with one they fail it after the run.
var clientPanics struct {
	sync.Mutex
	reports []string
}

func TestMain(m *testing.M) {
	if os.Getenv(offsetDirEnv) == "" {
		os.Exit(runWithOffsetDir())
	}
	// The official client logs a lot; COMPAT_CLIENT_LOG=debug (or info,
	// warn) shows it.
	level := os.Getenv("COMPAT_CLIENT_LOG")
	if level == "" {
		level = "error"
	}
	rlog.SetLogLevel(level)
	primitive.PanicHandler = func(v any) {
		clientPanics.Lock()
		defer clientPanics.Unlock()
		clientPanics.reports = append(clientPanics.reports, fmt.Sprintf("%v\n%s", v, debug.Stack()))
	}
	code := m.Run()
	clientPanics.Lock()
	defer clientPanics.Unlock()
	for _, r := range clientPanics.reports {
		fmt.Fprintf(os.Stderr, "FAIL: the official client panicked in a goroutine of its own: %s\n", r)
		code = 1
	}
	os.Exit(code)
}

// runWithOffsetDir runs this test binary again, with the same arguments and
// offsetDirEnv set to a fresh temporary directory, and returns its exit code.
func runWithOffsetDir() int {
	dir, err := os.MkdirTemp("", "compat-offsets-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), offsetDirEnv+"="+dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "compat: re-run the tests:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		if code := exit.ExitCode(); code > 0 {
			return code
		}
		return 1 // killed by a signal
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat: re-run the tests:", err)
		return 1
	}
	return 0
}
