package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/lens"
	"github.com/mechinterp/workbench/transformer"
)

// runLens is `workbench lens`: the logit lens (and, with --tuned, a trained
// tuned lens) over token sequences, or `workbench lens train`.
func runLens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "train" {
		return runLensTrain(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("lens", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var in tokenInput
	in.register(fs, "tokens", "JSON `FILE` holding an array of equal-length token sequences", "text")
	tunedPath := fs.String("tuned", "", "tuned lens `FILE`.safetensors (from 'workbench lens train') to report beside the logit lens")
	topK := fs.Int("k", lens.DefaultTopK, "top tokens kept per position")
	asJSON := fs.Bool("json", false, `print {"layers", "accuracy", "loss", "kl_to_final", "entropy", "top", "tuned"} as JSON (text input adds "tokens" and "pieces")`)
	batch := fs.Int("batch", evalBatch, "sequences decoded at once (memory grows with it; the file may hold any number)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench lens --model FILE [--config FILE] (--tokens FILE | --text S | --text-file F) [--tuned FILE] [--k N] [--json]")
		fmt.Fprintln(w, "       workbench lens train --model FILE --out FILE [flags]   (see 'workbench lens train -h')")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Decodes the residual stream at embed, every resid_mid (models with MLPs) and every")
		fmt.Fprintln(w, "resid_post through ln_final (recomputed on that residual) and the unembedding, and")
		fmt.Fprintln(w, "reports per point the next-token accuracy and loss over positions 0..T-2 of every")
		fmt.Fprintln(w, "sequence, the KL divergence from the model's final distribution and the entropy")
		fmt.Fprintln(w, "(both over every position), and the top tokens per position. JSON \"top\" is")
		fmt.Fprintln(w, "[point][batch][pos] -> [{\"token\", \"prob\"}, ...] (and \"piece\", the token's text, with a")
		fmt.Fprintln(w, "tokenizer: --model's folder's or --tokenizer's). The file is read --batch sequences at a")
		fmt.Fprintln(w, "time and the top tokens are spooled to temporary files, so memory does not grow with it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lens: unexpected argument %q", fs.Arg(0))
	}
	if *topK < 0 {
		return fmt.Errorf("lens: --k must be ≥ 0, got %d", *topK)
	}
	if *batch < 1 {
		return fmt.Errorf("lens: --batch must be at least 1, got %d", *batch)
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("lens", mf.model, m, stderr)
	if err != nil {
		return err
	}
	r, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	defer r.Close()
	var tuned *lens.Tuned
	if *tunedPath != "" {
		if tuned, err = lens.LoadTuned(*tunedPath, m.Cfg); err != nil {
			return err
		}
	}
	opts := lens.Options{TopK: *topK}
	var logit, tl lensTotals
	if *asJSON {
		logit.spool, tl.spool = &topSpool{v: v}, &topSpool{v: v}
		defer logit.spool.Close()
		defer tl.spool.Close()
	}
	var toks [][]int
	var first []int // sequence 0, which the table shows
	for {
		if toks, err = r.batch(toks, *batch); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if logit.n == 0 {
			first = append(first, toks[0]...)
			// The lens decodes every residual point at once: about one
			// forward pass per point, on top of the model's own.
			points := float64(2*m.Cfg.NLayers + 2)
			if err := checkMemory(fmt.Sprintf("lens: a batch of %d sequences of %d tokens", len(toks), len(toks[0])),
				(1+points)*forwardBytes(m.Cfg, len(toks), len(toks[0])), "lower --batch"); err != nil {
				return err
			}
		}
		// Per-position statistics need every point's logits: decode
		// chunks of sequences whose logits fit lensLogitsBudget, or skip
		// them when one sequence's do not (a large vocabulary and context).
		chunk, perPos := len(toks), true
		if per := float64(len(lens.Labels(m.Cfg))*len(toks[0])*m.Cfg.DVocabOut) * 4; per > lensLogitsBudget {
			perPos = false
		} else {
			chunk = max(1, min(len(toks), int(lensLogitsBudget/per)))
		}
		logit.perPosSkipped = logit.perPosSkipped || !perPos
		opts.Logits = perPos
		for start := 0; start < len(toks); start += chunk {
			part := toks[start:min(start+chunk, len(toks))]
			st, err := lens.Logit(ctx, m, part, opts)
			if err != nil {
				return err
			}
			if err := logit.add(st, part, m.Cfg.DVocabOut); err != nil {
				return err
			}
			if tuned != nil {
				st, err := tuned.Evaluate(ctx, m, part, opts)
				if err != nil {
					return err
				}
				if err := tl.add(st, part, m.Cfg.DVocabOut); err != nil {
					return err
				}
			}
		}
	}
	if *asJSON {
		w := bufio.NewWriterSize(stdout, 1<<16)
		io.WriteString(w, "{")
		if err := logit.writeJSON(w); err != nil {
			return err
		}
		if tuned != nil {
			io.WriteString(w, `,"tuned":{`)
			if err := tl.writeJSON(w); err != nil {
				return err
			}
			io.WriteString(w, "}")
		}
		if err := writeTextJSON(w, "", text); err != nil {
			return err
		}
		io.WriteString(w, "}\n")
		return w.Flush()
	}
	var tunedTotals *lensTotals
	if tuned != nil {
		tunedTotals = &tl
	}
	printLensTable(stdout, v, first, &logit, tunedTotals)
	return nil
}

// lensTotals accumulates a lens's statistics over batches: sums of the
// means weighted by each batch's sequences (every sequence weighs the same,
// as they have equal lengths), the first batch's top tokens for the table,
// and with a spool, every batch's top tokens for JSON.
type lensTotals struct {
	sums          []lens.Stats
	pos           []positionStats // per point, from the decoded logits
	perPosSkipped bool            // one sequence's logits were too large to keep
	n             int
	spool         *topSpool
}

// lensLogitsBudget bounds the bytes of decoded logits (every point's, for
// a chunk of sequences) lens keeps at once for per-position statistics.
const lensLogitsBudget = 256 << 20

// add adds the statistics st of the sequences toks (and, when st carries
// logits of V columns, their per-position loss and accuracy).
func (t *lensTotals) add(st []lens.Stats, toks [][]int, V int) error {
	count := len(toks)
	w := float64(count)
	if t.sums == nil {
		t.sums = make([]lens.Stats, len(st))
		t.pos = make([]positionStats, len(st))
		for i, s := range st {
			t.sums[i] = lens.Stats{Label: s.Label, Top: s.Top}
		}
	}
	for i, s := range st {
		if s.Logits != nil {
			T := len(toks[0])
			for b, seq := range toks {
				t.pos[i].addSequence(seq, s.Logits.Data[b*T*V:(b+1)*T*V], V)
			}
		}
	}
	for i, s := range st {
		d := &t.sums[i]
		d.Accuracy += w * s.Accuracy
		d.Loss += w * s.Loss
		d.KLToFinal += w * s.KLToFinal
		d.Entropy += w * s.Entropy
	}
	t.n += count
	if t.spool != nil {
		return t.spool.add(st)
	}
	return nil
}

// means returns the statistics over every sequence added (nil if none).
func (t *lensTotals) means() []lens.Stats {
	if t.sums == nil {
		return nil
	}
	out := make([]lens.Stats, len(t.sums))
	for i, s := range t.sums {
		n := float64(t.n)
		out[i] = lens.Stats{Label: s.Label, Top: s.Top, Accuracy: s.Accuracy / n, Loss: s.Loss / n, KLToFinal: s.KLToFinal / n, Entropy: s.Entropy / n}
	}
	return out
}

// writeJSON writes the fields of lensJSON (without braces), the top tokens
// copied from the spool.
func (t *lensTotals) writeJSON(w io.Writer) error {
	r := lensReport(t.means())
	for _, f := range []struct {
		key string
		v   any
	}{{"layers", r.Layers}, {"accuracy", r.Accuracy}, {"loss", r.Loss}, {"kl_to_final", r.KLToFinal}, {"entropy", r.Entropy}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			return fmt.Errorf("lens: %s: %w", f.key, err)
		}
		if f.key != "layers" {
			io.WriteString(w, ",")
		}
		fmt.Fprintf(w, "%q:%s", f.key, b)
	}
	if err := t.writePositionJSON(w); err != nil {
		return err
	}
	io.WriteString(w, `,"top":`)
	return t.spool.writeTo(w)
}

// writePositionJSON writes, per point, the loss and accuracy per position
// and over the predictable positions (positionJSON's fields, each an
// array over the points), or "per_position_skipped" saying why not.
func (t *lensTotals) writePositionJSON(w io.Writer) error {
	if t.perPosSkipped {
		return writeJSONField(w, "per_position_skipped", "one sequence's decoded logits at every point exceed the lens's memory budget")
	}
	var out struct {
		LossPredictable     []any       `json:"loss_predictable"`
		AccuracyPredictable []any       `json:"accuracy_predictable"`
		PredictablePos      int         `json:"predictable_positions"`
		PredictableSet      string      `json:"predictable_set"`
		PerPositionLoss     [][]float64 `json:"per_position_loss"`
		PerPositionAccuracy [][]float64 `json:"per_position_accuracy"`
	}
	for i := range t.pos {
		j := t.pos[i].json()
		out.LossPredictable = append(out.LossPredictable, j.LossPredictable)
		out.AccuracyPredictable = append(out.AccuracyPredictable, j.AccuracyPredictable)
		out.PredictablePos, out.PredictableSet = j.PredictablePos, j.PredictableSet
		out.PerPositionLoss = append(out.PerPositionLoss, j.PerPositionLoss)
		out.PerPositionAccuracy = append(out.PerPositionAccuracy, j.PerPositionAccuracy)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("lens: %w", err)
	}
	_, err = fmt.Fprintf(w, ",%s", b[1:len(b)-1])
	return err
}

// topSpool keeps the top tokens of every point, [point][batch][pos][k], in
// one temporary file per point as they are computed, so that JSON output
// (point-major) needs no more memory than one batch.
type topSpool struct {
	v     *vocab // adds each token's "piece" when it knows the tokenizer
	files []*os.File
	bufs  []*bufio.Writer
	seqs  int
}

// add appends one batch's top tokens.
func (s *topSpool) add(st []lens.Stats) error {
	for len(s.files) < len(st) {
		f, err := os.CreateTemp("", "workbench-lens-*.json")
		if err != nil {
			return fmt.Errorf("lens: %w", err)
		}
		s.files = append(s.files, f)
		s.bufs = append(s.bufs, bufio.NewWriter(f))
	}
	for i, p := range st {
		for b, seq := range p.Top {
			enc, err := json.Marshal(s.withPieces(seq))
			if err != nil {
				return fmt.Errorf("lens: %w", err)
			}
			if s.seqs+b > 0 {
				s.bufs[i].WriteByte(',')
			}
			if _, err := s.bufs[i].Write(enc); err != nil {
				return fmt.Errorf("lens: %w", err)
			}
		}
	}
	if len(st) > 0 {
		s.seqs += len(st[0].Top)
	}
	return nil
}

// withPieces returns one sequence's top tokens [pos][k], each with its
// text added when the spool knows the tokenizer.
func (s *topSpool) withPieces(seq [][]lens.TokenProb) any {
	if !s.v.known() {
		return seq
	}
	type tokenPiece struct {
		lens.TokenProb
		Piece string `json:"piece"`
	}
	out := make([][]tokenPiece, len(seq))
	for p, top := range seq {
		out[p] = make([]tokenPiece, len(top))
		for k, tp := range top {
			out[p][k] = tokenPiece{tp, s.v.piece(tp.Token)}
		}
	}
	return out
}

// writeTo writes [point][batch][pos][k] as JSON.
func (s *topSpool) writeTo(w io.Writer) error {
	io.WriteString(w, "[")
	for i, f := range s.files {
		if i > 0 {
			io.WriteString(w, ",")
		}
		if err := s.bufs[i].Flush(); err != nil {
			return fmt.Errorf("lens: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("lens: %w", err)
		}
		io.WriteString(w, "[")
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("lens: %w", err)
		}
		io.WriteString(w, "]")
	}
	_, err := io.WriteString(w, "]")
	return err
}

// Close removes the temporary files.
func (s *topSpool) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close(), os.Remove(f.Name()))
	}
	return errors.Join(errs...)
}

// lensJSON is the CLI contract of `workbench lens --json`: one entry per
// point in every array.
type lensJSON struct {
	Layers    []string               `json:"layers"`
	Accuracy  []float64              `json:"accuracy"`
	Loss      []float64              `json:"loss"`
	KLToFinal []float64              `json:"kl_to_final"`
	Entropy   []float64              `json:"entropy"`
	Top       [][][][]lens.TokenProb `json:"top"` // [point][batch][pos][k]
	Tuned     *lensJSON              `json:"tuned,omitempty"`
}

func lensReport(st []lens.Stats) *lensJSON {
	r := &lensJSON{}
	for _, s := range st {
		r.Layers = append(r.Layers, s.Label)
		r.Accuracy = append(r.Accuracy, s.Accuracy)
		r.Loss = append(r.Loss, s.Loss)
		r.KLToFinal = append(r.KLToFinal, s.KLToFinal)
		r.Entropy = append(r.Entropy, s.Entropy)
		top := s.Top
		if top == nil {
			top = [][][]lens.TokenProb{}
		}
		r.Top = append(r.Top, top)
	}
	return r
}

// printLensTable prints, for people, each point's accuracy and loss over
// every position and over the predictable ones, its KL to the final
// distribution and entropy; the loss per position; and the logit lens's
// top-1 token per position of sequence 0 under the input tokens, every
// table aligned and cut to fit screenWidth columns.
func printLensTable(w io.Writer, v *vocab, input []int, logit, tuned *lensTotals) {
	T := len(input)
	fmt.Fprintf(w, "%d sequences × %d positions: the residual stream decoded at each point\n", logit.n, T)
	writeLensStats(w, "logit lens", logit, T)
	if tuned != nil {
		fmt.Fprintln(w)
		writeLensStats(w, "tuned lens", tuned, T)
	}
	var one []int // the input tokens label the columns when there is one sequence
	if logit.n == 1 {
		one = input
	}
	if !logit.perPosSkipped {
		fmt.Fprintln(w, "\nlogit lens loss by position (the prediction at p of the token at p+1), mean over the sequences:")
		var labels []string
		var values [][]float64
		for i, s := range logit.sums {
			labels = append(labels, s.Label)
			values = append(values, logit.pos[i].perPositionLoss())
		}
		writePositionTable(w, v, one, labels, values)
	}
	if logit.sums[0].Top == nil {
		return
	}
	fmt.Fprintln(w, "\nlogit lens top-1 token per position, sequence 0:")
	var t table
	pos, in, next := tableRow{label: "pos"}, tableRow{label: "input"}, tableRow{label: "next"}
	for p, id := range input {
		pos.cells = append(pos.cells, fmt.Sprint(p))
		in.cells = append(in.cells, v.label(id))
		nx := ""
		if p+1 < T {
			nx = v.label(input[p+1])
		}
		next.cells = append(next.cells, nx)
	}
	t.headers = []tableRow{pos, in, next}
	for _, s := range logit.sums {
		r := tableRow{label: s.Label}
		for _, tp := range s.Top[0] {
			r.cells = append(r.cells, v.label(tp[0].Token))
		}
		t.rows = append(t.rows, r)
	}
	t.write(w, screenWidth)
	if !v.known() {
		return
	}
	// What each point predicts after the whole of sequence 0: the next
	// token of a prompt.
	last := T - 1
	fmt.Fprintf(w, "\nlogit lens top-%d next tokens after the last position (%s), sequence 0:\n", len(logit.sums[0].Top[0][last]), v.label(input[last]))
	t = table{}
	for _, s := range logit.sums {
		r := tableRow{label: s.Label}
		for _, tp := range s.Top[0][last] {
			r.cells = append(r.cells, fmt.Sprintf("%s %.3f", v.label(tp.Token), tp.Prob))
		}
		t.rows = append(t.rows, r)
	}
	t.write(w, screenWidth)
}

// writeLensStats prints one lens's statistics per point: accuracy and loss
// over every position 0..T−2 and over the predictable positions, then KL
// to the final distribution and entropy over every position.
func writeLensStats(w io.Writer, name string, t *lensTotals, T int) {
	means := t.means()
	fmt.Fprintf(w, "\n%s: next-token accuracy and loss over \"all\" positions 0..%d and the \"pred\"ictable ones;\n", name, T-2)
	fmt.Fprintf(w, "KL(final ‖ lens) and entropy over every position 0..%d\n", T-1)
	pred := !t.perPosSkipped && t.pos[0].predN > 0
	switch {
	case t.perPosSkipped:
		fmt.Fprintln(w, "predictable positions: not computed (one sequence's logits at every point are too large)")
	case pred:
		fmt.Fprintf(w, "predictable: %s,\n  %s\n", t.pos[0].predictableSet(), predictableWhy)
	default:
		fmt.Fprintf(w, "predictable positions: %s\n", t.pos[0].predictableSet())
	}
	tb := table{headers: []tableRow{{label: "point", cells: []string{"acc all", "loss all", "acc pred", "loss pred", "KL", "entropy"}}}}
	if !pred {
		tb.headers[0].cells = []string{"acc all", "loss all", "KL", "entropy"}
	}
	for i, s := range means {
		r := tableRow{label: s.Label, cells: []string{fmt.Sprintf("%.4f", s.Accuracy), fmt.Sprintf("%.4f", s.Loss)}}
		if pred {
			l, a := t.pos[i].predictable()
			r.cells = append(r.cells, fmt.Sprintf("%.4f", a), fmt.Sprintf("%.4f", l))
		}
		r.cells = append(r.cells, fmt.Sprintf("%.4f", s.KLToFinal), fmt.Sprintf("%.4f", s.Entropy))
		tb.rows = append(tb.rows, r)
	}
	tb.write(w, screenWidth)
}

// runLensTrain is `workbench lens train`.
func runLensTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lens train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	out := fs.String("out", "", "write the tuned lens to `FILE`.safetensors")
	var tf textFlags
	tf.register(fs)
	in := tokenInput{optional: true}
	in.register(fs, "tokens", "train on the token sequences in this JSON `FILE` (default: generated sequences, see --data)", "text")
	gen := fs.String("data", "repeated", "generated training data without --tokens or --text: `repeated` (random tokens with a repeated block, the induction task) or random (uniform tokens)")
	batch := fs.Int("batch", 16, "sequences per step")
	steps := fs.Int("steps", lens.DefaultSteps, "SGD steps")
	lr := fs.Float64("lr", lens.DefaultLR, "peak learning rate, decayed linearly to 0")
	momentum := fs.Float64("momentum", lens.DefaultMomentum, "Nesterov momentum")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench lens train --model FILE [--config FILE] --out FILE [--tokens FILE | --text S | --text-file F | --data repeated|random]")
		fmt.Fprintln(w, "         [--steps N] [--lr X] [--seed N]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Trains a tuned lens (Belrose et al. 2023): one affine translator per residual point,")
		fmt.Fprintln(w, "starting at the identity, minimising KL(final ‖ lens) with SGD and Nesterov momentum.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lens train: unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fmt.Errorf("lens train: --out is required")
	}
	if *steps < 1 || *batch < 1 || !(*lr > 0) || !(*momentum > 0) {
		return fmt.Errorf("lens train: --steps, --batch, --lr and --momentum must be positive")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("lens train", mf.model, m, stderr)
	if err != nil {
		return err
	}
	// open checks the flags and encodes a text; training holds every
	// sequence, so a token file is read whole.
	src, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	var d lens.Data
	if src != nil {
		src.Close()
		toks := [][]int{}
		if text != nil {
			toks = append(toks, text.ids)
		} else if toks, err = readTokens(in.file, m.Cfg.NCtx, maxHeldTokens); err != nil {
			return err
		}
		if _, _, _, err := m.CheckTokens(toks); err != nil {
			return err
		}
		if d, err = lens.FromTokens(toks, min(*batch, len(toks))); err != nil {
			return err
		}
	} else if d, err = generatedData(m.Cfg, *gen, *batch); err != nil {
		return err
	}
	every := max(1, *steps/10)
	cfg := lens.TrainConfig{Steps: *steps, LR: *lr, Momentum: *momentum, Seed: *seed,
		Progress: func(step int, kl float64) {
			if step%every == 0 || step == 1 || step == *steps {
				fmt.Fprintf(stderr, "step %*d/%d  mean KL(final ‖ tuned) %.4f\n", len(fmt.Sprint(*steps)), step, *steps, kl)
			}
		}}
	tuned, err := lens.Train(ctx, m, d, cfg)
	if err != nil {
		return err
	}
	meta := map[string]string{"steps": fmt.Sprint(*steps), "lr": fmt.Sprint(*lr), "seed": fmt.Sprint(*seed)}
	if err := tuned.Save(*out, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved a tuned lens with %d translators (%s) to %s\n", len(tuned.Labels), strings.Join(tuned.Labels, ", "), *out)
	return nil
}

// generatedData returns a training stream for a model of config c: the
// induction task's repeated random tokens, or uniform random tokens.
func generatedData(c transformer.Config, kind string, batch int) (lens.Data, error) {
	switch kind {
	case "random":
		return lens.Data{Batch: batch, Pos: c.NCtx, Fill: func(dst []int32, rng *rand.Rand) {
			for i := range dst {
				dst[i] = rng.Int32N(int32(c.DVocab))
			}
		}}, nil
	case "repeated":
		L := c.NCtx / 2
		if L < 1 {
			return lens.Data{}, fmt.Errorf("lens train: n_ctx %d is too short for repeated sequences; use --data random or --tokens", c.NCtx)
		}
		task := data.Induction{Vocab: c.DVocab, L: L, MinRepeat: max(1, L/4), Distinct: true}
		if task.Validate() != nil {
			task.Distinct = false // too few tokens for distinct ones: draw independently
		}
		if err := task.Validate(); err != nil {
			return lens.Data{}, fmt.Errorf("lens train: %w", err)
		}
		b := data.NewBatch(batch, task.SeqLen())
		return lens.Data{Batch: batch, Pos: task.SeqLen(), Fill: func(dst []int32, rng *rand.Rand) {
			task.Fill(b, rng)
			copy(dst, b.Tokens)
		}}, nil
	}
	return lens.Data{}, fmt.Errorf("lens train: --data %q is not one of repeated, random", kind)
}
