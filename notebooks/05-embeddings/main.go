// Command 05-embeddings is the notebook "Embeddings: tied or untied": it
// trains one-layer transformers on an asymmetric bigram task (a Markov chain
// in which a → σ(a) is likely and σ(a) → a is not) with tied (W_U = W_Eᵀ)
// and untied embeddings, with the attention head switched off and on, and
// measures the asymmetry argument — W_E·W_Eᵀ is symmetric, so a tied direct
// path cannot prefer a → b over b → a — in the trained weights and in the
// loss. Run it as
//
//	go run ./notebooks/05-embeddings [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/notebooks/report"
)

var (
	//go:embed main.go
	mainSrc []byte
	//go:embed bigram.go
	bigramSrc []byte
	//go:embed model.go
	modelSrc []byte
)

const name = "05-embeddings"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// sizes are the run's sizes.
type sizes struct {
	V, DModel, NCtx     int
	Alpha, Spread       float64 // the chain: mass on the successor, spread of the rest
	Batch, Steps        int
	LR                  float64
	EvalBatch, LogEvery int
	SymSteps            int // gradient-descent steps of the best symmetric table
}

func config(o report.Options) sizes {
	// region: sizes
	s := sizes{V: 24, DModel: 32, NCtx: 16, Alpha: 0.7, Spread: 1, Batch: 32, Steps: 3000, LR: 1e-2,
		EvalBatch: 512, LogEvery: 50, SymSteps: 3000}
	if o.Quick {
		s.Steps, s.EvalBatch, s.LogEvery, s.SymSteps = 400, 64, 20, 1000
	}
	// endregion
	return s
}

var variants = []variant{
	{"untied, direct path only", "untied_direct", false, false},
	{"tied, direct path only", "tied_direct", true, false},
	{"untied, with attention", "untied_head", false, true},
	{"tied, with attention", "tied_head", true, true},
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Embeddings: tied or untied", slices.Concat(mainSrc, bigramSrc, modelSrc), o)
	s := config(o)
	rs := runSizes{DModel: s.DModel, NCtx: s.NCtx, Batch: s.Batch, Steps: s.Steps, LR: s.LR, EvalBatch: s.EvalBatch, LogEvery: s.LogEvery}
	rng := rand.New(rand.NewPCG(o.Seed, 5))
	ch := newChain(rng, s.V, s.Alpha, s.Spread)

	r.P("A transformer reads tokens through its embedding W_E [d_vocab, d_model] and writes predictions through its " +
		"unembedding W_U [d_model, d_vocab]. Many models **tie** them, W_U = W_Eᵀ (GPT-2 does), which halves those " +
		"parameters and feels natural: a token's input and output vectors ought to be related. But the path from the " +
		"current token straight to the logits, skipping every layer, is then W_E·W_U = W_E·W_Eᵀ — a **symmetric** " +
		"matrix. Through that path, token a raises the logit of b exactly as much as b raises the logit of a. Language is " +
		"not like that: after \"Barack\" comes \"Obama\", but after \"Obama\" rarely \"Barack\". This notebook makes the " +
		"argument with numbers, on a task built to need an asymmetric bigram table.")
	r.Code("sizes")

	// 1. The task.
	r.Section("An asymmetric bigram task")
	order := cycleOrder(ch.Next)
	H := ch.entropyRate(s.NCtx)
	r.P("The data are sequences of %d tokens from a Markov chain over %d tokens. Each token a has a likely successor "+
		"σ(a), which takes %.0f%% of the probability, and the rest is spread at random; σ is one cycle through all the "+
		"tokens, so the reverse step σ(a) → a is never the likely one. The best possible model predicts with the true "+
		"transition probabilities, and its loss — the chain's entropy rate — is the floor every model below is measured "+
		"against.", s.NCtx, s.V, 100*s.Alpha)
	fig, err := tableFigure("True transition probabilities P(next | current)", ch.P, order, figures.Sequential, "probability")
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 520, "Rows are the current token, columns the next, both listed in the order of the cycle σ, so the likely successor is the cell just right of the diagonal (the top-right corner closes the cycle).")
	ht := r.Headline("entropy_rate", "entropy rate: the best possible loss (nats)", H, "%.4f")
	r.Result("true_successor_prob", successorProb(ch.logP, ch.Next))
	r.Result("true_predecessor_prob", predecessorProb(ch.logP, ch.Next))
	r.P("The entropy rate is **%s** nats per token. On average the truth gives the successor σ(a) probability %.3f and "+
		"the predecessor (σ(a) → a) %.3f.", ht, successorProb(ch.logP, ch.Next), predecessorProb(ch.logP, ch.Next))

	// 2. The argument.
	r.Section("The asymmetry argument")
	r.P("Write the logit the model gives to next token b when the current token is a as a table L[a][b]. A softmax " +
		"ignores constants added to a row, and the output bias b_U adds a constant to each column, so what carries " +
		"information about the *pair* is the table with row and column means removed, its **interaction** part. Split " +
		"any square matrix into a symmetric part (M + Mᵀ)/2 and an antisymmetric part (M − Mᵀ)/2; the two are orthogonal, " +
		"so their squared norms add up to ‖M‖². The antisymmetric part is what makes a → b differ from b → a:")
	r.Code("parts")
	symLoss, symTable := bestSymmetric(ch.pairWeights(s.NCtx), s.SymSteps, 5)
	trueShare := antisymmetricShare(doubleCentre(ch.logP))
	r.Result("true_antisymmetric_share", trueShare)
	r.Claim("truth_half_asymmetric", trueShare > 0.3 && trueShare < 0.7, fmt.Sprintf("antisymmetric share %.3f", trueShare),
		"For the true log-probabilities of our chain about half the interaction pattern is asymmetric (an antisymmetric share between 0.3 and 0.7).")
	r.P("A tied model's direct path has a share of exactly 0. How much does that cost? The best " +
		"any symmetric interaction can do — a free symmetric table plus an output bias, fitted to the exact expected loss " +
		"by gradient descent, ignoring that W_E·W_Eᵀ must moreover be positive semi-definite — is a lower bound for " +
		"the tied direct path:")
	r.Code("symmetric")
	st := r.Headline("symmetric_floor", "best loss of any symmetric bigram table (nats)", symLoss, "%.4f")
	r.P("It reaches **%s** nats, %.3f above the entropy rate.", st, symLoss-H)
	symSucc, symPred := successorProb(symTable, ch.Next), predecessorProb(symTable, ch.Next)
	r.Claim("symmetric_splits", math.Abs(symSucc-symPred) < 0.01, fmt.Sprintf("successor %.3f, predecessor %.3f", symSucc, symPred),
		"The optimum splits the difference: it gives the successor and the predecessor the same probability, because any "+
			"preference for a → σ(a) is also a preference for σ(a) → a.")

	// 3. Training.
	r.Section("Training four models")
	r.P("Now the real thing, trained with Workbench's `transformer` package: one attention-only layer (2 heads of %d, "+
		"d_model = %d ≥ d_vocab = %d, no LayerNorm), tied or untied. To isolate the direct path we also train each with "+
		"its attention head switched off — W_O and b_O fixed at zero — which leaves exactly a zero-layer transformer, "+
		"logits = (W_E[a] + W_pos[t])·W_U + b_U. Without LayerNorm that path is exactly W_E·W_U; with it, the path "+
		"would be bent by a per-token scale and the symmetry would be only approximate.", s.DModel/2, s.DModel, s.V)
	r.Code("config")
	r.Code("train")
	var runs []*trained
	for k, v := range variants {
		o.Logf("%s: training %s", name, v.Name)
		t, err := trainBigram(ctx, ch, v, rs, o.Seed+uint64(k))
		if err != nil {
			return err
		}
		runs = append(runs, t)
	}
	ev := newEvalSet(ch, s.EvalBatch, s.NCtx, o.Seed)
	var curves []figures.Series
	for _, t := range runs {
		curves = append(curves, figures.Series{Name: t.v.Name, X: t.steps, Y: t.evalLoss})
	}
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Held-out loss", XLabel: "step", YLabel: "cross-entropy (nats)",
		Series: curves, LogX: true, HLines: []figures.Marker{{At: H, Label: "entropy rate"}, {At: symLoss, Label: "best symmetric table"}}})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 720, 420, fmt.Sprintf("Held-out loss on %d sequences during training, against the entropy rate and the symmetric floor.", s.EvalBatch))

	// 4. The learned direct paths.
	r.Section("The direct path, measured")
	var rows [][]string
	var tables [][][]float64 // each model's logit table at position 0
	var selfs []float64      // each model's mean attention to the current position
	for _, t := range runs {
		T0, err := positionZero(ctx, t.m)
		if err != nil {
			return err
		}
		tables = append(tables, T0)
		M := directPath(t.m)
		share := antisymmetricShare(doubleCentre(M))
		self, err := ev.selfAttention(ctx, t.m)
		if err != nil {
			return err
		}
		selfs = append(selfs, self)
		k := t.v.Key
		r.Result(k+"_eval_loss", t.finalEval)
		r.Result(k+"_direct_antisymmetric_share", share)
		r.Result(k+"_direct_max_asymmetry", maxAsymmetry(M))
		r.Result(k+"_table_antisymmetric_share", antisymmetricShare(doubleCentre(T0)))
		r.Result(k+"_successor_prob", successorProb(T0, ch.Next))
		r.Result(k+"_predecessor_prob", predecessorProb(T0, ch.Next))
		r.Result(k+"_repeat_prob", repeatProb(T0))
		r.Result(k+"_self_attention", self)
		selfText := "—"
		if t.v.Head {
			selfText = fmt.Sprintf("%.3f", self)
		}
		rows = append(rows, []string{t.v.Name, fmt.Sprintf("%.4f", t.finalEval), fmt.Sprintf("%+.4f", t.finalEval-ev.trueLoss),
			fmt.Sprintf("%.3f", share), fmt.Sprintf("%.1e", maxAsymmetry(M)), fmt.Sprintf("%.3f", successorProb(T0, ch.Next)),
			fmt.Sprintf("%.3f", predecessorProb(T0, ch.Next)), fmt.Sprintf("%.3f", repeatProb(T0)), selfText})
	}
	rows = append(rows, []string{"the truth", fmt.Sprintf("%.4f", ev.trueLoss), "0", fmt.Sprintf("%.3f", trueShare), "",
		fmt.Sprintf("%.3f", successorProb(ch.logP, ch.Next)), fmt.Sprintf("%.3f", predecessorProb(ch.logP, ch.Next)),
		fmt.Sprintf("%.3f", repeatProb(ch.logP)), ""})
	r.Table(fmt.Sprintf("After %d steps. Loss on %d held-out sequences (the gap is to the true probabilities' loss on the same sequences); "+
		"antisymmetric share of the double-centred direct path W_E·W_U and its largest |M − Mᵀ|; the probabilities the "+
		"model gives at position 0 to the successor σ(a), to the reverse step σ(a) → a and to repeating a; attention "+
		"to the current position.", s.Steps, s.EvalBatch),
		[]string{"model", "loss", "gap", "antisym. share of W_E·W_U", "max |M − Mᵀ|", "P(a → σ(a))", "P(σ(a) → a)", "P(a → a)", "attention to self"}, rows)
	r.BeginRow()
	for i, t := range runs[:2] {
		fig, err := tableFigure("Direct path W_E·W_U, "+t.v.Name[:strings.Index(t.v.Name, ",")], doubleCentre(directPath(t.m)), order, figures.Diverging, "logit (centred)")
		if err != nil {
			return err
		}
		r.FigureAt(fig, 520, 480, fmt.Sprintf("The learned direct path of the %s model, rows and columns centred, tokens in cycle order.", []string{"untied", "tied"}[i]))
	}
	r.EndRow()
	ud, td := runs[0], runs[1]
	gap := r.Headline("tied_untied_gap", "loss gap, tied − untied direct path (nats)", td.finalEval-ud.finalEval, "%.3f")
	r.Headline("untied_direct_loss", "untied direct path: held-out loss (nats)", ud.finalEval, "%.4f")
	r.Headline("tied_direct_loss", "tied direct path: held-out loss (nats)", td.finalEval, "%.4f")
	untiedShare := antisymmetricShare(doubleCentre(directPath(ud.m)))
	r.Claim("untied_learns_chain", ud.finalEval-ev.trueLoss < evalNoise && untiedShare > trueShare/2,
		fmt.Sprintf("untied direct path: %.3f nats above the truth's loss, antisymmetric share %.3f (truth %.3f)", ud.finalEval-ev.trueLoss, untiedShare, trueShare),
		"The untied direct path learns the chain: its loss is within %.2f nats (the evaluation's noise) of the truth's, and "+
			"its interaction table is, like the truth's, largely antisymmetric.", evalNoise)
	r.Claim("tied_symmetric", maxAsymmetry(directPath(td.m)) == 0, fmt.Sprintf("largest |M − Mᵀ| = %.0g", maxAsymmetry(directPath(td.m))),
		"The tied direct path is symmetric to the last bit: the two products are the same numbers added in the same order.")
	r.P("The tied direct path gives the reverse step σ(a) → a probability %.3f, against %.3f in the truth; it ends **%s** nats "+
		"behind the untied model.", predecessorProb(tables[1], ch.Next), predecessorProb(ch.logP, ch.Next), gap)
	r.Claim("tied_below_symmetric_floor", td.finalEval > symLoss && repeatProb(tables[1]) > repeatProb(ch.logP),
		fmt.Sprintf("tied direct loss %.4f vs best symmetric table %.4f; P(repeat) %.3f vs %.3f in the truth",
			td.finalEval, symLoss, repeatProb(tables[1]), repeatProb(ch.logP)),
		"It does worse even than the best symmetric table: W_E·W_Eᵀ is a Gram matrix, positive semi-definite, "+
			"so e_a·e_b ≤ (‖e_a‖² + ‖e_b‖²)/2 — a token's logit for itself is never far below its best — and the model "+
			"predicts repeating the current token more often than the truth does.")

	// 5. With attention.
	r.Section("The way out: attention")
	uh, th := runs[2], runs[3]
	D0 := directAtZero(th.m)
	ovShare := antisymmetricShare(doubleCentre(sub(tables[3], D0)))
	r.Result("tied_head_ov_antisymmetric_share", ovShare)
	r.Claim("tied_head_recovers", th.finalEval < td.finalEval && th.finalEval-uh.finalEval < evalNoise,
		fmt.Sprintf("held-out loss: tied with a head %.4f, untied with a head %.4f, tied direct path %.4f", th.finalEval, uh.finalEval, td.finalEval),
		"Give the models their attention head back and the tied model recovers: its held-out loss comes within the "+
			"evaluation's noise (%.2f nats) of the untied model's.", evalNoise)
	r.Claim("tied_head_attends_self", selfs[3] > selfs[2] && selfs[3] > 0.5,
		fmt.Sprintf("mean attention to the current position: tied %.3f, untied %.3f", selfs[3], selfs[2]),
		"It cannot have done so through the direct path, which is still exactly symmetric. It routes the bigram through "+
			"the head instead: each position attends mostly to itself, more than in the untied model, which has no need to.")
	r.P("The head's OV circuit, W_E·W_V·W_O·W_Eᵀ, has no reason to be symmetric. At position 0 the model's whole logit "+
		"table has an antisymmetric share of %.3f; the direct path's part of the table is symmetric, and the head's part "+
		"(the table minus the direct path) is %.0f%% antisymmetric.", antisymmetricShare(doubleCentre(tables[3])), 100*ovShare)
	r.Note("The cost is not in the loss but in the model: with tied embeddings, a head (or, in a bigger model, MLP " +
		"capacity) is spent re-learning a bigram table that an untied unembedding provides for free. Interpretability " +
		"work on tied models should expect bigram statistics in unexpected places.")

	r.Section("What to take away")
	r.Takeaways(
		report.Takeaway{Text: "With W_U = W_Eᵀ the direct path W_E·W_Eᵀ is symmetric: whatever it does for a → b it does for b → a.", Claims: []string{"tied_symmetric"}},
		report.Takeaway{Text: fmt.Sprintf("On this task, symmetry alone costs at least %.3f nats (the best symmetric table against the entropy rate); the tied direct path ends %.3f nats above the untied one.", symLoss-H, td.finalEval-ud.finalEval)},
		report.Takeaway{Text: "An untied direct path learns the asymmetric table and reaches the entropy rate, within the evaluation's noise.", Claims: []string{"untied_learns_chain"}},
		report.Takeaway{Text: "A tied model with attention recovers by attending to the current token and moving the asymmetry into the OV circuit — paying with a head.",
			Claims: []string{"tied_head_recovers", "tied_head_attends_self"}},
	)
	return r.Write()
}

// evalNoise bounds the noise of a held-out loss: with the quick run's 64
// sequences of 15 scored tokens its standard error is about 0.03 nats (less
// in the full run), so 0.1 is a generous margin. Differences below it are
// not results.
const evalNoise = 0.1

// cycleOrder lists the tokens along the cycle σ, starting at token 0.
func cycleOrder(next []int) []int {
	order := []int{0}
	for a := next[0]; a != 0; a = next[a] {
		order = append(order, a)
	}
	return order
}

// tableFigure draws a [V][V] table with rows and columns in the given order.
func tableFigure(title string, M [][]float64, order []int, cmap figures.ColorMap, barLabel string) (*figures.Figure, error) {
	vals := make([][]float64, len(order))
	labels := make([]string, len(order))
	for i, a := range order {
		labels[i] = fmt.Sprint(a)
		vals[i] = make([]float64, len(order))
		for j, b := range order {
			vals[i][j] = M[a][b]
		}
	}
	return figures.Heatmap(figures.HeatmapSpec{Title: title, XLabel: "next token", YLabel: "current token", Values: vals,
		RowLabels: labels, ColLabels: labels, ColorMap: cmap, ColorBarLabel: barLabel})
}
