// Command 03-logit-lens is the notebook "Logit lens and tuned lens": where
// in the residual stream of the toy induction model the answer appears,
// read with the logit lens and the tuned lens side by side. Run it as
//
//	go run ./notebooks/03-logit-lens [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/lens"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/train/induction"
)

//go:embed main.go
var source []byte

const name = "03-logit-lens"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// sizes returns the number of held-out sequences and tuned-lens steps.
func sizes(o report.Options) (evalN, steps int) {
	if o.Quick {
		return 32, 40
	}
	return 256, lens.DefaultSteps
}

func run(ctx context.Context, o report.Options) error {
	r := report.New("Logit lens and tuned lens", source, o)
	r.P("The residual stream is a sum: each layer reads it and adds to it, and the unembedding reads the final sum. " +
		"The **logit lens** (nostalgebraist 2020) decodes the stream part-way through with the model's own unembedding, " +
		"asking \"if the model stopped here, what would it say?\". The **tuned lens** (Belrose et al. 2023) first passes " +
		"each intermediate residual through a learned affine translator, trained to match the model's final distribution, " +
		"because intermediate residuals need not live in the basis the unembedding reads. Here both read the toy " +
		"induction model, where we know the answer: it can only appear once the layer-1 induction heads have acted.")

	evalN, steps := sizes(o)
	// region: setup
	m, _, err := report.DemoModel() // the trained 2-layer attention-only induction model
	if err != nil {
		return err
	}
	task := induction.Default().Task() // the task it was trained on: L = 20, repeats of 10..20
	eval, err := task.EvalSet(evalN, o.Seed)
	if err != nil {
		return err
	}
	tokens := eval.Rows() // [batch][pos]: 20 random tokens, then the same 20 again
	// endregion
	if m.Cfg.NCtx != task.SeqLen() {
		return fmt.Errorf("demo model has n_ctx %d, the task %d positions", m.Cfg.NCtx, task.SeqLen())
	}
	T, L := task.SeqLen(), task.L
	r.Section("The model and the data")
	r.P("The model is the dashboard's demo (notebook 01 trains its twin). The held-out set is %d sequences of %d "+
		"distinct random tokens repeated once (%d positions): positions %d–%d are predictable by induction, the first "+
		"%d are not.", evalN, L, T, L, T-2, L)
	r.Code("setup")

	r.Section("The logit lens")
	// region: logit
	logit, err := lens.Logit(ctx, m, tokens, lens.Options{TopK: 1, Logits: true})
	if err != nil {
		return err
	}
	// logit[i] is one point of lens.Points: "embed", then each layer's resid_post;
	// logit[i].Logits holds its decoded logits [batch, pos, d_vocab].
	// endregion
	r.P("`lens.Logit` runs the model once and decodes every point of the residual stream — here `embed` (token plus " +
		"position), `blocks.0.hook_resid_post` and `blocks.1.hook_resid_post` (attention-only blocks have no `resid_mid`) — " +
		"recomputing the final LayerNorm on each residual (this model has none):")
	r.Code("logit")

	r.Section("The tuned lens")
	var klCurve []float64
	// region: tuned
	fill := data.NewBatch(16, T)
	stream := lens.Data{Batch: fill.N, Pos: T, Fill: func(dst []int32, rng *rand.Rand) {
		task.Fill(fill, rng) // the model's own training distribution
		copy(dst, fill.Tokens)
	}}
	tuned, err := lens.Train(ctx, m, stream, lens.TrainConfig{Steps: steps, Seed: o.Seed,
		Progress: func(step int, kl float64) { klCurve = append(klCurve, kl) }})
	if err != nil {
		return err
	}
	tl, err := tuned.Evaluate(ctx, m, tokens, lens.Options{TopK: 1, Logits: true})
	// endregion
	if err != nil {
		return err
	}
	r.P("A tuned lens learns one affine translator per point (d_model × d_model plus a bias), starting from the identity, "+
		"by minimising KL(final ‖ lens) on the model's own training distribution with SGD and Nesterov momentum, %d steps "+
		"of %d sequences (Belrose et al.'s recipe):", steps, 16)
	r.Code("tuned")
	fig, err := figures.Curves(figures.CurvesSpec{
		Title: "Tuned-lens training", XLabel: "step", YLabel: "mean KL(final ‖ lens), nats", LogY: true,
		Series: []figures.Series{{Name: "KL over the trained points", Y: klCurve}},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 760, 300, "The translators' training loss: the mean KL divergence from the model's final distribution over the non-final points.")

	r.Section("Where the answer appears")
	lm, tm := measure(logit, eval), measure(tl, eval)
	labels := make([]string, len(logit))
	for i, s := range logit {
		labels[i] = shortLabel(s.Label)
	}
	posLabels := make([]string, T)
	for p := range T {
		posLabels[p] = strconv.Itoa(p)
	}
	r.P("For every point and position: the probability each lens gives the correct next token, averaged over the %d "+
		"held-out sequences. The second half is where an induction model knows the answer.", evalN)
	for _, x := range []struct {
		name string
		m    *measured
	}{{"Logit lens", lm}, {"Tuned lens", tm}} {
		fig, err := figures.Heatmap(figures.HeatmapSpec{
			Title: x.name + ": P(correct next token)", XLabel: "position", YLabel: "residual point",
			Values: x.m.probByPos, RowLabels: labels, ColLabels: posLabels, Range: figures.Range{Min: 0, Max: 1},
			ColorBarLabel: "probability",
		})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 1000, 250, x.name+": mean probability of the correct next token per point × position (the last position has no next token).")
	}
	r.P("And on one sequence, the top token each lens reads at each point, coloured by its probability (the correct " +
		"continuation is in the last row of the table below each map):")
	seqText := make([]string, T)
	for p := range T {
		seqText[p] = strconv.Itoa(tokens[0][p])
	}
	for _, x := range []struct {
		name  string
		stats []lens.Stats
	}{{"Logit lens", logit}, {"Tuned lens", tl}} {
		vals, text := topTable(x.stats)
		fig, err := figures.Heatmap(figures.HeatmapSpec{
			Title: x.name + ": top token and its probability, sequence 0", XLabel: "position (input token)", YLabel: "residual point",
			Values: vals, CellText: text, RowLabels: labels, ColLabels: seqText, Range: figures.Range{Min: 0, Max: 1},
			ColorBarLabel: "probability",
		})
		if err != nil {
			return err
		}
		r.FigureAt(fig, 1200, 250, x.name+": the most probable next token at each point, written in its cell; columns are labelled by the input token.")
	}
	next := make([]string, T)
	for p := range T - 1 {
		next[p] = strconv.Itoa(tokens[0][p+1])
	}
	next[T-1] = "—"
	r.Table("The correct next token at each position of sequence 0 (second half only: the first half is unpredictable).",
		append([]string{"position"}, posLabels[L:]...), [][]string{append([]string{"next token"}, next[L:]...)})

	r.Section("Loss and KL per layer")
	fig, err = figures.Bars(figures.BarsSpec{
		Title: "Loss on the predictable half", YLabel: "cross-entropy (nats)", Categories: labels,
		Groups: []figures.BarGroup{{Name: "logit lens", Values: lm.loss}, {Name: "tuned lens", Values: tm.loss}},
		HLines: []figures.Marker{{At: math.Log(float64(m.Cfg.DVocab)), Label: "ln d_vocab (uniform)"}},
		YRange: figures.Range{Min: 0, Max: 1.3 * math.Log(float64(m.Cfg.DVocab))}, // room for the legend
	})
	if err != nil {
		return err
	}
	r.BeginRow()
	r.FigureAt(fig, 560, 340, "Next-token loss on the predictable half, per point, for both lenses.")
	kl := func(st []lens.Stats) []float64 {
		out := make([]float64, len(st))
		for i, s := range st {
			out[i] = s.KLToFinal
		}
		return out
	}
	fig, err = figures.Bars(figures.BarsSpec{
		Title: "KL(final ‖ lens)", YLabel: "nats (all positions)", Categories: labels,
		Groups: []figures.BarGroup{{Name: "logit lens", Values: kl(logit)}, {Name: "tuned lens", Values: kl(tl)}},
		YRange: figures.Range{Min: 0, Max: 1.3 * logit[0].KLToFinal},
	})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 560, 340, "KL divergence from the model's final distribution, averaged over every position.")
	r.EndRow()
	var tab [][]string
	for i := range logit {
		tab = append(tab, []string{labels[i],
			fmt.Sprintf("%.3f", lm.loss[i]), fmt.Sprintf("%.3f", tm.loss[i]),
			fmt.Sprintf("%.3f", lm.acc[i]), fmt.Sprintf("%.3f", tm.acc[i]),
			fmt.Sprintf("%.3f", logit[i].KLToFinal), fmt.Sprintf("%.3f", tl[i].KLToFinal),
			fmt.Sprintf("%.3f", logit[i].Entropy), fmt.Sprintf("%.3f", tl[i].Entropy)})
	}
	r.Table("Per point: loss and accuracy on the predictable half; KL to the final distribution and entropy over every position.",
		[]string{"point", "loss (logit)", "loss (tuned)", "acc (logit)", "acc (tuned)", "KL (logit)", "KL (tuned)", "entropy (logit)", "entropy (tuned)"}, tab)

	last, mid := len(logit)-1, len(logit)-2
	r.Headline("final_acc", "final accuracy (predictable half)", lm.acc[last], "%.3f")
	r.Headline("logit_l0_acc", "logit lens after layer 0: accuracy", lm.acc[mid], "%.3f")
	r.Headline("tuned_l0_acc", "tuned lens after layer 0: accuracy", tm.acc[mid], "%.3f")
	r.Headline("logit_l0_kl", "logit lens after layer 0: KL", logit[mid].KLToFinal, "%.3f")
	r.Headline("tuned_l0_kl", "tuned lens after layer 0: KL", tl[mid].KLToFinal, "%.3f")
	r.Headline("logit_embed_kl", "logit lens at embed: KL", logit[0].KLToFinal, "%.3f")
	r.Result("tuned_embed_kl", tl[0].KLToFinal)
	r.Result("logit_loss", lm.loss)
	r.Result("tuned_loss", tm.loss)
	r.Result("points", labels)
	uniform := math.Log(float64(m.Cfg.DVocab))
	r.P("After the last layer both lenses are the model itself: accuracy %.3f and loss %.4f on the predictable half. "+
		"After layer 0 the logit lens scores accuracy %.3f (loss %.2f) and the tuned lens %.3f (loss %.2f); a uniform "+
		"guess has loss ln %d = %.2f.",
		lm.acc[last], lm.loss[last], lm.acc[mid], lm.loss[mid], tm.acc[mid], tm.loss[mid], m.Cfg.DVocab, uniform)
	r.Claim("tuned_closer_in_kl", tl[mid].KLToFinal < logit[mid].KLToFinal,
		fmt.Sprintf("KL to the final distribution after layer 0: tuned %.3f, logit %.3f nats (%.0f%% less)",
			tl[mid].KLToFinal, logit[mid].KLToFinal, 100*(1-tl[mid].KLToFinal/logit[mid].KLToFinal)),
		"The tuned lens moves the layer-0 distribution closer to the final one in KL.")
	r.Claim("answer_only_after_layer1", tm.acc[mid] < lm.acc[last]/2 && lm.acc[mid] < lm.acc[last]/2,
		fmt.Sprintf("accuracy after layer 0: tuned %.3f, logit %.3f; after layer 1: %.3f", tm.acc[mid], lm.acc[mid], lm.acc[last]),
		"Neither lens finds the answer after layer 0 (both below half the final accuracy): it needs information which only the "+
			"layer-1 induction heads move into the position, so no affine map of the layer-0 residual contains it.")

	r.Subsection("Confident where it cannot know")
	// region: confident
	final := logit[last].Logits // the model's own logits [batch, pos, d_vocab]
	hFirst, hSecond := entropy(final, 0, L), entropy(final, L, T-1)
	// endregion
	cur := make([][]string, len(logit))
	for i := range logit {
		cur[i] = []string{labels[i], fmt.Sprintf("%.3f", currentRate(logit[i].Top, tokens)), fmt.Sprintf("%.3f", currentRate(tl[i].Top, tokens))}
	}
	r.P("The table's entropy column hides something. Split by half, the model's own output distribution has entropy "+
		"**%.2f nats** over the first, unpredictable half and %.3f over the second (uniform over the roughly %d unseen tokens "+
		"would be %.2f).", hFirst, hSecond, m.Cfg.DVocab-L/2, math.Log(float64(m.Cfg.DVocab-L/2)))
	r.Claim("confident_unpredictable", hFirst < math.Log(float64(m.Cfg.DVocab-L/2)),
		fmt.Sprintf("entropy over the first half %.2f < %.2f nats (uniform over the unseen tokens)", hFirst, math.Log(float64(m.Cfg.DVocab-L/2))),
		"The model is confident where it cannot know, because training never scored those positions.")
	r.P("A lens trained on KL to that distribution may inherit its habits: read the top-token maps above again, and count " +
		"how often each lens's top token is simply the current input token:")
	r.Code("confident")
	r.Table("Fraction of positions whose top-1 token is the input token at that position.", []string{"point", "logit lens", "tuned lens"}, cur)
	r.P("The model's own top token is the current input token at %.0f%% of positions — guesses in the unscored first "+
		"half, since in the second half it is right %.1f%% of the time and the answer is never the current token. The "+
		"tuned lens at `embed`, which sees only the current token and its position, makes that its answer at %.0f%% of "+
		"positions: the KL-cheapest bet on a distribution it cannot otherwise predict.",
		100*currentRate(logit[last].Top, tokens), 100*lm.acc[last], 100*currentRate(tl[0].Top, tokens))
	r.Result("final_entropy_first_half", hFirst)
	r.Result("final_entropy_second_half", hSecond)
	r.Result("tuned_l0_top_is_current", currentRate(tl[mid].Top, tokens))
	r.Note("A lens shows what is linearly decodable at a point, not what the model computes there. In a two-layer " +
		"induction model the answer appears in one step, at the last layer; deeper models, where it is assembled over " +
		"many layers, are where the lenses earn their keep — and where the tuned lens's translators matter most.")

	r.Section("What to take away")
	r.Takeaways(
		report.Takeaway{Text: "The logit lens decodes intermediate residuals with the model's own unembedding; the tuned lens adds a learned affine translator per layer."},
		report.Takeaway{Text: "On the induction model the correct token appears only after layer 1, where the induction heads act — in both lenses.",
			Claims: []string{"answer_only_after_layer1"}},
		report.Takeaway{Text: "The tuned lens is closer to the final distribution in KL at early points, yet does not find the answer there: it calibrates, it does not compute.",
			Claims: []string{"tuned_closer_in_kl", "answer_only_after_layer1"}},
	)
	return r.Write()
}

// measured holds one lens's numbers on the held-out set.
type measured struct {
	probByPos [][]float64 // [point][pos]: mean P(correct next token)
	loss, acc []float64   // [point]: on the weighted (predictable) positions
}

// measure reads each point's decoded logits [batch, pos, d_vocab] against
// the eval batch's targets and weights.
func measure(stats []lens.Stats, b *data.Batch) *measured {
	out := &measured{}
	for _, s := range stats {
		prob, loss, acc := score(s.Logits, b)
		out.probByPos = append(out.probByPos, prob)
		out.loss = append(out.loss, loss)
		out.acc = append(out.acc, acc)
	}
	return out
}

// score returns the mean probability of the target at each position (NaN
// at the last, which has none), and the loss and accuracy over weighted
// positions.
func score(logits *tensor.Tensor, b *data.Batch) (prob []float64, loss, acc float64) {
	B, T, V := logits.Shape[0], logits.Shape[1], logits.Shape[2]
	prob = make([]float64, T)
	var wsum float64
	for bi := range B {
		for p := range T {
			row := logits.Data[(bi*T+p)*V : (bi*T+p+1)*V]
			tgt := int(b.Targets[bi*T+p])
			lse, best := logSumExp(row)
			lp := float64(row[tgt]) - lse
			prob[p] += math.Exp(lp) / float64(B)
			if w := float64(b.Weights[bi*T+p]); w > 0 {
				loss -= w * lp
				if best == tgt {
					acc += w
				}
				wsum += w
			}
		}
	}
	prob[T-1] = math.NaN()
	return prob, loss / wsum, acc / wsum
}

func logSumExp(row []float32) (lse float64, argmax int) {
	top := row[0]
	for j, v := range row {
		if v > top {
			top, argmax = v, j
		}
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v - top))
	}
	return float64(top) + math.Log(s), argmax
}

// topTable returns, for sequence 0, each point's top-1 probability and
// token per position.
func topTable(stats []lens.Stats) ([][]float64, [][]string) {
	vals, text := make([][]float64, len(stats)), make([][]string, len(stats))
	for i, s := range stats {
		top := s.Top[0] // [pos][k]
		vals[i], text[i] = make([]float64, len(top)), make([]string, len(top))
		for p, tp := range top {
			vals[i][p], text[i][p] = tp[0].Prob, strconv.Itoa(tp[0].Token)
		}
	}
	return vals, text
}

// shortLabel shortens a lens point label: "blocks.1.hook_resid_post" → "L1 resid_post".
func shortLabel(s string) string {
	var l int
	var what string
	if n, _ := fmt.Sscanf(s, "blocks.%d.hook_%s", &l, &what); n == 2 {
		return fmt.Sprintf("L%d %s", l, what)
	}
	return s
}

// entropy returns the mean entropy (nats) of softmax(logits) over positions
// [from, to) of every sequence.
func entropy(logits *tensor.Tensor, from, to int) float64 {
	B, T, V := logits.Shape[0], logits.Shape[1], logits.Shape[2]
	var h float64
	for b := range B {
		for p := from; p < to; p++ {
			row := logits.Data[(b*T+p)*V : (b*T+p+1)*V]
			lse, _ := logSumExp(row)
			for _, v := range row {
				lp := float64(v) - lse
				h -= math.Exp(lp) * lp
			}
		}
	}
	return h / float64(B*(to-from))
}

// currentRate returns the fraction of positions whose top-1 token (top
// [batch][pos][k]) is the input token there.
func currentRate(top [][][]lens.TokenProb, tokens [][]int) float64 {
	var n, hit int
	for b, seq := range top {
		for p, tp := range seq {
			n++
			if tp[0].Token == tokens[b][p] {
				hit++
			}
		}
	}
	return float64(hit) / float64(n)
}
