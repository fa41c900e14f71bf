package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/sae"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

func runSAE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: workbench sae train|eval|toy|features|steer|curve|attribute [flags]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  train  train a sparse autoencoder (or a transcoder) on a model's activations at one hook point")
		fmt.Fprintln(w, "  eval   measure a saved dictionary on a model: CE loss recovered, L0, FVU, dead features")
		fmt.Fprintln(w, "  toy    the ground truth: sparse features in superposition, and how well a dictionary recovers them (MMCS)")
		fmt.Fprintln(w, "  features  feature dashboards: top contexts, activation histograms, logit effects, similar features")
		fmt.Fprintln(w, "  curve  the sparsity–fidelity curve: one dictionary per k (or L1), L0 against FVU and CE loss recovered")
		fmt.Fprintln(w, "  attribute  a logit split among the active features (or transcoder feature-to-feature attributions)")
		fmt.Fprintln(w, "  steer  add α × a feature's decoder direction (or any direction) at a hook point: prediction and loss changes")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return fmt.Errorf("sae: name a subcommand: train, eval, toy, features, steer, curve or attribute")
		}
		return nil
	}
	switch args[0] {
	case "train":
		return runSAETrain(ctx, args[1:], stdout, stderr)
	case "eval":
		return runSAEEval(ctx, args[1:], stdout, stderr)
	case "toy":
		return runSAEToy(ctx, args[1:], stdout, stderr)
	case "features":
		return runSAEFeatures(ctx, args[1:], stdout, stderr)
	case "steer":
		return runSAESteer(ctx, args[1:], stdout, stderr)
	case "curve":
		return runSAECurve(ctx, args[1:], stdout, stderr)
	case "attribute":
		return runSAEAttribute(ctx, args[1:], stdout, stderr)
	}
	usage(stderr)
	return fmt.Errorf("sae: unknown subcommand %q", args[0])
}

// saeInput are the flags that say what a dictionary sees: a token file or
// a text file cut into n_ctx windows, or, for a model trained by `train
// induction`, its own task's sequences.
type saeInput struct {
	tf                 textFlags
	tokens, textFile   string
	mf                 modelFlags
	inductionFromModel *data.Induction
	v                  *vocab // the model's tokenizer (v.tok nil without one), set by load
}

func (in *saeInput) register(fs *flag.FlagSet) {
	in.mf.register(fs)
	in.tf.register(fs)
	fs.StringVar(&in.tokens, "tokens", "", "JSON `FILE` of token sequences to run the model on")
	fs.StringVar(&in.textFile, "text-file", "", "a text `FILE`, encoded with the model's tokenizer and cut into n_ctx windows")
}

// load returns the model and its sequences. With neither --tokens nor
// --text-file, a model from a `train induction` run folder uses its
// task's sequences (nil sequences: drawn fresh by the caller).
func (in *saeInput) load(cmd string, stderr io.Writer) (*transformer.Model, [][]int, error) {
	m, err := in.mf.load()
	if err != nil {
		return nil, nil, err
	}
	if in.v, err = in.tf.load(cmd, in.mf.model, m, stderr); err != nil {
		return nil, nil, err
	}
	switch {
	case in.tokens != "" && in.textFile != "":
		return nil, nil, fmt.Errorf("%s: --tokens and --text-file are mutually exclusive: give one", cmd)
	case in.tokens != "":
		seqs, err := readTokens(in.tokens, m.Cfg.NCtx, maxHeldTokens)
		return m, seqs, err
	case in.textFile != "":
		v := in.v
		text, err := readBounded(in.textFile, maxTextFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: --text-file: %w", cmd, err)
		}
		if v.tok == nil {
			return nil, nil, fmt.Errorf("%s: --text-file needs a tokenizer: %w", cmd, v.missing)
		}
		enc, err := v.tok.Encode(text, v.opt)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: --text-file: %w", cmd, err)
		}
		T := m.Cfg.NCtx
		var seqs [][]int
		for i := 0; i+T <= len(enc.IDs); i += T {
			seqs = append(seqs, enc.IDs[i:i+T])
		}
		if len(seqs) == 0 {
			return nil, nil, fmt.Errorf("%s: --text-file is %d tokens, fewer than one window of n_ctx %d", cmd, len(enc.IDs), T)
		}
		fmt.Fprintf(stderr, "%s: --text-file: %d tokens in %d windows of %d; %s\n", cmd, len(enc.IDs), len(seqs), T, bosLine(v.tok, v.opt.BOS))
		return m, seqs, nil
	}
	task, err := inductionTaskOf(in.mf.model)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: give --tokens FILE or --text-file FILE (%v)", cmd, err)
	}
	in.inductionFromModel = task
	fmt.Fprintf(stderr, "%s: no input given: using the induction task the model was trained on (repeats of %d–%d tokens)\n", cmd, task.MinRepeat, task.L)
	return m, nil, nil
}

// inductionTaskOf returns the task of the `train induction` run that
// holds the model at path (the run folder or a file in it).
func inductionTaskOf(path string) (*data.Induction, error) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	// train.json, or config.json in runs written before that name.
	name := filepath.Join(dir, "train.json")
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		name = filepath.Join(dir, "config.json")
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("the model is not in a train induction run folder: %w", err)
	}
	var cfg induction.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	task := cfg.Task()
	if err := task.Validate(); err != nil {
		return nil, err
	}
	return &task, nil
}

// batches returns a sae.Batches over the input: random draws of batch
// sequences from seqs (held out: the last tenth, at least one, are not
// drawn), or fresh task sequences; and the held-out sequences. Draw k
// depends only on (seed, k), so a resumed run sets *calls to the draws
// made (sae.Source.Runs) and continues with the same data.
func (in *saeInput) batches(seqs [][]int, batch int, seed uint64) (draw sae.Batches, held [][]int, calls *int) {
	calls = new(int)
	rng := func() *rand.Rand {
		r := rand.New(rand.NewPCG(seed, 0xba7c+uint64(*calls)))
		*calls++
		return r
	}
	if seqs == nil {
		task := *in.inductionFromModel
		b := data.NewBatch(batch, task.SeqLen())
		hb := data.NewBatch(64, task.SeqLen())
		task.FillFixed(hb, rand.New(rand.NewPCG(seed, 0x4e1d)))
		return func(context.Context) ([][]int, error) {
			task.Fill(b, rng())
			return b.Rows(), nil
		}, hb.Rows(), calls
	}
	nHeld := max(1, len(seqs)/10)
	if len(seqs) == 1 {
		nHeld = 0
	}
	train, held := seqs[:len(seqs)-nHeld], seqs[len(seqs)-nHeld:]
	if len(held) == 0 {
		held = train
	}
	out := make([][]int, batch)
	return func(context.Context) ([][]int, error) {
		r := rng()
		// Sequences of one length per batch: the first draw fixes it.
		first := train[r.IntN(len(train))]
		out = out[:0]
		for len(out) < batch {
			s := train[r.IntN(len(train))]
			if len(s) == len(first) {
				out = append(out, s)
			}
		}
		return out, nil
	}, held, calls
}

func runSAETrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in saeInput
	in.register(fs)
	hook := fs.String("hook", "", "hook `POINT` whose activations the dictionary encodes, e.g. blocks.1.hook_resid_post (required)")
	hookOut := fs.String("hook-out", "", "train a transcoder: predict this hook `POINT` (e.g. blocks.0.hook_mlp_out) from --hook (e.g. blocks.0.ln2.hook_normalized)")
	out := fs.String("out", "", "`DIR` to write the dictionary to (cfg.json, sae_weights.safetensors; required)")
	arch := fs.String("architecture", sae.TopK, "`ACTIVATION`: topk, batchtopk, relu (with --l1) or jumprelu (with --l0)")
	dSAE := fs.Int("d-sae", 0, "dictionary size `N` (default 8 × the activation width)")
	k := fs.Int("k", 32, "active features per row for topk and batchtopk (at most --d-sae)")
	l1 := fs.Float64("l1", 0, "L1 coefficient for relu")
	var jf jumpFlags
	jf.register(fs)
	auxK := fs.Int("aux-k", 0, "dead features trained by the auxiliary loss (topk, batchtopk; 0: off)")
	steps := fs.Int("steps", 2000, "training steps")
	batch := fs.Int("batch", 1024, "activation rows per step")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	seed := fs.Uint64("seed", 0, "seed of the initialisation and of the batches drawn")
	asJSON := fs.Bool("json", false, `print {"l0", "fvu", "ce_loss_recovered", "dead_fraction", "checkpoint"}`)
	every := fs.Int("checkpoint-every", 500, "write DIR/"+trainCheckpoint+" every `N` steps (and when interrupted or done); 0: only then")
	resume := fs.Bool("resume", false, "continue from DIR/"+trainCheckpoint+" exactly where it stopped, up to --steps (the other flags must be those of the run)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae train --model M --hook POINT --out DIR [--tokens F | --text-file F] [flags] [--resume] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Trains a sparse dictionary on activations streamed from the model (never stored whole), then")
		fmt.Fprintln(fs.Output(), "measures it on held-out sequences (the input's last tenth, or fresh task sequences): L0, FVU,")
		fmt.Fprintln(fs.Output(), "the cross-entropy recovered when its reconstruction replaces the activation, dead features.")
		fmt.Fprintln(fs.Output(), "The folder is SAELens's layout. A model from a `train induction` run needs no input.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae train: unexpected argument %q", fs.Arg(0))
	}
	if *hook == "" || *out == "" {
		return fmt.Errorf("sae train: --hook and --out are required")
	}
	if *steps < 1 || *batch < 1 || *batch > 1<<16 {
		return fmt.Errorf("sae train: --steps must be ≥ 1 and --batch in [1, 65536], got %d and %d", *steps, *batch)
	}
	m, seqs, err := in.load("sae train", stderr)
	if err != nil {
		return err
	}
	cfg := dictConfig(m, *hook, *hookOut, *arch, *dSAE)
	if cfg.Activation == sae.TopK || cfg.Activation == sae.BatchTopK {
		cfg.K = min(*k, cfg.DSAE)
	}
	s, err := sae.New(cfg, *seed)
	if err != nil {
		return err
	}
	tc := sae.TrainConfig{Batch: *batch, LR: *lr, L1: *l1, AuxK: *auxK, AuxCoeff: 1.0 / 32}
	jf.apply(&tc, cfg.Activation)
	tr, err := sae.NewTrainer(s, tc)
	if err != nil {
		return err
	}
	seqBatch := max(1, min(64, *batch/m.Cfg.NCtx+1))
	draw, held, calls := in.batches(seqs, seqBatch, *seed)
	src, err := sae.NewSource(m, *hook, *hookOut, draw, 16**batch, *seed)
	if err != nil {
		return err
	}
	if *every < 0 {
		return fmt.Errorf("sae train: --checkpoint-every %d is negative", *every)
	}
	runFlags := runArgs(fs, "steps", "json", "resume", "checkpoint-every")
	ckpt := filepath.Join(*out, trainCheckpoint)
	start := 0
	if *resume {
		if start, err = resumeSAE(tr, src, ckpt, runFlags); err != nil {
			return err
		}
		*calls = src.Runs()
		fmt.Fprintf(stderr, "sae train: resuming from step %d of %s\n", start, ckpt)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("sae train: %w", err)
	}
	var ckptErr error
	save := func(step int) {
		if ckptErr == nil {
			ckptErr = tr.SaveCheckpoint(ckpt, src, step, map[string]string{"args": runFlags})
		}
	}
	ran, _, err := tr.Run(ctx, src, max(0, *steps-start), func(step int, st sae.Stats) {
		step += start
		if step%200 == 0 || step == *steps {
			fmt.Fprintf(stderr, "sae train: step %d/%d  mse %.4g  fvu %.3f  l0 %.1f  dead %d\n", step, *steps, st.MSE, st.FVU, st.L0, st.Dead)
		}
		if *every > 0 && step%*every == 0 {
			save(step)
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	done := start + ran
	save(done)
	if ckptErr != nil {
		return ckptErr
	}
	extra := map[string]any{"steps": done, "seed": *seed}
	if err := s.Save(*out, extra); err != nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "sae train: interrupted after %d steps; the dictionary so far is saved in %s (--resume continues)\n", done, *out)
		return ctx.Err()
	}
	f, err := s.Evaluate(ctx, m, held)
	if err != nil {
		return err
	}
	return printFidelity(stdout, f, *out, *asJSON)
}

// dictConfig returns the config of a dictionary of activation arch at
// hook (a transcoder when hookOut is not empty): its width the hook's, its
// size dSAE or, for 0, 8 × the width.
func dictConfig(m *transformer.Model, hook, hookOut, arch string, dSAE int) sae.Config {
	d := m.Cfg.DModel
	if n, err := m.ParseHook(hook); err == nil {
		if w := hookWidth(m, n.Kind()); w > 0 {
			d = w
		}
	}
	if dSAE == 0 {
		dSAE = 8 * d
	}
	return sae.Config{DIn: d, DSAE: dSAE, Activation: arch, HookName: hook, HookNameOut: hookOut, Transcoder: hookOut != ""}
}

// hookWidth returns the last-axis width of a hook kind that is not the
// residual width (MLP activations), or 0.
func hookWidth(m *transformer.Model, kind string) int {
	switch kind {
	case "mlp.hook_pre", "mlp.hook_post", "mlp.hook_pre_linear":
		return m.Cfg.DMLP
	}
	return 0
}

func printFidelity(w io.Writer, f *sae.Fidelity, checkpoint string, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			*sae.Fidelity
			Checkpoint string `json:"checkpoint,omitempty"`
		}{f, checkpoint})
	}
	fmt.Fprintf(w, "L0 %.2f  FVU %.4f  CE loss recovered %.4f (clean %.4f, spliced %.4f, zero-ablated %.4f)  dead %.1f%%\n",
		f.L0, f.FVU, f.CERecovered, f.CleanLoss, f.SpliceLoss, f.AblatedLoss, 100*f.DeadFraction)
	if checkpoint != "" {
		fmt.Fprintf(w, "saved in %s\n", checkpoint)
	}
	return nil
}

func runSAEEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in saeInput
	in.register(fs)
	dir := fs.String("sae", "", "the dictionary's `DIR` (cfg.json + sae_weights.safetensors, SAELens's layout)")
	seed := fs.Uint64("seed", 0, "seed of the task sequences, when the model's own task is used")
	asJSON := fs.Bool("json", false, `print {"l0", "fvu", "ce_loss_recovered", "dead_fraction", "clean_loss", "splice_loss", "ablated_loss"}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae eval --sae DIR --model M [--tokens F | --text-file F] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Measures a dictionary on held-out sequences (the input, or fresh task sequences for a model")
		fmt.Fprintln(fs.Output(), "from a `train induction` run): L0, FVU, the cross-entropy recovered when its reconstruction")
		fmt.Fprintln(fs.Output(), "replaces the activation, and the dead features.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 || *dir == "" {
		return fmt.Errorf("sae eval: --sae DIR is required, and no arguments")
	}
	s, err := sae.Load(*dir)
	if err != nil {
		return err
	}
	m, seqs, err := in.load("sae eval", stderr)
	if err != nil {
		return err
	}
	_, held, _ := in.batches(seqs, 1, *seed)
	if seqs != nil {
		held = seqs
	}
	f, err := s.Evaluate(ctx, m, held)
	if err != nil {
		return err
	}
	return printFidelity(stdout, f, "", *asJSON)
}

func runSAEToy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae toy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("features", 64, "true features `n`")
	d := fs.Int("dims", 32, "dimensions `d` they are squeezed into")
	sparsity := fs.Float64("sparsity", 0.96, "probability that a feature is off in a sample (it fires with 1 − sparsity)")
	dict := fs.Int("dict-size", 0, "dictionary size `m` (default: n)")
	arch := fs.String("architecture", sae.TopK, "`ACTIVATION`: topk, batchtopk, relu or jumprelu")
	k := fs.Int("k", 4, "active features per row for topk and batchtopk")
	l1 := fs.Float64("l1", 0.1, "L1 coefficient for relu")
	var jf jumpFlags
	jf.register(fs)
	steps := fs.Int("steps", 3000, "training steps")
	batch := fs.Int("batch", 256, "samples per step")
	lr := fs.Float64("lr", 3e-3, "Adam learning rate")
	seed := fs.Uint64("seed", 1, "seed of the true directions and the samples")
	asJSON := fs.Bool("json", false, `print {"mmcs", "reverse_mmcs", "fvu", "l0", ...}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae toy [--features n --dims d --sparsity s --dict-size m] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "n sparse features with random unit directions in d < n dimensions (superposition); a")
		fmt.Fprintln(fs.Output(), "dictionary trained on their sums should find the directions. MMCS is the mean over true")
		fmt.Fprintln(fs.Output(), "features of the best cosine with a decoder row (1: all found); reverse MMCS the same from")
		fmt.Fprintln(fs.Output(), "the decoder rows' side (low: rows that match no feature, as in too large a dictionary).")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae toy: unexpected argument %q", fs.Arg(0))
	}
	if *steps < 1 || *batch < 1 || *batch > 1<<16 {
		return fmt.Errorf("sae toy: --steps must be ≥ 1 and --batch in [1, 65536]")
	}
	toy, err := sae.NewToy(*n, *d, 1-*sparsity, *seed)
	if err != nil {
		return err
	}
	cfg := sae.Config{DIn: *d, DSAE: *dict, Activation: *arch}
	if cfg.DSAE == 0 {
		cfg.DSAE = *n
	}
	tc := sae.TrainConfig{Batch: *batch, LR: *lr}
	jf.apply(&tc, cfg.Activation)
	switch cfg.Activation {
	case sae.JumpReLU:
	case sae.ReLU:
		tc.L1 = *l1
	default:
		cfg.K = min(*k, cfg.DSAE)
	}
	s, err := sae.New(cfg, *seed)
	if err != nil {
		return err
	}
	tr, err := sae.NewTrainer(s, tc)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 0x70e5))
	x := make([]float32, *batch**d)
	var st sae.Stats
	for i := range *steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		toy.Fill(x, *batch, rng)
		st = tr.Step(x, nil)
		if (i+1)%1000 == 0 {
			fmt.Fprintf(stderr, "sae toy: step %d/%d  fvu %.3f  l0 %.2f\n", i+1, *steps, st.FVU, st.L0)
		}
	}
	mmcs, rev := s.MMCS(toy.Dirs, toy.N)
	res := map[string]any{"mmcs": mmcs, "reverse_mmcs": rev, "fvu": st.FVU, "l0": st.L0, "features": *n, "dims": *d,
		"sparsity": *sparsity, "dict_size": cfg.DSAE, "architecture": cfg.Activation}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%d features in %d dimensions (each fires with probability %.3g); %s dictionary of %d\n", *n, *d, 1-*sparsity, cfg.Activation, cfg.DSAE)
	fmt.Fprintf(stdout, "MMCS %.3f (true features found), reverse MMCS %.3f (decoder rows that match a feature), FVU %.3f, L0 %.2f\n", mmcs, rev, st.FVU, st.L0)
	return nil
}

// jumpFlags are the JumpReLU training flags.
type jumpFlags struct{ l0, bandwidth float64 }

func (f *jumpFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.l0, "l0", 0.01, "L0 penalty coefficient for jumprelu")
	fs.Float64Var(&f.bandwidth, "bandwidth", 0.05, "jumprelu: width ε of the straight-through estimator's kernel that trains the thresholds")
}

// apply sets tc's JumpReLU fields for a dictionary of activation arch.
func (f *jumpFlags) apply(tc *sae.TrainConfig, arch string) {
	if arch == sae.JumpReLU {
		tc.L0, tc.Bandwidth = f.l0, f.bandwidth
	}
}

// trainCheckpoint is the training state `sae train` keeps in its folder.
const trainCheckpoint = "checkpoint.safetensors"

// runArgs returns, as JSON, every flag of fs but those named: the settings
// a resumed run must share with the run it continues.
func runArgs(fs *flag.FlagSet, except ...string) string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(except, f.Name) {
			m[f.Name] = f.Value.String()
		}
	})
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

// resumeSAE restores tr and src from the checkpoint at path, written by a
// run with the settings args, and returns its step.
func resumeSAE(tr *sae.Trainer, src *sae.Source, path, args string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sae train: --resume: %w", err)
	}
	step, md, err := tr.LoadCheckpoint(path, src)
	if err != nil {
		return 0, fmt.Errorf("sae train: --resume: %w", err)
	}
	var was, now map[string]string
	if json.Unmarshal([]byte(md["args"]), &was) != nil || json.Unmarshal([]byte(args), &now) != nil {
		return 0, fmt.Errorf("sae train: --resume: %s does not record its run's flags", path)
	}
	var diff []string
	for k, v := range now {
		if was[k] != v {
			diff = append(diff, fmt.Sprintf("--%s %q (the run had %q)", k, v, was[k]))
		}
	}
	slices.Sort(diff)
	if len(diff) > 0 {
		return 0, fmt.Errorf("sae train: --resume: flags differ from the run's: %s; only --steps may change", strings.Join(diff, ", "))
	}
	return step, nil
}
