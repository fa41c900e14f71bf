package figures_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mechinterp/workbench/figures"
)

// An attention pattern [query_pos, key_pos] with its tokens becomes a
// heatmap with the destinations as rows from the top and the causal upper
// triangle greyed; here it is rendered as SVG into a buffer.
func Example() {
	tokens := []string{"<bos>", " A", " B", " A"}
	pattern := [][]float64{
		{1, 0, 0, 0},
		{0.5, 0.5, 0, 0},
		{0.2, 0.3, 0.5, 0},
		{0.1, 0.1, 0.7, 0.1}, // the induction head attends to the token after the earlier " A"
	}
	fig, err := figures.AttentionPattern("L1H0", pattern, tokens)
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	if err := fig.SVG(&buf, 400, 400); err != nil {
		fmt.Println(err)
		return
	}
	svg := buf.String()
	fmt.Println(strings.SplitN(svg, "\n", 2)[0])
	fmt.Println(strings.Contains(svg, `<svg xml:space="preserve" width="300pt" height="300pt"`))
	fmt.Println(strings.Contains(svg, ">L1H0<"), strings.Contains(svg, ">&lt;bos&gt;<"), strings.Contains(svg, "> B<"))
	// Output:
	// <?xml version="1.0"?>
	// true
	// true true true
}

// A training curve on a log axis with the phase change marked.
func ExampleCurves() {
	loss := []float64{5.1, 4.2, 3.0, 2.9, 2.85, 1.2, 0.6, 0.5}
	fig, err := figures.Curves(figures.CurvesSpec{
		Title:  "induction model",
		XLabel: "step", YLabel: "loss",
		LogY:   true,
		Series: []figures.Series{{Name: "train", Y: loss}},
		VLines: []figures.Marker{{At: 5, Label: "phase change"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	w, h := fig.Size()
	fmt.Println(w, h)
	// Output: 720 420
}

// Bad input is an error matching ErrInvalid, never a panic.
func ExampleHeatmap_errors() {
	_, err := figures.Heatmap(figures.HeatmapSpec{
		Values:    [][]float64{{1, 2}, {3}},
		RowLabels: []string{"a", "b"},
	})
	fmt.Println(err)
	// Output: figures: heatmap: row 1 has 1 values, want 2
}
