// Package benchtest checks a benchmark command built on package bench
// against a real NameServer and Broker (mqtest).
package benchtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surge-mq/surge/mq/bench"
	"github.com/surge-mq/surge/mq/mqtest"
)

// RunFunc runs a benchmark command with its arguments, as its main does.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Run runs a command and returns its JSON summary and output; it fails the
// test if the command fails.
func Run(t testing.TB, run RunFunc, args ...string) (bench.Summary, string) {
	t.Helper()
	sum := filepath.Join(t.TempDir(), "summary.json")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append(args, "-json", sum), &out, &errOut); err != nil {
		t.Fatalf("%v: %v\n%s%s", args, err, out.String(), errOut.String())
	}
	var s bench.Summary
	b, err := os.ReadFile(sum)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatalf("%v: summary: %v\n%s", args, err, out.String())
	}
	return s, out.String()
}

// RoundTrip sends with every send mode of the command run, whose client
// is named client, then consumes everything back, and checks the counts,
// the latencies and the report.
func RoundTrip(t *testing.T, client string, run RunFunc) {
	c := mqtest.Start(t)
	total := int64(0)
	for _, mode := range [][]string{
		{"-m", "sync", "-x", "200"},
		{"-m", "async", "-x", "100"},
		{"-b", "10", "-x", "100"},
		// Oneway sends have no answer to say they were stored: they go to a
		// topic of their own, not counted by the consumer.
		{"-t", "Oneway", "-m", "oneway", "-x", "50"},
	} {
		args := append([]string{"producer", "-n", c.NamesrvAddr, "-t", "B", "-c", "4", "-d", "1m"}, mode...)
		s, out := Run(t, run, args...)
		want := mode[len(mode)-1]
		if fmt.Sprint(s.Messages) != want || s.Errors != 0 || s.P99Micros <= 0 || s.Client != client || s.Mode != "producer" || s.FlushMode != "ASYNC_FLUSH" {
			t.Fatalf("%v: summary %+v, want %s messages from %s, no errors\n%s", mode, s, want, client, out)
		}
		if !strings.Contains(out, "client="+client) || !strings.Contains(out, "flushDiskType=ASYNC_FLUSH") || !strings.Contains(out, "Summary: "+want+" msgs") {
			t.Fatalf("%v: the report does not name the client and the broker's flush mode, or lacks the summary:\n%s", mode, out)
		}
		if mode[1] != "Oneway" {
			total += s.Messages
		}
	}
	// -x stops the consumer once the backlog is in, long before -d.
	s, out := Run(t, run, "consumer", "-n", c.NamesrvAddr, "-t", "B", "-pull", "128", "-x", fmt.Sprint(total), "-d", "2m")
	if s.Messages != total || s.Client != client || s.Mode != "consumer" || s.Seconds >= 120 {
		t.Fatalf("consumer summary %+v, want all %d messages from %s\n%s", s, total, client, out)
	}
}
