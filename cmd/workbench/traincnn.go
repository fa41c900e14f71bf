package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/train"
)

// cnnOptions is what `workbench train cnn` trains: the model and the run.
type cnnOptions struct {
	Model    cnn.Config `json:"model"`
	Epochs   int        `json:"epochs"`
	Batch    int        `json:"batch"`
	LR       float64    `json:"lr"`
	Momentum float64    `json:"momentum"`
	Seed     uint64     `json:"seed"`
	Data     string     `json:"data"`
	Shards   int        `json:"shards"` // fixed batch shards: results do not depend on Workers
	Workers  int        `json:"-"`
	Limit    int        `json:"limit,omitempty"` // use only the first Limit training images (0: all)
	// AllowConfigChange lets a resume change more than the epochs (see
	// train.Options); Log receives the run folder's repairs.
	AllowConfigChange bool      `json:"-"`
	Log               io.Writer `json:"-"`
}

// cnnResult is the run's summary (the --json output and summary.json).
type cnnResult struct {
	TestAccuracy    float64   `json:"test_accuracy"`
	TestLoss        float64   `json:"test_loss"`
	EpochAccuracy   []float64 `json:"epoch_test_accuracy"`
	EpochSeconds    []float64 `json:"epoch_seconds"` // training wall time per epoch, without evaluation
	ImagesPerSecond float64   `json:"images_per_second"`
	Steps           int       `json:"steps"`
	WallSeconds     float64   `json:"wall_seconds"`
	Interrupted     bool      `json:"interrupted"`
	Checkpoint      string    `json:"checkpoint"`
	Model           string    `json:"model"` // the final weights alone, with their config
	Dir             string    `json:"dir"`
	AlreadyFinished bool      `json:"-"` // a resume found the run complete and changed nothing
}

func runTrainCNN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := cnnOptions{Model: cnn.Classifier(), Epochs: 3, Batch: 128, LR: 0.05, Momentum: 0.9, Shards: 2,
		Workers: runtime.GOMAXPROCS(0)}
	rc := newRunCommand("train cnn", "run `DIR` for train.json, metrics.jsonl, checkpoints/, model.safetensors and summary.json (required)",
		`Usage: workbench train cnn --out DIR [flags]

Trains a convolutional classifier on Fashion-MNIST with SGD and momentum, data-parallel
over --workers cores, and reports the test accuracy after every epoch. Ctrl-C saves a
checkpoint; --resume continues it exactly.

Example: workbench train cnn --out runs/cnn --epochs 3 --json`, stderr)
	fs, out, resume, asJSON := rc.fs, &rc.out, &rc.resume, &rc.json
	fs.IntVar(&o.Epochs, "epochs", o.Epochs, "passes over the training set")
	fs.IntVar(&o.Batch, "batch", o.Batch, "images per step (the last partial batch of an epoch is dropped)")
	fs.Float64Var(&o.LR, "lr", o.LR, "SGD learning rate")
	fs.Float64Var(&o.Momentum, "momentum", o.Momentum, "SGD momentum")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed for the initialisation, the data order and dropout")
	fs.StringVar(&o.Data, "data", "", "`DIR` holding the Fashion-MNIST IDX files (default: Debian's "+data.FashionMNISTDir+")")
	arch := fs.String("arch", cnn.ArchCNN, "cnn (conv16–BN–pool–conv32–BN–pool–FC), resnet or plain")
	block := fs.String("block", cnn.BlockBasic, "resnet/plain block: basic or bottleneck")
	stages := fs.String("stages", "3,3,3", "resnet/plain blocks per stage (3,3,3 is ResNet-20)")
	fs.Float64Var(&o.Model.Dropout, "dropout", 0, "cnn: drop probability before the head")
	fs.IntVar(&o.Workers, "workers", o.Workers, "worker goroutines (results do not depend on it)")
	fs.IntVar(&o.Limit, "limit", 0, "train on the first N images only (0: all)")
	fs.BoolVar(&o.AllowConfigChange, "allow-config-change", false, "with --resume, accept flags other than --epochs and --workers that differ from the run's train.json (recorded in metrics.jsonl)")
	if err := rc.parse(args); err != nil {
		return err
	}
	switch *arch {
	case cnn.ArchCNN:
	case cnn.ArchResNet, cnn.ArchPlain:
		var st []int
		for _, f := range strings.Split(*stages, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("train cnn: --stages %q: %w", *stages, err)
			}
			st = append(st, n)
		}
		drop := o.Model.Dropout
		o.Model = cnn.ResNet(*block, st...)
		o.Model.Arch, o.Model.Dropout = *arch, drop
	default:
		return fmt.Errorf("train cnn: unknown --arch %q (want cnn, resnet or plain)", *arch)
	}
	o.Model.Seed = o.Seed
	var progress io.Writer
	if isTerminal(stderr) {
		progress = stderr
	}
	o.Log = stderr
	res, err := trainCNN(ctx, o, *out, *resume, progress)
	if err != nil {
		return resumeHint(err)
	}
	if res.AlreadyFinished {
		fmt.Fprintf(stderr, "%s already finished at step %d: nothing to do (raise --epochs to continue it)\n", *out, res.Steps)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for i, a := range res.EpochAccuracy {
			fmt.Fprintf(stdout, "epoch %d: test accuracy %.4f", i+1, a)
			if i < len(res.EpochSeconds) {
				fmt.Fprintf(stdout, " (%.1f s training)", res.EpochSeconds[i])
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "trained %d steps in %.1f s (%.0f images/s while training); test accuracy %.4f, loss %.4f\n",
			res.Steps, res.WallSeconds, res.ImagesPerSecond, res.TestAccuracy, res.TestLoss)
		fmt.Fprintf(stdout, "model: %s\ncheckpoint: %s\n", res.Model, res.Checkpoint)
	}
	if res.Interrupted {
		fmt.Fprintf(stderr, "interrupted at step %d; resume with --resume --out %s\n", res.Steps, *out)
	}
	return nil
}

// validate checks the options from the command line.
func (o cnnOptions) validate() error {
	switch {
	case o.Epochs < 1:
		return fmt.Errorf("train cnn: --epochs %d must be positive", o.Epochs)
	case o.Batch < 1 || o.Batch > 1<<16:
		return fmt.Errorf("train cnn: --batch %d must be in [1, 65536]", o.Batch)
	case !(o.LR > 0) || o.LR > 1e3:
		return fmt.Errorf("train cnn: --lr %v must be positive", o.LR)
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("train cnn: --momentum %v must be in [0, 1)", o.Momentum)
	case o.Workers < 1 || o.Shards < 1:
		return fmt.Errorf("train cnn: --workers %d must be positive", o.Workers)
	case o.Limit < 0:
		return fmt.Errorf("train cnn: --limit %d must not be negative", o.Limit)
	}
	return o.Model.Validate()
}

// cnnTrainable adapts the model and Fashion-MNIST to train.Trainable. Step
// s trains on images perm_e[b·batch : (b+1)·batch] of epoch e = s/perEpoch,
// b = s mod perEpoch, where perm_e is a shuffle seeded by (seed, e): a pure
// function of (seed, s), so a resumed run sees the same batches.
type cnnTrainable struct {
	m        *cnn.Model
	par      *cnn.Parallel
	g        *cnn.Params
	params   []optim.Param
	set      *data.ImageSet
	n        int // training images used
	batch    int
	perEpoch int
	seed     uint64
	perm     []int
	permOf   int // the epoch perm belongs to, −1 before the first
	images   []float32
	labels   []int32
}

func (t *cnnTrainable) Params() []optim.Param { return t.params }
func (t *cnnTrainable) TokensPerStep() int    { return t.batch }

func (t *cnnTrainable) Step(ctx context.Context, s int) (float64, error) {
	epoch, b := s/t.perEpoch, s%t.perEpoch
	if epoch != t.permOf {
		for i := range t.perm {
			t.perm[i] = i
		}
		rng := rand.New(rand.NewPCG(t.seed, uint64(epoch)))
		rng.Shuffle(len(t.perm), func(i, j int) { t.perm[i], t.perm[j] = t.perm[j], t.perm[i] })
		t.permOf = epoch
	}
	per := t.set.H * t.set.W
	for i, k := range t.perm[b*t.batch : (b+1)*t.batch] {
		copy(t.images[i*per:(i+1)*per], t.set.Image(k))
		t.labels[i] = int32(t.set.Labels[k])
	}
	return t.par.Step(ctx, t.images, t.labels, t.seed*0x9e3779b97f4a7c15+uint64(s), t.g)
}

func (t *cnnTrainable) Tensors() []checkpoint.Tensor     { return t.m.StateDict() }
func (t *cnnTrainable) Restore(f *checkpoint.File) error { return t.m.LoadStateDict(f) }

// trainCNN runs the experiment into dir.
func trainCNN(ctx context.Context, o cnnOptions, dir string, resume bool, progress io.Writer) (cnnResult, error) {
	if err := o.validate(); err != nil {
		return cnnResult{}, err
	}
	trainSet, testSet, err := data.FashionMNIST(o.Data)
	if err != nil {
		return cnnResult{}, fmt.Errorf("train cnn: %w", err)
	}
	if c := o.Model; trainSet.H != c.InH || trainSet.W != c.InW || testSet.H != c.InH || testSet.W != c.InW {
		return cnnResult{}, fmt.Errorf("train cnn: images are %d×%d, the model expects %d×%d", trainSet.H, trainSet.W, c.InH, c.InW)
	}
	n := trainSet.N
	if o.Limit > 0 {
		n = min(n, o.Limit)
	}
	if n < o.Batch {
		return cnnResult{}, fmt.Errorf("train cnn: %d training images do not fill one batch of %d", n, o.Batch)
	}
	m, err := cnn.New(o.Model)
	if err != nil {
		return cnnResult{}, err
	}
	par, err := m.NewParallel(o.Batch, o.Shards, o.Workers)
	if err != nil {
		return cnnResult{}, err
	}
	defer par.Close()
	t := &cnnTrainable{m: m, par: par, g: m.NewGrads(), set: trainSet, n: n, batch: o.Batch, perEpoch: n / o.Batch,
		seed: o.Seed, perm: make([]int, n), permOf: -1, images: make([]float32, o.Batch*trainSet.H*trainSet.W),
		labels: make([]int32, o.Batch)}
	gl := t.g.List()
	for i, p := range m.P.List() {
		t.params = append(t.params, optim.Param{Name: p.Name, Data: p.Data, Grad: gl[i].Data, Decay: p.Decay})
	}
	opt, err := optim.NewSGD(t.params, optim.SGDConfig{Momentum: o.Momentum})
	if err != nil {
		return cnnResult{}, err
	}
	testLabels := make([]int32, testSet.N)
	for i, l := range testSet.Labels {
		testLabels[i] = int32(l)
	}

	lock, err := train.LockDir(dir)
	if err != nil {
		return cnnResult{}, err
	}
	defer lock.Unlock()
	cfgJSON, _ := json.Marshal(o)
	var res cnnResult
	var evalSeconds float64
	mark := time.Now()
	sum, err := train.Run(ctx, t, opt, train.Options{
		Steps: o.Epochs * t.perEpoch, LogEvery: 10, EvalEvery: t.perEpoch, KeepCheckpoints: 1,
		Schedule: optim.Constant(o.LR), Dir: dir, Resume: resume, Progress: progress,
		Config: cfgJSON, MayChange: []string{"epochs"}, AllowConfigChange: o.AllowConfigChange, Lock: lock, Log: o.Log,
		Metadata: map[string]string{cnn.ConfigMetadataKey: string(m.Cfg.JSON()), "train_cnn": string(cfgJSON)},
		Eval: func(ctx context.Context, step int) (map[string]any, error) {
			began := time.Now()
			res.EpochSeconds = append(res.EpochSeconds, began.Sub(mark).Seconds())
			loss, acc, err := m.Evaluate(ctx, testSet.Images, testLabels, o.Batch, o.Workers)
			mark = time.Now()
			evalSeconds += mark.Sub(began).Seconds()
			if err != nil {
				return nil, err
			}
			return map[string]any{"test_accuracy": acc, "test_loss": loss, "epoch": float64(step) / float64(t.perEpoch)}, nil
		},
	})
	if err != nil && !sum.Interrupted {
		return res, err
	}
	if sum.AlreadyFinished {
		var done cnnResult
		if b, err := os.ReadFile(filepath.Join(dir, train.SummaryFile)); err == nil && json.Unmarshal(b, &done) == nil {
			done.AlreadyFinished = true
			return done, nil
		}
	}
	// The accuracies come from the whole of metrics.jsonl, so that a
	// resumed run reports every epoch, not only those since the resume.
	if err := train.ScanMetrics(dir, func(line []byte) error {
		var r struct {
			Step         int      `json:"step"`
			Event        string   `json:"event"`
			TestAccuracy *float64 `json:"test_accuracy"`
		}
		if json.Unmarshal(line, &r) == nil && r.Event == "" && r.TestAccuracy != nil && r.Step <= sum.Steps {
			res.EpochAccuracy = append(res.EpochAccuracy, *r.TestAccuracy)
		}
		return nil
	}); err != nil {
		return res, err
	}
	res.AlreadyFinished = sum.AlreadyFinished
	res.Interrupted = sum.Interrupted
	res.Steps, res.Checkpoint, res.Dir, res.WallSeconds = sum.Steps, sum.Checkpoint, dir, sum.WallSeconds
	if secs := sum.WallSeconds - evalSeconds; secs > 0 && sum.Steps > sum.ResumedAtStep {
		res.ImagesPerSecond = float64((sum.Steps-sum.ResumedAtStep)*o.Batch) / secs
	}
	if sum.FinalEval != nil {
		res.TestAccuracy, _ = sum.FinalEval["test_accuracy"].(float64)
		res.TestLoss, _ = sum.FinalEval["test_loss"].(float64)
	}
	res.Model = filepath.Join(dir, "model.safetensors")
	if err := m.Save(res.Model, map[string]string{"train_cnn": string(cfgJSON), "step": strconv.Itoa(sum.Steps)}); err != nil {
		return res, err
	}
	if err := train.WriteJSON(filepath.Join(dir, train.SummaryFile), res); err != nil {
		return res, fmt.Errorf("train cnn: %w", err)
	}
	return res, nil
}
