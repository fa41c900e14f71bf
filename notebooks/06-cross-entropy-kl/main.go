// Command 06-cross-entropy-kl is the notebook "Cross-entropy and KL
// divergence": it checks CE = H + KL on random distributions, bets on horse
// races to show that the log-optimal (Kelly) growth rate is a constant minus
// the gambler's cross-entropy, watches the average log-loss of samples
// converge to the cross-entropy, and fits a categorical distribution by
// gradient descent on cross-entropy to show that it is maximum likelihood.
// Run it as
//
//	go run ./notebooks/06-cross-entropy-kl [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
)

var (
	//go:embed main.go
	mainSrc []byte
	//go:embed info.go
	infoSrc []byte
	//go:embed kelly.go
	kellySrc []byte
	//go:embed limit.go
	limitSrc []byte
	//go:embed mle.go
	mleSrc []byte
)

const name = "06-cross-entropy-kl"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// identityTol bounds |CE − H − KL| in bits: the three sums are computed
// independently in float64 over at most 16 terms of size ≤ ~40 bits, so
// rounding stays many orders of magnitude below it.
const identityTol = 1e-12

// Tolerances of the simulated results, which the page states only when they
// hold (report.Claim) and the quick run's test checks.
const (
	// maxZ bounds how many standard errors a simulated average may sit from
	// its prediction; a 4σ miss has probability about 6e-5 per check.
	maxZ = 4
	// slopeTol bounds |slope − (−1)| of doubling rate against CE: with 40
	// gamblers of 4000 races each the slope's noise is a few hundredths.
	slopeTol = 0.1
	// limitSlopeTol bounds |slope − (−1/2)| of the RMS error: 60 streams
	// leave about 10% noise on each RMS value.
	limitSlopeTol = 0.1
	// mleGapTol bounds max |q − p̂| after 2000 steps of gradient descent:
	// zero-count outcomes decay like 1/step.
	mleGapTol = 1e-2
	// biasRatioTol bounds |mean KL(p̂‖p) / ((k−1)/(2n ln 2)) − 1| at the
	// largest n: with 400 samples per size the mean's relative standard
	// deviation is √(2/(k−1))/√400 ≈ 2.4%.
	biasRatioTol = 0.2
)

// sizes are the run's sample sizes.
type sizes struct {
	Pairs      int // random (p, q) pairs for the identity check
	Races      int // races per gambler
	Beliefs    int // random gamblers in the CE-vs-growth scatter
	Samples    int // length of the log-loss stream
	Reps       int // independent streams for the error curve
	RepSamples int // samples per stream for the error curve
	Fit        int // sample size of the maximum-likelihood fit
	BiasReps   int // samples per size for the plug-in bias
	FitSteps   int // gradient-descent steps
}

func config(o report.Options) sizes {
	// region: config
	s := sizes{Pairs: 100_000, Races: 100_000, Beliefs: 200, Samples: 1_000_000, Reps: 400, RepSamples: 10_000,
		Fit: 200, BiasReps: 20_000, FitSteps: 2000}
	if o.Quick {
		s = sizes{Pairs: 2000, Races: 4000, Beliefs: 40, Samples: 20_000, Reps: 60, RepSamples: 2000,
			Fit: 200, BiasReps: 400, FitSteps: 2000}
	}
	// endregion
	return s
}

func run(ctx context.Context, o report.Options) error {
	src := slices.Concat(mainSrc, infoSrc, kellySrc, limitSrc, mleSrc)
	r := report.New("Cross-entropy and KL divergence", src, o)
	s := config(o)
	rng := rand.New(rand.NewPCG(o.Seed, 6))

	r.P("Every model in this repository is trained to minimise **cross-entropy**, the mean of −log q(x) over the data. " +
		"This notebook takes the quantity apart with numbers rather than algebra: the identity that splits it into " +
		"the data's own **entropy** and the model's **KL divergence** from the data, a gambler whose wealth grows at a " +
		"rate set by her cross-entropy, the law of large numbers that turns a loss on samples into a cross-entropy, and " +
		"gradient descent on cross-entropy landing exactly on the maximum-likelihood estimate.")
	r.P("Everything here is in **bits** (log base 2), so that one bit is a factor of two in likelihood — and, at the " +
		"race track, a doubling of wealth. A training loss in nats is the same number times ln 2 ≈ 0.693.")
	r.Code("config")

	if err := identity(r, rng, s); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := gambling(r, rng, s); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := limit(r, rng, s); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := likelihood(r, rng, s); err != nil {
		return err
	}

	r.Section("What to take away")
	r.List(
		"Cross-entropy = entropy + KL: the entropy is the data's, the KL divergence is the model's fault, and only the second can be trained away.",
		"A gambler's log-wealth grows at a constant minus her cross-entropy against the true odds: a bit of cross-entropy is a halving of wealth per race, and betting the true probabilities (Kelly) is optimal.",
		"The average log-loss on samples is an unbiased estimate of the cross-entropy whose error shrinks like σ/√n.",
		"Minimising cross-entropy against the data's frequencies is maximising likelihood, and it ends at the frequencies themselves — whose in-sample cross-entropy is optimistic by about (k−1)/(2n ln 2) bits.",
	)
	return r.Write()
}

func f4(v float64) string { return fmt.Sprintf("%.4f", v) }

// identity is section 1: CE = H + KL on random distributions.
func identity(r *report.Report, rng *rand.Rand, s sizes) error {
	r.Section("Three quantities and one identity")
	r.P("For a distribution p over k outcomes and a model q of it, the **entropy** H(p) is the mean number of bits " +
		"needed to code outcomes of p with the best code for p, the **cross-entropy** CE(p, q) the mean number with a " +
		"code built for q instead, and the **KL divergence** KL(p‖q) the excess. We compute the three independently, " +
		"KL from the ratio p/q rather than as a difference, so the identity CE = H + KL is a real check:")
	r.Code("definitions")
	rows, maxRes := identityCheck(rng, []int{2, 3, 5, 8, 12, 16}, s.Pairs)
	table := make([][]string, len(rows))
	for i, row := range rows {
		table[i] = []string{fmt.Sprint(row.K), f4(row.H), f4(row.KL), f4(row.CE),
			fmt.Sprintf("%.1e", row.Residual), f4(row.KLRev)}
	}
	r.Table("Random pairs (p, q): each a softmax of Gaussian logits. All values in bits.",
		[]string{"k", "H(p)", "KL(p‖q)", "CE(p, q)", "CE − H − KL", "KL(q‖p)"}, table)
	txt := r.Headline("identity_max_residual", "max |CE − H − KL| (bits)", maxRes, "%.1e")
	r.Result("identity_pairs", s.Pairs)
	r.Result("identity_tol", identityTol)
	r.Claim("identity_rounding", maxRes <= identityTol, fmt.Sprintf("largest |CE − H − KL| over %d random pairs: %s bits (tolerance %.0g)", s.Pairs, txt, identityTol),
		"Over %d random pairs with k from 2 to 16, CE − H − KL is float64 rounding, nothing more.", s.Pairs)
	minKL, maxAsym := math.Inf(1), 0.0
	for _, row := range rows {
		minKL, maxAsym = math.Min(minKL, math.Min(row.KL, row.KLRev)), math.Max(maxAsym, math.Abs(row.KL-row.KLRev))
	}
	r.Claim("kl_nonnegative_asymmetric", minKL >= 0 && maxAsym > 0.01,
		fmt.Sprintf("smallest KL in the table %.4f; largest |KL(p‖q) − KL(q‖p)| %.4f bits", minKL, maxAsym),
		"Two things the table shows without a proof: KL is never negative (so CE ≥ H, with equality only at q = p), "+
			"and it is not symmetric — compare the KL(p‖q) and KL(q‖p) columns.")
	r.P("Training a model on data from p can lower the cross-entropy only by lowering KL(p‖q); the entropy H(p) is a " +
		"floor set by the data.")
	return nil
}

// gambling is section 2: Kelly betting.
func gambling(r *report.Report, rng *rand.Rand, s sizes) error {
	r.Section("The gambling intuition")
	const k = 6
	p := randomDist(rng, k, 1)
	q := mix(p, randomDist(rng, k, 1.5), 0.3) // a bookmaker who is mostly right
	r.P("Kelly (1956) read information theory at the race track. Six horses run; horse i wins with probability p_i. "+
		"The bookmaker believes q and pays fair odds for his belief: a bet of 1 on horse i returns 1/q_i if it wins. A "+
		"gambler who believes b bets all her wealth every race, split in proportion to b, so when horse x wins her "+
		"wealth is multiplied by b_x/q_x. Over many races log₂ wealth grows by E_p[log₂ b_x − log₂ q_x] per race, that is by "+
		"**CE(p, q) − CE(p, b)**: a constant minus her cross-entropy. Here p = %s and q = %s.", fmtDist(p), fmtDist(q))
	r.Code("race")
	bs := []bettor{
		{"Kelly: b = p", p},
		{"the bookmaker's own odds: b = q", q},
		{"uniform: b = 1/6", uniform(k)},
		{"halfway: b = (p + q)/2", mix(p, q, 0.5)},
		{"overconfident: b ∝ p²", sharpen(p, 2)},
		{"timid: b ∝ √p", sharpen(p, 0.5)},
	}
	// Record every race of the first plotRaces for the figure, and the last.
	plotRaces := min(s.Races, 1000)
	var at []int
	var xs []float64
	for i := 1; i <= plotRaces; i++ {
		at, xs = append(at, i), append(xs, float64(i))
	}
	if s.Races > plotRaces {
		at = append(at, s.Races)
	}
	logW := race(rng, p, q, bs, s.Races, at)
	var series []figures.Series
	var rows [][]string
	worstZ := 0.0
	meas := make([]float64, len(bs))
	signsAgree := true // every rate clear of its noise has the predicted sign
	for m, b := range bs {
		pred := doublingRate(p, q, b.Belief)
		meas[m] = logW[m][len(at)-1] / float64(s.Races)
		se := logRatioStd(p, q, b.Belief) / math.Sqrt(float64(s.Races))
		z := 0.0 // the bookmaker's copycat has no variance: her wealth never moves
		if se > 0 {
			z = (meas[m] - pred) / se
		}
		worstZ = math.Max(worstZ, math.Abs(z))
		if math.Abs(pred) > maxZ*se && (pred > 0) != (meas[m] > 0) {
			signsAgree = false
		}
		rows = append(rows, []string{b.Name, f4(crossEntropy(p, b.Belief)), f4(pred), f4(meas[m]), fmt.Sprintf("%.4f", se), fmt.Sprintf("%+.2f", z)})
		series = append(series, figures.Series{Name: b.Name, X: xs, Y: logW[m][:plotRaces]})
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Log-wealth of six gamblers on the same races", XLabel: "race",
		YLabel: "log₂ wealth", Series: series, LegendLeft: true})
	if err != nil {
		return err
	}
	r.Figure(fig, fmt.Sprintf("log₂ wealth over the first %d races (wealth starts at 1, log₂ wealth 0); the bookmaker's cross-entropy is CE(p, q) = %.3f bits.", plotRaces, crossEntropy(p, q)))
	r.Table(fmt.Sprintf("Doubling rates over %d races, in bits per race. Predicted: CE(p, q) − CE(p, b) with CE(p, q) = %.4f. "+
		"z is (measured − predicted) / standard error, the error σ/√N from the exact σ of log₂(b_x/q_x) under p.", s.Races, crossEntropy(p, q)),
		[]string{"gambler", "CE(p, b)", "predicted", "measured", "std. error", "z"}, rows)
	kelly := meas[0]
	r.Headline("kelly_rate", "Kelly doubling rate, measured (bits/race)", kelly, "%.4f")
	r.Headline("kelly_rate_predicted", "KL(p‖q), the predicted Kelly rate (bits/race)", kl(p, q), "%.4f")
	r.Result("kelly_max_abs_z", worstZ)
	r.Claim("kelly_rates_predicted", worstZ <= maxZ && signsAgree, fmt.Sprintf("largest |z| %.2f over %d races", worstZ, s.Races),
		"Every measured rate lies within %d standard errors of CE(p, q) − CE(p, b): a gambler gets rich when her "+
			"cross-entropy is below the bookmaker's and goes broke when it is above. Kelly's rate is KL(p‖q): the "+
			"gambler's edge is exactly how far the bookmaker's beliefs are from the truth.", maxZ)
	r.Claim("kelly_fastest", meas[0] == slices.Max(meas) && meas[1] == 0 && meas[4] < meas[0] && meas[5] < meas[0],
		fmt.Sprintf("bits per race: Kelly %.4f, copycat %.4f, overconfident %.4f, timid %.4f", meas[0], meas[1], meas[4], meas[5]),
		"Kelly gets rich fastest; the gambler who copies the bookmaker goes nowhere, and overconfidence is punished as "+
			"surely as timidity.")

	r.Subsection("Growth rate against cross-entropy")
	xsCE := make([]float64, s.Beliefs)
	ysMeas := make([]float64, s.Beliefs)
	ysPred := make([]float64, s.Beliefs)
	last := []int{s.Races}
	for i := range s.Beliefs {
		b := mix(p, randomDist(rng, k, 3*rng.Float64()), rng.Float64())
		w := race(rng, p, q, []bettor{{"", b}}, s.Races, last)[0][0]
		xsCE[i], ysMeas[i], ysPred[i] = crossEntropy(p, b), w/float64(s.Races), doublingRate(p, q, b)
	}
	slope, intercept := fitLine(xsCE, ysMeas)
	fig, err = figures.Scatter(figures.ScatterSpec{Title: "Doubling rate is a constant minus cross-entropy",
		XLabel: "gambler's cross-entropy CE(p, b) (bits)", YLabel: "doubling rate (bits per race)",
		Sets: []figures.PointSet{
			{Name: "measured", X: xsCE, Y: ysMeas, Glyph: figures.Ring},
			{Name: "CE(p, q) − CE(p, b)", X: xsCE, Y: ysPred, Glyph: figures.Dot},
		}})
	if err != nil {
		return err
	}
	r.Figure(fig, fmt.Sprintf("%d gamblers with random beliefs, %d races each: measured doubling rate (rings) and the prediction (dots).", s.Beliefs, s.Races))
	st := r.Headline("kelly_slope", "slope of doubling rate vs CE", slope, "%.3f")
	r.Result("kelly_intercept", intercept)
	r.Result("kelly_intercept_predicted", crossEntropy(p, q))
	r.Claim("kelly_slope_minus_one", math.Abs(slope+1) <= slopeTol,
		fmt.Sprintf("least-squares slope %s, intercept %.3f bits (prediction: −1 and CE(p, q) = %.3f)", st, intercept, crossEntropy(p, q)),
		"A least-squares line through the measured points has slope −1 within %.1f: lowering cross-entropy by one bit "+
			"doubles the gambler's wealth once more per race; a language model's loss is the same bill, paid in likelihood.", slopeTol)
	return nil
}

// logRatioStd returns the standard deviation of log₂(b_x/q_x) for x ~ p.
func logRatioStd(p, q, b []float64) float64 {
	mean := doublingRate(p, q, b)
	var v float64
	for i, pi := range p {
		d := math.Log2(b[i]/q[i]) - mean
		v += pi * d * d
	}
	return math.Sqrt(v)
}

// fitLine returns the least-squares slope and intercept of y on x.
func fitLine(x, y []float64) (slope, intercept float64) {
	var n, sx, sy, sxx, sxy float64
	for i := range x {
		n++
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return slope, (sy - slope*sx) / n
}

func fmtDist(p []float64) string {
	s := "("
	for i, v := range p {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.3f", v)
	}
	return s + ")"
}

// limit is section 3: the average log-loss converges to the cross-entropy.
func limit(r *report.Report, rng *rand.Rand, s sizes) error {
	r.Section("The limit argument")
	const k = 10
	p := randomDist(rng, k, 1)
	models := []struct {
		name, short string
		q           []float64
	}{{"q = p", "p", p}, {"q uniform", "uniform", uniform(k)}, {"q random", "random", randomDist(rng, k, 1)}}
	r.P("A language model's loss is not a cross-entropy against the true distribution, which nobody knows: it is the "+
		"average of −log q(x) over samples. Each term is an independent draw of a random variable whose mean is CE(p, q), "+
		"so by the law of large numbers the average converges to CE(p, q), and by the central limit theorem its error "+
		"shrinks like σ/√n. We draw one stream of %d outcomes from a random p over %d outcomes and score three models on it:", s.Samples, k)
	r.Code("running")
	at := logSpaced(s.Samples, 10)
	qs := make([][]float64, len(models))
	for i, m := range models {
		qs[i] = m.q
	}
	avg := runningLogLoss(rng, p, qs, s.Samples, at)
	xs := make([]float64, len(at))
	for i, a := range at {
		xs[i] = float64(a)
	}
	var series []figures.Series
	var marks []figures.Marker
	var rows [][]string
	worst := 0.0
	for i, m := range models {
		ce := crossEntropy(p, m.q)
		series = append(series, figures.Series{Name: m.name, X: xs, Y: avg[i]})
		marks = append(marks, figures.Marker{At: ce, Label: fmt.Sprintf("CE(p, %s) = %.3f", m.short, ce)})
		final := avg[i][len(at)-1]
		sigma := logLossStd(p, m.q)
		z := 0.0 // a uniform q has a constant log-loss: its average is exact up to rounding
		if sigma > 1e-9 {
			z = (final - ce) / (sigma / math.Sqrt(float64(s.Samples)))
		}
		worst = math.Max(worst, math.Abs(z))
		rows = append(rows, []string{m.name, f4(ce), f4(final), fmt.Sprintf("%.1e", math.Abs(final-ce)), f4(sigma), fmt.Sprintf("%+.2f", z)})
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Average log-loss of a stream of samples", XLabel: "samples n",
		YLabel: "−(1/n) Σ log₂ q(xᵢ) (bits)", Series: series, HLines: marks, LogX: true})
	if err != nil {
		return err
	}
	r.Figure(fig, "The running average of each model's log-loss and, as horizontal lines, the cross-entropies it should converge to.")
	r.Table(fmt.Sprintf("After n = %d samples. z is the error in units of σ/√n.", s.Samples),
		[]string{"model", "CE(p, q)", "average log-loss", "|error|", "σ of −log₂ q(x)", "z"}, rows)
	r.Result("limit_max_abs_z", worst)
	r.Result("limit_samples", s.Samples)
	r.Headline("limit_error_random_q", "|avg log-loss − CE| at the end of the stream (bits)", math.Abs(avg[2][len(at)-1]-crossEntropy(p, qs[2])), "%.1e")

	r.Subsection("How fast")
	q := qs[2]
	at = logSpaced(s.RepSamples, 10)
	rms := rmsError(rng, p, q, s.RepSamples, s.Reps, at)
	sigma := logLossStd(p, q)
	pred := make([]float64, len(at))
	xs = make([]float64, len(at))
	for i, a := range at {
		xs[i] = float64(a)
		pred[i] = sigma / math.Sqrt(float64(a))
	}
	slope := logLogSlope(at, rms, 10)
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Error of the average log-loss", XLabel: "samples n",
		YLabel: "RMS |average − CE| (bits)", LogX: true, LogY: true,
		Series: []figures.Series{{Name: fmt.Sprintf("measured, %d streams", s.Reps), X: xs, Y: rms}, {Name: "σ/√n", X: xs, Y: pred}}})
	if err != nil {
		return err
	}
	r.Figure(fig, "Root-mean-square error over independent streams against the central-limit prediction σ/√n, σ the standard deviation of −log₂ q(x) under p.")
	st := r.Headline("limit_slope", "log-log slope of the error (n ≥ 10)", slope, "%.3f")
	r.Claim("limit_slope_half", math.Abs(slope+0.5) <= limitSlopeTol,
		fmt.Sprintf("log-log slope %s over %d independent streams", st, s.Reps),
		"The RMS error falls with a log-log slope of −1/2 within %.1f, as the central limit theorem says, along σ/√n.", limitSlopeTol)
	r.P("A held-out loss measured on 10,000 tokens is therefore only good to about σ/100 bits — worth remembering before " +
		"reading meaning into the third decimal of a loss curve.")
	return nil
}

// likelihood is section 4: minimising cross-entropy is maximum likelihood.
func likelihood(r *report.Report, rng *rand.Rand, s sizes) error {
	r.Section("Minimising cross-entropy is maximum likelihood")
	const k = 10
	p := randomDist(rng, k, 1)
	xs, freq := empirical(rng, p, s.Fit)
	r.P("Draw a sample x₁…x_n and count frequencies p̂. The log-likelihood of a model q is Σᵢ log₂ q(xᵢ) = "+
		"n·Σ_k p̂_k log₂ q_k = −n·CE(p̂, q): per sample, it is minus the cross-entropy against the empirical "+
		"distribution. Computing both sides independently for a few models on a sample of n = %d:", s.Fit)
	cands := []struct {
		name string
		q    []float64
	}{{"the truth p", p}, {"uniform", uniform(k)}, {"random", randomDist(rng, k, 1)}, {"the frequencies p̂", freq}}
	var rows [][]string
	maxDiff := 0.0
	for _, c := range cands {
		ll := avgLogLikelihood(xs, c.q)
		ce := crossEntropy(freq, c.q)
		maxDiff = math.Max(maxDiff, math.Abs(ll+ce))
		rows = append(rows, []string{c.name, fmt.Sprintf("%.6f", ll), fmt.Sprintf("%.6f", -ce), fmt.Sprintf("%.1e", ll+ce)})
	}
	r.Table("Log-likelihood per sample (summed over the sample) against −CE(p̂, q) (summed over outcomes), in bits.",
		[]string{"model q", "(1/n) Σ log₂ q(xᵢ)", "−CE(p̂, q)", "difference"}, rows)
	r.Result("likelihood_ce_max_diff", maxDiff)
	llTruth, llFreq := avgLogLikelihood(xs, p), avgLogLikelihood(xs, freq)
	r.Claim("mle_highest_likelihood", maxDiff <= identityTol && llFreq > llTruth,
		fmt.Sprintf("largest difference %.1e; log-likelihood per sample: p̂ %.6f, the truth %.6f", maxDiff, llFreq, llTruth),
		"The two columns agree to rounding, and the frequencies p̂ have a higher likelihood than the truth p that "+
			"generated the sample.")
	r.P("Gradient descent finds them: we fit q_θ = softmax(θ) from θ = 0 by descending the " +
		"cross-entropy against p̂, whose gradient in θ (in nats) is simply q_θ − p̂.")
	r.Code("fit")
	logAt := logSpaced(s.FitSteps, 10)
	logAt = append([]int{0}, logAt...)
	q, log := fitCategorical(freq, 1, s.FitSteps, logAt)
	steps := make([]float64, 0, len(log))
	kls := make([]float64, 0, len(log))
	for _, l := range log {
		if l.Step == 0 {
			continue // log x axis
		}
		steps = append(steps, float64(l.Step))
		kls = append(kls, l.KL)
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Gradient descent on CE(p̂, q_θ)", XLabel: "step",
		YLabel: "CE(p̂, q_θ) − H(p̂) = KL(p̂‖q_θ) (bits)", LogX: true, LogY: true,
		Series: []figures.Series{{Name: "learning rate 1", X: steps, Y: kls}}})
	if err != nil {
		return err
	}
	r.Figure(fig, "The training loss above its minimum H(p̂).")
	gap := maxAbsDiff(q, freq)
	gt := r.Headline("mle_max_gap", "max |q_fit − p̂| after gradient descent", gap, "%.1e")
	r.Result("mle_final_kl", log[len(log)-1].KL)
	r.Result("mle_initial_kl", log[0].KL)
	r.Claim("mle_converges", gap <= mleGapTol && log[len(log)-1].KL < log[0].KL/100,
		fmt.Sprintf("after %d steps max |q − p̂| = %s; KL(p̂‖q) %.1e → %.1e bits", s.FitSteps, gt, log[0].KL, log[len(log)-1].KL),
		"The fit converges to the maximum-likelihood estimate q = p̂: the loss above H(p̂) falls a hundredfold and q "+
			"ends within %.0e of p̂ in every outcome.", mleGapTol)
	r.P("Outcomes that never occurred in the sample are the slow ones: their probability can only approach 0 as the " +
		"logit runs off to −∞.")

	r.Subsection("The price: in-sample cross-entropy is optimistic")
	ns := []int{10, 20, 50, 100, 200, 500, 1000, 2000, 5000}
	gaps, klHats := plugInBias(rng, p, ns, s.BiasReps)
	nx := make([]float64, len(ns))
	pred := make([]float64, len(ns))
	for i, n := range ns {
		nx[i] = float64(n)
		pred[i] = float64(k-1) / (2 * float64(n) * math.Ln2)
	}
	fig, err = figures.Curves(figures.CurvesSpec{Title: "How far the fitted model's training loss sits below H(p)",
		XLabel: "sample size n", YLabel: "bits", LogX: true, LogY: true,
		Series: []figures.Series{
			{Name: "H(p) − H(p̂), measured", X: nx, Y: gaps},
			{Name: "KL(p̂‖p), measured", X: nx, Y: klHats},
			{Name: "(k−1)/(2n ln 2)", X: nx, Y: pred},
		}})
	if err != nil {
		return err
	}
	r.Figure(fig, fmt.Sprintf("Means over %d samples of each size, k = %d outcomes.", s.BiasReps, k))
	last := len(ns) - 1
	r.Result("bias_ratio_largest_n", gaps[last]/pred[last])
	r.Result("kl_hat_ratio_largest_n", klHats[last]/pred[last])
	bt := r.Headline("bias_at_largest_n", fmt.Sprintf("H(p) − H(p̂) at n = %d (bits)", ns[last]), gaps[last], "%.5f")
	below := slices.Min(gaps) > 0
	r.Claim("in_sample_optimistic", below && math.Abs(klHats[last]/pred[last]-1) <= biasRatioTol,
		fmt.Sprintf("H(p) − H(p̂) > 0 at every n: %v; at n = %d, H(p) − H(p̂) = %s bits, KL(p̂‖p) = %.5f, (k−1)/(2n ln 2) = %.5f",
			below, ns[last], bt, klHats[last], pred[last]),
		"The maximum-likelihood model's training loss is H(p̂), which is on average *below* the true entropy — below what any "+
			"model, the truth included, can achieve on fresh data. The optimism is KL(p̂‖p) on average, about (k−1)/(2n ln 2) "+
			"bits (Miller 1955), within %.0f%% at the largest n.", 100*biasRatioTol)
	r.P("This is overfitting in its simplest form, and the reason losses are reported on held-out data.")
	return nil
}
