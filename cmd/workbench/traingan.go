package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/gan"
	"github.com/mechinterp/workbench/train"
)

// ganResult is the summary of `workbench train gan` (--json and
// summary.json): the pipeline's, with the command's own files and time.
type ganResult struct {
	gan.FashionResult
	WallSeconds float64 `json:"wall_seconds"` // the whole command
	Samples     string  `json:"samples"`
}

func runTrainGAN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	began := time.Now()
	cfg := gan.DCGAN()
	rc := newRunCommand("train gan", "run `DIR` for metrics.jsonl, checkpoints/, model.safetensors, samples.png and summary.json (required)",
		`Usage: workbench train gan --dataset fashion-mnist --out DIR [flags]

Trains a DCGAN on Fashion-MNIST and judges its samples with our own classifier: a
Fréchet distance on the classifier's features (FID), an Inception-style score on its
probabilities and class coverage, each beside controls (a second real set, the same
set with pixel noise, blurred, and one class only). Ctrl-C saves a checkpoint; --resume
continues it exactly.

Example: workbench train gan --dataset fashion-mnist --out runs/gan --epochs 1 --json`, stderr)
	fs, out, resume, asJSON := rc.fs, &rc.out, &rc.resume, &rc.json
	dataset := fs.String("dataset", "fashion-mnist", "training images (only fashion-mnist)")
	dataDir := fs.String("data", "", "`DIR` holding the Fashion-MNIST IDX files (default: Debian's "+data.FashionMNISTDir+")")
	loss := fs.String("loss", gan.LossNonSaturating, "nonsaturating, minimax or wgan")
	epochs := fs.Float64("epochs", 1, "passes over the training set (steps = epochs·images/batch)")
	steps := fs.Int("steps", 0, "generator updates (overrides --epochs)")
	batch := fs.Int("batch", 64, "images per batch")
	lr := fs.Float64("lr", 0, "Adam learning rate (default 2e-4; wgan 5e-5)")
	seed := fs.Uint64("seed", 0, "seed for the initialisation, the data and the latent vectors")
	fs.IntVar(&cfg.ZDim, "z-dim", cfg.ZDim, "latent dimension")
	fs.IntVar(&cfg.GWidth, "g-width", cfg.GWidth, "generator channels at 7×7 (halved at 14×14)")
	fs.IntVar(&cfg.DWidth, "d-width", cfg.DWidth, "discriminator channels at 14×14 (doubled at 7×7)")
	limit := fs.Int("limit", 0, "train on the first N training images only (0: all)")
	clfPath := fs.String("classifier", "", "`PATH` of a cnn checkpoint (workbench train cnn's model.safetensors) to judge samples with\n(default: DIR/classifier/model.safetensors, trained first if absent)")
	clfEpochs := fs.Int("classifier-epochs", 2, "epochs for the judge classifier when it has to be trained")
	evalN := fs.Int("eval-n", 5000, "images per set for FID and IS (the test set supplies two real sets of this size)")
	evalEvery := fs.Int("eval-every", 0, "score samples every N steps (0: at the end only)")
	if err := rc.parse(args); err != nil {
		return err
	}
	if *dataset != "fashion-mnist" {
		return fmt.Errorf("train gan: unknown --dataset %q (only fashion-mnist)", *dataset)
	}
	o := gan.DefaultFashionOptions(*loss)
	o.Train.Batch, o.Train.Seed, o.Train.Dir, o.Train.Resume, o.Train.Steps = *batch, *seed, *out, *resume, *steps
	if *lr != 0 {
		o.Train.LR = *lr
	}
	if isTerminal(stderr) {
		o.Train.Progress = stderr
	}
	cfg.Seed = *seed
	o.Model, o.Epochs, o.Data, o.Limit = cfg, *epochs, *dataDir, *limit
	o.Classifier, o.ClassifierEpochs, o.EvalN, o.EvalEvery = *clfPath, *clfEpochs, *evalN, *evalEvery
	fr, m, err := gan.TrainFashion(ctx, o)
	if err != nil {
		return resumeHint(err)
	}
	if fr.AlreadyFinished {
		return reportFinished(stdout, stderr, *out, fr.Steps, *asJSON)
	}
	res := ganResult{FashionResult: fr}
	res.Samples = filepath.Join(*out, "samples.png")
	if err := writeSampleGrid(context.WithoutCancel(ctx), res.Samples, m, 8, *seed); err != nil {
		return err
	}
	res.WallSeconds = time.Since(began).Seconds()
	if err := writeSummary(*out, res); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printGAN(stdout, res)
	}
	if res.Interrupted {
		return rc.interrupted(res.Steps)
	}
	return nil
}

func writeSummary(dir string, v any) error {
	if err := train.WriteJSON(filepath.Join(dir, train.SummaryFile), v); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

// reportFinished is the answer to --resume on a finished run: nothing is
// trained or written; with asJSON the run's summary.json is printed.
func reportFinished(stdout, stderr io.Writer, dir string, steps int, asJSON bool) error {
	fmt.Fprintf(stderr, "%s already finished at step %d: nothing to do (raise --steps to continue it)\n", dir, steps)
	if !asJSON {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, train.SummaryFile))
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// writeSampleGrid writes side×side generated images (evaluation mode) as a
// grey-scale PNG with one-pixel gaps.
func writeSampleGrid(ctx context.Context, path string, m *gan.Model, side int, seed uint64) error {
	x, err := m.Samples(ctx, side*side, rand.New(rand.NewPCG(seed, 0x9a11e7)))
	if err != nil {
		return err
	}
	gan.ToPixels(x.Data)
	h, w := m.Cfg.ImageH, m.Cfg.ImageW
	img := image.NewGray(image.Rect(0, 0, side*(w+1)+1, side*(h+1)+1))
	for i := range side * side {
		r, c := i/side, i%side
		for y := range h {
			for xx := range w {
				v := x.Data[i*h*w+y*w+xx]
				img.SetGray(1+c*(w+1)+xx, 1+r*(h+1)+y, color.Gray{Y: uint8(v*255 + 0.5)})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printGAN(w io.Writer, r ganResult) {
	fmt.Fprintf(w, "trained %d steps (%.2f epochs, %s loss) in %.1f s\n", r.Steps, r.Epochs, r.Loss, r.TrainSeconds)
	fmt.Fprintf(w, "judge: %s (test accuracy %.4f), features %s pooled to %d dimensions, %d images per set\n",
		r.Classifier, r.ClassifierAcc, r.FeaturePoint, r.FeatureDim, r.EvalN)
	row := func(name string, s gan.Score) {
		fmt.Fprintf(w, "  %-14s FID %9.4f   IS %6.3f ± %.3f   classes %3.0f%%\n", name, s.FID, s.InceptionScore, s.InceptionScoreStd, 100*s.ClassesCovered)
	}
	if r.Scored {
		row("generated", gan.Score{FID: r.FID, InceptionScore: r.InceptionScore, InceptionScoreStd: r.InceptionScoreStd, ClassesCovered: r.ClassesCovered})
	} else {
		fmt.Fprintf(w, "  %-14s not scored (interrupted before the first evaluation)\n", "generated")
	}
	fmt.Fprintf(w, "  %-14s FID %9.4f\n", "untrained G", r.FIDStart)
	row("real vs real", r.Controls.RealVsReal)
	row("real + noise", r.Controls.Noise)
	row("real blurred", r.Controls.Blur)
	row("one class", r.Controls.OneClass)
	fmt.Fprintf(w, "model: %s\nsamples: %s\ncheckpoint: %s\n", r.Model, r.Samples, r.Checkpoint)
}

// gan2dResult is the summary of `workbench train gan2d`: the pipeline's,
// with the command's time.
type gan2dResult struct {
	gan.MixtureResult
	WallSeconds float64 `json:"wall_seconds"`
}

func runTrainGAN2D(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	began := time.Now()
	rc := newRunCommand("train gan2d", "run `DIR` for metrics.jsonl, checkpoints/, model.safetensors and summary.json (required)",
		`Usage: workbench train gan2d --out DIR [flags]

Trains an MLP GAN on a 2-D Gaussian mixture and reports the VEEGAN metrics on 2,500
samples: a sample is high quality within 3σ of its nearest mode, a mode is captured
when at least one high-quality sample is nearest to it. --vanishing adds the
generator's gradient norms under log(1−D) and −log D as the discriminator improves.

Example: workbench train gan2d --out runs/ring --mixture ring --loss minimax --json`, stderr)
	fs, out, resume, asJSON := rc.fs, &rc.out, &rc.resume, &rc.json
	mixture := fs.String("mixture", "ring", "ring (8 modes, σ 0.02) or grid (25 modes, σ 0.05)")
	loss := fs.String("loss", gan.LossNonSaturating, "nonsaturating, minimax or wgan")
	steps := fs.Int("steps", 3000, "generator updates")
	batch := fs.Int("batch", 0, "samples per batch (default 256)")
	lr := fs.Float64("lr", 0, "Adam learning rate (default 1e-3; wgan 1e-4)")
	seed := fs.Uint64("seed", 1, "seed for the initialisation, the data and the latent vectors")
	vanishing := fs.Bool("vanishing", false, "also run the vanishing-gradient experiment on the untrained generator")
	if err := rc.parse(args); err != nil {
		return err
	}
	o := gan.MixtureRun{Mixture: *mixture, Train: gan.DefaultMixtureOptions(*loss), Vanishing: *vanishing}
	o.Train.Steps, o.Train.Seed, o.Train.Dir, o.Train.Resume = *steps, *seed, *out, *resume
	if *batch != 0 {
		o.Train.Batch = *batch
	}
	if *lr != 0 {
		o.Train.LR = *lr
	}
	if isTerminal(stderr) {
		o.Train.Progress = stderr
	}
	mr, err := gan.RunMixture(ctx, o)
	if err != nil {
		return resumeHint(err)
	}
	if mr.AlreadyFinished {
		return reportFinished(stdout, stderr, *out, mr.Steps, *asJSON)
	}
	res := gan2dResult{MixtureResult: mr}
	res.WallSeconds = time.Since(began).Seconds()
	if err := writeSummary(*out, res); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s loss on the %s: %d of %d modes captured, %.1f%% high-quality samples (of %d), %d steps in %.1f s\n",
			res.Loss, res.Mixture, res.ModesCaptured, res.Modes, 100*res.HighQualityFraction, res.Samples, res.Steps, res.WallSeconds)
		fmt.Fprintf(stdout, "high-quality samples per mode: %v\n", res.PerMode)
		if len(res.Vanishing) > 0 {
			fmt.Fprintln(stdout, "vanishing gradients (generator frozen, discriminator trained):")
			fmt.Fprintln(stdout, "  D steps  D accuracy   D(G(z))   ‖∇G‖ log(1−D)   ‖∇G‖ −log D")
			for _, p := range res.Vanishing {
				fmt.Fprintf(stdout, "  %7d  %10.3f  %8.2g  %14.3g  %12.3g\n", p.DSteps, p.DAccuracy, p.DFake, p.MinimaxNorm, p.NonSaturatingNorm)
			}
		}
		fmt.Fprintf(stdout, "model: %s\ncheckpoint: %s\n", res.Model, res.Checkpoint)
	}
	if res.Interrupted {
		return rc.interrupted(res.Steps)
	}
	return nil
}
