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
	"text/tabwriter"

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
		fmt.Fprintln(stderr, "Usage: workbench lens --model FILE [--config FILE] (--tokens FILE | --text S | --text-file F) [--tuned FILE] [--k N] [--json]")
		fmt.Fprintln(stderr, "       workbench lens train --model FILE --out FILE [flags]   (see 'workbench lens train -h')")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Decodes the residual stream at embed, every resid_mid (models with MLPs) and every")
		fmt.Fprintln(stderr, "resid_post through ln_final (recomputed on that residual) and the unembedding, and")
		fmt.Fprintln(stderr, "reports per point the next-token accuracy and loss over positions 0..T-2 of every")
		fmt.Fprintln(stderr, "sequence, the KL divergence from the model's final distribution and the entropy")
		fmt.Fprintln(stderr, "(both over every position), and the top tokens per position. JSON \"top\" is")
		fmt.Fprintln(stderr, "[point][batch][pos] -> [{\"token\", \"prob\"}, ...] (and \"piece\", the token's text, with a")
		fmt.Fprintln(stderr, "tokenizer: --model's folder's or --tokenizer's). The file is read --batch sequences at a")
		fmt.Fprintln(stderr, "time and the top tokens are spooled to temporary files, so memory does not grow with it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
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
		st, err := lens.Logit(ctx, m, toks, opts)
		if err != nil {
			return err
		}
		if err := logit.add(st, len(toks)); err != nil {
			return err
		}
		if tuned != nil {
			st, err := tuned.Evaluate(ctx, m, toks, opts)
			if err != nil {
				return err
			}
			if err := tl.add(st, len(toks)); err != nil {
				return err
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
	printLensTable(stdout, v, first, logit.means(), tl.means(), logit.n)
	return nil
}

// lensTotals accumulates a lens's statistics over batches: sums of the
// means weighted by each batch's sequences (every sequence weighs the same,
// as they have equal lengths), the first batch's top tokens for the table,
// and with a spool, every batch's top tokens for JSON.
type lensTotals struct {
	sums  []lens.Stats
	n     int
	spool *topSpool
}

func (t *lensTotals) add(st []lens.Stats, count int) error {
	w := float64(count)
	if t.sums == nil {
		t.sums = make([]lens.Stats, len(st))
		for i, s := range st {
			t.sums[i] = lens.Stats{Label: s.Label, Top: s.Top}
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
	io.WriteString(w, `,"top":`)
	return t.spool.writeTo(w)
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

// printLensTable prints the lens statistics and the top-1 tokens of
// sequence 0, input, as text when v knows the tokenizer.
func printLensTable(w io.Writer, v *vocab, input []int, logit, tuned []lens.Stats, batch int) {
	pos := len(input)
	fmt.Fprintf(w, "%d sequences × %d positions; accuracy and loss over positions 0..%d, KL(final ‖ lens) and entropy over all\n", batch, pos, pos-2)
	head := fmt.Sprintf("%-26s %9s %9s %9s %9s", "POINT", "ACCURACY", "LOSS", "KL", "ENTROPY")
	if tuned != nil {
		head = fmt.Sprintf("%-26s %29s | %s", "", "logit lens", "tuned lens") + "\n" + head + " |" + head[26:]
	}
	fmt.Fprintln(w, head)
	row := func(s lens.Stats) string {
		return fmt.Sprintf(" %9.4f %9.4f %9.4f %9.4f", s.Accuracy, s.Loss, s.KLToFinal, s.Entropy)
	}
	for i, s := range logit {
		line := fmt.Sprintf("%-26s%s", s.Label, row(s))
		if tuned != nil {
			line += " |" + row(tuned[i])
		}
		fmt.Fprintln(w, line)
	}
	if logit[0].Top == nil {
		return
	}
	fmt.Fprintln(w)
	if !v.known() {
		fmt.Fprintln(w, "logit lens top-1 token per position, sequence 0:")
		for _, s := range logit {
			var b strings.Builder
			for _, tp := range s.Top[0] {
				fmt.Fprintf(&b, " %d", tp[0].Token)
			}
			fmt.Fprintf(w, "%-26s%s\n", s.Label, b.String())
		}
		return
	}
	// With a tokenizer: a column per position, headed by the input token
	// (whitespace visible, ␣ a space).
	fmt.Fprintln(w, "logit lens top-1 token per position (columns: the input token at that position), sequence 0:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "input")
	for _, id := range input {
		fmt.Fprintf(tw, "\t%s", v.label(id))
	}
	fmt.Fprintln(tw)
	for _, s := range logit {
		fmt.Fprint(tw, s.Label)
		for _, tp := range s.Top[0] {
			fmt.Fprintf(tw, "\t%s", v.label(tp[0].Token))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	// What each point predicts after the whole of sequence 0: the next
	// token of a prompt.
	last := len(input) - 1
	fmt.Fprintf(w, "\nlogit lens top-%d next tokens after the last position (%s), sequence 0:\n", len(logit[0].Top[0][last]), v.label(input[last]))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range logit {
		fmt.Fprint(tw, s.Label)
		for _, tp := range s.Top[0][last] {
			fmt.Fprintf(tw, "\t%s %.3f", v.label(tp.Token), tp.Prob)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
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
		fmt.Fprintln(stderr, "Usage: workbench lens train --model FILE [--config FILE] --out FILE [--tokens FILE | --text S | --text-file F | --data repeated|random]")
		fmt.Fprintln(stderr, "         [--steps N] [--lr X] [--seed N]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Trains a tuned lens (Belrose et al. 2023): one affine translator per residual point,")
		fmt.Fprintln(stderr, "starting at the identity, minimising KL(final ‖ lens) with SGD and Nesterov momentum.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
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
