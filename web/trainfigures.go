package web

import (
	"fmt"
	"net/http"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/figures"
)

// The Training page's figures of `train lm` runs: the in-context-learning
// score over training, and per-head prefix matching over the evaluations.

// iclFigure draws icl_score over steps, with the positions it compares.
func iclFigure(recs []map[string]any, ph *phase) (*figures.Figure, error) {
	name := "ICL score"
	for _, rec := range recs {
		if p, ok := rec["icl_positions"].([]any); ok && len(p) == 2 {
			name = fmt.Sprintf("loss at token %v − loss at token %v", p[1], p[0])
			break
		}
	}
	zero := []figures.Marker{{At: 0, Label: "no in-context learning"}}
	return curvesFigure("In-context learning score (held-out text)", "loss late − loss early (nats)", false, false, ph, zero, scalarSeries(recs, name, "icl_score"))
}

// prefixMatchingFigure draws prefix_matching_score as a heads ×
// evaluations heatmap.
func prefixMatchingFigure(recs []map[string]any, ph *phase) (*figures.Figure, error) {
	var values [][]float64 // [head][evaluation]
	var rows, cols []string
	for _, rec := range recs {
		step, ok := rec["step"].(float64)
		g, ok2 := rec["prefix_matching_score"].([]any)
		if !ok || !ok2 {
			continue
		}
		var col []float64
		for l, row := range g {
			heads, _ := row.([]any)
			for h, v := range heads {
				f, _ := v.(float64)
				col = append(col, f)
				if len(cols) == 0 {
					rows = append(rows, circuits.HeadLabel(l, h))
				}
			}
		}
		if len(col) != len(rows) {
			return nil, errorf(http.StatusUnprocessableEntity, "web: prefix_matching_score at step %v has %d heads, earlier %d", step, len(col), len(rows))
		}
		label := fmt.Sprint(step)
		if ph != nil && int(step) == ph.At {
			label = "*" + label // (the PNG font has no ◆)
		}
		cols = append(cols, label)
		values = append(values, col)
	}
	if len(values) == 0 {
		return nil, errorf(http.StatusUnprocessableEntity, "web: this run logged no prefix_matching_score (only train lm runs do)")
	}
	grid := make([][]float64, len(rows)) // transposed: heads down, steps across
	hi := 1.0                            // scores are attention fractions; wider if not
	for i := range grid {
		grid[i] = make([]float64, len(values))
		for j := range values {
			grid[i][j] = values[j][i]
			hi = max(hi, values[j][i])
		}
	}
	return figures.Heatmap(figures.HeatmapSpec{
		Title: "Prefix matching per head over training", XLabel: "evaluation step (* phase change)", YLabel: "head",
		Values: grid, RowLabels: rows, ColLabels: cols, ColorMap: figures.Sequential, Range: figures.Range{Min: 0, Max: hi},
	})
}
