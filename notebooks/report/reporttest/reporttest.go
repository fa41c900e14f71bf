// Package reporttest runs a notebook in quick mode from its test and checks
// what it wrote: index.html exists, is a complete page that states every
// headline number, and results.json holds the expected keys.
package reporttest

import (
	"context"
	"encoding/json"
	stdhtml "html"

	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/notebooks/report"
)

// Run calls run in quick mode (seed 1) for the notebook name, writing into
// a temporary directory, and checks the report (see RunFull). Every key in want must be
// in results.json; numeric results must be finite unless listed in
// nullable. It returns the results for further checks, and logs the run's
// progress and time.
func Run(t *testing.T, name string, run func(context.Context, report.Options) error, want ...string) report.Results {
	t.Helper()
	return runMode(t, name, run, true, want...)
}

// RunFull is Run for the full run (no -quick): the run that checks every
// FullClaim. It takes minutes, so tests call it only outside -short.
func RunFull(t *testing.T, name string, run func(context.Context, report.Options) error, want ...string) report.Results {
	t.Helper()
	return runMode(t, name, run, false, want...)
}

func runMode(t *testing.T, name string, run func(context.Context, report.Options) error, quick bool, want ...string) report.Results {
	t.Helper()
	dir := t.TempDir()
	o := report.Options{Name: name, Out: dir, Quick: quick, Seed: 1, Log: logWriter{t}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := run(ctx, o); err != nil {
		t.Fatalf("%s (quick %v, seed 1): %v", name, quick, err)
	}
	t.Logf("%s (quick %v) ran in %v", name, quick, time.Since(start).Round(time.Millisecond))
	return Check(t, dir, want...)
}

// Check checks the report in dir: index.html is a whole page stating every
// headline's text, results.json parses and holds every key in want, and no
// headline number is NaN or infinite.
func Check(t *testing.T, dir string, want ...string) report.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, s := range []string{"<!DOCTYPE html>", "</main>", "</html>"} {
		if !strings.Contains(html, s) {
			t.Errorf("index.html: missing %q (truncated page?)", s)
		}
	}
	for _, s := range []string{"http://", "https://"} {
		if i := strings.Index(html, s); i >= 0 && !strings.Contains(html[max(0, i-20):i], "xmlns") {
			t.Errorf("index.html refers to the network: %q", html[i:min(len(html), i+60)])
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res report.Results
	if err := json.Unmarshal(js, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	for _, k := range want {
		if _, ok := res.Results[k]; !ok {
			t.Errorf("results.json: no key %q (have %v)", k, keys(res.Results))
		}
	}
	for k, text := range res.Headlines {
		if !strings.Contains(html, ">"+stdhtml.EscapeString(text)+"<") {
			t.Errorf("index.html does not state headline %s = %q", k, text)
		}
		if v, ok := res.Results[k].(float64); !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("headline %s = %v, want a finite number", k, res.Results[k])
		}
	}
	for k, c := range res.Claims {
		if c.QuickOnly && !res.Quick {
			t.Errorf("claim %s is marked unchecked in a full run", k)
		}
		if !c.Holds && !c.QuickOnly {
			t.Errorf("claim %s did not hold in this run (measured: %s)", k, c.Measured)
		}
		if !strings.Contains(html, `data-claim="`+stdhtml.EscapeString(k)+`"`) {
			t.Errorf("index.html does not state claim %s", k)
		}
	}
	for _, m := range imgSrc(html) {
		if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
			t.Errorf("index.html shows %s, which was not written: %v", m, err)
		}
	}
	return res
}

// Claimed fails the test unless each key names a claim of the report
// (report.Report.Claim or FullClaim) that held, or, in a quick run, a
// FullClaim left unchecked: the sentences a notebook must state.
func Claimed(t *testing.T, res report.Results, keys ...string) {
	t.Helper()
	for _, k := range keys {
		c, ok := res.Claims[k]
		switch {
		case !ok:
			t.Errorf("results.json: no claim %q (have %v)", k, claimKeys(res.Claims))
		case c.QuickOnly && res.Quick:
		case !c.Holds:
			t.Errorf("claim %s did not hold (measured: %s)", k, c.Measured)
		}
	}
}

func claimKeys(m map[string]report.Claim) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Float returns the numeric result key, failing the test when it is absent
// or not a number.
func Float(t *testing.T, res report.Results, key string) float64 {
	t.Helper()
	v, ok := res.Results[key].(float64)
	if !ok {
		t.Fatalf("results.json: %s = %v (%T), want a number", key, res.Results[key], res.Results[key])
	}
	return v
}

func imgSrc(html string) []string {
	var out []string
	for rest := html; ; {
		i := strings.Index(rest, `<img src="`)
		if i < 0 {
			return out
		}
		rest = rest[i+len(`<img src="`):]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			return out
		}
		out = append(out, rest[:j])
		rest = rest[j:]
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// logWriter sends a notebook's progress lines to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
