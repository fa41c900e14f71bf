package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/figures"
)

// figuresAPI is /api/models/{name}/figures/{figure}.{png|svg}: every figure
// of the pages, rendered by the figures package for download. The query
// holds what the page's JSON request holds, and ?w=&h= the size in pixels
// (0 or absent: the figure's default).
type figuresAPI struct{ log *slog.Logger }

// Routes returns the model figures router.
func (a *figuresAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/{figure}", handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		m := modelFrom(r)
		return serveFigure(w, r, m.name, func(name string, q url.Values) (*figures.Figure, error) {
			build, ok := modelFigures[name]
			if !ok {
				return nil, errorf(http.StatusNotFound, "web: no figure %q (want attention, composition-q, composition-k, composition-v, heads, circuit, lens or patching)", name)
			}
			return build(r, m, q)
		})
	}))
	return r
}

// serveFigure renders the figure {figure} = NAME.png or NAME.svg that build
// makes, as an attachment named prefix-NAME.EXT.
func serveFigure(w http.ResponseWriter, r *http.Request, prefix string, build func(name string, q url.Values) (*figures.Figure, error)) error {
	file := chi.URLParam(r, "figure")
	name, ext, ok := strings.Cut(file, ".")
	if !ok || (ext != "png" && ext != "svg") {
		return errorf(http.StatusNotFound, "web: figure %q: want NAME.png or NAME.svg", file)
	}
	q := r.URL.Query()
	wpx, err := intParam(q, "w", 0, 0, figures.MaxSide)
	if err != nil {
		return err
	}
	hpx, err := intParam(q, "h", 0, 0, figures.MaxSide)
	if err != nil {
		return err
	}
	fig, err := build(name, q)
	if err != nil {
		return figureErr(err)
	}
	var buf bytes.Buffer
	if ext == "png" {
		err = fig.PNG(&buf, wpx, hpx)
	} else {
		err = fig.SVG(&buf, wpx, hpx)
	}
	if err != nil {
		return figureErr(err)
	}
	h := w.Header()
	h.Set("Content-Type", map[string]string{"png": "image/png", "svg": "image/svg+xml"}[ext])
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", prefix+"-"+file))
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
	return nil
}

// figureErr answers the figures package's input errors with 400.
func figureErr(err error) error {
	if errors.Is(err, figures.ErrInvalid) {
		return badRequest(err)
	}
	return err
}

// modelFigures builds each model figure from the request's query.
var modelFigures = map[string]func(r *http.Request, m *model, q url.Values) (*figures.Figure, error){
	"attention":     attentionFigure,
	"composition-q": compositionFigure("Q"),
	"composition-k": compositionFigure("K"),
	"composition-v": compositionFigure("V"),
	"heads":         headsFigure,
	"circuit":       circuitFigure,
	"lens":          lensFigure,
	"patching":      patchingFigure,
}

// tokenLabels returns the tokens as strings.
func tokenLabels(toks []int) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strconv.Itoa(t)
	}
	return out
}

// attentionFigure is one head's pattern (?layer=&head=, or ?head=max for
// the maximum over heads) on ?tokens=.
func attentionFigure(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	c := m.m.Cfg
	in, err := tokensFromQuery(q)
	if err != nil {
		return nil, err
	}
	toks, _, ws, err := forward(r.Context(), m, in)
	if err != nil {
		return nil, err
	}
	defer m.release(ws)
	pos := len(toks)
	pattern := func(l, h int) []float32 { return ws.Pattern(l).Data[h*pos*pos : (h+1)*pos*pos] }
	out := make([][]float64, pos)
	for i := range out {
		out[i] = make([]float64, pos)
	}
	var title string
	if q.Get("head") == "max" {
		title = "max over heads"
		for l := range c.NLayers {
			for h := range c.NHeads {
				for i, v := range pattern(l, h) {
					out[i/pos][i%pos] = math.Max(out[i/pos][i%pos], float64(v))
				}
			}
		}
	} else {
		l, err := intParam(q, "layer", -1, 0, c.NLayers-1)
		if err != nil {
			return nil, err
		}
		h, err := intParam(q, "head", -1, 0, c.NHeads-1)
		if err != nil {
			return nil, err
		}
		if l < 0 || h < 0 {
			return nil, errorf(http.StatusBadRequest, "web: the attention figure needs ?layer= and ?head= (or ?head=max)")
		}
		title = circuits.HeadLabel(l, h) + " attention pattern"
		for i, v := range pattern(l, h) {
			out[i/pos][i%pos] = float64(v)
		}
	}
	return figures.AttentionPattern(title, out, tokenLabels(toks))
}

// compositionFigure is the mode's composition scores, writers (layers
// 0..n−2) by readers (layers 1..n−1), pairs that are not earlier→later
// masked, coloured by log₂ of the multiple of the random baseline on a
// fixed scale (white at 1×, full colour at compRange× and 1/compRange×), as
// the page colours them: a near-baseline model stays pale.
func compositionFigure(mode string) func(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	return func(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
		rep, err := m.circuitsReport(r)
		if err != nil {
			return nil, err
		}
		if rep.NLayers < 2 {
			return nil, errorf(http.StatusUnprocessableEntity, "web: a one-layer model has no composition")
		}
		g := map[string][][][][]float64{"Q": rep.Composition.Q, "K": rep.Composition.K, "V": rep.Composition.V}[mode]
		var writers, readers []string
		var vals [][]float64
		var mask [][]bool
		for l1 := range rep.NLayers - 1 {
			for h1 := range rep.NHeads {
				writers = append(writers, circuits.HeadLabel(l1, h1))
				var row []float64
				var mrow []bool
				for l2 := 1; l2 < rep.NLayers; l2++ {
					for h2 := range rep.NHeads {
						row = append(row, math.Log2(max(g[l1][h1][l2][h2], 1e-12)/rep.CompositionBaseline))
						mrow = append(mrow, l1 >= l2)
					}
				}
				vals, mask = append(vals, row), append(mask, mrow)
			}
		}
		for l2 := 1; l2 < rep.NLayers; l2++ {
			for h2 := range rep.NHeads {
				readers = append(readers, circuits.HeadLabel(l2, h2))
			}
		}
		return figures.Heatmap(figures.HeatmapSpec{
			Title:  mode + "-composition",
			XLabel: "reader head", YLabel: "writer head (OV)",
			Values: vals, RowLabels: writers, ColLabels: readers, Mask: mask,
			ColorMap: figures.Diverging, Range: figures.Range{Min: -math.Log2(compRange), Max: math.Log2(compRange)},
			ColorBarLabel: fmt.Sprintf("log₂(score ÷ random baseline %.3f): 0 = 1×, 1 = 2×", rep.CompositionBaseline),
		})
	}
}

// compRange is the composition figure's colour reach in multiples of the
// random baseline (the page's COMP_RANGE).
const compRange = 3

// headsFigure is the per-head scores of the circuits report as bars.
func headsFigure(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	rep, err := m.circuitsReport(r)
	if err != nil {
		return nil, err
	}
	flat := func(g [][]float64) []float64 {
		var out []float64
		for _, row := range g {
			out = append(out, row...)
		}
		return out
	}
	spec := figures.BarsSpec{Title: "Head scores on repeated random tokens", YLabel: "score", Categories: rep.Heads}
	for _, g := range []struct {
		name string
		v    [][]float64
	}{
		{"prev-token (random repeats)", rep.RepeatedPrevToken}, {"prefix-matching (random repeats)", rep.PrefixMatchingScore},
		{"copying (random repeats)", rep.CopyingScore}, {"OV eigenvalue positivity", rep.OVEigenPositivity},
	} {
		if g.v != nil {
			spec.Groups = append(spec.Groups, figures.BarGroup{Name: g.name, Values: flat(g.v)})
		}
	}
	return figures.Bars(spec)
}

// circuitFigure is one head's full circuit (?layer=&head=&kind=ov|qk|pos-qk).
func circuitFigure(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	c := m.m.Cfg
	kindName := q.Get("kind")
	if kindName == "" {
		kindName = "ov"
	}
	kind, ok := circuitKinds[kindName]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "web: kind=%q: want ov, qk or pos-qk", kindName)
	}
	l, err := intParam(q, "layer", 0, 0, c.NLayers-1)
	if err != nil {
		return nil, err
	}
	h, err := intParam(q, "head", 0, 0, c.NHeads-1)
	if err != nil {
		return nil, err
	}
	wts, _ := m.weights.get(func() (*circuits.Weights, error) { return circuits.WeightsOf(m.m), nil })
	fm, err := kind.get(wts, l, h)
	if err != nil {
		return nil, err
	}
	rows, cols := fm.Dims()
	if rows*cols > maxDense {
		return nil, errorf(http.StatusUnprocessableEntity, "web: the circuit is %d × %d, too large to draw", rows, cols)
	}
	vals := make([][]float64, rows)
	for i := range vals {
		vals[i] = fm.Row(nil, i)
	}
	x, y := "key token", "query token"
	var mask [][]bool
	switch kindName {
	case "ov":
		x, y = "output logit", "attended token"
	case "pos-qk":
		x, y = "key position", "query position"
		// The causal mask: keys after the query never take part, so they
		// are greyed out (NaN) and left out of the colour range.
		mask = make([][]bool, rows)
		for i := range mask {
			mask[i] = make([]bool, cols)
			for j := i + 1; j < cols; j++ {
				mask[i][j] = true
				vals[i][j] = math.NaN()
			}
		}
	}
	return figures.Heatmap(figures.HeatmapSpec{
		Title: circuits.HeadLabel(l, h) + " " + strings.Split(kind.label, ":")[0], XLabel: x, YLabel: y,
		Values: vals, ColorMap: figures.Diverging, Mask: mask,
	})
}

// lensFigure is the logit or tuned lens table (?lens=logit|tuned) on
// ?tokens=: each point's top-1 probability, with the token in the cell.
func lensFigure(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	which := q.Get("lens")
	if which == "" {
		which = "logit"
	}
	if which != "logit" && which != "tuned" {
		return nil, errorf(http.StatusBadRequest, "web: lens=%q: want logit or tuned", which)
	}
	tuned := which == "tuned"
	in, err := tokensFromQuery(q)
	if err != nil {
		return nil, err
	}
	res, err := runLens(r.Context(), m, lensRequest{tokensInput: in, K: 1, Tuned: &tuned}, false)
	if err != nil {
		return nil, err
	}
	st := res.Logit
	if tuned {
		st = *res.Tuned
	}
	vals := make([][]float64, len(st.Top))
	text := make([][]string, len(st.Top))
	for i, row := range st.Top {
		for _, top := range row {
			vals[i] = append(vals[i], top[0].Prob)
			text[i] = append(text[i], strconv.Itoa(top[0].Token))
		}
	}
	return figures.Heatmap(figures.HeatmapSpec{
		Title: which + " lens: top token and its probability", XLabel: "position (input token)", YLabel: "residual stream",
		Values: vals, RowLabels: res.Labels, ColLabels: tokenLabels(res.Tokens), CellText: text,
		ColorMap: figures.Sequential, Range: figures.Range{Min: 0, Max: 1}, ColorBarLabel: "probability",
	})
}

// patchingFigure is a sweep's grid; the query holds the POST body's fields
// (clean and corrupted as ids separated by commas or spaces).
func patchingFigure(r *http.Request, m *model, q url.Values) (*figures.Figure, error) {
	in := patchRequest{
		Clean: tokenList{tokensInput{Text: q.Get("clean")}}, Corrupted: tokenList{tokensInput{Text: q.Get("corrupted")}},
		Metric: q.Get("metric"), What: q.Get("what"), Normalize: q.Get("normalize") == "true",
	}
	for _, p := range []struct {
		key string
		dst **int
	}{{"answer", &in.Answer}, {"wrong", &in.Wrong}, {"pos", &in.Pos}} {
		if q.Has(p.key) {
			v, err := intParam(q, p.key, 0, math.MinInt32, math.MaxInt32)
			if err != nil {
				return nil, err
			}
			*p.dst = &v
		}
	}
	if q.Has("by_pos") {
		b := q.Get("by_pos") == "true"
		in.ByPos = &b
	}
	res, err := runSweep(r.Context(), m, in)
	if err != nil {
		return nil, err
	}
	g := res.Grid
	vals, ok := g.Nested().([][]float64)
	if !ok {
		vals = [][]float64{g.Values}
		vals = transpose(vals)
	}
	cols := []string{"all positions"}
	if len(g.Axes) == 2 {
		cols = tokenLabels(res.Clean)
	}
	label := g.Metric
	if g.Normalized {
		label = "(metric − corrupted) / (clean − corrupted)"
	}
	return figures.Heatmap(figures.HeatmapSpec{
		Title:  fmt.Sprintf("Patching %s, clean → corrupted (%s: clean %.3f, corrupted %.3f)", g.What, g.Metric, g.Clean, g.Corrupted),
		XLabel: "position (clean token)", YLabel: string(g.What),
		Values: vals, RowLabels: g.Axes[0], ColLabels: cols, ColorMap: figures.Diverging, ColorBarLabel: label,
	})
}

// transpose turns a row into a column.
func transpose(x [][]float64) [][]float64 {
	out := make([][]float64, len(x[0]))
	for j := range out {
		out[j] = make([]float64, len(x))
		for i := range x {
			out[j][i] = x[i][j]
		}
	}
	return out
}

// runFigures builds each run figure from its metrics records and phase.
var runFigures = map[string]func(records []map[string]any, ph *phase) (*figures.Figure, error){
	"loss": func(recs []map[string]any, ph *phase) (*figures.Figure, error) {
		return curvesFigure("Loss", "cross-entropy (nats)", true, false, ph, nil,
			scalarSeries(recs, "train loss", "loss"), scalarSeries(recs, "eval loss", "eval_loss"))
	},
	"accuracy": func(recs []map[string]any, ph *phase) (*figures.Figure, error) {
		return curvesFigure("Accuracy on repeated tokens", "accuracy", false, true, ph, nil,
			scalarSeries(recs, "eval accuracy", "eval_acc"), scalarSeries(recs, "generalisation probe", "probe_acc"))
	},
	"induction": func(recs []map[string]any, ph *phase) (*figures.Figure, error) {
		return curvesFigure("Induction score per head", "mean attention to the induction target", false, true, ph, nil, headSeries(recs, "induction_score")...)
	},
	"prev-token": func(recs []map[string]any, ph *phase) (*figures.Figure, error) {
		return curvesFigure("Previous-token score per head", "mean attention to the previous token", false, true, ph, nil, headSeries(recs, "prev_token_score")...)
	},
	"k-composition": func(recs []map[string]any, ph *phase) (*figures.Figure, error) {
		var base []figures.Marker
		for _, rec := range recs {
			if v, ok := rec["k_composition_baseline"].(float64); ok {
				base = []figures.Marker{{At: v, Label: fmt.Sprintf("random baseline %.3f", v)}}
				break
			}
		}
		return curvesFigure("K-composition", "score", false, false, ph, base, scalarSeries(recs, "largest L0→L1 K-composition", "k_composition_max"))
	},
	"icl":             iclFigure,            // train lm runs (trainfigures.go)
	"prefix-matching": prefixMatchingFigure, // train lm runs
}

// curvesFigure draws series over steps with the phase change marked; the
// legend goes top left for rising curves (rising), top right otherwise.
func curvesFigure(title, yLabel string, logY, rising bool, ph *phase, hlines []figures.Marker, series ...figures.Series) (*figures.Figure, error) {
	spec := figures.CurvesSpec{Title: title, XLabel: "step", YLabel: yLabel, Series: series, LogY: logY, HLines: hlines, LegendLeft: rising}
	if ph != nil {
		spec.VLines = []figures.Marker{{At: float64(ph.At), Label: fmt.Sprintf("phase change (step %d)", ph.At)}}
	}
	return figures.Curves(spec)
}

// scalarSeries is one metric over steps.
func scalarSeries(recs []map[string]any, name, key string) figures.Series {
	s := figures.Series{Name: name}
	for _, rec := range recs {
		step, ok1 := rec["step"].(float64)
		v, ok2 := rec[key].(float64)
		if ok1 && ok2 {
			s.X, s.Y = append(s.X, step), append(s.Y, v)
		}
	}
	return s
}

// headSeries is one series per head of a [layer][head] metric.
func headSeries(recs []map[string]any, key string) []figures.Series {
	var out []figures.Series
	for _, rec := range recs {
		step, ok := rec["step"].(float64)
		g, ok2 := rec[key].([]any)
		if !ok || !ok2 {
			continue
		}
		i := 0
		for l, row := range g {
			heads, _ := row.([]any)
			for h, v := range heads {
				f, _ := v.(float64)
				if i == len(out) {
					out = append(out, figures.Series{Name: circuits.HeadLabel(l, h)})
				}
				if i < len(out) {
					out[i].X, out[i].Y = append(out[i].X, step), append(out[i].Y, f)
				}
				i++
			}
		}
	}
	return out
}
