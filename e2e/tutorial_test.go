package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tutorial's conventions (docs/tutorial.md says them to its readers):
//
//   - a ```sh block is run; every ```sh block of the document runs, in
//     order, in one bash session (variables carry over), which stops at
//     the first failing command;
//   - a ```text block that follows a ```sh block with nothing but blank
//     lines between is that block's expected output: each of its lines
//     must be one line of the output, in any order, each output line
//     matching at most one expected line; "..." stands for any non-empty
//     text (IDs, times), runs of blanks compare equal, and a line that is only "..."
//     stands for lines left out;
//   - other blocks (```console for starting the platform, ```json) are
//     shown, not run.

const tutorialPath = "docs/tutorial.md"

// A step is one ```sh block and the output it is expected to print.
type step struct {
	line   int    // of the opening fence, for messages
	script string // the commands
	want   []string
}

// parseTutorial reads the runnable steps of a Markdown document.
func parseTutorial(doc string) ([]step, error) {
	var steps []step
	var cur *step // the last ```sh block, while only blank lines follow it
	sc := bufio.NewScanner(strings.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence, ok := strings.CutPrefix(line, "```")
		if !ok {
			if strings.TrimSpace(line) != "" {
				cur = nil
			}
			continue
		}
		lang, start := strings.TrimSpace(fence), n
		var body []string
		closed := false
		for sc.Scan() {
			n++
			if strings.HasPrefix(sc.Text(), "```") {
				closed = true
				break
			}
			body = append(body, sc.Text())
		}
		if !closed {
			return nil, fmt.Errorf("line %d: block never closed", start)
		}
		switch {
		case lang == "sh":
			steps = append(steps, step{line: start, script: strings.Join(body, "\n")})
			cur = &steps[len(steps)-1]
		case lang == "text" && cur != nil:
			for _, l := range body {
				if l = strings.TrimSpace(l); l != "" && l != "..." {
					cur.want = append(cur.want, l)
				}
			}
			cur = nil
		default:
			cur = nil
		}
	}
	return steps, sc.Err()
}

// A marker line separates the output of the steps.
const marker = "@@tutorial-step "

// script makes one bash script of the steps, each output preceded by a
// marker line.
func script(steps []step) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\nexec 2>&1\n")
	for i, s := range steps {
		fmt.Fprintf(&b, "printf '\\n%s%d\\n'\n%s\n", marker, i, s.script)
	}
	fmt.Fprintf(&b, "printf '\\n%s%d\\n'\n", marker, len(steps))
	return b.String()
}

// splitOutput returns each step's output lines, and how many steps began.
func splitOutput(out string, steps int) ([][]string, int) {
	outs := make([][]string, steps+1)
	cur, begun := -1, 0
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, marker); ok {
			if i, err := strconv.Atoi(rest); err == nil && i <= steps {
				cur, begun = i, i+1
				continue
			}
		}
		if cur >= 0 && strings.TrimSpace(l) != "" {
			outs[cur] = append(outs[cur], l)
		}
	}
	return outs[:steps], begun
}

var blanks = regexp.MustCompile(`\s+`)

// pattern turns an expected line into a regular expression: "..." is any
// non-empty text, runs of blanks are one blank.
func pattern(want string) *regexp.Regexp {
	parts := strings.Split(blanks.ReplaceAllString(strings.TrimSpace(want), " "), "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".+") + "$")
}

// missing returns the expected lines no output line matches (each output
// line used once, first come first served).
func missing(want, got []string) []string {
	used := make([]bool, len(got))
	var miss []string
	for _, w := range want {
		re, found := pattern(w), false
		for i, g := range got {
			if !used[i] && re.MatchString(blanks.ReplaceAllString(strings.TrimSpace(g), " ")) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			miss = append(miss, w)
		}
	}
	return miss
}

func TestTutorialParse(t *testing.T) {
	doc := "intro\n```console\n$ make demo\n```\n```sh\necho a\n```\n\n```text\nx ... y\n...\n```\n" +
		"```sh\necho b\n```\nprose\n```text\nnot expected\n```\n"
	steps, err := parseTutorial(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].script != "echo a" || len(steps[0].want) != 1 || steps[0].want[0] != "x ... y" ||
		steps[1].script != "echo b" || steps[1].want != nil {
		t.Fatalf("steps %+v", steps)
	}
	if _, err := parseTutorial("```sh\necho a\n"); err == nil {
		t.Fatal("an unclosed block was accepted")
	}
	got := []string{`{"id":"0192-ab","status":"PENDING"}`, "a   b"}
	if m := missing([]string{`{"id":"...","status":"PENDING"}`, "a b"}, got); m != nil {
		t.Fatalf("missing %q", m)
	}
	if m := missing([]string{`{"id":"...","status":"CONFIRMED"}`}, got); len(m) != 1 {
		t.Fatalf("a wrong status matched: missing %q", m)
	}
	if m := missing([]string{"a b", "a b"}, got); len(m) != 1 {
		t.Fatalf("one output line matched two expected lines: missing %q", m)
	}
}

// TestTutorial runs docs/tutorial.md against a fresh platform.
func TestTutorial(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, tutorialPath))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseTutorial(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", tutorialPath, err)
	}
	checked := 0
	for _, s := range steps {
		if len(s.want) > 0 {
			checked++
		}
	}
	// Guards against a document whose fences changed so that nothing runs.
	if len(steps) < 10 || checked < 10 {
		t.Fatalf("%s: %d sh blocks, %d with expected output; want at least 10 of each", tutorialPath, len(steps), checked)
	}
	p := startPlatform(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script(steps))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GATEWAY="+p.Gateway, "INVENTORY="+p.Inventory,
		"NAMESRV_ADDR="+p.Namesrv, "MQADMIN="+filepath.Join(p.Bin, "mqadmin"))
	raw, runErr := cmd.CombinedOutput()
	outs, begun := splitOutput(string(raw), len(steps))
	if runErr != nil {
		i := max(begun-1, 0)
		if i >= len(steps) {
			t.Fatalf("the tutorial's commands failed after the last block: %v\n%s", runErr, raw)
		}
		t.Fatalf("%s:%d: the block failed (%v):\n%s\noutput:\n%s", tutorialPath, steps[i].line, runErr,
			steps[i].script, strings.Join(outs[i], "\n"))
	}
	for i, s := range steps {
		if m := missing(s.want, outs[i]); m != nil {
			t.Errorf("%s:%d: the output of\n%s\nlacks\n  %s\noutput:\n%s", tutorialPath, s.line, s.script,
				strings.Join(m, "\n  "), strings.Join(outs[i], "\n"))
		}
	}
}
