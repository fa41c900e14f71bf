package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/train/induction"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintln(w, "Usage: workbench train <experiment> [flags]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Experiments:")
		fmt.Fprintln(w, "  induction   a toy transformer on repeated random tokens: watch a previous-token")
		fmt.Fprintln(w, "              head and an induction head form (run 'workbench train induction -h')")
		fmt.Fprintln(w, "  lm          a small language model on a text corpus, with the induction-head measurements (run 'workbench train lm -h')")
		fmt.Fprintln(w, "  cnn         a CNN / ResNet classifier on Fashion-MNIST (run 'workbench train cnn -h')")
		fmt.Fprintln(w, "  gan         a DCGAN on Fashion-MNIST, scored by FID/IS on our classifier (run 'workbench train gan -h')")
		fmt.Fprintln(w, "  gan2d       GANs on 2-D Gaussian mixtures: mode collapse, WGAN (run 'workbench train gan2d -h')")
		if len(args) == 0 {
			return errors.New("train: name an experiment")
		}
		return nil
	}
	if helpAsked(args[1:]) { // an experiment's -h: its usage goes to stdout
		stderr = stdout
	}
	switch args[0] {
	case "induction":
		return runTrainInduction(ctx, args[1:], stdout, stderr)
	case "lm":
		return runTrainLM(ctx, args[1:], stdout, stderr)
	case "cnn":
		return runTrainCNN(ctx, args[1:], stdout, stderr)
	case "gan":
		return runTrainGAN(ctx, args[1:], stdout, stderr)
	case "gan2d":
		return runTrainGAN2D(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("train: unknown experiment %q%s; 'workbench train -h' lists them", args[0], didYouMean(args[0], []string{"induction", "cnn", "gan", "gan2d", "lm"}))
}

func runTrainInduction(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := induction.Default()
	rc := newRunCommand("train induction", "run `DIR` for train.json, metrics.jsonl, checkpoints/, model.safetensors and summary.json (required)",
		`Usage: workbench train induction --out DIR [flags]

Trains a small transformer on repeated random tokens until a previous-token head
(layer 0) and an induction head (layer 1) form, logging circuit telemetry
(per-head previous-token and induction scores, K-composition) every --eval-every
steps. The defaults form the circuit in a few seconds. Ctrl-C saves a checkpoint;
--resume continues it exactly.

Example: workbench train induction --out runs/induction --json`, stderr)
	fs, out, resume := rc.fs, &rc.out, &rc.resume
	fs.IntVar(&c.NLayers, "n-layers", c.NLayers, "transformer blocks")
	fs.IntVar(&c.DModel, "d-model", c.DModel, "residual stream width")
	fs.IntVar(&c.NHeads, "n-heads", c.NHeads, "attention heads per block")
	fs.IntVar(&c.DHead, "d-head", c.DHead, "width of each head")
	fs.IntVar(&c.DVocab, "d-vocab", c.DVocab, "vocabulary size")
	fs.IntVar(&c.SeqLen, "seq-len", c.SeqLen, "L: longest repeated block; sequences are 2L tokens")
	fs.IntVar(&c.MinRepeat, "min-repeat", c.MinRepeat, "shortest repeated block (each sequence draws its length in [min-repeat, L])")
	fs.BoolVar(&c.Distinct, "distinct", c.Distinct, "distinct tokens within a sequence")
	fs.BoolVar(&c.BOS, "bos", c.BOS, "start every sequence with a BOS token (id 0)")
	attnOnly := fs.Bool("attn-only", true, "attention-only blocks (--mlp overrides)")
	fs.BoolVar(&c.MLP, "mlp", false, "give every block a GELU MLP (d_mlp = 4·d_model)")
	fs.StringVar(&c.Normalization, "normalization", c.Normalization, "none, LN or RMS")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per step")
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps")
	fs.Float64Var(&c.LR, "lr", c.LR, "AdamW learning rate")
	fs.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "AdamW decoupled weight decay (weight matrices only)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed for the initialisation and the data")
	fs.IntVar(&c.Workers, "workers", c.Workers, "worker goroutines (results do not depend on it)")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "evaluate and checkpoint every N steps")
	fs.Float64Var(&c.StopAtAcc, "stop-at-acc", 0, "stop once held-out accuracy reaches this (0: run all steps)")
	allowChange := fs.Bool("allow-config-change", false, "with --resume, accept flags other than --steps, --workers and --stop-at-acc that differ from the run's train.json (recorded in metrics.jsonl)")
	if err := rc.parse(args); err != nil {
		return err
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
	if err := checkInductionMemory(c); err != nil {
		return err
	}
	opt := induction.Options{Resume: *resume, AllowConfigChange: *allowChange, Log: stderr}
	if isTerminal(stderr) {
		opt.Progress = stderr
	}
	res, err := induction.Train(ctx, c, *out, opt)
	if err != nil {
		return resumeHint(err)
	}
	return rc.finish(stdout, stderr, res.AlreadyFinished, res.Interrupted, res.Steps, res, func() { printInduction(stdout, res) })
}

// resumeHint adds the flag that overrides a refused config change.
func resumeHint(err error) error {
	var cce *train.ConfigChangeError
	if errors.As(err, &cce) {
		return fmt.Errorf("%w; pass --allow-config-change to continue with the new values", err)
	}
	return err
}

func printInduction(w io.Writer, r induction.Result) {
	step := func(p *int) string {
		if p == nil {
			return "never"
		}
		return fmt.Sprint(*p)
	}
	fmt.Fprintf(w, "trained %d steps in %.1f s (%.0f tokens/s while training)\n", r.Steps, r.WallSeconds, r.TokensPerSecond)
	fmt.Fprintf(w, "held-out second-half accuracy %.4f, loss %.4f; generalisation probe accuracy %.4f\n", r.FinalEvalAcc, r.FinalEvalLoss, r.ProbeAcc)
	fmt.Fprintf(w, "steps to 90%%: %s, to 99%%: %s; phase change at step %s\n", step(r.StepsToAcc90), step(r.StepsToAcc99), step(r.PhaseChangeStep))
	fmt.Fprintf(w, "largest L0→L1 K-composition %.3f (random baseline %.3f, ×%.2f)\n", r.KCompositionMax, r.KCompositionBaseline, r.KCompositionMax/r.KCompositionBaseline)
	for l := range r.InductionScore {
		fmt.Fprintf(w, "layer %d  previous-token:", l)
		for _, v := range r.PrevTokenScore[l] {
			fmt.Fprintf(w, " %.2f", v)
		}
		fmt.Fprint(w, "   induction:")
		for _, v := range r.InductionScore[l] {
			fmt.Fprintf(w, " %.2f", v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "checkpoint: %s\n", r.Checkpoint)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
