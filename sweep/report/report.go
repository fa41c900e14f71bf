// Package report writes a sweep's report: an HTML page with a table of
// every task's axes and results, per-metric statistics, and figures (PNG
// and SVG): the distribution of the phase-change step (for induction
// sweeps) and the key metrics against each numeric axis. The numbers come
// from sweep.Results; this package only draws them (with figures).
package report

import (
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/sweep"
)

// Dir is the report's folder in a sweep directory.
const Dir = "report"

// keyMetrics are plotted against the axes when a sweep's results have
// them (induction sweeps); otherwise every metric is, up to maxPlotted.
func keyMetrics() []string {
	return []string{"phase_change_step", "steps_to_acc99", "induction_score_max", "prev_token_score_max", "final_eval_acc"}
}

const (
	maxPlotted = 6
	histBins   = 10
	// maxDistinctBars: up to this many distinct values get a bar each.
	maxDistinctBars = 20
	widthPx         = 640
	heightPx        = 400
)

// Figure is one written figure: files relative to the report folder.
type Figure struct {
	Title, PNG, SVG string
}

// Write writes dir/report/index.html and its figures for the sweep in dir,
// and returns the page's path.
func Write(dir string) (string, error) {
	sts, rs, err := sweep.Results(dir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, Dir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	stats := sweep.Summarize(rs)
	var figs []Figure
	add := func(name string, f *figures.Figure, title string) error {
		fig := Figure{Title: title, PNG: name + ".png", SVG: name + ".svg"}
		if err := f.WritePNG(filepath.Join(out, fig.PNG), widthPx, heightPx); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := f.WriteSVG(filepath.Join(out, fig.SVG), widthPx, heightPx); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		figs = append(figs, fig)
		return nil
	}
	if h, ok := histogram(rs, "phase_change_step"); ok {
		f, err := figures.Bars(h)
		if err != nil {
			return "", fmt.Errorf("report: %w", err)
		}
		if err := add("phase_change_hist", f, h.Title); err != nil {
			return "", err
		}
	}
	metrics := plotted(stats)
	for _, axis := range numericAxes(rs) {
		for _, m := range metrics {
			spec := scatter(rs, axis, m)
			if len(spec.Sets[0].X) == 0 {
				continue
			}
			f, err := figures.Scatter(spec)
			if err != nil {
				return "", fmt.Errorf("report: %w", err)
			}
			if err := add(fmt.Sprintf("%s_vs_%s", m, axis), f, spec.Title); err != nil {
				return "", err
			}
		}
	}
	page := filepath.Join(out, "index.html")
	f, err := os.Create(page)
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	if err := pageTemplate.Execute(f, pageData{Dir: dir, Counts: sweep.Counts(sts), Stats: stats, Results: rs,
		Metrics: metricNames(stats), Axes: axisNames(rs), Figures: figs}); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return page, f.Close()
}

// plotted returns the metrics to plot against the axes.
func plotted(stats []sweep.Stats) []string {
	var have, key []string
	for _, s := range stats {
		if s.N > 0 {
			have = append(have, s.Metric)
		}
	}
	for _, k := range keyMetrics() {
		if slices.Contains(have, k) {
			key = append(key, k)
		}
	}
	if len(key) > 0 {
		return key
	}
	return have[:min(len(have), maxPlotted)]
}

// histogram counts metric m's finite values, one bar per value when there
// are at most maxDistinctBars of them and in histBins equal bins otherwise,
// with one more bar for the tasks where it is null ("never").
func histogram(rs []sweep.Result, m string) (figures.BarsSpec, bool) {
	var xs []float64
	never := 0
	for _, r := range rs {
		v, ok := r.Metrics[m]
		switch {
		case !ok:
		case math.IsNaN(v):
			never++
		default:
			xs = append(xs, v)
		}
	}
	if len(xs)+never == 0 {
		return figures.BarsSpec{}, false
	}
	var cats []string
	var counts []float64
	distinct := slices.Compact(slices.Sorted(slices.Values(xs)))
	if len(distinct) <= maxDistinctBars { // one bar per value (steps are multiples of the evaluation interval)
		for _, v := range distinct {
			cats, counts = append(cats, strconv.FormatFloat(v, 'g', 6, 64)), append(counts, float64(countOf(xs, v)))
		}
	} else {
		lo, hi := distinct[0], distinct[len(distinct)-1]
		width := (hi - lo) / histBins
		counts = make([]float64, histBins)
		for b := range histBins {
			cats = append(cats, strconv.FormatFloat(lo+width*float64(b), 'g', 4, 64)+"–")
		}
		for _, x := range xs {
			counts[min(int((x-lo)/width), histBins-1)]++
		}
	}
	cats, counts = append(cats, "never"), append(counts, float64(never))
	return figures.BarsSpec{
		Title:  fmt.Sprintf("%s over %d tasks (%d never)", m, len(xs)+never, never),
		XLabel: m, YLabel: "tasks",
		Categories: cats, Groups: []figures.BarGroup{{Values: counts}},
	}, true
}

func countOf(xs []float64, v float64) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// numericAxes returns the axes whose values all parse as numbers and take
// more than one value.
func numericAxes(rs []sweep.Result) []string {
	var out []string
	for _, a := range axisNames(rs) {
		distinct := map[string]bool{}
		ok := true
		for _, r := range rs {
			if _, err := strconv.ParseFloat(r.Axes[a], 64); err != nil {
				ok = false
			}
			distinct[r.Axes[a]] = true
		}
		if ok && len(distinct) > 1 {
			out = append(out, a)
		}
	}
	return out
}

func scatter(rs []sweep.Result, axis, m string) figures.ScatterSpec {
	var set figures.PointSet
	for _, r := range rs {
		x, _ := strconv.ParseFloat(r.Axes[axis], 64)
		if y, ok := r.Metrics[m]; ok && !math.IsNaN(y) {
			set.X, set.Y = append(set.X, x), append(set.Y, y)
		}
	}
	set.Glyph = figures.Ring
	return figures.ScatterSpec{Title: m + " against " + axis, XLabel: axis, YLabel: m, Sets: []figures.PointSet{set}}
}

func axisNames(rs []sweep.Result) []string {
	names := map[string]bool{}
	for _, r := range rs {
		for a := range r.Axes {
			names[a] = true
		}
	}
	var out []string
	for a := range names {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func metricNames(stats []sweep.Stats) []string {
	var out []string
	for _, s := range stats {
		out = append(out, s.Metric)
	}
	return out
}

type pageData struct {
	Dir, Counts string
	Stats       []sweep.Stats
	Results     []sweep.Result
	Metrics     []string
	Axes        []string
	Figures     []Figure
}

// num formats a metric: "never" for NaN.
func num(v float64) string {
	if math.IsNaN(v) {
		return "never"
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

// metricCell is result r's metric m in the table: empty when r has none.
func metricCell(r sweep.Result, m string) string {
	v, ok := r.Metrics[m]
	if !ok {
		return ""
	}
	return num(v)
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":    num,
	"metric": metricCell,
	"axis":   func(r sweep.Result, a string) string { return r.Axes[a] },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sweep {{.Dir}}</title>
<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:640px}</style>
</head><body>
<h1>Sweep {{.Dir}}</h1>
<p>{{.Counts}}</p>
<h2>Statistics over done tasks</h2>
<table><tr><th>metric</th><th>tasks</th><th>never</th><th>min</th><th>Q1</th><th>median</th><th>Q3</th><th>max</th></tr>
{{range .Stats}}<tr><th>{{.Metric}}</th><td>{{.N}}</td><td>{{.Never}}</td><td>{{num .Min}}</td><td>{{num .Quartile1}}</td><td>{{num .Median}}</td><td>{{num .Quartile3}}</td><td>{{num .Max}}</td></tr>
{{end}}</table>
<h2>Figures</h2>
{{range .Figures}}<figure><img src="{{.PNG}}" alt="{{.Title}}"><figcaption>{{.Title}} (<a href="{{.SVG}}">SVG</a>)</figcaption></figure>
{{end}}
<h2>Tasks</h2>
{{$m := .Metrics}}{{$a := .Axes}}
<table><tr><th>index</th><th>id</th>{{range $a}}<th>{{.}}</th>{{end}}{{range $m}}<th>{{.}}</th>{{end}}</tr>
{{range $r := .Results}}<tr><td>{{$r.Index}}</td><td>{{$r.ID}}</td>{{range $a}}<td>{{axis $r .}}</td>{{end}}{{range $m}}<td>{{metric $r .}}</td>{{end}}</tr>
{{end}}</table>
</body></html>
`))
