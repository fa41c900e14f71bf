package patching

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Grid is the result of a sweep: one metric value per patched site, laid
// out on labelled axes. Axes[0] labels the rows ("L0", "L1" for residual
// kinds; "L0H0", "L0H1", … for per-head kinds) and, for sweeps by position,
// Axes[1] the columns ("pos 0", "pos 1", …). Values is row-major with
// len(Axes[i]) entries along axis i.
//
// Values are metric values of the patched corrupted run (an attribution
// grid holds Corrupted plus the estimated change), so Corrupted means "no
// effect"; Normalize rescales them so that the clean run's value is 1 and
// the corrupted run's 0. Clean and Corrupted always hold the two runs'
// metric values.
type Grid struct {
	What       Kind
	Metric     string
	Clean      float64 // metric of the clean run
	Corrupted  float64 // metric of the corrupted run
	Normalized bool    // Values are (v − Corrupted)/(Clean − Corrupted)
	Axes       [][]string
	Values     []float64
	Sites      []Site // the site of each value
}

// Shape returns the length of each axis.
func (g *Grid) Shape() []int {
	s := make([]int, len(g.Axes))
	for i, a := range g.Axes {
		s[i] = len(a)
	}
	return s
}

// At returns the value at the given index, one per axis. It panics if the
// index is out of range.
func (g *Grid) At(idx ...int) float64 {
	if len(idx) != len(g.Axes) {
		panic(fmt.Sprintf("patching: Grid.At with %d indices, grid has %d axes", len(idx), len(g.Axes)))
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= len(g.Axes[i]) {
			panic(fmt.Sprintf("patching: Grid.At index %d out of range [0, %d) on axis %d", x, len(g.Axes[i]), i))
		}
		off = off*len(g.Axes[i]) + x
	}
	return g.Values[off]
}

// Effects returns how far each patch moved the metric from the corrupted
// run: Values minus Corrupted, or Values themselves if normalised.
func (g *Grid) Effects() []float64 {
	base := g.Corrupted
	if g.Normalized {
		base = 0
	}
	out := make([]float64, len(g.Values))
	for i, v := range g.Values {
		out[i] = v - base
	}
	return out
}

// Normalize returns a copy of g with every value v replaced by
// (v − Corrupted)/(Clean − Corrupted): 1 means the patch restores the clean
// metric, 0 that it does nothing. Clean and Corrupted are kept. It is an
// error if they are equal. A normalised grid is returned unchanged.
func (g *Grid) Normalize() (*Grid, error) {
	out := *g
	out.Values = slices.Clone(g.Values)
	if g.Normalized {
		return &out, nil
	}
	for i, v := range g.Values {
		n, err := Normalize(v, g.Clean, g.Corrupted)
		if err != nil {
			return nil, err
		}
		out.Values[i] = n
	}
	out.Normalized = true
	return &out, nil
}

// Nested returns Values as nested slices following Axes: []float64 for one
// axis, [][]float64 for two.
func (g *Grid) Nested() any {
	if len(g.Axes) == 1 {
		return slices.Clone(g.Values)
	}
	rows, cols := len(g.Axes[0]), len(g.Axes[1])
	out := make([][]float64, rows)
	for r := range out {
		out[r] = slices.Clone(g.Values[r*cols : (r+1)*cols])
	}
	return out
}

// MarshalJSON encodes g as {"what", "metric", "clean", "corrupted",
// "normalized", "axes", "values"} with values nested as in Nested, the
// output of `workbench patch --json`. Sites are left out: the axis labels
// name them.
func (g *Grid) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		What       Kind       `json:"what"`
		Metric     string     `json:"metric"`
		Clean      float64    `json:"clean"`
		Corrupted  float64    `json:"corrupted"`
		Normalized bool       `json:"normalized"`
		Axes       [][]string `json:"axes"`
		Values     any        `json:"values"`
	}{g.What, g.Metric, g.Clean, g.Corrupted, g.Normalized, g.Axes, g.Nested()})
}

// Agreement compares an approximate sweep (attribution patching) with the
// exact one, on their Effects.
type Agreement struct {
	// Pearson is the correlation of the two grids' effects (NaN if either
	// is constant).
	Pearson float64 `json:"pearson"`
	// TopK is the number of sites compared in TopKOverlap.
	TopK int `json:"top_k"`
	// TopKOverlap is the fraction of the TopK sites with the largest
	// absolute exact effect that are also among the TopK largest absolute
	// approximate effects.
	TopKOverlap float64 `json:"top_k_overlap"`
	// MaxAbsError is the largest |approx − exact| effect.
	MaxAbsError float64 `json:"max_abs_error"`
}

// Compare reports how well approx agrees with exact, two grids of the same
// sweep, on their effects; k (clamped to the number of sites) sets the
// top-k overlap.
func Compare(exact, approx *Grid, k int) (Agreement, error) {
	if !slices.Equal(exact.Shape(), approx.Shape()) {
		return Agreement{}, fmt.Errorf("patching: compare grids of shapes %v and %v", exact.Shape(), approx.Shape())
	}
	if exact.Normalized != approx.Normalized {
		return Agreement{}, fmt.Errorf("patching: compare a normalised with an unnormalised grid")
	}
	a, b := exact.Effects(), approx.Effects()
	k = max(1, min(k, len(a)))
	ag := Agreement{Pearson: math.NaN(), TopK: k}
	if stat.Variance(a, nil) > 0 && stat.Variance(b, nil) > 0 {
		ag.Pearson = stat.Correlation(a, b, nil)
	}
	for i := range a {
		ag.MaxAbsError = math.Max(ag.MaxAbsError, math.Abs(a[i]-b[i]))
	}
	ta, tb := topK(a, k), topK(b, k)
	n := 0
	for _, i := range ta {
		if slices.Contains(tb, i) {
			n++
		}
	}
	ag.TopKOverlap = float64(n) / float64(k)
	return ag, nil
}

// topK returns the indices of the k largest |x|, ties to the lower index.
func topK(x []float64, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(math.Abs(x[j]), math.Abs(x[i])) })
	return idx[:k]
}
