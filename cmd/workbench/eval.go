package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/formats"
)

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model, config string
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model checkpoint (`FILE`.safetensors with TransformerLens state-dict names), a llama2.c checkpoint (FILE.bin: legacy, or ak42 version 1 or 2), a run folder, or a Hugging Face folder (config.json + model.safetensors; model_type gpt2)")
	fs.StringVar(&f.config, "config", "", "model config JSON `FILE` for a checkpoint without one in its metadata (a run folder's train.json is not one)")
}

func (f *modelFlags) load() (*transformer.Model, error) {
	if f.model == "" {
		return nil, fmt.Errorf("--model is required")
	}
	if f.config != "" && formats.Detect(f.model) != formats.TransformerLens {
		return nil, fmt.Errorf("--config does not apply to the %s %s (it holds its own config)", formats.Detect(f.model), f.model)
	}
	return formats.Load(f.model, f.config)
}

// evalBatch is the default number of sequences eval runs at once.
const evalBatch = 64

// maxHeldTokens bounds the tokens a command that needs every sequence at
// once (analyze, lens train) reads from a file.
const maxHeldTokens = 1 << 22

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	var in tokenInput
	in.register(fs, "tokens", "JSON `FILE` holding an array of equal-length token sequences", "text")
	batch := fs.Int("batch", evalBatch, "sequences run at once (memory grows with it; the file may hold any number)")
	asJSON := fs.Bool("json", false, `print {"logits": [batch][pos][d_vocab_out], "loss": x} (text input adds "tokens" and "pieces": [batch][pos])`)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench eval --model FILE|DIR [--config FILE] (--tokens FILE | --text S | --text-file F)")
		fmt.Fprintln(w, "         [--tokenizer DIR_OR_FILE] [--bos never|always|auto] [--batch N] [--json]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Runs a model on token sequences and reports the logits and the loss: the mean")
		fmt.Fprintln(w, "next-token cross-entropy over positions 0..T-2 of every sequence. The file is read")
		fmt.Fprintln(w, "and the output written --batch sequences at a time, so memory does not grow with it.")
		fmt.Fprintln(w, "With a tokenizer (--model's folder's, or --tokenizer) the predictions are shown as text.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	}
	if *batch < 1 {
		return fmt.Errorf("eval: --batch must be at least 1, got %d", *batch)
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	v, err := tf.load("eval", mf.model, m, stderr)
	if err != nil {
		return err
	}
	r, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	defer r.Close()
	toks, err := r.batch(nil, *batch)
	if err != nil {
		return err
	}
	first := slices.Clone(toks[0])
	T, V := len(toks[0]), m.Cfg.DVocabOut
	if err := checkMemory(fmt.Sprintf("eval: a batch of %d sequences of %d tokens", len(toks), T), forwardBytes(m.Cfg, len(toks), T),
		fmt.Sprintf("lower --batch (one sequence needs about %s)", gib(forwardBytes(m.Cfg, 1, T)))); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	if *asJSON {
		io.WriteString(w, `{"logits":[`)
	} else if text != nil {
		fmt.Fprintf(w, "input: %s\n", v.join(text.ids))
	}
	var ws *transformer.Workspace
	var lossSum, lossN float64
	var ps positionStats
	n := 0
	for len(toks) > 0 {
		flat, B, _, err := m.CheckTokens(toks)
		if err != nil {
			return fmt.Errorf("eval: sequences %d..%d: %w", n, n+len(toks)-1, err)
		}
		if ws == nil || ws.Batch() != B {
			ws = m.NewWorkspace(B, T)
		}
		if err := ws.Forward(ctx, flat, nil); err != nil {
			return err
		}
		if T >= 2 {
			targets, weights := transformer.NextTokenTargets(flat, B, T)
			for i, t := range targets {
				if weights[i] != 0 && int(t) >= V {
					return fmt.Errorf("eval: target token %d (sequence %d, position %d) is outside the output vocabulary [0, %d)", t, n+i/T, i%T+1, V)
				}
			}
			rows := float64(B * (T - 1))
			lossSum += ws.Loss(targets, weights) * rows
			lossN += rows
		}
		logits := ws.Logits().Data
		for b := 0; b < B; b++ {
			seq := logits[b*T*V : (b+1)*T*V]
			ps.addSequence(toks[b], seq, V)
			if *asJSON {
				if err := writeLogitsJSON(w, seq, T, V, n+b > 0); err != nil {
					return err
				}
			} else {
				writeTop(w, v, n+b, seq, T, V)
			}
		}
		n += B
		if toks, err = r.batch(toks, *batch); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	loss := math.NaN()
	if lossN > 0 {
		loss = lossSum / lossN
	}
	if *asJSON {
		lossJSON := []byte("null")
		if !math.IsNaN(loss) {
			lossJSON, _ = json.Marshal(loss)
		}
		fmt.Fprintf(w, `],"loss":%s`, lossJSON)
		if err := writePositionJSON(w, &ps); err != nil {
			return err
		}
		if err := writeTextJSON(w, "", text); err != nil {
			return err
		}
		io.WriteString(w, "}\n")
	} else {
		fmt.Fprintf(w, "%d sequences × %d positions, d_vocab_out %d\n", n, T, V)
		if !math.IsNaN(loss) {
			fmt.Fprintf(w, "loss (mean next-token cross-entropy over all positions): %.6f\n", loss)
			ps.writeSummary(w)
			fmt.Fprintln(w, "\nby position (the prediction at p of the token at p+1), mean over the sequences:")
			var input []int
			if n == 1 {
				input = first
			}
			writePositionTable(w, v, input, []string{"loss", "accuracy"}, [][]float64{ps.perPositionLoss(), ps.perPositionAccuracy()})
		}
	}
	return w.Flush()
}

// writeLogitsJSON writes one sequence's logits [pos][d_vocab_out] as a JSON
// array, preceded by a comma unless it is the first.
func writeLogitsJSON(w io.Writer, logits []float32, T, V int, comma bool) error {
	rows := make([][]float32, T)
	for p := range rows {
		rows[p] = logits[p*V : (p+1)*V]
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if comma {
		w.Write([]byte{','})
	}
	_, err = w.Write(b)
	return err
}

// writeTop writes sequence b's top prediction per position, as text when
// v knows the tokenizer.
func writeTop(w io.Writer, v *vocab, b int, logits []float32, T, V int) {
	head := fmt.Sprintf("sequence %d, top prediction per position:", b)
	fmt.Fprint(w, head)
	col := runeLen(head)
	for p := 0; p < T; p++ {
		row := logits[p*V : (p+1)*V]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		// Lines of at most screenWidth columns, each token after a space.
		s := v.label(best)
		if col > 0 && col+1+runeLen(s) > screenWidth {
			fmt.Fprintln(w)
			col = 0
		}
		fmt.Fprintf(w, " %s", s)
		col += 1 + runeLen(s)
	}
	fmt.Fprintln(w)
}
