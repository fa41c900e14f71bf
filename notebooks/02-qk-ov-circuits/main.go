// Command 02-qk-ov-circuits is the notebook "QK and OV circuits": it reads
// the trained induction model from its weights alone — full OV circuits at
// vocabulary scale, OV eigenvalue copying scores, the positional QK circuit
// of the previous-token head, Q/K/V composition against a random baseline,
// and virtual heads. Run it as
//
//	go run ./notebooks/02-qk-ov-circuits [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

//go:embed main.go
var source []byte

const name = "02-qk-ov-circuits"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("QK and OV circuits", source, o)
	r.P("An attention head does two separable things (Elhage et al. 2021). Its **QK circuit** `W_Q·W_Kᵀ` decides " +
		"where it looks: the score of a query vector x for a key vector y is `x·QK·yᵀ`. Its **OV circuit** `W_V·W_O` " +
		"decides what it moves: attending to y adds `y·OV` to the residual stream. Multiplied out to the embedding and " +
		"unembedding, both become vocabulary-sized tables we can read. This notebook reads the toy induction model of " +
		"notebook 01 from its weights alone, without running it on any data except to name its heads.")

	// region: load
	m, path, err := report.DemoModel() // web/demo/model.safetensors: the dashboard's trained induction model
	if err != nil {
		return err
	}
	w := circuits.WeightsOf(m) // W_E, W_pos, W_U and every head's W_Q, W_K, W_V, W_O in float64
	// endregion
	c := m.Cfg
	r.Section("The model and its heads")
	r.P("The model is `%s`: %d attention-only layers of %d heads, d_model %d, d_head %d, d_vocab %d, n_ctx %d, "+
		"trained by `workbench train induction --seed 0` (the model the dashboard shows).", "web/demo/model.safetensors",
		c.NLayers, c.NHeads, c.DModel, c.DHead, c.DVocab, c.NCtx)
	o.Logf("%s: model %s", name, path)
	r.Code("load")
	rep, err := circuits.Analyze(ctx, m, circuits.AnalyzeOptions{Seed: o.Seed})
	if err != nil {
		return err
	}
	prev, ind := bestHead(rep.RepeatedPrevToken, 0), bestHead(rep.PrefixMatchingScore, 1)
	r.P("`circuits.Analyze` names the heads from their behaviour on repeated random tokens: previous-token heads %s; "+
		"induction heads %s. We follow the strongest of each: **%s** (previous-token score %.2f) and **%s** "+
		"(prefix-matching score %.2f).", headList(rep.PrevTokenHeads), inductionList(rep.InductionHeads),
		circuits.HeadLabel(0, prev), rep.RepeatedPrevToken[0][prev], circuits.HeadLabel(1, ind), rep.PrefixMatchingScore[1][ind])
	r.Result("prev_token_head", circuits.HeadLabel(0, prev))
	r.Result("induction_head", circuits.HeadLabel(1, ind))

	if err := ovSection(ctx, r, w, c, rep, prev, ind); err != nil {
		return err
	}
	if err := posQKSection(r, w, prev, rep.RepeatedPrevToken[0][prev], c); err != nil {
		return err
	}
	if err := compositionSection(ctx, r, w, c, o, prev, ind); err != nil {
		return err
	}
	if err := virtualSection(ctx, r, w, o, prev, ind); err != nil {
		return err
	}
	r.Section("What to take away")
	r.List(
		"The full OV circuit `W_E·OV·W_U` is a vocabulary × vocabulary table of what a head writes for each token it attends to; a copying head has a bright diagonal and positive eigenvalues.",
		"The positional QK circuit `W_pos·QK·W_posᵀ` shows where a head looks by position alone, and where it does not, the circuit shows that too.",
		"Composition scores are meaningful only against the random baseline 1/√d_model.",
		"Two heads in sequence act as a virtual head with OV circuit `OV₀·OV₁`; measuring its copying score shows whether a path of the model copies tokens end to end.",
	)
	return r.Write()
}

// ovSection shows full OV circuits and their eigenvalue copying scores.
func ovSection(ctx context.Context, r *report.Report, w *circuits.Weights, c transformer.Config, rep *circuits.Report, prev, ind int) error {
	r.Section("Full OV circuits at vocabulary scale")
	r.P("Row t of the full OV circuit `W_E·W_V·W_O·W_U` [d_vocab, d_vocab] is what attending to token t adds to the "+
		"logits. It has rank at most d_head = %d and stays factored through d_head until asked; at d_vocab = %d we can "+
		"afford to materialise it:", c.DHead, c.DVocab)
	// region: fullov
	ov, err := w.FullOV(1, ind) // factored: (W_E·W_V) [d_vocab, d_head] · (W_O·W_U) [d_head, d_vocab]
	if err != nil {
		return err
	}
	dense := ov.Dense()                             // [d_vocab, d_vocab]
	positivity, err := circuits.EigenPositivity(ov) // Σλ / Σ|λ|: 1 for a pure copier
	if err != nil {
		return err
	}
	top1, err := circuits.Top1Diagonal(ctx, ov) // fraction of tokens that boost themselves most
	// endregion
	if err != nil {
		return err
	}
	r.Code("fullov")
	prevOV, err := w.FullOV(0, prev)
	if err != nil {
		return err
	}
	prevTop1 := rep.FullOVTop1[0][prev]
	r.BeginRow()
	for _, x := range []struct {
		m       [][]float64
		title   string
		caption string
	}{
		{rows(dense), circuits.HeadLabel(1, ind) + " full OV", fmt.Sprintf("The induction head's full OV circuit: a strong "+
			"positive diagonal — attending to token t raises the logit of t most for %.0f%% of tokens. It copies.", 100*top1)},
		{rows(prevOV.Dense()), circuits.HeadLabel(0, prev) + " full OV", fmt.Sprintf("The previous-token head's, on its own "+
			"colour scale: a faint diagonal (top-1 for %.0f%% of tokens) in entries several times smaller. What it moves "+
			"is meant for the next layer's keys more than for the logits.", 100*prevTop1)},
	} {
		fig, err := figures.Heatmap(figures.HeatmapSpec{
			Title: x.title, XLabel: "logit of token", YLabel: "attended token", Values: x.m,
			ColorMap: figures.Diverging, ColorBarLabel: "logit change",
		})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 560, 520, x.caption)
	}
	r.EndRow()

	r.Subsection("Copying scores from the eigenvalues")
	r.P("If M maps a token to itself, its eigenvalues are positive. Elhage et al.'s summary is the **eigenvalue "+
		"positivity** Σλ/Σ|λ| ∈ [−1, 1]: 1 for a pure copier, −1 for an anti-copier, near 0 for a head whose output is "+
		"unrelated to its input. Only d_head = %d eigenvalues are non-zero; `EigenPositivity` gets them from the small "+
		"d_head × d_head matrix `(W_O·W_U)·(W_E·W_V)`. Beside it, the **top-1 diagonal**: the fraction of tokens whose own "+
		"logit is the one the head raises most.", c.DHead)
	labels := circuits.HeadLabels(w.Dims())
	fig, err := figures.Bars(figures.BarsSpec{
		Title: "OV copying scores per head", YLabel: "score", Categories: labels,
		Groups: []figures.BarGroup{
			{Name: "eigenvalue positivity", Values: flat(rep.OVEigenPositivity)},
			{Name: "top-1 diagonal", Values: flat(rep.FullOVTop1)},
		},
		YRange: figures.Range{Min: math.Min(0, slices.Min(flat(rep.OVEigenPositivity))), Max: 1.25}, // room for the legend
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 900, 340, "Eigenvalue positivity and top-1 diagonal accuracy of every head's full OV circuit (from `circuits.Analyze`).")
	eig, err := ov.Eigenvalues()
	if err != nil {
		return err
	}
	peig, err := prevOV.Eigenvalues()
	if err != nil {
		return err
	}
	fig, err = figures.Scatter(figures.ScatterSpec{
		Title: "Eigenvalues of the full OV circuits", XLabel: "real part", YLabel: "imaginary part", EqualAxes: true,
		Sets: []figures.PointSet{
			{Name: circuits.HeadLabel(1, ind) + " (induction)", X: reals(eig), Y: imags(eig), Glyph: figures.Ring},
			{Name: circuits.HeadLabel(0, prev) + " (previous-token)", X: reals(peig), Y: imags(peig), Glyph: figures.Cross},
		},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 640, 460, "The non-zero eigenvalues in the complex plane.")
	r.Headline("ind_ov_positivity", "OV eigen-positivity of "+circuits.HeadLabel(1, ind), positivity, "%.3f")
	r.Headline("ind_ov_top1", "OV top-1 diagonal of "+circuits.HeadLabel(1, ind), top1, "%.3f")
	r.Headline("prev_ov_positivity", "OV eigen-positivity of "+circuits.HeadLabel(0, prev), rep.OVEigenPositivity[0][prev], "%.3f")
	r.Result("ov_eigen_positivity", rep.OVEigenPositivity)
	r.Result("full_ov_top1", rep.FullOVTop1)
	r.P("The induction head %s has eigenvalue positivity **%.3f** and maps %.0f%% of tokens to themselves; the "+
		"previous-token head %s has positivity %.3f and top-1 diagonal %.3f.", circuits.HeadLabel(1, ind), positivity,
		100*top1, circuits.HeadLabel(0, prev), rep.OVEigenPositivity[0][prev], rep.FullOVTop1[0][prev])
	r.Claim("ind_ov_copies", positivity > 0.5 && top1 > 0.5,
		fmt.Sprintf("eigenvalue positivity %.3f > 0.5 and top-1 diagonal %.3f > 0.5", positivity, top1),
		"The induction head's full OV circuit **copies**: most of its eigenvalue mass lies on the positive real side, "+
			"and it raises most tokens' own logit above every other.")
	return nil
}

// posQKSection shows the previous-token head's positional QK circuit.
func posQKSection(r *report.Report, w *circuits.Weights, prev int, prevScore float64, c transformer.Config) error {
	r.Section("The positional QK circuit of the previous-token head")
	r.P("Replacing the token embedding by the positional one gives the positional QK circuit `W_pos·QK·W_posᵀ` " +
		"[n_ctx, n_ctx]: entry (i, j) is how much a query at position i likes a key at position j, from positions alone. " +
		"Softmax is invariant to adding a constant per row, so we centre each row over the positions a query can see " +
		"(j ≤ i) and grey out the rest:")
	// region: posqk
	pos, err := w.PosQK(0, prev) // [n_ctx, n_ctx], factored through d_head
	if err != nil {
		return err
	}
	P := rows(pos.Dense())
	hits := 0 // queries whose favourite visible key is the previous position
	for i := 1; i < c.NCtx; i++ {
		if slices.Index(P[i][:i+1], slices.Max(P[i][:i+1])) == i-1 {
			hits++
		}
	}
	// endregion
	r.Code("posqk")
	mask := make([][]bool, c.NCtx)
	vals := make([][]float64, c.NCtx)
	for i := range P {
		mask[i] = make([]bool, c.NCtx)
		vals[i] = make([]float64, c.NCtx)
		var mean float64
		for j := 0; j <= i; j++ {
			mean += P[i][j]
		}
		mean /= float64(i + 1)
		for j := range P[i] {
			mask[i][j] = j > i
			vals[i][j] = P[i][j] - mean
		}
	}
	pl := make([]string, c.NCtx)
	for i := range pl {
		pl[i] = strconv.Itoa(i)
	}
	fig, err := figures.Heatmap(figures.HeatmapSpec{
		Title: circuits.HeadLabel(0, prev) + " positional QK (row-centred)", XLabel: "key position", YLabel: "query position",
		Values: vals, RowLabels: pl, ColLabels: pl, Mask: mask, ColorMap: figures.Diverging, ColorBarLabel: "score − row mean",
	})
	if err != nil {
		return err
	}
	// The attention these scores alone would give: softmax over visible keys of score/√d_head.
	implied := make([][]float64, c.NCtx)
	var onPrev float64
	for i := range P {
		implied[i] = make([]float64, c.NCtx)
		top := slices.Max(P[i][:i+1])
		var z float64
		for j := 0; j <= i; j++ {
			implied[i][j] = math.Exp((P[i][j] - top) / math.Sqrt(float64(c.DHead)))
			z += implied[i][j]
		}
		for j := 0; j <= i; j++ {
			implied[i][j] /= z
		}
		if i > 0 {
			onPrev += implied[i][i-1] / float64(c.NCtx-1)
		}
	}
	r.BeginRow()
	r.FigureAt(fig, 760, 730, "The previous-token head's positional QK circuit, each row centred over the keys it can see.")
	fig, err = figures.AttentionPattern(circuits.HeadLabel(0, prev)+" attention from positions alone", implied, pl)
	if err != nil {
		return err
	}
	r.FigureAt(fig, 760, 730, "The attention pattern those scores alone would produce: softmax over the visible keys of score/√d_head.")
	r.EndRow()
	frac := float64(hits) / float64(c.NCtx-1)
	r.Headline("posqk_prev_frac", "queries preferring i−1 (positional QK)", frac, "%.3f")
	r.Headline("posqk_prev_attn", "positional-only attention on i−1", onPrev, "%.3f")
	r.P("For **%d of %d** query positions (%.0f%%) the largest positional score among the visible keys is the previous "+
		"position, and positions alone would put %.0f%% of the attention on i−1 on average. The rest of the head's "+
		"previous-token behaviour (its measured score is %.2f) comes from the terms this picture leaves out: token–position "+
		"cross terms of `(W_E + W_pos)·QK·(W_E + W_pos)ᵀ`. Reading a circuit off the weights is exact for what it "+
		"includes and silent about the rest.", hits, c.NCtx-1, 100*frac, 100*onPrev, prevScore)
	r.Claim("posqk_most_prev", frac > 0.5, fmt.Sprintf("%d of %d queries", hits, c.NCtx-1),
		"By position alone, most queries of the previous-token head prefer the position just before them.")
	r.Claim("posqk_incomplete", onPrev < prevScore,
		fmt.Sprintf("positional-only attention on i−1 %.3f < measured previous-token score %.2f", onPrev, prevScore),
		"The positional circuit alone explains only part of the head's previous-token attention.")
	favourite := func(i int) int { return slices.Index(P[i][:i+1], slices.Max(P[i][:i+1])) }
	lastHit := 0 // the last query that prefers its predecessor
	for i := 1; i < c.NCtx; i++ {
		if favourite(i) == i-1 {
			lastHit = i
		}
	}
	if lastHit > 0 && lastHit < c.NCtx-1 {
		later := make(map[int]int) // favourite key of the queries after lastHit
		for i := lastHit + 1; i < c.NCtx; i++ {
			later[favourite(i)]++
		}
		fav, n := 0, 0
		for k, v := range later {
			if v > n || v == n && k < fav {
				fav, n = k, v
			}
		}
		r.P("The picture has a seam: no query after position **%d** prefers its predecessor, and %d of those %d later "+
			"queries prefer position %d instead.", lastHit, n, c.NCtx-1-lastHit, fav)
		secondCopy := c.NCtx - induction.Default().MinRepeat // every training sequence's second copy covers these
		r.Claim("posqk_seam_in_copy", lastHit+1 >= secondCopy,
			fmt.Sprintf("first query past the seam %d ≥ %d, where the shortest second copy starts", lastHit+1, secondCopy),
			"Positions that late are always inside the second copy of the training sequences.")
		r.Result("posqk_last_prev_query", lastHit)
	}
	return nil
}

// compositionSection compares Q, K and V composition with the baseline.
func compositionSection(ctx context.Context, r *report.Report, w *circuits.Weights, c transformer.Config, o report.Options, prev, ind int) error {
	r.Section("Q, K and V composition against the baseline")
	r.P("A layer-1 head can read a layer-0 head's output through its queries (Q-composition), keys (K-composition) or " +
		"values (V-composition). Each score is a ratio of Frobenius norms, ‖OV₀·M‖/(‖OV₀‖‖M‖) with M = QK₁, QK₁ᵀ or " +
		"OV₁, and two random matrices already score about 1/√d_model — so we also sample the score of random heads of " +
		"the model's shapes:")
	samples := 200
	if o.Quick {
		samples = 40
	}
	// region: composition
	comp, err := w.CompositionScores(ctx) // Q, K, V: [l1][h1][l2][h2]
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	base, err := circuits.RandomBaseline(rng, c.DModel, c.DHead, samples)
	if err != nil {
		return err
	}
	rel := comp.Relative(base.Analytic) // every score ÷ 1/√d_model
	// endregion
	r.Code("composition")
	_, H := w.Dims()
	rl, cl := make([]string, H), make([]string, H)
	for i := range H {
		rl[i], cl[i] = circuits.HeadLabel(0, i), circuits.HeadLabel(1, i)
	}
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	for _, g := range [][][][][]float64{rel.Q, rel.K, rel.V} {
		for h0 := range H {
			for h1 := range H {
				lo, hi = math.Min(lo, g[0][h0][1][h1]), math.Max(hi, g[0][h0][1][h1])
			}
		}
	}
	r.BeginRow()
	for _, x := range []struct {
		mode string
		g    [][][][]float64
	}{{"Q", rel.Q}, {"K", rel.K}, {"V", rel.V}} {
		vals, text := make([][]float64, H), make([][]string, H)
		for h0 := range H {
			vals[h0], text[h0] = make([]float64, H), make([]string, H)
			for h1 := range H {
				vals[h0][h1] = x.g[0][h0][1][h1]
				text[h0][h1] = fmt.Sprintf("%.2f", vals[h0][h1])
			}
		}
		fig, err := figures.Heatmap(figures.HeatmapSpec{
			Title: x.mode + "-composition ÷ baseline", XLabel: "reader (L1)", YLabel: "writer (L0)",
			Values: vals, RowLabels: rl, ColLabels: cl, CellText: text, Range: figures.Range{Min: lo, Max: hi},
			NoColorBar: x.mode != "V", ColorBarLabel: "× baseline",
		})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 380, 340, x.mode+"-composition, as a multiple of 1/√d_model (one colour scale for all three).")
	}
	r.EndRow()
	k, q, v := rel.K[0][prev][1][ind], rel.Q[0][prev][1][ind], rel.V[0][prev][1][ind]
	r.Table(fmt.Sprintf("%s → %s against the baselines.", circuits.HeadLabel(0, prev), circuits.HeadLabel(1, ind)),
		[]string{"", "score", "÷ analytic baseline"},
		[][]string{
			{"Q-composition", fmt.Sprintf("%.4f", comp.Q[0][prev][1][ind]), fmt.Sprintf("%.2f×", q)},
			{"K-composition", fmt.Sprintf("%.4f", comp.K[0][prev][1][ind]), fmt.Sprintf("%.2f×", k)},
			{"V-composition", fmt.Sprintf("%.4f", comp.V[0][prev][1][ind]), fmt.Sprintf("%.2f×", v)},
			{"analytic baseline 1/√d_model", fmt.Sprintf("%.4f", base.Analytic), "1.00×"},
			{fmt.Sprintf("sampled baseline (mean ± sd of %d random pairs)", samples), fmt.Sprintf("%.4f ± %.4f", base.Mean, base.Std), fmt.Sprintf("%.2f×", base.Mean/base.Analytic)},
		})
	r.Headline("k_relative", "K-comp ÷ baseline ("+circuits.HeadLabel(0, prev)+"→"+circuits.HeadLabel(1, ind)+")", k, "%.2f×")
	r.Headline("q_relative", "Q-comp ÷ baseline", q, "%.2f×")
	r.Headline("v_relative", "V-comp ÷ baseline", v, "%.2f×")
	r.Result("baseline_analytic", base.Analytic)
	r.Result("baseline_sampled_mean", base.Mean)
	r.Result("baseline_sampled_std", base.Std)
	zk := (comp.K[0][prev][1][ind] - base.Mean) / base.Std
	r.Result("k_z_score", zk)
	r.P("The induction head reads the previous-token head through its keys at **%.2f×** the baseline — %.1f standard "+
		"deviations above the random pairs — against %.2f× through its queries and %.2f× through its values. Scores "+
		"*below* the baseline are information too: the layer-0 output is kept out of the subspaces the layer-1 queries "+
		"and values read.", k, zk, q, v)
	r.Claim("k_composition_dominates", k > 2*q && k > 2*v && zk > 3,
		fmt.Sprintf("K %.2f×, Q %.2f×, V %.2f× the baseline; K %.1f sd above the random pairs", k, q, v, zk),
		"The induction head composes with the previous-token head through its **keys** far more than through its "+
			"queries or values (more than twice either, and more than 3 sd above random pairs).")
	r.Claim("qv_below_baseline", q < 1 && v < 1, fmt.Sprintf("Q %.2f×, V %.2f×", q, v),
		"Q- and V-composition fall *below* the baseline: the layer-0 output is kept out of the subspaces the layer-1 "+
			"queries and values read, so that what a position says about its predecessor reaches only the keys.")
	return nil
}

// virtualSection measures the copying of composed OV circuits.
func virtualSection(ctx context.Context, r *report.Report, w *circuits.Weights, o report.Options, prev, ind int) error {
	r.Section("Virtual heads")
	r.P("When a layer-1 head attends to a position, its values read the residual stream there — including what the " +
		"layer-0 heads wrote. The path token → L0 head → L1 head → logits behaves like a **virtual head** whose OV " +
		"circuit is the product `OV₀·OV₁` (row vectors: first the layer-0 head's map, then the layer-1 head's), with full " +
		"OV circuit `W_E·OV₀·OV₁·W_U`. Its copying score says whether that path copies tokens end to end:")
	_, H := w.Dims()
	// region: virtual
	virtual := func(h0, h1 int) (*circuits.FactoredMatrix, error) {
		ov0, err := w.OV(0, h0) // [d_model, d_model], factored through d_head
		if err != nil {
			return nil, err
		}
		ov1, err := w.OV(1, h1)
		if err != nil {
			return nil, err
		}
		v, err := ov0.MulFactored(ov1) // OV₀·OV₁, still rank ≤ d_head
		if err != nil {
			return nil, err
		}
		if v, err = v.MulLeft(w.WE); err != nil { // W_E·OV₀·OV₁
			return nil, err
		}
		return v.MulRight(w.WU) // W_E·OV₀·OV₁·W_U [d_vocab, d_vocab]
	}
	// endregion
	r.Code("virtual")
	pos, top, norm := make([][]float64, H), make([][]float64, H), make([][]float64, H)
	text := make([][]string, H)
	for h0 := range H {
		pos[h0], top[h0], norm[h0], text[h0] = make([]float64, H), make([]float64, H), make([]float64, H), make([]string, H)
		for h1 := range H {
			v, err := virtual(h0, h1)
			if err != nil {
				return err
			}
			norm[h0][h1] = v.Norm()
			if pos[h0][h1], err = circuits.EigenPositivity(v); err != nil {
				return err
			}
			if top[h0][h1], err = circuits.Top1Diagonal(ctx, v); err != nil {
				return err
			}
			text[h0][h1] = fmt.Sprintf("%.2f", pos[h0][h1])
		}
	}
	rl, cl := make([]string, H), make([]string, H)
	for i := range H {
		rl[i], cl[i] = circuits.HeadLabel(0, i), circuits.HeadLabel(1, i)
	}
	fig, err := figures.Heatmap(figures.HeatmapSpec{
		Title: "Virtual-head OV eigen-positivity", XLabel: "second head (L1)", YLabel: "first head (L0)",
		Values: pos, RowLabels: rl, ColLabels: cl, CellText: text, ColorMap: figures.Diverging,
		Range: figures.Range{Min: -1, Max: 1}, ColorBarLabel: "Σλ/Σ|λ|",
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 520, 420, "Eigenvalue positivity of every virtual head L0 → L1.")
	vp := pos[prev][ind]
	r.Headline("virtual_positivity", "virtual "+circuits.HeadLabel(0, prev)+"→"+circuits.HeadLabel(1, ind)+" OV positivity", vp, "%.3f")
	r.Result("virtual_top1", top[prev][ind])
	r.Result("virtual_positivity_grid", pos)
	indOV, err := w.FullOV(1, ind)
	if err != nil {
		return err
	}
	indPos, err := circuits.EigenPositivity(indOV)
	if err != nil {
		return err
	}
	var tab [][]string
	for h0 := range H {
		tab = append(tab, []string{circuits.HeadLabel(0, h0) + " → " + circuits.HeadLabel(1, ind),
			fmt.Sprintf("%.3f", pos[h0][ind]), fmt.Sprintf("%.3f", top[h0][ind]), fmt.Sprintf("%.3f", norm[h0][ind]/indOV.Norm())})
	}
	tab = append(tab, []string{circuits.HeadLabel(1, ind) + " alone", fmt.Sprintf("%.3f", indPos), fmt.Sprintf("%.3f", mustTop1(ctx, indOV)), "1.000"})
	r.Table("Virtual heads into the induction head. The last column compares the size of the virtual full OV circuit with the "+
		"induction head's own (Frobenius norms), since eigenvalue positivity ignores scale.",
		[]string{"path", "eigen-positivity", "top-1 diagonal", "‖virtual‖ ÷ ‖direct‖"}, tab)
	r.P("The virtual head %s → %s has eigenvalue positivity **%.3f** and is %.0f%% the size of the induction head's "+
		"direct OV circuit. What would such a path do? The induction head attends to the token *after* an earlier "+
		"occurrence of the current token, and there the previous-token head has written the occurrence itself — the "+
		"current token. A copying virtual head would raise the current token's logit, which is never the answer here (the "+
		"repeated block has distinct tokens). A virtual head exists in the weights whether or not the model's attention "+
		"ever routes through it; whether it matters is a question for patching (notebook 04), not for the weights alone.",
		circuits.HeadLabel(0, prev), circuits.HeadLabel(1, ind), vp, 100*norm[prev][ind]/indOV.Norm())
	r.Result("virtual_norm_ratio", norm[prev][ind]/indOV.Norm())
	return nil
}

// mustTop1 is Top1Diagonal for a square circuit, NaN on error.
func mustTop1(ctx context.Context, m *circuits.FactoredMatrix) float64 {
	v, err := circuits.Top1Diagonal(ctx, m)
	if err != nil {
		return math.NaN()
	}
	return v
}

func reals(z []complex128) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = real(v)
	}
	return out
}

func imags(z []complex128) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = imag(v)
	}
	return out
}
