// Command 07-optimisers is the notebook "Optimisers": SGD, momentum,
// Nesterov, Adam and AdamW on a pathological valley (Rosenbrock) and an
// ill-conditioned quadratic, with measured convergence rates against theory,
// then on a small real model — an MLP classifying points of a Gaussian
// mixture — with weight decay on weights only (the decay mask) and batch-size
// schedules. Run it as
//
//	go run ./notebooks/07-optimisers [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/optim"
)

var (
	//go:embed main.go
	mainSrc []byte
	//go:embed valley.go
	valleySrc []byte
	//go:embed mlp.go
	mlpSrc []byte
)

const name = "07-optimisers"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// sizes are the run's experiment sizes.
type sizes struct {
	ValleySteps  int       // steps on Rosenbrock
	ValleyLRs    []float64 // the learning-rate grid each optimizer is tuned on
	QuadSteps    int
	Hidden       int // MLP width
	TrainN       int // training points (optimizers, batch schedules)
	SmallN       int // training points of the weight-decay experiment
	MLPSteps     int
	Examples     int // example budget of the batch-size schedules
	Seeds        int // seeds averaged in the weight-decay experiment
	MLPLRs       map[string][]float64
	DecayLambdas []float64 // weight-decay strengths, weakest first
	ShiftCentres float64   // how far the off-centre mixture is moved
}

func config(o report.Options) sizes {
	// region: config
	s := sizes{
		ValleySteps: 2000, ValleyLRs: []float64{1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1},
		QuadSteps: 1000, Hidden: 128, TrainN: 5000, SmallN: 500, MLPSteps: 4000, Examples: 128_000, Seeds: 3,
		MLPLRs: map[string][]float64{
			"SGD": {0.1, 0.3, 1}, "momentum": {0.01, 0.03, 0.1}, "Nesterov": {0.01, 0.03, 0.1}, "Adam": {3e-3, 1e-2, 3e-2},
		},
		DecayLambdas: []float64{0.1, 1}, ShiftCentres: 4,
	}
	if o.Quick {
		s.Hidden, s.TrainN, s.SmallN, s.MLPSteps, s.Examples, s.Seeds = 32, 1000, 300, 600, 16_000, 1
		s.MLPLRs = map[string][]float64{"SGD": {0.3}, "momentum": {0.03}, "Nesterov": {0.03}, "Adam": {1e-2}}
	}
	// endregion
	return s
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Optimisers", slices.Concat(mainSrc, valleySrc, mlpSrc), o)
	s := config(o)
	res := results{r, make(map[string]float64)}
	r.P("Gradient descent follows the steepest slope; the optimisers used in practice add a memory of past gradients " +
		"(**momentum**, **Nesterov**), a per-parameter step size from their running scale (**Adam**), and a pull " +
		"towards zero that is kept apart from the gradient (**AdamW**'s decoupled weight decay). This notebook runs " +
		"Workbench's `optim` package — PyTorch's update rules in float32 — first on valleys small enough to draw, with " +
		"the convergence rates theory predicts, then on a small real model.")
	r.Code("config")
	if err := valley(ctx, r, res, s); err != nil {
		return err
	}
	if err := quadraticRates(r, res, s); err != nil {
		return err
	}
	mix := data.Grid(5, 1, 0.3)
	if err := mlpOptimizers(ctx, r, res, s, o, mix); err != nil {
		return err
	}
	if err := weightDecay(ctx, r, res, s, o, mix); err != nil {
		return err
	}
	if err := batchSchedules(ctx, r, res, s, o, mix); err != nil {
		return err
	}
	r.Section("What to take away")
	r.Takeaways(
		report.Takeaway{Text: "Plain gradient descent is throttled by the sharpest curvature: on a valley with condition number κ it contracts by (κ−1)/(κ+1) per step; momentum improves that to about (√κ−1)/(√κ+1) — as measured here.",
			Claims: []string{"quad_gd_theory", "quad_hb_theory"}},
		report.Takeaway{Text: "Adam's per-coordinate step sizes are a diagonal preconditioner: more help when the valley is aligned with the axes than when it is rotated.",
			Claims: []string{"adam_not_rotation_invariant"}},
		report.Takeaway{Text: "On a real model the ranking is less dramatic than on a drawn valley; tune the learning rate per optimizer before comparing.",
			Claims: []string{"mlp_optimizers_converge"}},
		report.Takeaway{Text: "Weight decay regularises: without it the small training set is memorised. On data that is not centred, decaying the biases too costs held-out loss.",
			Claims: []string{"decay_memorises_without", "decay_biases_cost_uncentred"}},
		report.Takeaway{Text: "Growing the batch does what decaying the learning rate does — lower gradient noise late in training — in fewer, larger steps.",
			Claims: []string{"batch_both_lower_floor", "batch_grow_fewer_steps"}},
	)
	return r.Write()
}

// valleyTol is "the neighbourhood of the minimum" on Rosenbrock, whose
// valley floor is so flat that f = 1e-6 is still ~1e-3 away from (1, 1).
const valleyTol = 1e-2

var valleySpecs = []optimizerSpec{
	sgd("SGD", optim.SGDConfig{}),
	sgd("momentum 0.9", optim.SGDConfig{Momentum: 0.9}),
	sgd("Nesterov 0.9", optim.SGDConfig{Momentum: 0.9, Nesterov: true}),
	adam("Adam", adamDefaults, false),
}

// valley is section 1: Rosenbrock's banana.
func valley(ctx context.Context, r *report.Report, res results, s sizes) error {
	r.Section("A pathological valley")
	x0, y0 := -1.2, 1.0
	r.P("Rosenbrock's function f(x, y) = (1 − x)² + 100(y − x²)² has its minimum 0 at (1, 1), at the end of a long "+
		"curved valley whose walls are a hundred times steeper than its floor. Each optimizer starts at (%.1f, %.0f) "+
		"and takes %d steps, at the learning rate from %s that ends lowest:", x0, y0, s.ValleySteps, fmtLRs(s.ValleyLRs))
	r.Code("descend")
	var sets []figures.PointSet
	var curves []figures.Series
	var rows [][]string
	for _, spec := range valleySpecs {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := tune(rosenbrock, spec, s.ValleyLRs, x0, y0, s.ValleySteps)
		if err != nil {
			return err
		}
		p := t.Path
		xs, ys := thin(p.X, 400), thin(p.Y, 400)
		sets = append(sets, figures.PointSet{Name: spec.Name, X: xs, Y: ys, Glyph: figures.Dot})
		steps := make([]float64, len(p.F))
		for i := range steps {
			steps[i] = float64(i + 1)
		}
		curves = append(curves, figures.Series{Name: spec.Name, X: steps, Y: p.F})
		final := p.final(s.ValleySteps)
		dist := math.Hypot(p.X[len(p.X)-1]-1, p.Y[len(p.Y)-1]-1)
		key := "rosenbrock_" + keyName(spec.Name)
		res.put(key+"_final", final)
		res.put(key+"_distance", dist)
		res.put(key+"_lr", t.LR)
		to := p.stepsTo(1e-6)
		res.put(key+"_steps_to_1e-6", to)
		rows = append(rows, []string{spec.Name, fmt.Sprintf("%g", t.LR), fmt.Sprintf("%.2e", final), fmt.Sprintf("%.2e", dist), stepsText(to)})
	}
	sets = append(sets, figures.PointSet{Name: "start, minimum", X: []float64{x0, 1}, Y: []float64{y0, 1}, Glyph: figures.Cross})
	r.BeginRow()
	fig, err := figures.Scatter(figures.ScatterSpec{Title: "Trajectories on Rosenbrock's valley", XLabel: "x", YLabel: "y",
		Sets: sets, XRange: figures.Range{Min: -1.5, Max: 1.5}, YRange: figures.Range{Min: -0.5, Max: 1.5}})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 440, "Each optimizer's iterates (at most 400 drawn per path). The valley floor is the parabola y = x².")
	fig, err = figures.Curves(figures.CurvesSpec{Title: "f along the way", XLabel: "step", YLabel: "f(x, y)", LogX: true, LogY: true,
		Series: curves, LegendLeft: true, LegendBottom: true})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 440, "The objective against the step, both axes logarithmic.")
	r.EndRow()
	r.Table(fmt.Sprintf("After %d steps: the objective, the distance to (1, 1), and the first step with f ≤ 10⁻⁶.", s.ValleySteps),
		[]string{"optimizer", "best lr", "final f", "distance to minimum", "steps to f ≤ 1e-6"}, rows)
	adamDist := r.Headline("rosenbrock_adam_distance_h", "Adam's distance to Rosenbrock's minimum", res.got("rosenbrock_adam_distance"), "%.1e")
	sgdD, momD, adamD := res.got("rosenbrock_sgd_distance"), res.got("rosenbrock_momentum_0_9_distance"), res.got("rosenbrock_adam_distance")
	r.Claim("rosenbrock_sgd_creeps", sgdD >= 10*adamD && sgdD > valleyTol,
		fmt.Sprintf("distance to (1, 1) after %d steps: plain SGD %.2e, Adam %s", s.ValleySteps, sgdD, adamDist),
		"Plain gradient descent must keep its step below the stability limit set by the steep walls, so it creeps "+
			"along the flat floor and is still far from (1, 1) at the end (more than %g away, and 10× further than Adam).", valleyTol)
	r.Claim("rosenbrock_momentum_adam_arrive", momD <= valleyTol && adamD <= valleyTol,
		fmt.Sprintf("distance to (1, 1): momentum 0.9 %.2e, Adam %.2e", momD, adamD),
		"Momentum accumulates the small, consistent component along the floor and runs down it; Adam divides each "+
			"coordinate's step by its gradient's running scale; both end within %g of the minimum.", valleyTol)
	return nil
}

// quadraticRates is section 2: convergence rates on an ill-conditioned bowl.
func quadraticRates(r *report.Report, res results, s sizes) error {
	r.Section("Convergence rates on an ill-conditioned bowl")
	const kappa = 100.0
	const fFloor = 1e-20 // f ∝ distance²; float32 parameters stall not far below
	sk := math.Sqrt(kappa)
	r.P("On a quadratic bowl f = ½(u² + κv²) with condition number κ = %.0f, theory gives the per-step contraction "+
		"of the distance to the minimum at the best constant hyperparameters: gradient descent with lr = 2/(κ+1) "+
		"contracts by (κ−1)/(κ+1); Polyak's heavy ball — PyTorch's momentum, which is the same recursion — with lr = "+
		"4/(√κ+1)² and momentum ((√κ−1)/(√κ+1))² by (√κ−1)/(√κ+1); Nesterov with lr = 1/κ and momentum "+
		"(√κ−1)/(√κ+1) by at most 1 − 1/√κ. We measure each rate by fitting a line to log f over the steps where "+
		"10⁻¹² ≤ f ≤ 10⁻², once with the valley along the axes and once rotated by 30°.", kappa)
	type method struct {
		name   string
		spec   optimizerSpec
		lr     float64
		theory float64
	}
	methods := []method{
		{"gradient descent", sgd("GD", optim.SGDConfig{}), 2 / (kappa + 1), (kappa - 1) / (kappa + 1)},
		{"heavy ball (momentum)", sgd("HB", optim.SGDConfig{Momentum: math.Pow((sk-1)/(sk+1), 2)}), 4 / math.Pow(sk+1, 2), (sk - 1) / (sk + 1)},
		{"Nesterov", sgd("NAG", optim.SGDConfig{Momentum: (sk - 1) / (sk + 1), Nesterov: true}), 1 / kappa, 1 - 1/sk},
	}
	var rows [][]string
	var curves []figures.Series
	for _, m := range methods {
		row := []string{m.name, fmt.Sprintf("%.4f", m.lr), fmt.Sprintf("%.4f", m.theory)}
		for k, theta := range []float64{0, math.Pi / 6} {
			p, err := descend(quadratic(kappa, theta), m.spec, m.lr, 1, 1, s.QuadSteps)
			if err != nil {
				return err
			}
			rho := contraction(p.F, 1e-12, 1e-2)
			row = append(row, fmt.Sprintf("%.4f", rho))
			if k == 1 {
				curves = append(curves, figures.Series{Name: m.name, Y: clipBelow(p.F, fFloor)})
				res.put("quad_rate_"+keyName(m.spec.Name), rho)
				res.put("quad_theory_"+keyName(m.spec.Name), m.theory)
			}
		}
		rows = append(rows, row)
	}
	r.Table("Per-step contraction ρ of the distance to the minimum (smaller is faster; 10 steps shrink the distance by ρ¹⁰).",
		[]string{"method", "lr", "theory", "measured, aligned", "measured, rotated 30°"}, rows)
	var adamRows [][]string
	for _, lr := range []float64{1e-3, 1e-2, 1e-1} {
		row := []string{fmt.Sprintf("Adam, lr %g", lr)}
		for k, theta := range []float64{0, math.Pi / 6} {
			p, err := descend(quadratic(kappa, theta), adam("Adam", adamDefaults, false), lr, 1, 1, s.QuadSteps)
			if err != nil {
				return err
			}
			to := p.stepsTo(1e-6)
			row = append(row, stepsText(to), fmt.Sprintf("%.1e", p.final(s.QuadSteps)))
			res.put(fmt.Sprintf("quad_adam_lr%g_%s_steps_to_1e-6", lr, []string{"aligned", "rotated"}[k]), to)
			if lr == 1e-2 && k == 1 {
				curves = append(curves, figures.Series{Name: "Adam lr 0.01", Y: clipBelow(p.F, fFloor)})
			}
		}
		adamRows = append(adamRows, row)
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: fmt.Sprintf("Quadratic bowl, κ = %.0f, rotated 30°", kappa), XLabel: "step",
		YLabel: "f", LogY: true, Series: curves})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 640, 400, fmt.Sprintf("log f against the step: a straight line is linear convergence, its slope 2 log ρ. Values below %.0e, where the float32 parameters run out of precision, are not drawn.", fFloor))
	hb := res.got("quad_rate_hb")
	gd := res.got("quad_rate_gd")
	r.Headline("quad_rate_gd_h", "gradient descent's measured rate (theory 0.9802)", gd, "%.4f")
	r.Headline("quad_rate_hb_h", "heavy ball's measured rate (theory 0.8182)", hb, "%.4f")
	gdTheory, hbTheory := res.got("quad_theory_gd"), res.got("quad_theory_hb")
	r.Claim("quad_gd_theory", math.Abs(gd-gdTheory) <= 1e-3,
		fmt.Sprintf("rate %.4f, theory %.4f", gd, gdTheory),
		"Gradient descent matches its theory (κ−1)/(κ+1) to three digits: at κ = 100 it needs about %.0f steps to shrink "+
			"the distance tenfold.", math.Log(10)/-math.Log(gd))
	r.Claim("quad_hb_theory", hb >= hbTheory && hb <= hbTheory+0.025,
		fmt.Sprintf("rate %.4f, theory %.4f", hb, hbTheory),
		"Heavy ball needs about %.0f steps; its measured rate sits slightly above (√κ−1)/(√κ+1) (by at most 0.025) because "+
			"at its optimal parameters the two eigenvalues of its recursion coincide and the error decays like t·ρᵗ rather "+
			"than ρᵗ.", math.Log(10)/-math.Log(hb))
	r.P("Both methods are rotation-invariant: their update is a fixed linear function of the gradient.")
	r.Table("Adam on the same bowl: steps to f ≤ 10⁻⁶ and f after the last step, with the valley along the axes and rotated.",
		[]string{"", "aligned: steps", "aligned: final f", "rotated: steps", "rotated: final f"}, adamRows)
	slower := func(lr float64) (aligned, rotated float64, ok bool) {
		aligned = res.got(fmt.Sprintf("quad_adam_lr%g_aligned_steps_to_1e-6", lr))
		rotated = res.got(fmt.Sprintf("quad_adam_lr%g_rotated_steps_to_1e-6", lr))
		return aligned, rotated, aligned >= 0 && (rotated < 0 || rotated > aligned)
	}
	a1, r1, ok1 := slower(1e-2)
	a2, r2, ok2 := slower(1e-1)
	r.Claim("adam_not_rotation_invariant", ok1 && ok2,
		fmt.Sprintf("steps to f ≤ 1e-6 (−1: never), aligned against rotated: lr 0.01 %.0f / %.0f, lr 0.1 %.0f / %.0f", a1, r1, a2, r2),
		"Adam is not rotation-invariant: at both useful rates it reaches the minimum faster with the valley along the axes "+
			"than rotated. Along the axes, dividing each coordinate's gradient by its running scale undoes the "+
			"conditioning; rotated, the gradient's scale mixes both curvatures in each coordinate.")
	r.P("Transformers' weight matrices have no preferred axes either, which is one reason to expect Adam's advantage " +
		"there to be smaller than on a drawn valley.")
	return nil
}

// mlpOptimizers is section 3: the optimizers on the MLP.
func mlpOptimizers(ctx context.Context, r *report.Report, res results, s sizes, o report.Options, mix data.Mixture) error {
	r.Section("A small real model")
	rng := rand.New(rand.NewPCG(o.Seed, 70))
	train, test := sampleMixture(mix, s.TrainN, rng), sampleMixture(mix, 5000, rng)
	r.P("The model: an MLP with two hidden ReLU layers of %d units that classifies 2-D points by which of the 25 "+
		"Gaussians of a 5×5 grid (spacing 1, σ = 0.3, so neighbours overlap) they came from, trained with "+
		"cross-entropy on %d points in batches of 32 and evaluated on 5,000 more. Its forward and backward passes:",
		s.Hidden, s.TrainN)
	r.Code("mlp")
	specs := []optimizerSpec{
		sgd("SGD", optim.SGDConfig{}),
		sgd("momentum", optim.SGDConfig{Momentum: 0.9}),
		sgd("Nesterov", optim.SGDConfig{Momentum: 0.9, Nesterov: true}),
		adam("Adam", adamDefaults, false),
	}
	evalAt := evalSteps(s.MLPSteps, 40)
	const reachLoss = 1.0 // a speed mark: first evaluation with training loss below it
	var trainCurves, testCurves []figures.Series
	var rows [][]string
	for _, spec := range specs {
		var best *mlpRun
		for _, lr := range s.MLPLRs[spec.Name] {
			o.Logf("%s: MLP %s lr=%g", name, spec.Name, lr)
			run := &mlpRun{Spec: spec, LR: optim.Cosine(lr, 0, s.MLPSteps, 0), Batch: constBatch(32), Steps: s.MLPSteps, EvalAt: evalAt}
			if err := trainMLP(ctx, run, train, test, s.Hidden, len(mix.Centres), 512, o.Seed); err != nil {
				return err
			}
			run.Name = fmt.Sprintf("%s, lr %g", spec.Name, lr)
			if best == nil || last(run.Train) < last(best.Train) {
				best = run
			}
		}
		steps := intsToFloats(evalAt)
		trainCurves = append(trainCurves, figures.Series{Name: best.Name, X: steps, Y: best.Train})
		testCurves = append(testCurves, figures.Series{Name: best.Name, X: steps, Y: best.Eval})
		res.put("mlp_"+keyName(spec.Name)+"_train_loss", last(best.Train))
		res.put("mlp_"+keyName(spec.Name)+"_test_loss", last(best.Eval))
		reach := stepsBelow(evalAt, best.Train, reachLoss)
		res.put("mlp_"+keyName(spec.Name)+"_steps_to_1", reach)
		rows = append(rows, []string{best.Name, fmt.Sprintf("%.4f", last(best.Train)), fmt.Sprintf("%.4f", last(best.Eval)), stepsText(reach)})
	}
	res.put("mlp_initial_loss", testCurves[0].Y[0])
	r.BeginRow()
	for _, c := range []struct {
		title  string
		series []figures.Series
	}{{"Training loss", trainCurves}, {"Held-out loss", testCurves}} {
		fig, err := figures.Curves(figures.CurvesSpec{Title: c.title, XLabel: "step", YLabel: "cross-entropy (nats)",
			Series: c.series, LogX: true, LogY: true})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 560, 400, c.title+" of each optimizer at its best peak learning rate (by final training loss), with a cosine decay to 0.")
	}
	r.EndRow()
	r.Table(fmt.Sprintf("After %d steps; the last column is the first evaluated step with training loss below %.1f.", s.MLPSteps, reachLoss),
		[]string{"optimizer (best peak lr)", "train loss", "held-out loss", fmt.Sprintf("steps to loss < %.1f", reachLoss)}, rows)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range testCurves {
		lo, hi = math.Min(lo, last(c.Y)), math.Max(hi, last(c.Y))
	}
	res.put("mlp_test_loss_spread", hi-lo)
	r.P("Each optimizer gets its own peak learning rate from a small grid, and every run decays it to zero on a cosine: " +
		"comparing optimizers at one shared, constant rate would measure the rate and its noise floor, not the optimizer. " +
		"momentum μ = 0.9 multiplies the step by 1/(1−μ) = 10 once the gradient is steady, which is why its best rate " +
		"in the grid is lower than plain SGD's.")
	r.FullClaim("mlp_optimizers_converge", hi-lo < 0.02, fmt.Sprintf("held-out losses at the end span %.4f nats", hi-lo),
		"They differ in how fast they get going; by the end their held-out losses lie within 0.02 nats of each other, a "+
			"level set by the overlap of the Gaussians (the Bayes error) rather than by the optimizer.")
	return nil
}

// weightDecay is section 4: decay weights only.
func weightDecay(ctx context.Context, r *report.Report, res results, s sizes, o report.Options, mix data.Mixture) error {
	r.Section("Weight decay, on weights only")
	shifted := mix
	shifted.Centres = make([][2]float64, len(mix.Centres))
	for i, c := range mix.Centres {
		shifted.Centres[i] = [2]float64{c[0] + s.ShiftCentres, c[1] + s.ShiftCentres}
	}
	r.P("AdamW shrinks every parameter whose `Decay` flag is set by the factor 1 − lr·λ each step, apart from the "+
		"gradient. nanoGPT, and `optim.DecayByName` for transformer names, decay weight matrices and embeddings but "+
		"not biases or normalisation gains. Here the MLP trains on only %d points — few enough to memorise — with "+
		"AdamW at lr 3e-3, with no decay, with decay on the weights only and with decay on weights and biases, at two "+
		"strengths λ; once on the grid centred at the origin and once with the whole grid moved to (%g, %g), as raw, "+
		"uncentred features would be. Averages over %d seeds:",
		s.SmallN, s.ShiftCentres, s.ShiftCentres, s.Seeds)
	type mask struct {
		key, name string
		lambda    float64
		dw, db    bool
	}
	var masks []mask
	masks = append(masks, mask{"none", "no decay", 0, false, false})
	for _, l := range s.DecayLambdas {
		masks = append(masks, mask{fmt.Sprintf("w_%g", l), fmt.Sprintf("weights, λ = %g", l), l, true, false},
			mask{fmt.Sprintf("wb_%g", l), fmt.Sprintf("weights and biases, λ = %g", l), l, true, true})
	}
	var rows [][]string
	for _, d := range []struct {
		name string
		mix  data.Mixture
		key  string
	}{{"centred", mix, "centred"}, {fmt.Sprintf("moved to (%g, %g)", s.ShiftCentres, s.ShiftCentres), shifted, "shifted"}} {
		rng := rand.New(rand.NewPCG(o.Seed, 71))
		train, test := sampleMixture(d.mix, s.SmallN, rng), sampleMixture(d.mix, 5000, rng)
		for _, m := range masks {
			var tr, te, wn, bn float64
			for seed := range s.Seeds {
				o.Logf("%s: weight decay %s %s seed %d", name, d.key, m.name, seed)
				cfg := adamDefaults
				cfg.WeightDecay = m.lambda
				run := &mlpRun{Spec: adam("AdamW", cfg, true), LR: optim.Constant(3e-3), Batch: constBatch(32),
					Steps: s.MLPSteps, DecayW: m.dw, DecayB: m.db, EvalAt: []int{s.MLPSteps}}
				if err := trainMLP(ctx, run, train, test, s.Hidden, len(mix.Centres), 512, o.Seed+uint64(seed)); err != nil {
					return err
				}
				n := float64(s.Seeds)
				tr, te, wn, bn = tr+last(run.Train)/n, te+last(run.Eval)/n, wn+run.WNorm/n, bn+run.BNorm/n
			}
			key := "decay_" + d.key + "_" + m.key
			res.put(key+"_test_loss", te)
			res.put(key+"_train_loss", tr)
			res.put(key+"_bias_norm", bn)
			rows = append(rows, []string{d.name, m.name, fmt.Sprintf("%.4f", tr), fmt.Sprintf("%.4f", te), fmt.Sprintf("%.1f", wn), fmt.Sprintf("%.2f", bn)})
		}
	}
	r.Table(fmt.Sprintf("After %d steps of AdamW; norms are the L2 norms of all weights and of all biases.", s.MLPSteps),
		[]string{"data", "decay on", "train loss", "held-out loss", "‖weights‖", "‖biases‖"}, rows)
	lo, hi := s.DecayLambdas[0], s.DecayLambdas[len(s.DecayLambdas)-1]
	get := func(data, key string) float64 { return res.got("decay_" + data + "_" + key + "_test_loss") }
	gain := get("centred", "none") - get("centred", fmt.Sprintf("w_%g", lo))
	costLo := get("shifted", fmt.Sprintf("wb_%g", lo)) - get("shifted", fmt.Sprintf("w_%g", lo))
	costHi := get("shifted", fmt.Sprintf("wb_%g", hi)) - get("shifted", fmt.Sprintf("w_%g", hi))
	costCentredLo := get("centred", fmt.Sprintf("wb_%g", lo)) - get("centred", fmt.Sprintf("w_%g", lo))
	costCentredHi := get("centred", fmt.Sprintf("wb_%g", hi)) - get("centred", fmt.Sprintf("w_%g", hi))
	res.put("decay_bias_cost_low", costLo)
	res.put("decay_bias_cost_centred_high", costCentredHi)
	gt := r.Headline("decay_gain", fmt.Sprintf("held-out loss saved by weight decay λ = %g (centred data, nats)", lo), gain, "%.3f")
	ct := r.Headline("decay_bias_cost", fmt.Sprintf("held-out loss added by also decaying biases (moved data, λ = %g, nats)", hi), costHi, "%.3f")
	trainNone, testNone := res.got("decay_centred_none_train_loss"), get("centred", "none")
	r.FullClaim("decay_memorises_without", trainNone < testNone/2,
		fmt.Sprintf("no decay, centred data: train loss %.3f, held-out %.3f", trainNone, testNone),
		"Without decay the model memorises its %d points: its training loss ends below half its held-out loss.", s.SmallN)
	r.Claim("decay_weights_helps", gain > 0, fmt.Sprintf("held-out loss saved: %s nats", gt),
		"Decaying the weights with λ = %g lowers the held-out loss on centred data.", lo)
	r.P("Whether the biases decay too makes a difference of %+.3f nats there at λ = %g, and %+.3f nats on the moved data; "+
		"at λ = %g, %+.3f nats on centred data.", costCentredLo, lo, costLo, hi, costCentredHi)
	r.Claim("decay_biases_cost_uncentred", costHi > 0.05 && costHi > costCentredHi+0.05,
		fmt.Sprintf("at λ = %g decaying the biases as well adds %s nats on the moved data, %+.3f on centred data", hi, ct, costCentredHi),
		"At λ = %g — strong enough that decay now fights the fit — decaying the biases as well costs far more on the "+
			"moved data than on centred data: away from the origin every first-layer unit needs a large bias to put its "+
			"ReLU's kink among the data, and decay pulls it back. With uncentred inputs there is something to lose.", hi)
	return nil
}

// batchSchedules is section 5: growing the batch instead of decaying the rate.
func batchSchedules(ctx context.Context, r *report.Report, res results, s sizes, o report.Options, mix data.Mixture) error {
	r.Section("Batch-size schedules")
	rng := rand.New(rand.NewPCG(o.Seed, 72))
	train, test := sampleMixture(mix, s.TrainN, rng), sampleMixture(mix, 5000, rng)
	E := s.Examples
	r.P("The noise in a stochastic gradient step scales like lr/B, learning rate over batch size. Smith et al. (2018), "+
		"*Don't Decay the Learning Rate, Increase the Batch Size*, argue that cutting the rate by 4 and multiplying the "+
		"batch by 4 lower the noise alike, and the second takes 4 times fewer steps. Four runs of SGD with momentum 0.9, "+
		"each given the same budget of %d examples:", E)
	const lr0, b0 = 0.02, 32
	// Phase boundaries in examples: ½ and ¾ of the budget.
	stepsAt := func(batches [3]int) [3]int {
		return [3]int{E / 2 / batches[0], E / 4 / batches[1], E / 4 / batches[2]}
	}
	type schedule struct {
		key, name string
		batches   [3]int
		lrs       [3]float64
	}
	scheds := []schedule{
		{"constant", "batch 32, constant lr", [3]int{b0, b0, b0}, [3]float64{lr0, lr0, lr0}},
		{"decay", "batch 32, lr ÷4 at ½ and ¾", [3]int{b0, b0, b0}, [3]float64{lr0, lr0 / 4, lr0 / 16}},
		{"grow", "batch ×4 at ½ and ¾ (32, 128, 512)", [3]int{b0, 4 * b0, 16 * b0}, [3]float64{lr0, lr0, lr0}},
		{"large", "batch 512, constant lr", [3]int{16 * b0, 16 * b0, 16 * b0}, [3]float64{lr0, lr0, lr0}},
	}
	r.Code("schedule")
	var byExamples, bySteps []figures.Series
	var rows [][]string
	for _, sc := range scheds {
		o.Logf("%s: batch schedule %s", name, sc.name)
		// region: schedule
		n := stepsAt(sc.batches)
		phase := func(step int) int {
			switch {
			case step < n[0]:
				return 0
			case step < n[0]+n[1]:
				return 1
			}
			return 2
		}
		run := &mlpRun{
			Spec:  sgd("momentum", optim.SGDConfig{Momentum: 0.9}),
			LR:    func(step int) float64 { return sc.lrs[phase(step)] },
			Batch: func(step int) int { return sc.batches[phase(step)] },
			Steps: n[0] + n[1] + n[2],
		}
		// endregion
		run.EvalAt = evalSteps(run.Steps, 30)
		if err := trainMLP(ctx, run, train, test, s.Hidden, len(mix.Centres), 512, o.Seed); err != nil {
			return err
		}
		byExamples = append(byExamples, figures.Series{Name: sc.name, X: run.Examples, Y: run.Eval})
		bySteps = append(bySteps, figures.Series{Name: sc.name, X: intsToFloats(run.EvalAt), Y: run.Eval})
		key := "batch_" + sc.key
		res.put(key+"_test_loss", last(run.Eval))
		res.put(key+"_steps", run.Steps)
		rows = append(rows, []string{sc.name, fmt.Sprint(run.Steps), fmt.Sprintf("%.4f", last(run.Train)), fmt.Sprintf("%.4f", last(run.Eval))})
	}
	marks := []figures.Marker{{At: float64(E / 2), Label: "½"}, {At: float64(3 * E / 4), Label: "¾"}}
	r.BeginRow()
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Held-out loss against examples seen", XLabel: "examples",
		YLabel: "cross-entropy (nats)", Series: byExamples, VLines: marks, LogY: true})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 400, "The same budget of examples; the vertical lines mark the schedule changes.")
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Held-out loss against steps", XLabel: "step", YLabel: "cross-entropy (nats)",
		Series: bySteps, LogX: true, LogY: true})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 400, "The same runs against optimizer steps.")
	r.EndRow()
	r.Table("Final losses after the example budget.", []string{"schedule", "steps", "train loss", "held-out loss"}, rows)
	decay := res.got("batch_decay_test_loss")
	grow := res.got("batch_grow_test_loss")
	constant := res.got("batch_constant_test_loss")
	r.Headline("batch_grow_test_loss_h", "held-out loss, growing batch", grow, "%.4f")
	r.Headline("batch_decay_test_loss_h", "held-out loss, decaying lr", decay, "%.4f")
	large := res.got("batch_large_test_loss")
	r.FullClaim("batch_both_lower_floor", decay < constant && grow < constant,
		fmt.Sprintf("held-out loss: constant %.4f, decaying rate %.4f, growing batch %.4f", constant, decay, grow),
		"With a constant rate and small batches the loss stalls at a noise floor; decaying the rate and growing the "+
			"batch both lower it, by the same mechanism.")
	r.Claim("batch_grow_fewer_steps", res.got("batch_grow_steps") < res.got("batch_decay_steps"),
		fmt.Sprintf("%.0f steps against %.0f", res.got("batch_grow_steps"), res.got("batch_decay_steps")),
		"The growing batch gets there in fewer steps.")
	r.Claim("batch_large_wastes", large > grow && large > decay,
		fmt.Sprintf("held-out loss: batch 512 throughout %.4f, growing batch %.4f", large, grow),
		"A large batch from the start (last row) ends worse: it wastes its examples early on, when small noisy steps "+
			"were as good as precise ones.")
	return nil
}

// results records numbers in results.json and keeps them for the prose.
type results struct {
	r *report.Report
	v map[string]float64
}

func (x results) put(key string, v any) {
	x.r.Result(key, v)
	switch f := v.(type) {
	case float64:
		x.v[key] = f
	case int:
		x.v[key] = float64(f)
	}
}

func (x results) got(key string) float64 {
	v, ok := x.v[key]
	if !ok {
		panic("07-optimisers: no result " + key) // a typo in this file
	}
	return v
}

// keyName turns an optimizer name into a results.json key: lower case,
// words joined by underscores ("momentum 0.9" → "momentum_0_9").
func keyName(s string) string {
	var b []rune
	sep := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if sep && len(b) > 0 {
				b = append(b, '_')
			}
			b, sep = append(b, c), false
		case c >= 'A' && c <= 'Z':
			if sep && len(b) > 0 {
				b = append(b, '_')
			}
			b, sep = append(b, c-'A'+'a'), false
		default:
			sep = true
		}
	}
	return string(b)
}

// thin returns at most n evenly spaced elements of v, always keeping the last.
func thin(v []float64, n int) []float64 {
	if len(v) <= n {
		return v
	}
	out := make([]float64, 0, n+1)
	for i := 0; i < n; i++ {
		out = append(out, v[i*len(v)/n])
	}
	return append(out, v[len(v)-1])
}

func fmtLRs(lrs []float64) string {
	s := "{"
	for i, lr := range lrs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%g", lr)
	}
	return s + "}"
}

func stepsText(n int) string {
	if n < 0 {
		return "not reached"
	}
	return fmt.Sprint(n)
}

// evalSteps returns the evaluation steps from 0 to steps: n spaced evenly
// in log (for log-step axes) and n spaced evenly (for linear ones), merged.
func evalSteps(steps, n int) []int {
	at := []int{0, steps}
	for i := 0; i <= n; i++ {
		at = append(at, int(math.Round(math.Pow(float64(steps), float64(i)/float64(n)))), i*steps/n)
	}
	slices.Sort(at)
	return slices.Compact(at)
}

func constBatch(b int) func(int) int { return func(int) int { return b } }

func last(v []float64) float64 { return v[len(v)-1] }

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// clipBelow returns v with values below floor replaced by NaN (not drawn).
func clipBelow(v []float64, floor float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x
		if x < floor {
			out[i] = math.NaN()
		}
	}
	return out
}

// stepsBelow returns the first step in at whose value is below level, or −1.
func stepsBelow(at []int, v []float64, level float64) int {
	for i, x := range v {
		if x < level {
			return at[i]
		}
	}
	return -1
}
