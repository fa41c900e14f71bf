package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/sae"
	"github.com/mechinterp/workbench/sae/report"
)

func runSAECurve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae curve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in saeInput
	in.register(fs)
	hook := fs.String("hook", "", "hook `POINT` whose activations the dictionaries encode (required)")
	hookOut := fs.String("hook-out", "", "sweep transcoders: predict this hook `POINT` from --hook")
	arch := fs.String("architecture", sae.TopK, "`ACTIVATION`: topk or batchtopk (with --ks), relu (with --l1s)")
	ks := fs.String("ks", "", "comma-separated k `VALUES` to sweep (topk, batchtopk)")
	l1s := fs.String("l1s", "", "comma-separated L1 coefficient `VALUES` to sweep (relu)")
	dSAE := fs.Int("d-sae", 0, "dictionary size `N` (default 8 × the activation width)")
	steps := fs.Int("steps", 1000, "training steps per dictionary")
	batch := fs.Int("batch", 1024, "activation rows per step")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	seed := fs.Uint64("seed", 0, "seed of the initialisations and of the batches drawn (the same for every dictionary)")
	out := fs.String("out", "", "`DIR` to write curve.json and curve.png to (optional)")
	asJSON := fs.Bool("json", false, `print the curve: [{"k" or "l1", "l0", "fvu", "ce_loss_recovered", "dead_fraction"}, ...]`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae curve --model M --hook POINT (--ks 8,16,32 | --architecture relu --l1s 1,3,10)")
		fmt.Fprintln(fs.Output(), "         [--tokens F | --text-file F] [--out DIR] [flags] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "The sparsity–fidelity curve: trains one dictionary per sparsity setting on the same")
		fmt.Fprintln(fs.Output(), "activation stream and measures each on held-out sequences: L0, FVU, CE loss recovered.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae curve: unexpected argument %q", fs.Arg(0))
	}
	if *hook == "" {
		return fmt.Errorf("sae curve: --hook is required")
	}
	if *steps < 1 || *batch < 1 || *batch > 1<<16 {
		return fmt.Errorf("sae curve: --steps must be ≥ 1 and --batch in [1, 65536], got %d and %d", *steps, *batch)
	}
	opt := sae.CurveOptions{Steps: *steps, Seed: *seed, Rows: 16 * *batch, Train: sae.TrainConfig{Batch: *batch, LR: *lr}}
	for _, v := range splitList(*ks) {
		k, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("sae curve: --ks: %q is not an integer", v)
		}
		opt.Ks = append(opt.Ks, k)
	}
	for _, v := range splitList(*l1s) {
		l1, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("sae curve: --l1s: %q is not a number", v)
		}
		opt.L1s = append(opt.L1s, l1)
	}
	m, seqs, err := in.load("sae curve", stderr)
	if err != nil {
		return err
	}
	opt.Base = dictConfig(m, *hook, *hookOut, *arch, *dSAE)
	seqBatch := max(1, min(64, *batch/m.Cfg.NCtx+1))
	_, held, _ := in.batches(seqs, seqBatch, *seed)
	newBatches := func() sae.Batches {
		b, _, _ := in.batches(seqs, seqBatch, *seed)
		return b
	}
	pts, err := sae.Curve(ctx, m, newBatches, held, opt)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("sae curve: %w", err)
		}
		b, err := json.MarshalIndent(pts, "", "  ")
		if err != nil {
			return fmt.Errorf("sae curve: %w", err)
		}
		if err := os.WriteFile(filepath.Join(*out, "curve.json"), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("sae curve: %w", err)
		}
		title := fmt.Sprintf("%s %s, d_sae %d, %d steps", *hook, *arch, opt.Base.DSAE, *steps)
		if err := report.WriteCurve(filepath.Join(*out, "curve.png"), title, pts); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(pts)
	}
	for _, p := range pts {
		setting := fmt.Sprintf("k %d", p.K)
		if len(opt.L1s) > 0 {
			setting = fmt.Sprintf("l1 %g", p.L1)
		}
		fmt.Fprintf(stdout, "%-10s L0 %6.2f  FVU %.4f  CE loss recovered %.4f  dead %.1f%%\n", setting, p.L0, p.FVU, p.CERecovered, 100*p.DeadFraction)
	}
	if *out != "" {
		fmt.Fprintf(stdout, "curve.json and curve.png in %s\n", *out)
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
