package bench_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/surge-mq/surge/mq/bench"
	"github.com/surge-mq/surge/mq/bench/benchtest"
	"github.com/surge-mq/surge/mq/mqtest"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Run(ctx, "mqbench", bench.SurgeDriver{}, args, stdout, stderr)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{}, {"sideways"}, {"producer"},
		{"producer", "-n", "x:1", "-m", "sideways"},
		{"producer", "-n", "x:1", "-c", "0"},
		{"producer", "-n", "x:1", "-s", "-1"},
		{"producer", "-n", "x:1", "-x", "-5"},
		{"consumer", "-n", "x:1", "-pull", "0"},
		{"consumer", "-n", "x:1", "-pull", "1025"},
		{"producer", "-n", "x:1", "-d", "0s"},
		{"producer", "-n", "x:1", "extra"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"producer", "-h"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "-x") {
		t.Fatalf("help lists no flags:\n%s", errOut.String())
	}
}

// TestFixedRate: with -r the senders are paced (open model) and still send
// exactly -x messages, with no error.
func TestFixedRate(t *testing.T) {
	c := mqtest.Start(t)
	s, out := benchtest.Run(t, run, "producer", "-n", c.NamesrvAddr, "-t", "R", "-c", "2", "-r", "500", "-x", "100", "-d", "1m")
	if s.Messages != 100 || s.Errors != 0 || s.P50Micros <= 0 {
		t.Fatalf("summary %+v\n%s", s, out)
	}
}

// TestNoBroker: sends to an address where nothing listens count as
// errors; the run ends at -d and reports them.
func TestNoBroker(t *testing.T) {
	s, out := benchtest.Run(t, run, "producer", "-n", "127.0.0.1:1", "-c", "1", "-d", "1s")
	if s.Messages != 0 || s.Errors == 0 || s.FlushMode != "unknown" || s.FirstError == "" || !strings.Contains(out, "First error: "+s.FirstError) {
		t.Fatalf("summary %+v\n%s", s, out)
	}
}
