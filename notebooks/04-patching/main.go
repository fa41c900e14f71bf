// Command 04-patching is the notebook "Patching": activation, attribution
// and path patching on the toy induction model, and where attribution
// patching agrees with exact patching and where it does not. Run it as
//
//	go run ./notebooks/04-patching [-out DIR] [-quick] [-seed N]
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
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/transformer"
)

//go:embed main.go
var source []byte

const name = "04-patching"

// R is the length of the repeated block: sequences are [A, A] with |A| = R.
const R = 20

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Patching: activation, attribution, path", source, o)
	r.P("Lenses and circuits are observational. **Patching** is interventional: run the model on a *corrupted* input, " +
		"write one activation from the *clean* run into it, and see how much of the clean behaviour comes back " +
		"(\"denoising\", Heimersheim & Nanda 2024). A site that restores the behaviour carries information the corruption " +
		"destroyed. Done exactly, that costs one forward pass per site; **attribution patching** estimates every site at " +
		"once from one gradient; **path patching** restricts the patch to one path between two heads. All three, on the " +
		"toy induction model, with two corruptions chosen to separate the previous-token head from the induction heads.")

	m, _, err := report.DemoModel()
	if err != nil {
		return err
	}
	B := 32
	if o.Quick {
		B = 4
	}
	T := 2 * R
	// region: data
	rng := rand.New(rand.NewPCG(o.Seed, 4))
	clean := make([][]int, B)         // [A, A]: 20 distinct random tokens, repeated
	scrambled := make([][]int, B)     // [A, π(A)]: the second copy shuffled
	prevCorrupted := make([][]int, B) // [A', A]: A's even positions replaced by tokens not in A
	for b := range clean {
		perm := rng.Perm(m.Cfg.DVocab)
		clean[b] = append(slices.Clone(perm[:R]), perm[:R]...)
		scrambled[b] = slices.Clone(clean[b])
		rng.Shuffle(R, func(i, j int) { scrambled[b][R+i], scrambled[b][R+j] = scrambled[b][R+j], scrambled[b][R+i] })
		prevCorrupted[b] = slices.Clone(clean[b])
		for p := 0; p < R; p += 2 {
			prevCorrupted[b][p] = perm[R+p/2]
		}
	}
	// endregion
	r.Section("Two corruptions")
	r.P("Clean inputs are %d sequences of %d distinct random tokens repeated once. The metric is the loss of predicting "+
		"the repeated half; patching results are normalised so that **1 = the clean loss restored, 0 = no effect**. The "+
		"corruptions follow the patching package's induction test:", B, R)
	r.List(
		"**Second block scrambled**, [A, π(A)]: the tokens of the second copy are shuffled, so every induction *query* "+
			"(\"which token am I?\") points at the wrong earlier position.",
		"**Previous tokens corrupted**, [A′, A]: the tokens at even positions of the first copy are replaced by unseen "+
			"ones. The queries and the tokens to copy (odd positions) are intact; only the keys' \"my previous token was X\" "+
			"is wrong, at the odd positions whose predecessor changed. We score the loss at the positions that rely on those keys.",
	)
	r.Code("data")

	// Name the heads from the clean run's attention.
	prev, inds, err := nameHeads(ctx, m, clean)
	if err != nil {
		return err
	}
	ind := inds[0]
	r.P("From the clean run's attention: the previous-token head is **%s**; the induction heads, strongest first, are %s.",
		circuits.HeadLabel(0, prev), labels(1, inds))
	r.Result("prev_token_head", circuits.HeadLabel(0, prev))
	r.Result("induction_head", circuits.HeadLabel(1, ind))

	// region: experiments
	scramble, err := patching.New(ctx, m, clean, scrambled, patching.Loss{Targets: patching.NextTokenTargets(clean, R)})
	if err != nil {
		return err
	}
	targets := patching.NextTokenTargets(clean, R)
	for b := range targets { // keep the even positions of the second copy: their key's predecessor was corrupted
		for p := R + 1; p < T; p += 2 {
			targets[b][p] = -1
		}
	}
	prevExp, err := patching.New(ctx, m, clean, prevCorrupted, patching.Loss{Targets: targets})
	// endregion
	if err != nil {
		return err
	}
	r.Code("experiments")
	r.Table("The metric on each experiment's clean and corrupted runs (mean loss over the scored positions, nats).",
		[]string{"experiment", "clean", "corrupted"},
		[][]string{
			{"second block scrambled", fmt.Sprintf("%.4f", scramble.Clean()), fmt.Sprintf("%.3f", scramble.Corrupted())},
			{"previous tokens corrupted", fmt.Sprintf("%.4f", prevExp.Clean()), fmt.Sprintf("%.3f", prevExp.Corrupted())},
		})

	if err := activationSection(ctx, r, m, scramble, prevExp, prev, ind); err != nil {
		return err
	}
	if err := attributionSection(ctx, r, scramble, prevExp); err != nil {
		return err
	}
	if err := pathSection(ctx, r, m, prevExp, prev, inds); err != nil {
		return err
	}
	r.Section("What to take away")
	r.Takeaways(
		report.Takeaway{Text: "Activation patching localises: with the queries corrupted, the layer-1 induction head restores the loss and layer 0 does not; with the keys' previous-token information corrupted, the layer-0 previous-token head does.",
			Claims: []string{"scramble_needs_layer1", "prev_needs_prevhead"}},
		report.Takeaway{Text: "Attribution patching estimates a whole sweep from one gradient. Use it to rank sites, and check the sizes that matter with exact patching."},
		report.Takeaway{Text: "Path patching separates the routes: the previous-token head acts on the induction head mainly through its keys — K-composition, measured causally.",
			Claims: []string{"key_path_dominates"}},
	)
	return r.Write()
}

// nameHeads returns the layer-0 head attending most to the previous token
// and the layer-1 heads ordered by attention to the induction target, on
// the clean run.
func nameHeads(ctx context.Context, m *transformer.Model, clean [][]int) (prev int, inds []int, err error) {
	set, cache := hooks.Capture(hooks.Names(hooks.Pattern(0), hooks.Pattern(1)))
	if _, err := m.Run(ctx, clean, set); err != nil {
		return 0, nil, err
	}
	H, T := m.Cfg.NHeads, len(clean[0])
	score := func(l, h, offset, from int) float64 {
		p, _ := cache.Get(hooks.Pattern(l)) // [batch, head, query_pos, key_pos]
		var s float64
		for b := range clean {
			for q := from; q < T; q++ {
				s += float64(p.Data[((b*H+h)*T+q)*T+q-offset])
			}
		}
		return s / float64(len(clean)*(T-from))
	}
	prevScore, indScore := make([]float64, H), make([]float64, H)
	for h := range H {
		prevScore[h], indScore[h] = score(0, h, 1, 1), score(1, h, R-1, R)
		inds = append(inds, h)
	}
	slices.SortFunc(inds, func(a, b int) int { return -cmpFloat(indScore[a], indScore[b]) })
	return argmax(prevScore), inds, nil
}

func activationSection(ctx context.Context, r *report.Report, m *transformer.Model, scramble, prevExp *patching.Experiment, prev, ind int) error {
	r.Section("Activation patching")
	r.P("`Experiment.Sweep` patches every site of one kind in turn. First the residual stream entering each layer, " +
		"one position at a time, with the previous tokens corrupted:")
	// region: sweep
	resid, err := prevExp.Sweep(ctx, patching.ResidPre, patching.Options{ByPos: true}) // [layer, pos]
	if err != nil {
		return err
	}
	resid, err = resid.Normalize() // 1 = clean loss restored, 0 = corrupted
	// endregion
	if err != nil {
		return err
	}
	r.Code("sweep")
	if err := gridHeatmap(r, resid, "resid_pre patched per layer × position (previous tokens corrupted)", 1000, 220,
		"Patching the residual stream entering a layer at one position. Entering layer 0 the residual is just the token "+
			"(and position), so only the corrupted even positions of the first copy can matter. Entering layer 1, the "+
			"previous-token heads have moved that information one position to the right, onto the odd positions."); err != nil {
		return err
	}
	even0, odd1 := parityMass(resid, 0, 0), parityMass(resid, 1, 1)
	r.Result("resid_l0_even", even0)
	r.Result("resid_l1_odd", odd1)
	r.Claim("resid_moves_one_position", even0 > 0.5 && odd1 > 0.5,
		fmt.Sprintf("layer 0's input at the even positions restores %.3f, layer 1's input at the odd positions %.3f", even0, odd1),
		"Summed over the first copy, patching layer 0's input at the even positions and layer 1's input at the odd positions "+
			"each restore most of the loss: the same information, one position later, after one layer of attention.")
	r.P("Then each head's output (`hook_z`) at every position at once, for both experiments:")
	var groups []figures.BarGroup
	var heads []string
	got := map[string]*patching.Grid{}
	for _, x := range []struct {
		name string
		e    *patching.Experiment
	}{{"second block scrambled", scramble}, {"previous tokens corrupted", prevExp}} {
		g, err := x.e.Sweep(ctx, patching.HeadOut, patching.Options{})
		if err != nil {
			return err
		}
		if g, err = g.Normalize(); err != nil {
			return err
		}
		groups = append(groups, figures.BarGroup{Name: x.name, Values: g.Values})
		heads = g.Axes[0]
		got[x.name] = g
	}
	fig, err := figures.Bars(figures.BarsSpec{
		Title: "head_out patched (all positions)", YLabel: "restored (normalised)", Categories: heads, Groups: groups,
		YRange: figures.Range{Min: math.Min(0, minOf(groups)), Max: 1.25},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 900, 340, "Restoration by each head's clean output, for both corruptions.")
	H := m.Cfg.NHeads
	sg, pg := got["second block scrambled"], got["previous tokens corrupted"]
	allL0 := make([]patching.Site, H)
	for h := range H {
		allL0[h] = patching.Site{Kind: patching.HeadOut, Layer: 0, Head: h}
	}
	all0s, err := normalized(ctx, scramble, allL0...)
	if err != nil {
		return err
	}
	all0p, err := normalized(ctx, prevExp, allL0...)
	if err != nil {
		return err
	}
	r.Headline("scramble_l0_all", "scrambled: all L0 heads restore", all0s, "%.3f")
	r.Headline("scramble_ind", "scrambled: "+circuits.HeadLabel(1, ind)+" restores", sg.At(H+ind), "%.3f")
	r.Headline("prev_prevhead", "prev-corrupted: "+circuits.HeadLabel(0, prev)+" restores", pg.At(prev), "%.3f")
	r.Headline("prev_l0_all", "prev-corrupted: all L0 heads restore", all0p, "%.3f")
	r.Result("scramble_head_out", sg.Values)
	r.Result("prev_head_out", pg.Values)
	r.Claim("scramble_needs_layer1", math.Abs(all0s) < 0.1 && sg.At(H+ind) > 0.3,
		fmt.Sprintf("second block scrambled: all layer-0 heads restore %.3f, the induction head %s alone %.3f", all0s, circuits.HeadLabel(1, ind), sg.At(H+ind)),
		"With the second block scrambled, all layer-0 heads patched together restore next to nothing (under 0.1 of the loss), "+
			"since the queries are still wrong, while the induction head alone restores a large part (over 0.3).")
	r.Claim("prev_needs_prevhead", pg.At(prev) > 0.3 && pg.At(prev) > sg.At(prev),
		fmt.Sprintf("previous tokens corrupted: the previous-token head %s restores %.3f (scrambled: %.3f), all layer-0 heads %.3f",
			circuits.HeadLabel(0, prev), pg.At(prev), sg.At(prev), all0p),
		"With the previous tokens corrupted it is the other way round: the previous-token head alone restores a large part.")

	r.Subsection("By position")
	hp, err := prevExp.Sweep(ctx, patching.HeadOut, patching.Options{ByPos: true})
	if err != nil {
		return err
	}
	if hp, err = hp.Normalize(); err != nil {
		return err
	}
	return gridHeatmap(r, hp, "head_out patched per head × position (previous tokens corrupted)", 1000, 340,
		"Where in the sequence each head's clean output matters (previous tokens corrupted).")
}

func attributionSection(ctx context.Context, r *report.Report, scramble, prevExp *patching.Experiment) error {
	r.Section("Attribution patching against exact patching")
	r.P("Attribution patching replaces each patched run by a first-order Taylor estimate: the metric's gradient at the " +
		"corrupted run times (clean − corrupted activation), summed over the site. One forward and one backward pass give " +
		"every site at once. `Compare` reports how well it agrees with the exact sweep: the Pearson correlation of the " +
		"effects, the overlap of the top-k sites, and the largest error:")
	// region: attribution
	compare := func(e *patching.Experiment, kind patching.Kind) (exact, attr *patching.Grid, ag patching.Agreement, err error) {
		if exact, err = e.Sweep(ctx, kind, patching.Options{ByPos: true}); err != nil {
			return
		}
		if attr, err = e.Attribute(ctx, kind, patching.Options{ByPos: true}); err != nil {
			return
		}
		ag, err = patching.Compare(exact, attr, 10)
		return
	}
	// endregion
	r.Code("attribution")
	var tab [][]string
	type pair struct{ exact, attr *patching.Grid }
	pairs := map[string]pair{}
	for _, x := range []struct {
		name string
		e    *patching.Experiment
	}{{"scrambled", scramble}, {"prev-corrupted", prevExp}} {
		for _, kind := range []patching.Kind{patching.ResidPre, patching.AttnOut, patching.HeadOut, patching.Q, patching.K, patching.V, patching.Pattern} {
			exact, attr, ag, err := compare(x.e, kind)
			if err != nil {
				return err
			}
			span := x.e.Clean() - x.e.Corrupted()
			tab = append(tab, []string{x.name, string(kind), strconv.Itoa(len(exact.Values)), fmt.Sprintf("%.3f", ag.Pearson),
				fmt.Sprintf("%.2f", ag.TopKOverlap), fmt.Sprintf("%.3f", math.Abs(ag.MaxAbsError/span))})
			pairs[x.name+"/"+string(kind)] = pair{exact, attr}
			r.Result("pearson_"+x.name+"_"+string(kind), ag.Pearson)
		}
	}
	r.Table("Attribution vs exact patching, every site by position. Max error is in units of the clean − corrupted gap.",
		[]string{"experiment", "kind", "sites", "Pearson", "top-10 overlap", "max |error|"}, tab)
	ps, pp := pairs["scrambled/head_out"], pairs["prev-corrupted/head_out"]
	agS, _ := patching.Compare(ps.exact, ps.attr, 10)
	agP, _ := patching.Compare(pp.exact, pp.attr, 10)
	r.Headline("attr_pearson_prev_head_out", "attribution ≈ exact, prev-corrupted head_out (Pearson)", agP.Pearson, "%.3f")
	r.Headline("attr_pearson_scramble_head_out", "attribution ≈ exact, scrambled head_out (Pearson)", agS.Pearson, "%.3f")
	// The worst agreement by correlation and by size of error.
	worstR, worstE := "", ""
	wr, we := math.Inf(1), math.Inf(-1)
	for k, p := range pairs {
		ag, _ := patching.Compare(p.exact, p.attr, 10)
		if !math.IsNaN(ag.Pearson) && ag.Pearson < wr {
			worstR, wr = k, ag.Pearson
		}
		if e := math.Abs(ag.MaxAbsError / (p.exact.Clean - p.exact.Corrupted)); e > we {
			worstE, we = k, e
		}
	}
	biggest := func(k string) float64 { return maxAbs(normalizedEffects(pairs[k].exact)) }
	r.Result("attr_worst_pearson_site", worstR)
	r.Result("attr_worst_pearson", wr)
	r.Result("attr_worst_error_site", worstE)
	r.Result("attr_worst_error", we)
	r.BeginRow()
	for _, key := range []string{"prev-corrupted/head_out", worstE} {
		p := pairs[key]
		e, a := normalizedEffects(p.exact), normalizedEffects(p.attr)
		lo := math.Min(slices.Min(e), slices.Min(a))
		hi := math.Max(slices.Max(e), slices.Max(a))
		pad := 0.05 * (hi - lo)
		fig, err := figures.Scatter(figures.ScatterSpec{
			Title: key + ": attribution vs exact", XLabel: "exact (normalised)", YLabel: "attribution (normalised)",
			Sets: []figures.PointSet{
				{Name: "site", X: e, Y: a, Glyph: figures.Dot},
				{Name: "y = x", X: []float64{lo, hi}, Y: []float64{lo, hi}, Glyph: figures.Vector},
			},
			XRange: figures.Range{Min: lo - pad, Max: hi + pad}, YRange: figures.Range{Min: lo - pad, Max: hi + pad},
		})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 520, 460, "Every site by position: exact restoration against the attribution estimate ("+key+").")
	}
	r.EndRow()
	r.Claim("attribution_tracks_heads", agP.Pearson > 0.8 && agS.Pearson > 0.8,
		fmt.Sprintf("Pearson %.3f (previous tokens corrupted), %.3f (second block scrambled)", agP.Pearson, agS.Pearson),
		"On head outputs attribution tracks exact patching (Pearson above 0.8 in both experiments): a head's output enters the "+
			"residual stream additively, and the last layer's outputs reach the logits linearly (this model has no final "+
			"LayerNorm), so the estimate is good wherever the patch changes little downstream.")
	we1, wa1 := worstSite(pairs[worstE].exact, pairs[worstE].attr)
	why := "A single patch there restores information that a later attention softmax acts on — attention moves — and " +
		"the metric responds to that non-linearly, so the slope at the corrupted run is a poor guide to the size of the whole step."
	if we1.lastLayer {
		why = "That site writes straight into the logits, and the loss is a convex function of the logits: from the " +
			"corrupted run a linear estimate always promises at least what a patch delivers (f(x+d) ≥ f(x) + ∇f·d), and " +
			"where the corrupted run is confidently wrong it promises much more. The error is the loss's own curvature, " +
			"not the model's."
	}
	r.P("It is worst in size for **%s**: at its worst site (%s) the patch restores %.3f of the clean − corrupted gap and "+
		"attribution predicts %.3f (right-hand scatter). %s", worstE, we1.label, we1.v, wa1, why)
	r.Claim("worst_correlation_tiny", biggest(worstR) < 0.1,
		fmt.Sprintf("worst by correlation: %s, Pearson %.3f, largest effect %.3f of the gap", worstR, wr, biggest(worstR)),
		"By correlation the worst is another experiment, but there every effect is tiny (under 0.1 of the gap): a low "+
			"correlation among near-zero effects is noise, not a failure that matters.")
	r.Note("Use attribution patching to *rank* sites cheaply at scale, then confirm the few that matter with exact " +
		"patching — as Nanda's original write-up advises. Its sizes are least trustworthy where a patch makes a big " +
		"step: through a saturating loss or a moving attention pattern.")
	return nil
}

func pathSection(ctx context.Context, r *report.Report, m *transformer.Model, prevExp *patching.Experiment, prev int, inds []int) error {
	r.Section("Path patching: key, query or value?")
	r.P("Patching the previous-token head's whole output restores the loss, but its output reaches the layer-1 heads' " +
		"queries, keys and values alike. **Path patching** adds the head's clean − corrupted output only to the input " +
		"that one receiver head computes one of its q, k or v from, freezing everything else at the corrupted run:")
	H := m.Cfg.NHeads
	qs, ks, vs := make([]float64, H), make([]float64, H), make([]float64, H)
	// region: path
	for h := range H {
		for _, x := range []struct {
			in  patching.Kind
			dst *float64
		}{{patching.Q, &qs[h]}, {patching.K, &ks[h]}, {patching.V, &vs[h]}} {
			v, err := prevExp.PathPatch(ctx, patching.Head{Layer: 0, Head: prev}, patching.Head{Layer: 1, Head: h}, x.in)
			if err != nil {
				return err
			}
			if *x.dst, err = patching.Normalize(v, prevExp.Clean(), prevExp.Corrupted()); err != nil {
				return err
			}
		}
	}
	// endregion
	r.Code("path")
	cats := make([]string, H)
	for h := range H {
		cats[h] = circuits.HeadLabel(0, prev) + "→" + circuits.HeadLabel(1, h)
	}
	fig, err := figures.Bars(figures.BarsSpec{
		Title: "Path patching from " + circuits.HeadLabel(0, prev), YLabel: "restored (normalised)", Categories: cats,
		Groups: []figures.BarGroup{{Name: "query", Values: qs}, {Name: "key", Values: ks}, {Name: "value", Values: vs}},
		YRange: figures.Range{Min: math.Min(0, minOf([]figures.BarGroup{{Values: qs}, {Values: vs}, {Values: ks}})), Max: 1.15 * math.Max(slices.Max(ks), 0.1)},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 900, 340, "Loss restored by the previous-token head's path into each layer-1 head's query, key or value.")
	ind := inds[0]
	r.Headline("path_k", "path "+circuits.HeadLabel(0, prev)+"→"+circuits.HeadLabel(1, ind)+" key", ks[ind], "%.3f")
	r.Headline("path_q", "… query", qs[ind], "%.3f")
	r.Headline("path_v", "… value", vs[ind], "%.3f")
	r.Result("path_k_all", ks)
	r.Result("path_q_all", qs)
	r.Result("path_v_all", vs)
	kWins := 0
	for h := range H {
		if ks[h] > math.Max(qs[h], vs[h]) {
			kWins++
		}
	}
	r.Result("path_k_largest_heads", kWins)
	r.P("Into the strongest induction head %s the key path restores **%.3f**, the query path %.3f and the value path "+
		"%.3f; the key path is the largest for %d of %d layer-1 heads. The paths into the individual heads "+
		"need not add up to the whole-output patch, because each leaves the other induction heads corrupted.",
		circuits.HeadLabel(1, ind), ks[ind], qs[ind], vs[ind], kWins, H)
	r.Claim("key_path_dominates", ks[ind] > 2*math.Max(qs[ind], vs[ind]),
		fmt.Sprintf("into %s: key %.3f, query %.3f, value %.3f", circuits.HeadLabel(1, ind), ks[ind], qs[ind], vs[ind]),
		"Into the strongest induction head the key path restores more than twice what the query or value path does: "+
			"K-composition measured causally, the previous-token head's information is used by the induction heads' keys.")
	g, err := prevExp.PathSweep(ctx, patching.Head{Layer: 1, Head: ind}, patching.K, patching.Options{})
	if err != nil {
		return err
	}
	if g, err = g.Normalize(); err != nil {
		return err
	}
	fig, err = figures.Bars(figures.BarsSpec{
		Title: "Every layer-0 head → " + circuits.HeadLabel(1, ind) + " key", YLabel: "restored (normalised)",
		Categories: g.Axes[0], Groups: []figures.BarGroup{{Name: "key path", Values: g.Values}},
		YRange: figures.Range{Min: math.Min(0, slices.Min(g.Values)), Max: 1.3 * math.Max(slices.Max(g.Values), 0.05)},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 600, 300, "`PathSweep`: every layer-0 head's path into the induction head's keys.")
	return nil
}

// gridHeatmap draws a two-axis grid.
func gridHeatmap(r *report.Report, g *patching.Grid, title string, w, h int, caption string) error {
	vals := g.Nested().([][]float64)
	cols := make([]string, len(g.Axes[1]))
	for i, a := range g.Axes[1] {
		cols[i] = a[len("pos "):]
	}
	fig, err := figures.Heatmap(figures.HeatmapSpec{
		Title: title, XLabel: "position", Values: vals, RowLabels: g.Axes[0], ColLabels: cols,
		ColorMap: figures.Diverging, ColorBarLabel: "restored",
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, w, h, caption)
	return nil
}

// normalized patches sites and returns the normalised metric.
func normalized(ctx context.Context, e *patching.Experiment, sites ...patching.Site) (float64, error) {
	v, err := e.Patch(ctx, sites...)
	if err != nil {
		return 0, err
	}
	return patching.Normalize(v, e.Clean(), e.Corrupted())
}

// normalizedEffects returns a grid's effects in units of clean − corrupted.
func normalizedEffects(g *patching.Grid) []float64 {
	e := g.Effects()
	for i := range e {
		e[i] /= g.Clean - g.Corrupted
	}
	return e
}

// maxAbs returns the largest |x|.
func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// parityMass sums a [layer, pos] grid's row l over the first copy's
// positions of the given parity (0 even, 1 odd).
func parityMass(g *patching.Grid, l, parity int) float64 {
	var s float64
	for p := parity; p < R; p += 2 {
		s += g.At(l, p)
	}
	return s
}

type siteValue struct {
	label     string
	v         float64
	lastLayer bool // the site is in the model's last layer
}

// worstSite returns the site where attribution and exact patching differ
// most, with both normalised values.
func worstSite(exact, attr *patching.Grid) (siteValue, float64) {
	e, a := normalizedEffects(exact), normalizedEffects(attr)
	i := 0
	for j := range e {
		if math.Abs(e[j]-a[j]) > math.Abs(e[i]-a[i]) {
			i = j
		}
	}
	last := 0
	for _, st := range exact.Sites {
		last = max(last, st.Layer)
	}
	return siteValue{exact.Sites[i].String(), e[i], exact.Sites[i].Layer == last}, a[i]
}
