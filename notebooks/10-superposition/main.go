// Command 10-superposition is the notebook "Superposition": it trains the toy
// model of Elhage et al. (2022), "Toy Models of Superposition" — n sparse
// features squeezed through m < n hidden dimensions, x' = ReLU(WᵀWx + b) —
// and measures the geometry of the learned features (antipodal pairs, the
// pentagon), the phase diagram of the two-feature, one-dimension model as
// sparsity and importance vary, and the dimensions per feature as sparsity
// grows. Run it as
//
//	go run ./notebooks/10-superposition [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
)

var (
	//go:embed main.go
	mainSrc []byte
	//go:embed model.go
	modelSrc []byte
)

const name = "10-superposition"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// sizes are the run's experiment sizes.
type sizes struct {
	GeomSparsity                   []float64 // S of the n = 5, m = 2 panels
	GeomSteps, GeomBatch, Seeds    int
	Densities, Importances         []float64 // the phase diagram's axes
	PhaseSteps, PhaseBatch         int
	DimsN, DimsM                   int
	DimsInvDensity                 []float64 // 1/(1−S) of the dimensionality sweep
	DimsSteps, DimsBatch, DimsSeed int
}

func config(o report.Options) sizes {
	// region: config
	s := sizes{
		GeomSparsity: []float64{0, 0.7, 0.9}, GeomSteps: 5000, GeomBatch: 1024, Seeds: 3,
		Densities: logSpace(0.01, 1, 9), Importances: logSpace(0.1, 10, 9), PhaseSteps: 2000, PhaseBatch: 1024,
		DimsN: 100, DimsM: 10, DimsInvDensity: logSpace(1, 100, 11), DimsSteps: 4000, DimsBatch: 1024,
	}
	if o.Quick {
		s = sizes{
			GeomSparsity: []float64{0, 0.7, 0.9}, GeomSteps: 1500, GeomBatch: 256, Seeds: 2,
			Densities: []float64{0.03, 0.3, 1}, Importances: []float64{0.3, 1, 3}, PhaseSteps: 800, PhaseBatch: 256,
			DimsN: 30, DimsM: 5, DimsInvDensity: []float64{1, 3, 10, 30}, DimsSteps: 1000, DimsBatch: 256,
		}
	}
	// endregion
	return s
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Superposition", slices.Concat(mainSrc, modelSrc), o)
	s := config(o)
	r.P("A neural network has fewer neurons than there are things in the world worth representing. Elhage et al. (2022), " +
		"*Toy Models of Superposition*, showed in the smallest possible model that a network can nevertheless represent " +
		"more features than it has dimensions — in **superposition**, as almost-orthogonal directions that interfere a " +
		"little — when the features are **sparse**, and that whether it does so changes abruptly, like a phase of matter, " +
		"with sparsity and importance. This notebook trains that model from scratch and measures all three results.")

	r.Section("The model")
	r.P("n features x ∈ [0, 1]ⁿ pass through m < n hidden dimensions and back, with tied weights W [m, n] whose column " +
		"W_i is feature i's direction, a bias and a ReLU: h = Wx, x' = ReLU(Wᵀh + b). Each feature is 0 with " +
		"probability S (the **sparsity**) and uniform on [0, 1] otherwise, and the loss weights feature i's squared error " +
		"by its **importance** I_i. Forward and backward are two matrix products (`tensor.Gemm` for the encoder, " +
		"`nn.LinearForward` for the decoder, which shares W) and a ReLU; a finite-difference test checks the gradient.")
	r.Code("model")
	r.P("Training is Adam with a cosine learning-rate schedule (Xavier-normal initialisation, batches of fresh samples). "+
		"Training can settle in a worse local minimum, so, as in the paper, each configuration is trained from %d "+
		"initialisations and the lowest-loss run is kept.", s.Seeds)
	r.Code("train")
	r.Code("config")

	if err := geometry(ctx, r, s, o); err != nil {
		return err
	}
	if err := phases(ctx, r, s, o); err != nil {
		return err
	}
	if err := dimensions(ctx, r, s, o); err != nil {
		return err
	}

	r.Section("What to take away")
	r.Takeaways(
		report.Takeaway{Text: "With dense features a model keeps the m most important ones, each in its own dimension, and drops the rest — the answer PCA would give.",
			Claims: []string{"geom_dense_pca"}},
		report.Takeaway{Text: "With sparse features it represents more features than dimensions, evenly spaced: superposition, paid for with a little interference that the ReLU and a negative bias filter out.",
			Claims: []string{"geom_sparse_superposed"}},
		report.Takeaway{Text: "Whether a feature is ignored, given a dimension, or superposed depends on sparsity and importance: a phase diagram.",
			Claims: []string{"phase_dense_no_superposition", "phase_sparse_superposition"}},
		report.Takeaway{Text: "As sparsity grows, features share dimensions in groups with the same simple geometry rather than spreading evenly.",
			Claims: []string{"dims_groups"}},
	)
	return r.Write()
}

// geometry is section 2: five features in two dimensions.
func geometry(ctx context.Context, r *report.Report, s sizes, o report.Options) error {
	r.Section("Five features in two dimensions")
	const n, m = 5, 2
	imp := make([]float64, n)
	for i := range imp {
		imp[i] = math.Pow(0.9, float64(i))
	}
	r.P("The paper's first figure: n = 5 features, m = 2 dimensions, importance I_i = 0.9ⁱ, trained at sparsities %s. "+
		"With m = 2 each column W_i is an arrow in the plane, drawn from the origin.", fmtList(s.GeomSparsity, "%.1f"))
	var rows [][]string
	var counts []int       // represented features per sparsity
	var lastGapErr float64 // how far the last panel's gaps are from a regular polygon's
	var denseNorms []float64
	r.BeginRow()
	for _, S := range s.GeomSparsity {
		o.Logf("%s: geometry S=%.2f", name, S)
		res, err := bestOf(ctx, toyConfig{N: n, M: m, Sparsity: S, Importance: imp, Batch: s.GeomBatch,
			Steps: s.GeomSteps, LR: 0.01, Seed: o.Seed}, s.Seeds)
		if err != nil {
			return err
		}
		var sets []figures.PointSet
		norms := res.norms()
		for i := range n {
			label := "" // the legend only in the first panel: colours are the same in all
			if len(rows) == 0 {
				label = fmt.Sprintf("feature %d (I = %.2f)", i, imp[i])
			}
			sets = append(sets, figures.PointSet{Name: label, X: []float64{res.W[0][i]}, Y: []float64{res.W[1][i]}, Glyph: figures.Vector})
		}
		if len(rows) == 0 {
			denseNorms = slices.Clone(norms)
		}
		fig, err := figures.Scatter(figures.ScatterSpec{Title: fmt.Sprintf("S = %.1f: %d of %d features", S, represented(res), n),
			XLabel: "hidden dimension 0", YLabel: "hidden dimension 1", Sets: sets, EqualAxes: true,
			XRange: figures.Range{Min: -1.4, Max: 1.4}, YRange: figures.Range{Min: -1.4, Max: 1.4}})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 400, 400, fmt.Sprintf("Columns of W at sparsity %.1f (loss %.4f).", S, res.Loss))
		deg, gaps := angles(res)
		counts = append(counts, represented(res))
		lastGapErr = 0
		for _, g := range gaps {
			lastGapErr = math.Max(lastGapErr, math.Abs(g-360/float64(len(gaps))))
		}
		key := fmt.Sprintf("geom_S%02.0f", 100*S)
		r.Result(key+"_represented", represented(res))
		r.Result(key+"_norms", norms)
		r.Result(key+"_gaps_deg", gaps)
		rows = append(rows, []string{fmt.Sprintf("%.1f", S), fmt.Sprintf("%.4f", res.Loss), fmt.Sprint(represented(res)),
			fmtList(norms, "%.2f"), fmtList(deg, "%.0f°"), fmtList(gaps, "%.0f°"), fmtList(res.B, "%.2f"), fmt.Sprintf("%.3f", res.dimsPerFeature())})
	}
	r.EndRow()
	r.Table(fmt.Sprintf("The learned geometry. A feature counts as represented when ‖W_i‖ ≥ %.1f; angles are those of the represented features, with the gaps between neighbours.", representedNorm),
		[]string{"S", "loss", "represented", "‖W_i‖", "angles", "gaps", "bias b", "D* = m/‖W‖²_F"}, rows)
	last := s.GeomSparsity[len(s.GeomSparsity)-1]
	r.Headline("geom_represented_dense", fmt.Sprintf("features represented in 2 dims at S = %.1f", s.GeomSparsity[0]), float64(counts[0]), "%.0f")
	r.Headline("geom_represented_sparse", fmt.Sprintf("features represented in 2 dims at S = %.1f", last), float64(counts[len(counts)-1]), "%.0f")
	r.Headline("geom_gap_error_sparse", fmt.Sprintf("max |gap − 360°/k| at S = %.1f (degrees)", last), lastGapErr, "%.1f")
	slices.Sort(denseNorms)
	r.Claim("geom_dense_pca", counts[0] <= 2 && denseNorms[len(denseNorms)-3] < representedNorm,
		fmt.Sprintf("S = %.1f: %d features represented; third-largest ‖W_i‖ %.2f", s.GeomSparsity[0], counts[0], denseNorms[len(denseNorms)-3]),
		"Dense features get the PCA answer: at most two features take a dimension each, and the others stay below the "+
			"representation threshold ‖W_i‖ = %.1f.", representedNorm)
	k := counts[len(counts)-1]
	r.Claim("geom_sparse_superposed", k > 2 && lastGapErr < 10,
		fmt.Sprintf("S = %.1f: %d features represented in 2 dimensions, spaced %.0f° apart give or take %.1f°", last, k, 360/float64(max(k, 1)), lastGapErr),
		"As features get sparser the model packs in more features than dimensions, evenly spaced around the circle "+
			"(within 10°) — the paper's **pentagon** when all five are there.")
	r.P("The price is interference: when feature i is on, the features at obtuse angles read a negative value, which the " +
		"ReLU clips to zero, and those at acute angles a positive one, which the negative bias removes. With sparse " +
		"features two are rarely on at once, so the price is small.")
	return nil
}

// phases is section 3: the phase diagram of n = 2, m = 1.
func phases(ctx context.Context, r *report.Report, s sizes, o report.Options) error {
	r.Section("A phase diagram")
	r.P("The smallest case: two features, one dimension. Feature 1 has importance 1; the extra feature 2 has importance r. " +
		"With W a 1×2 matrix there are three possible answers: feature 2 is **ignored** (W = (±1, 0)), it takes the one " +
		"dimension and feature 1 is dropped — a **dedicated** dimension (W = (0, ±1)) — or the two share it, in " +
		"**superposition**, pointing in opposite directions (W = (1, −1) up to sign). We train at every combination of " +
		"feature density 1 − S and importance r twice — once with w1 and w2 starting with the same sign and once with " +
		"opposite signs, since gradient descent cannot carry a weight through zero without passing a worse point — " +
		"and classify the run with the lower loss.")
	o.Logf("%s: phase diagram %d×%d", name, len(s.Importances), len(s.Densities))
	cells, err := phaseDiagram(ctx, s.Densities, s.Importances, 2, s.PhaseSteps, s.PhaseBatch, o.Seed)
	if err != nil {
		return err
	}
	// Rows from the most important extra feature (top) to the least.
	vals := make([][]float64, len(cells))
	text := make([][]string, len(cells))
	rowLabels := make([]string, len(cells))
	colLabels := make([]string, len(s.Densities))
	for j, d := range s.Densities {
		colLabels[j] = fmt.Sprintf("%.3g", d)
	}
	counts := make([]int, len(phaseNames))
	var classes [][]int
	for i := range cells {
		row := cells[len(cells)-1-i]
		rowLabels[i] = fmt.Sprintf("%.3g", row[0].Importance)
		vals[i] = make([]float64, len(row))
		text[i] = make([]string, len(row))
		cls := make([]int, len(row))
		for j, c := range row {
			vals[i][j] = map[int]float64{phaseIgnored: 0, phaseSuperposed: 1, phaseDedicated: -1}[c.Phase]
			text[i][j] = map[int]string{phaseIgnored: "ign", phaseSuperposed: "sup", phaseDedicated: "ded"}[c.Phase]
			counts[c.Phase]++
			cls[j] = c.Phase
		}
		classes = append(classes, cls)
	}
	fig, err := figures.Heatmap(figures.HeatmapSpec{Title: "n = 2 features, m = 1 dimension",
		XLabel: "feature density 1 − S", YLabel: "importance r of the extra feature",
		Values: vals, RowLabels: rowLabels, ColLabels: colLabels, CellText: text, ColorMap: figures.Diverging,
		Range: figures.Range{Min: -1, Max: 1}, NoColorBar: true})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 640, 520, "The phase of the best of the runs at each point: **sup** (red) superposition, **ded** (blue) "+
		"the extra feature gets the dimension and feature 1 is dropped, **ign** (white) the extra feature is ignored.")
	r.Result("phase_classes", classes)
	r.Result("phase_densities", s.Densities)
	r.Result("phase_importances", s.Importances)
	r.Headline("phase_superposed_cells", "superposed cells in the phase diagram", float64(counts[phaseSuperposed]), "%.0f")
	r.Result("phase_ignored_cells", counts[phaseIgnored])
	r.Result("phase_dedicated_cells", counts[phaseDedicated])
	// The column of dense features and the sparsest column.
	dense, sparse := 0, 0
	var denseAt []float64 // importances where dense features superpose
	for i := range cells {
		if c := cells[i][len(s.Densities)-1]; c.Phase == phaseSuperposed {
			dense++
			denseAt = append(denseAt, c.Importance)
		}
		if cells[i][0].Phase == phaseSuperposed {
			sparse++
		}
	}
	r.Result("phase_superposed_dense_column", dense)
	r.Result("phase_superposed_sparsest_column", sparse)
	denseNote := "none of them"
	if dense > 0 {
		denseNote = fmt.Sprintf("only at r = %s, where the two features matter almost equally and a shrunken "+
			"antipodal pair edges out a single feature", fmtList(denseAt, "%.3g"))
	}
	r.P("Of the %d points, %d are superposed, %d dedicated and %d ignored.",
		len(s.Densities)*len(s.Importances), counts[phaseSuperposed], counts[phaseDedicated], counts[phaseIgnored])
	r.Claim("phase_dense_no_superposition", dense <= 1,
		fmt.Sprintf("superposed points in the dense column: %d (%s)", dense, denseNote),
		"With dense features (right-hand column) superposition does not pay, except at most where the two features "+
			"matter equally.")
	r.Claim("phase_sparse_superposition", sparse >= 2 && sparse > dense,
		fmt.Sprintf("superposed points: %d of %d importances in the sparsest column, %d in the dense one", sparse, len(cells), dense),
		"As features get sparser (to the left) the superposed region opens out: two features that are rarely on "+
			"together can share a dimension at little cost, even when one of them hardly matters.")
	r.P("The paper calls the boundaries between the regions phase changes.")
	return nil
}

// dimensions is section 4: dimensions per feature against sparsity.
func dimensions(ctx context.Context, r *report.Report, s sizes, o report.Options) error {
	r.Section("Dimensions per feature")
	n, m := s.DimsN, s.DimsM
	r.P("With many features of equal importance — here n = %d in m = %d dimensions — the paper measures how many "+
		"dimensions each embedded feature gets, D* = m / ‖W‖²_F, and, per feature, its **dimensionality**: the "+
		"share of a dimension it occupies given how much the other features overlap it.", n, m)
	r.Code("dims")
	imp := make([]float64, n)
	for i := range imp {
		imp[i] = 1
	}
	var xs, dstar, fx, fy []float64
	var rows [][]string
	var clusters []string  // sweep points where most features share one fraction
	var sparseNorm float64 // mean ‖W_i‖ at the sparsest point
	var denseRep int       // represented features with dense inputs
	for k, inv := range s.DimsInvDensity {
		o.Logf("%s: dimensionality 1/(1−S)=%.3g", name, inv)
		res, err := trainToy(ctx, toyConfig{N: n, M: m, Sparsity: 1 - 1/inv, Importance: imp, Batch: s.DimsBatch,
			Steps: s.DimsSteps, LR: 0.01, Seed: o.Seed + uint64(k)})
		if err != nil {
			return err
		}
		d := res.featureDims(representedNorm)
		text, topName, top := histogram(d)
		xs = append(xs, inv)
		dstar = append(dstar, res.dimsPerFeature())
		for _, v := range d {
			if v > 0 {
				fx, fy = append(fx, math.Log10(inv)), append(fy, v)
			}
		}
		rows = append(rows, []string{fmt.Sprintf("%.3g", inv), fmt.Sprintf("%.3f", 1-1/inv), fmt.Sprint(represented(res)),
			fmt.Sprintf("%.3f", res.dimsPerFeature()), text})
		if rep := represented(res); rep > 0 && float64(top) >= 0.75*float64(rep) && topName != "other" {
			clusters = append(clusters, fmt.Sprintf("at 1/(1−S) = %.3g, %d of the %d represented features sit at %s", inv, top, rep, topName))
		}
		if k == len(s.DimsInvDensity)-1 {
			sparseNorm = meanNorm(res)
		}
		if k == 0 {
			denseRep = represented(res)
		}
	}
	refs := []figures.Marker{{At: 1, Label: "1"}, {At: 0.5, Label: "1/2"}, {At: 0.4, Label: "2/5"}, {At: float64(m) / float64(n), Label: "m/n"}}
	r.BeginRow()
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Dimensions per embedded feature", XLabel: "1/(1−S)",
		YLabel: "D* = m / ‖W‖²_F", LogX: true, Series: []figures.Series{{Name: "D*", X: xs, Y: dstar}}, HLines: refs})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 520, 400, "D* against the inverse density 1/(1−S), with the fractions the paper finds it sticking at.")
	fig, err = figures.Scatter(figures.ScatterSpec{Title: "Each feature's dimensionality", XLabel: "log₁₀ 1/(1−S)",
		YLabel: "D_i", Sets: []figures.PointSet{{Name: "represented features", X: fx, Y: fy, Glyph: figures.Ring}},
		YRange: figures.Range{Min: 0, Max: 1.1}})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 520, 400, fmt.Sprintf("D_i of every feature with ‖W_i‖ ≥ %.1f, one column of points per sparsity.", representedNorm))
	r.EndRow()
	r.Table("The sweep. The last column counts represented features by dimensionality, rounded to the nearest of 1, 3/4, 2/3, 1/2, 2/5, 1/3 and the rest.",
		[]string{"1/(1−S)", "S", "represented", "D*", "features by D_i"}, rows)
	r.Result("dims_inv_density", xs)
	r.Result("dims_dstar", dstar)
	r.Headline("dims_dstar_dense", "D* with dense features", dstar[0], "%.3f")
	r.Headline("dims_dstar_sparsest", fmt.Sprintf("D* at 1/(1−S) = %.0f", xs[len(xs)-1]), dstar[len(dstar)-1], "%.3f")
	r.Claim("dims_dense_pca", math.Abs(dstar[0]-1) <= 0.1, fmt.Sprintf("dense D* = %.3f", dstar[0]),
		"With dense features D* = 1 within 0.1: the model spends its %d dimensions on %d dimensions' worth of features, "+
			"‖W‖²_F ≈ m, as PCA would.", m, m)
	r.P("With equal importances any rotation of that subspace is as good, so the weight is "+
		"smeared over many features rather than given to m of them: only %d of the %d reach ‖W_i‖ ≥ %.1f.", denseRep, n, representedNorm)
	clusterText := "no sweep point has three quarters of its represented features at one fraction"
	if len(clusters) > 0 {
		clusterText = strings.Join(clusters, "; ")
	}
	r.Claim("dims_groups", dstar[len(dstar)-1] < dstar[0] && len(clusters) > 0, fmt.Sprintf("D* %.3f → %.3f; %s", dstar[0], dstar[len(dstar)-1], clusterText),
		"As sparsity grows D* falls, and the features do not spread their dimensions evenly: at some sweep points three "+
			"quarters of the represented features settle at one simple fraction.")
	r.Claim("dims_sparsest_squeezed", dstar[len(dstar)-1] < float64(m)/float64(n) && sparseNorm > 1,
		fmt.Sprintf("sparsest D* = %.3f against m/n = %.3f; mean ‖W_i‖ = %.2f", dstar[len(dstar)-1], float64(m)/float64(n), sparseNorm),
		"At the sparsest point all features are squeezed into the %d dimensions and D* is below m/n: the features' norms "+
			"grow past 1 so that they clear the negative bias that filters out interference.", m)
	return nil
}

// meanNorm returns the mean ‖W_i‖ over all features.
func meanNorm(r toyResult) float64 {
	var s float64
	norms := r.norms()
	for _, v := range norms {
		s += v
	}
	return s / float64(len(norms))
}

// histogram counts feature dimensionalities by the nearest simple fraction
// (within 0.03; else "other") and returns the counts as text, with the most
// common bucket and its count.
func histogram(d []float64) (text, topName string, top int) {
	fracs := []struct {
		v    float64
		name string
	}{{1, "1"}, {0.75, "3/4"}, {2.0 / 3, "2/3"}, {0.5, "1/2"}, {0.4, "2/5"}, {1.0 / 3, "1/3"}}
	counts := make([]int, len(fracs)+1)
	for _, v := range d {
		if v == 0 {
			continue
		}
		best, dist := len(fracs), 0.03
		for i, f := range fracs {
			if e := math.Abs(v - f.v); e < dist {
				best, dist = i, e
			}
		}
		counts[best]++
	}
	var parts []string
	for i, c := range counts {
		if c == 0 {
			continue
		}
		label := "other"
		if i < len(fracs) {
			label = fracs[i].name
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, c))
		if c > top {
			top, topName = c, label
		}
	}
	if len(parts) == 0 {
		return "none", "", 0
	}
	return strings.Join(parts, ", "), topName, top
}

func fmtList(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}
