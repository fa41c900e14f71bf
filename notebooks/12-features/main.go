// Command 12-features is the notebook "Features: sparse autoencoders": from
// superposition to a sparse dictionary that recovers known features, then
// a dictionary on a trained model's residual stream with its sparsity–
// fidelity curve, feature dashboards and steering. Run it as
//
//	go run ./notebooks/12-features [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/sae"
	saereport "github.com/mechinterp/workbench/sae/report"
	"github.com/mechinterp/workbench/tensor"
)

//go:embed main.go
var source []byte

const name = "12-features"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// toyRun is one dictionary trained on the toy data.
type toyRun struct {
	size          int
	mmcs, reverse float64
	fvu           float64
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Features: sparse autoencoders", source, o)
	r.P("Notebook 10 showed a model storing more features than it has dimensions — **superposition** — at the price " +
		"of interference between them. If a layer's activations are sparse sums of many such feature directions, a " +
		"**sparse autoencoder** (SAE) should find them: an encoder to a wide, sparse code, a decoder whose rows are the " +
		"features' directions (Sharkey et al. 2022; Bricken et al. 2023; Cunningham et al. 2023). We check that claim " +
		"where the answer is known, then use a dictionary on a trained model: its fidelity, what its features do, and " +
		"steering with them.")

	// Sizes.
	toySteps, lmSteps, curveSteps, ks := 3000, 2000, 1000, []int{1, 2, 4, 8, 16}
	if o.Quick {
		toySteps, lmSteps, curveSteps, ks = 1000, 300, 150, []int{1, 4, 16}
	}

	r.Section("Superposition: more features than dimensions")
	// region: toy
	const n, d, p = 64, 32, 0.04
	toy, err := sae.NewToy(n, d, p, o.Seed)
	if err != nil {
		return err
	}
	// endregion
	r.Code("toy")
	r.P("`sae.NewToy` draws %d random unit directions in %d dimensions; each sample fires every feature independently "+
		"with probability %g (magnitude uniform in [0, 1]) and is the sum of the fired features' directions. On average "+
		"%.1f features are on at once, so a sample is sparse in the features but dense in the dimensions.", n, d, p, n*p)
	var interference float64
	for i := range n {
		worst := 0.0
		for j := range n {
			if i != j {
				worst = max(worst, math.Abs(tensor.Dot(toy.Dirs[i*d:(i+1)*d], toy.Dirs[j*d:(j+1)*d])))
			}
		}
		interference += worst / n
	}
	r.Claim("interference", interference > 0.3, fmt.Sprintf("mean over features of the largest |cosine| with another feature: %.3f", interference),
		"%d directions cannot be orthogonal in %d dimensions: each feature's nearest neighbour is at |cosine| %.2f on "+
			"average, so reading a feature off by projection picks up its neighbours.", n, d, interference)

	r.Section("A sparse autoencoder recovers the true features")
	r.P("A TopK SAE (Gao et al. 2024) keeps the k = 4 largest pre-activations of each sample, so its code has at most "+
		"4 active features, and reconstructs the sample from their decoder rows. **MMCS** (mean max cosine similarity) "+
		"asks, for each true feature, how close the nearest decoder row is; **reverse MMCS** asks the same from the "+
		"decoder's side (low when rows match no true feature). We train dictionaries of %d, %d and %d rows, %d steps of "+
		"256 samples each.", n/2, n, 4*n, toySteps)
	// region: toysae
	trainToy := func(size int) (toyRun, error) {
		s, err := sae.New(sae.Config{DIn: d, DSAE: size, Activation: sae.TopK, K: 4}, o.Seed)
		if err != nil {
			return toyRun{}, err
		}
		tr, err := sae.NewTrainer(s, sae.TrainConfig{Batch: 256, LR: 1e-3})
		if err != nil {
			return toyRun{}, err
		}
		rng := rand.New(rand.NewPCG(o.Seed, 0x70e5))
		x := make([]float32, 256*d)
		var st sae.Stats
		for range toySteps {
			toy.Fill(x, 256, rng)
			st = tr.Step(x, nil)
		}
		mmcs, rev := s.MMCS(toy.Dirs, n)
		return toyRun{size: size, mmcs: mmcs, reverse: rev, fvu: st.FVU}, nil
	}
	// endregion
	r.Code("toysae")
	var runs []toyRun
	for _, size := range []int{n / 2, n, 4 * n} {
		if err := ctx.Err(); err != nil {
			return err
		}
		tr, err := trainToy(size)
		if err != nil {
			return err
		}
		runs = append(runs, tr)
		o.Logf("toy dictionary %d: MMCS %.3f reverse %.3f FVU %.3f", size, tr.mmcs, tr.reverse, tr.fvu)
	}
	var rows [][]string
	for _, tr := range runs {
		rows = append(rows, []string{fmt.Sprint(tr.size), fmt.Sprintf("%.3f", tr.mmcs), fmt.Sprintf("%.3f", tr.reverse), fmt.Sprintf("%.3f", tr.fvu)})
	}
	r.Table(fmt.Sprintf("TopK (k = 4) dictionaries on %d features in %d dimensions.", n, d), []string{"dictionary size", "MMCS", "reverse MMCS", "FVU (last batch)"}, rows)
	small, right, large := runs[0], runs[1], runs[2]
	r.Headline("toy_mmcs", "toy MMCS at the right size", right.mmcs, "%.3f")
	r.FullClaim("recovered", right.mmcs >= 0.95, fmt.Sprintf("MMCS %.3f", right.mmcs),
		"At the right size (%d rows for %d features) the dictionary recovers the true features: MMCS ≥ 0.95.", n, n)
	r.Claim("too_small", small.mmcs < right.mmcs-0.1, fmt.Sprintf("MMCS %.3f at %d rows against %.3f at %d", small.mmcs, n/2, right.mmcs, n),
		"Too small a dictionary cannot hold every feature: at %d rows MMCS falls well below the right size's.", n/2)
	r.Claim("too_large", large.reverse < right.reverse-0.1 && large.mmcs > 0.9, fmt.Sprintf("reverse MMCS %.3f at %d rows against %.3f at %d; MMCS %.3f", large.reverse, 4*n, right.reverse, n, large.mmcs),
		"Too large a dictionary still finds the features (MMCS stays above 0.9), but many of its rows match none of them: reverse MMCS drops.")

	r.Section("A dictionary on a trained model")
	m, _, err := report.DemoModel()
	if err != nil {
		return err
	}
	task := data.Induction{Vocab: m.Cfg.DVocab, L: 20, MinRepeat: 10, Distinct: true}
	r.P("The dashboard's demo model (two attention-only layers, d_model %d, trained on repeated random tokens; Workbench "+
		"has no embedded language model on real text) stands in for a language model. Its last residual stream, "+
		"`blocks.1.hook_resid_post`, is what the unembedding reads. Activations stream from the model as it runs on fresh "+
		"task sequences: nothing is stored beyond a shuffle buffer.", m.Cfg.DModel)
	// region: lm
	hook := "blocks.1.hook_resid_post"
	batches := func() sae.Batches {
		rng := rand.New(rand.NewPCG(o.Seed, 0xba7c))
		b := data.NewBatch(32, task.SeqLen())
		return func(context.Context) ([][]int, error) { task.Fill(b, rng); return b.Rows(), nil }
	}
	held := data.NewBatch(64, task.SeqLen())
	task.FillFixed(held, rand.New(rand.NewPCG(o.Seed, 0x4e1d)))
	cfg := sae.Config{DIn: m.Cfg.DModel, DSAE: 256, Activation: sae.TopK, K: 4, HookName: hook}
	pts, err := sae.Curve(ctx, m, batches, held.Rows(), sae.CurveOptions{Base: cfg, Train: sae.TrainConfig{Batch: 512, LR: 1e-3},
		Steps: curveSteps, Ks: ks, Rows: 8192, Seed: o.Seed})
	if err != nil {
		return err
	}
	// endregion
	r.Code("lm")
	var crows [][]string
	monotone := true
	for i, pt := range pts {
		crows = append(crows, []string{fmt.Sprint(pt.K), fmt.Sprintf("%.2f", pt.L0), fmt.Sprintf("%.3f", pt.FVU), fmt.Sprintf("%.3f", pt.CERecovered), fmt.Sprintf("%.2f", pt.DeadFraction)})
		monotone = monotone && (i == 0 || pt.FVU < pts[i-1].FVU)
		r.Result(fmt.Sprintf("curve_k%d_fvu", pt.K), pt.FVU)
	}
	r.Table(fmt.Sprintf("The sparsity–fidelity curve: one TopK dictionary of 256 rows per k, %d steps of 512 activations, "+
		"measured on 64 held-out sequences. CE recovered compares the loss with the reconstruction spliced in to the "+
		"clean and the zero-ablated loss over every position.", curveSteps),
		[]string{"k", "L0", "FVU", "CE loss recovered", "dead fraction"}, crows)
	if fig, err := saereport.Curve("Sparsity against fidelity, demo model, "+hook, pts); err == nil {
		r.Figure(fig, "Fidelity against the number of active features per token.")
	} else {
		return err
	}
	r.Claim("curve_monotone", monotone, fmt.Sprintf("FVU %s", fvus(pts)),
		"More active features per token reconstruct the residual stream better: FVU falls at every step of k.")

	r.Subsection("Feature dashboards")
	// region: dash
	s, err := sae.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	tr, err := sae.NewTrainer(s, sae.TrainConfig{Batch: 512, LR: 1e-3})
	if err != nil {
		return err
	}
	src, err := sae.NewSource(m, hook, "", batches(), 8192, o.Seed)
	if err != nil {
		return err
	}
	if _, _, err := tr.Run(ctx, src, lmSteps, nil); err != nil {
		return err
	}
	db, err := s.Dashboards(ctx, m, held.Rows(), sae.DashboardOptions{Contexts: 5, Window: 4, Bins: 20, Logits: 5, Similar: 3})
	if err != nil {
		return err
	}
	live := db.Densest(20)
	db, err = s.Dashboards(ctx, m, held.Rows(), sae.DashboardOptions{Features: live, Contexts: 5, Window: 4, Bins: 20, Logits: 5, Similar: 3})
	if err != nil {
		return err
	}
	// endregion
	r.Code("dash")
	fid, err := s.Evaluate(ctx, m, held.Rows())
	if err != nil {
		return err
	}
	r.Claim("ce_caveat", fid.AblatedLoss < fid.CleanLoss, fmt.Sprintf("loss over every position: clean %.3f, zero-ablated %.3f, spliced %.3f",
		fid.CleanLoss, fid.AblatedLoss, fid.SpliceLoss),
		"Read the CE-recovered column with care on this model: over every position, zeroing the stream *lowers* the loss, "+
			"because the first half of each sequence is unpredictable and the model is confidently wrong there, while zeroing "+
			"leaves only the unembedding's bias, close to uniform. FVU is the measure to trust here.")
	r.P("`Dashboards` runs the model on the held-out sequences and gives, per feature, its top-activating contexts "+
		"(a window of tokens with the feature's activation at each), a histogram of its non-zero activations, its density, "+
		"the direct effect of its decoder direction on the logits, and the features whose decoder rows are closest. "+
		"Below, the %d densest features of a k = 4 dictionary trained for %d steps.", len(live), lmSteps)
	var frows [][]string
	agree := 0
	for _, f := range db.Features {
		c := f.Contexts[0]
		next := -1
		if c.Pos+1 < len(held.Rows()[c.Seq]) {
			next = held.Rows()[c.Seq][c.Pos+1]
		}
		// A token feature: it promotes a token it fires on, or the one
		// that follows its strongest activation.
		if p := f.Promoted[0].Token; p == next || contains(f.TopTokens, p) {
			agree++
		}
		nextText := "—"
		if next >= 0 {
			nextText = fmt.Sprint(next)
		}
		frows = append(frows, []string{fmt.Sprint(f.ID), fmt.Sprintf("%.3f", f.Density), fmt.Sprintf("%.2f", f.MaxAct),
			ints(f.TopTokens), nextText, effects(f.Promoted[:3]), effects(f.Suppressed[:1])})
	}
	r.Table("The densest features: the tokens at their three strongest activations, the token that follows the strongest, "+
		"and the tokens their direction promotes most (logit per unit activation) and suppresses most.",
		[]string{"feature", "density", "max act", "fires on", "next token", "promotes", "suppresses"}, frows)
	frac := float64(agree) / float64(len(db.Features))
	r.Headline("token_features", "densest features that promote a token they fire on or the next one", frac, "%.2f")
	r.Claim("token_features", frac >= 0.7, fmt.Sprintf("%d of %d features", agree, len(db.Features)),
		"The features of this stream are token features: for most of the densest, the token the decoder direction "+
			"promotes most is one the feature fires on (the current token, which the residual stream carries from the "+
			"embedding) or the token that follows its strongest activation (what the induction heads predict).")
	top := db.Features[0]
	if fig, err := saereport.Histogram(&top); err == nil {
		r.BeginRow()
		r.FigureAt(fig, 480, 300, fmt.Sprintf("Feature %d's non-zero activations.", top.ID))
		lf, err := saereport.Logits(&top, func(t int) string { return fmt.Sprint(t) })
		if err != nil {
			return err
		}
		r.FigureAt(lf, 480, 300, fmt.Sprintf("Feature %d's direct logit effect: promoted and suppressed tokens.", top.ID))
		r.EndRow()
	} else {
		return err
	}
	var cx []string
	for _, c := range top.Contexts {
		var parts []string
		for i, t := range c.Tokens {
			if c.Acts[i] > 0 {
				parts = append(parts, fmt.Sprintf("[%d:%.1f]", t, c.Acts[i]))
			} else {
				parts = append(parts, fmt.Sprint(t))
			}
		}
		cx = append(cx, fmt.Sprintf("seq %2d pos %2d  %s", c.Seq, c.Pos, strings.Join(parts, " ")))
	}
	r.P("Feature %d's top contexts, each token with its activation in brackets where the feature fires:", top.ID)
	r.Pre(strings.Join(cx, "\n"))

	r.Subsection("Steering")
	r.P("Adding α times a feature's decoder direction to the stream at every position (`sae.Steer`) should push the model " +
		"towards what the feature promotes. For each of the densest features we steer a held-out sequence with α = 3 × " +
		"its largest activation and ask whether its most promoted token becomes the top prediction.")
	// region: steer
	hits := 0
	for _, f := range db.Features {
		st, err := s.FeatureSteering(f.ID, 3*f.MaxAct)
		if err != nil {
			return err
		}
		res, err := sae.Steer(ctx, m, held.Rows()[0][:12], st, sae.SteerOptions{TopK: 1})
		if err != nil {
			return err
		}
		if res.Steered[0].Token == f.Promoted[0].Token {
			hits++
		}
	}
	// endregion
	r.Code("steer")
	sfrac := float64(hits) / float64(len(db.Features))
	r.Headline("steer_hits", "steered features whose promoted token becomes the top prediction", sfrac, "%.2f")
	r.Claim("steer", sfrac >= 0.8, fmt.Sprintf("%d of %d features", hits, len(db.Features)),
		"Steering along a feature's direction makes its most promoted token the model's top prediction for most features.")

	r.Takeaways(
		report.Takeaway{Text: "On features in superposition with known directions, a TopK SAE of the right size finds them; too small misses some, too large adds rows that match nothing.", Claims: []string{"recovered", "too_small", "too_large"}},
		report.Takeaway{Text: "On a trained model, fidelity rises with the number of active features: the sparsity–fidelity curve.", Claims: []string{"curve_monotone"}},
		report.Takeaway{Text: "A feature's dashboard ties what it fires on to what it does: at the last residual stream its direction promotes the current or the next token, and steering along it makes that token the prediction.", Claims: []string{"token_features", "steer"}},
		report.Takeaway{Text: "The same from the command line: `workbench sae train|eval|curve|features|steer`, and the dashboard's Features page."},
	)
	return r.Write()
}

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func ints(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, " ")
}

func effects(es []sae.TokenEffect) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%d (%+.2f)", e.Token, e.Effect))
	}
	return strings.Join(s, ", ")
}

func fvus(pts []sae.CurvePoint) string {
	var s []string
	for _, p := range pts {
		s = append(s, fmt.Sprintf("k %d: %.3f", p.K, p.FVU))
	}
	return strings.Join(s, ", ")
}
