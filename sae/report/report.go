// Package report draws a dictionary's feature dashboards (sae.Dashboards)
// and its sparsity–fidelity curve (sae.CurvePoint) as PNG figures with
// the figures package. The numbers come from sae; this package only draws
// them.
package report

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/sae"
)

const (
	widthPx  = 640
	heightPx = 360
)

// FeatureFigures are the files written for one feature, relative to the
// folder they were written to.
type FeatureFigures struct {
	Feature   int    `json:"feature"`
	Histogram string `json:"histogram"`
	Logits    string `json:"logits,omitempty"` // empty without logit effects
}

// Histogram returns the figure of a feature's activation histogram.
func Histogram(f *sae.Feature) (*figures.Figure, error) {
	h := f.Histogram
	cats := make([]string, len(h.Counts))
	vals := make([]float64, len(h.Counts))
	for i, c := range h.Counts {
		cats[i] = strconv.FormatFloat((h.Edges[i]+h.Edges[i+1])/2, 'g', 3, 64)
		vals[i] = float64(c)
	}
	return figures.Bars(figures.BarsSpec{
		Title:  fmt.Sprintf("feature %d: non-zero activations (density %.3g)", f.ID, f.Density),
		XLabel: "activation (bin centre)", YLabel: "positions",
		Categories: cats, Groups: []figures.BarGroup{{Values: vals}},
	})
}

// Logits returns the figure of a feature's promoted and suppressed tokens
// (nil when it has none), labelled by label.
func Logits(f *sae.Feature, label func(tok int) string) (*figures.Figure, error) {
	if len(f.Promoted) == 0 {
		return nil, nil
	}
	var cats []string
	var vals []float64
	for _, e := range f.Promoted {
		cats, vals = append(cats, label(e.Token)), append(vals, e.Effect)
	}
	for i := len(f.Suppressed) - 1; i >= 0; i-- {
		e := f.Suppressed[i]
		cats, vals = append(cats, label(e.Token)), append(vals, e.Effect)
	}
	return figures.Bars(figures.BarsSpec{
		Title:  fmt.Sprintf("feature %d: direct effect on the logits", f.ID),
		XLabel: "token", YLabel: "logit per unit activation",
		Categories: cats, Groups: []figures.BarGroup{{Values: vals}},
	})
}

// WriteFeatures writes each dashboard's figures into dir as
// feature-J-histogram.png and feature-J-logits.png.
func WriteFeatures(dir string, db *sae.Dashboards, label func(tok int) string) ([]FeatureFigures, error) {
	out := make([]FeatureFigures, 0, len(db.Features))
	for i := range db.Features {
		f := &db.Features[i]
		ff := FeatureFigures{Feature: f.ID, Histogram: fmt.Sprintf("feature-%d-histogram.png", f.ID)}
		fig, err := Histogram(f)
		if err != nil {
			return nil, fmt.Errorf("report: feature %d: %w", f.ID, err)
		}
		if err := fig.WritePNG(filepath.Join(dir, ff.Histogram), widthPx, heightPx); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if fig, err = Logits(f, label); err != nil {
			return nil, fmt.Errorf("report: feature %d: %w", f.ID, err)
		}
		if fig != nil {
			ff.Logits = fmt.Sprintf("feature-%d-logits.png", f.ID)
			if err := fig.WritePNG(filepath.Join(dir, ff.Logits), widthPx, heightPx); err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
		}
		out = append(out, ff)
	}
	return out, nil
}

// Curve returns the figure of a sparsity–fidelity sweep: CE loss recovered
// and 1 − FVU against L0 (log axis).
func Curve(title string, pts []sae.CurvePoint) (*figures.Figure, error) {
	var x, ce, ev []float64
	for _, p := range pts {
		x, ce, ev = append(x, p.L0), append(ce, p.CERecovered), append(ev, 1-p.FVU)
	}
	return figures.Curves(figures.CurvesSpec{
		Title: title, XLabel: "L0 (active features per token)", YLabel: "fidelity", LogX: true, LegendBottom: true,
		Series: []figures.Series{{Name: "CE loss recovered", X: x, Y: ce}, {Name: "variance explained (1 − FVU)", X: x, Y: ev}},
	})
}

// WriteCurve writes the curve's figure to path as a PNG.
func WriteCurve(path, title string, pts []sae.CurvePoint) error {
	fig, err := Curve(title, pts)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := fig.WritePNG(path, widthPx, heightPx); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
