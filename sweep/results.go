package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/train"
)

// Result is a done task's numbers, read from its run folder's
// summary.json: every top-level number under its own name, null (a
// threshold never reached, such as a phase change that did not happen) as
// NaN, and the largest element of every array of numbers (per-head scores)
// as "NAME_max". Wall-clock fields are left out: they are not results.
type Result struct {
	Task
	Metrics map[string]float64 `json:"metrics"`
}

// timeField reports whether a summary field measures the machine, not
// the run.
func timeField(name string) bool {
	return strings.HasSuffix(name, "_seconds") || strings.HasSuffix(name, "_per_second") || name == "interrupted"
}

// Results reads the statuses of the sweep in dir and the Result of every
// done task.
func Results(dir string) ([]TaskStatus, []Result, error) {
	_, sts, err := Status(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []Result
	for _, st := range sts {
		if st.State != Done {
			continue
		}
		path := filepath.Join(RunDir(dir, st.ID), train.SummaryFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return sts, nil, fmt.Errorf("sweep: task %d is done but: %w", st.Index, err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			return sts, nil, fmt.Errorf("sweep: %s: %w", path, err)
		}
		r := Result{Task: st.Task, Metrics: map[string]float64{}}
		for k, v := range raw {
			if timeField(k) {
				continue
			}
			switch v := v.(type) {
			case float64:
				r.Metrics[k] = v
			case nil:
				r.Metrics[k] = math.NaN()
			case []any:
				if m, ok := maxNumber(v); ok {
					r.Metrics[k+"_max"] = m
				}
			}
		}
		out = append(out, r)
	}
	return sts, out, nil
}

// maxNumber returns the largest number in a nested array of numbers, and
// false when v holds anything else or nothing.
func maxNumber(v []any) (float64, bool) {
	m, found := math.Inf(-1), false
	for _, e := range v {
		switch e := e.(type) {
		case float64:
			m, found = max(m, e), true
		case []any:
			x, ok := maxNumber(e)
			if !ok {
				return 0, false
			}
			m, found = max(m, x), true
		default:
			return 0, false
		}
	}
	return m, found
}

// Stats summarises one metric across tasks.
type Stats struct {
	Metric               string
	N, Never             int // tasks with a value, tasks where it is null (never reached)
	Min, Median, Max     float64
	Quartile1, Quartile3 float64
}

// Summarize returns Stats of every metric of rs, in name order. Quartiles
// are the medians of the lower and upper halves (Tukey's hinges).
func Summarize(rs []Result) []Stats {
	names := map[string]bool{}
	for _, r := range rs {
		for k := range r.Metrics {
			names[k] = true
		}
	}
	var out []Stats
	for _, n := range sortedKeys(names) {
		s := Stats{Metric: n}
		var xs []float64
		for _, r := range rs {
			v, ok := r.Metrics[n]
			switch {
			case !ok:
			case math.IsNaN(v):
				s.Never++
			default:
				xs = append(xs, v)
			}
		}
		s.N = len(xs)
		if len(xs) > 0 {
			slices.Sort(xs)
			s.Min, s.Max, s.Median = xs[0], xs[len(xs)-1], median(xs)
			s.Quartile1, s.Quartile3 = median(xs[:(len(xs)+1)/2]), median(xs[len(xs)/2:])
		} else {
			s.Min, s.Max, s.Median, s.Quartile1, s.Quartile3 = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		out = append(out, s)
	}
	return out
}

// median of sorted xs (not empty).
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
