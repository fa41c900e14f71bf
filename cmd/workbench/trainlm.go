package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/train/lm"
)

func runTrainLM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := lm.Default()
	rc := newRunCommand("train lm", "run `DIR` for train.json, corpus.tokens, metrics.jsonl, checkpoints/, model.safetensors and summary.json (required)",
		`Usage: workbench train lm --text FILE|DIR --out DIR [flags]

Trains a small language model on a text corpus (a file, or every file under a
folder), tokenized once into DIR/corpus.tokens; the last --held-out fraction is
kept for evaluation. Every --eval-every steps it logs the held-out loss, the
in-context-learning score (late minus early positions), and per-head
prefix-matching, copying, previous-token and induction scores on repeated
random tokens; it detects the induction-head phase change and keeps the
checkpoints around it. Ctrl-C saves a checkpoint; --resume continues exactly.

Example: workbench train lm --text tinyshakespeare.txt --out runs/shakespeare --json`, stderr)
	fs, out, resume := rc.fs, &rc.out, &rc.resume
	fs.StringVar(&c.Text, "text", "", "the corpus: a text file, or a folder of them (required)")
	fs.StringVar(&c.Tokenizer, "tokenizer", "", "bytes, or a tokenizer.json file or a folder with tokenizer.json or GPT-2's vocab.json + merges.txt (default: --train-tokenizer's)")
	trainTok := fs.Int("train-tokenizer", lm.DefaultTrainTokenizer, "without --tokenizer: first learn a byte-level BPE of `N` tokens on the corpus's training part and save it as DIR/tokenizer.json (as 'workbench tokenizer train'); the model then uses it")
	fs.Float64Var(&c.HeldOut, "held-out", c.HeldOut, "the corpus's last fraction held out for evaluation")
	fs.IntVar(&c.NLayers, "n-layers", c.NLayers, "transformer blocks")
	fs.IntVar(&c.DModel, "d-model", c.DModel, "residual stream width")
	fs.IntVar(&c.NHeads, "n-heads", c.NHeads, "attention heads per block")
	fs.IntVar(&c.DHead, "d-head", c.DHead, "width of each head")
	fs.IntVar(&c.Context, "context", c.Context, "tokens per training window (n_ctx)")
	attnOnly := fs.Bool("attn-only", true, "attention-only blocks (--mlp overrides)")
	fs.BoolVar(&c.MLP, "mlp", false, "give every block a GELU MLP (d_mlp = 4·d_model)")
	fs.StringVar(&c.Normalization, "normalization", c.Normalization, "none, LN or RMS")
	fs.StringVar(&c.Positional, "positional", c.Positional, "positional embedding: standard, shortformer or rotary")
	fs.Float64Var(&c.RepeatFrac, "repeat-frac", c.RepeatFrac, "fraction of training windows in which a random earlier span is repeated later (0: plain text)")
	fs.Float64Var(&c.RepeatMin, "repeat-min", c.RepeatMin, "shortest repeated span, as a fraction of --context")
	fs.Float64Var(&c.RepeatMax, "repeat-max", c.RepeatMax, "longest repeated span, as a fraction of --context (at most 0.5)")
	fs.BoolVar(&c.RepeatRandom, "repeat-random", c.RepeatRandom, "fill each repeated span's first copy with tokens from random places of the text (a random sequence seen twice, which only copying predicts)")
	fs.IntVar(&c.RepeatSteps, "repeat-steps", c.RepeatSteps, "use --repeat-frac only for the first N steps, then --repeat-frac-after (a curriculum; 0: --repeat-frac throughout)")
	fs.Float64Var(&c.RepeatFracAfter, "repeat-frac-after", c.RepeatFracAfter, "the repeat fraction after --repeat-steps")
	fs.IntVar(&c.Batch, "batch", c.Batch, "windows per step")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.Float64Var(&c.LR, "lr", c.LR, "AdamW peak learning rate")
	fs.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule after warm-up: constant or cosine (to lr/10)")
	fs.IntVar(&c.Warmup, "warmup", c.Warmup, "linear warm-up steps")
	fs.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "AdamW decoupled weight decay (weight matrices only)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed for the initialisation and the data")
	fs.IntVar(&c.Workers, "workers", c.Workers, "worker goroutines (results do not depend on it)")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "evaluate and checkpoint every N steps")
	fs.IntVar(&c.EvalWindows, "eval-windows", c.EvalWindows, "held-out windows per evaluation")
	allowChange := fs.Bool("allow-config-change", false, "with --resume, accept flags other than --steps and --workers that differ from the run's train.json (recorded in metrics.jsonl)")
	if err := rc.parse(args); err != nil {
		return err
	}
	if c.Text == "" {
		fs.Usage()
		return fmt.Errorf("train lm: --text is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["tokenizer"] && set["train-tokenizer"]:
		return fmt.Errorf("train lm: pass --tokenizer or --train-tokenizer, not both")
	case *resume && set["train-tokenizer"]:
		return fmt.Errorf("train lm: --train-tokenizer starts a run; a resumed run keeps the tokenizer in its train.json")
	case *resume && !set["tokenizer"]:
		c.Tokenizer = lm.TokenizerBytes // replaced by train.json's
		if b, err := os.ReadFile(filepath.Join(*out, train.TrainConfigFile)); err == nil {
			if prev, err := lm.ParseConfig(b); err == nil {
				c.Tokenizer = prev.Tokenizer
			}
		}
	case !set["tokenizer"]:
		// The default vocabulary is an upper bound: a small text may have fewer pairs.
		path, err := trainLMTokenizer(ctx, c, *out, *trainTok, !set["train-tokenizer"], stderr)
		if err != nil {
			return err
		}
		c.Tokenizer = path
	}
	if !*attnOnly {
		c.MLP = true
	}
	if strings.EqualFold(c.Normalization, "ln") {
		c.Normalization = "LN"
	} else if strings.EqualFold(c.Normalization, "rms") {
		c.Normalization = "RMS"
	}
	if err := c.Validate(); err != nil {
		return err
	}
	vocab := 256
	if c.Tokenizer != lm.TokenizerBytes {
		tok, err := lm.LoadTokenizer(c.Tokenizer)
		if err != nil {
			return err
		}
		vocab = tok.VocabSize()
	}
	if err := checkMemory(fmt.Sprintf("train lm: a batch of %d windows of %d tokens", c.Batch, c.Context),
		lmBytes(c, vocab), "lower --context, --batch or --d-model"); err != nil {
		return err
	}
	opt := lm.Options{Resume: *resume, AllowConfigChange: *allowChange, Log: stderr}
	if isTerminal(stderr) {
		opt.Progress = stderr
	}
	res, err := lm.Train(ctx, c, *out, opt)
	if err != nil {
		return resumeHint(err)
	}
	return rc.finish(stdout, stderr, res.AlreadyFinished, res.Interrupted, res.Steps, res.Result, func() { printLM(stdout, res) })
}

// trainLMTokenizer learns a byte-level BPE of n tokens on the training
// part of c's corpus (all but its last c.HeldOut fraction, so the held-out
// text stays unseen) and saves it as out/tokenizer.json, returning that path.
func trainLMTokenizer(ctx context.Context, c lm.Config, out string, n int, atMost bool, stderr io.Writer) (string, error) {
	switch {
	case !(c.HeldOut > 0 && c.HeldOut < 1):
		return "", fmt.Errorf("train lm: --held-out %g is not in (0, 1)", c.HeldOut)
	}
	text, err := readCorpus(c.Text, maxCorpus)
	if err != nil {
		return "", fmt.Errorf("train lm: --text: %w", err)
	}
	train := text[:int(float64(len(text))*(1-c.HeldOut))]
	began := time.Now()
	tok, err := tokenizer.TrainBPE(ctx, train, n, tokenizer.TrainOptions{AtMost: atMost})
	if err != nil {
		return "", fmt.Errorf("train lm: --train-tokenizer: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("train lm: %w", err)
	}
	path := filepath.Join(out, lm.TokenizerFile)
	if err := tok.SaveJSON(path); err != nil {
		return "", fmt.Errorf("train lm: %w", err)
	}
	fmt.Fprintf(stderr, "learned a byte-level BPE of %d tokens on %d bytes in %.1f s: %s\n", tok.VocabSize(), len(train), time.Since(began).Seconds(), path)
	return path, nil
}

// lmBytes estimates a train lm run's memory: the data-parallel batch
// (activations and their gradients), evaluation, parameters with AdamW
// state, and the corpus.
func lmBytes(c lm.Config, vocab int) float64 {
	m := c.Model(vocab)
	T := c.Context
	params := float64(m.DVocab*m.DModel+T*m.DModel+m.DModel*m.DVocabOut) + float64(m.NLayers)*(4*float64(m.NHeads*m.DModel*m.DHead)+2*float64(m.DModel*m.DMLP))
	return 2*forwardBytes(m, c.Batch, T) + forwardBytes(m, 8, T) + 4*4*params
}

func printLM(w io.Writer, s lm.Summary) {
	fmt.Fprintf(w, "trained %d steps (%d tokens) in %.1f s (%.0f tokens/s while training)\n", s.Steps, s.TokensSeen, s.WallSeconds, s.TokensPerSecond)
	fmt.Fprintf(w, "held-out loss %.4f; ICL score %.3f nats (loss at position %d minus %d)\n", s.FinalEvalLoss, s.ICLScore, s.ICLPositions[1], s.ICLPositions[0])
	phase := "none detected"
	if s.PhaseChangeStep != nil {
		phase = fmt.Sprintf("at step %d (ICL score %.3f at step %d before it)", *s.PhaseChangeStep, *s.ICLBefore, *s.PhaseBefore)
	}
	fmt.Fprintf(w, "phase change: %s\n", phase)
	fmt.Fprintf(w, "best heads: prefix matching %.3f, induction %.3f, previous token %.3f\n", s.PrefixMatchingScore, s.InductionScore, s.PrevTokenScore)
	for l := range s.PrefixMatching {
		fmt.Fprintf(w, "layer %d  prefix-matching:", l)
		for _, v := range s.PrefixMatching[l] {
			fmt.Fprintf(w, " %.2f", v)
		}
		fmt.Fprint(w, "   previous-token:")
		for _, v := range s.PrevToken[l] {
			fmt.Fprintf(w, " %.2f", v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "checkpoint: %s\n", s.Checkpoint)
}
