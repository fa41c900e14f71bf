package cnn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/train"
)

// FashionOptions is a Fashion-MNIST classifier training run: the model, the
// optimisation and where the run lives. The fields with JSON names are the
// run's configuration, written to the run folder's train.json.
type FashionOptions struct {
	Model    Config  `json:"model"`
	Epochs   int     `json:"epochs"`
	Batch    int     `json:"batch"`
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"`
	Seed     uint64  `json:"seed"`
	Data     string  `json:"data"`   // the IDX files' folder ("": Debian's data.FashionMNISTDir)
	Shards   int     `json:"shards"` // fixed batch shards: results do not depend on Workers
	Workers  int     `json:"-"`
	Limit    int     `json:"limit,omitempty"` // use only the first Limit training images (0: all)

	Dir      string    `json:"-"` // the run folder (required)
	Resume   bool      `json:"-"` // continue the run in Dir from its latest checkpoint
	Progress io.Writer `json:"-"` // a progress line per logged step, or nil
	// AllowConfigChange lets a resume change more than the epochs (see
	// train.Options); Log receives the run folder's repairs, or nil.
	AllowConfigChange bool      `json:"-"`
	Log               io.Writer `json:"-"`
}

// DefaultFashionOptions returns the `workbench train cnn` defaults: the
// small classifier (Classifier), 3 epochs of batches of 128, SGD with
// learning rate 0.05 and momentum 0.9, 2 shards on workers goroutines.
func DefaultFashionOptions(workers int) FashionOptions {
	return FashionOptions{Model: Classifier(), Epochs: 3, Batch: 128, LR: 0.05, Momentum: 0.9, Shards: 2, Workers: workers}
}

// FashionResult is a run's summary (summary.json).
type FashionResult struct {
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

// Validate reports the first option out of range, naming it.
func (o FashionOptions) Validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("cnn: a run folder (Dir) is required")
	case o.Epochs < 1:
		return fmt.Errorf("cnn: epochs %d must be positive", o.Epochs)
	case o.Batch < 1 || o.Batch > 1<<16:
		return fmt.Errorf("cnn: batch %d must be in [1, 65536]", o.Batch)
	case !(o.LR > 0) || o.LR > 1e3:
		return fmt.Errorf("cnn: lr %v must be positive", o.LR)
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("cnn: momentum %v must be in [0, 1)", o.Momentum)
	case o.Workers < 1 || o.Shards < 1:
		return fmt.Errorf("cnn: workers %d and shards %d must be positive", o.Workers, o.Shards)
	case o.Limit < 0:
		return fmt.Errorf("cnn: limit %d must not be negative", o.Limit)
	}
	return o.Model.Validate()
}

// fashionTrainable adapts the model and Fashion-MNIST to train.Trainable.
// Step s trains on images perm_e[b·batch : (b+1)·batch] of epoch
// e = s/perEpoch, b = s mod perEpoch, where perm_e is a shuffle seeded by
// (seed, e): a pure function of (seed, s), so a resumed run sees the same
// batches.
type fashionTrainable struct {
	m        *Model
	par      *Parallel
	g        *Params
	params   []optim.Param
	set      *data.ImageSet
	batch    int
	perEpoch int
	seed     uint64
	perm     []int
	permOf   int // the epoch perm belongs to, −1 before the first
	images   []float32
	labels   []int32
}

func (t *fashionTrainable) Params() []optim.Param { return t.params }
func (t *fashionTrainable) TokensPerStep() int    { return t.batch }

func (t *fashionTrainable) Step(ctx context.Context, s int) (float64, error) {
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

func (t *fashionTrainable) Tensors() []checkpoint.Tensor     { return t.m.StateDict() }
func (t *fashionTrainable) Restore(f *checkpoint.File) error { return t.m.LoadStateDict(f) }

// Labels32 returns an image set's labels as the int32 class ids the
// classifier's loss and Evaluate take.
func Labels32(s *data.ImageSet) []int32 {
	out := make([]int32, s.N)
	for i, l := range s.Labels {
		out[i] = int32(l)
	}
	return out
}

// TrainFashionMNIST trains a classifier on Fashion-MNIST with SGD and
// momentum, data-parallel, evaluating on the test set after every epoch,
// through train.Run (metrics.jsonl, atomic checkpoints, resume, Ctrl-C). It
// writes the run folder o.Dir: train.json (the options), metrics.jsonl,
// checkpoints/, model.safetensors and summary.json. An interrupted run
// (ctx cancelled) returns its summary with Interrupted set and no error.
func TrainFashionMNIST(ctx context.Context, o FashionOptions) (FashionResult, error) {
	if err := o.Validate(); err != nil {
		return FashionResult{}, err
	}
	trainSet, testSet, err := data.FashionMNIST(o.Data)
	if err != nil {
		return FashionResult{}, fmt.Errorf("cnn: %w", err)
	}
	if c := o.Model; trainSet.H != c.InH || trainSet.W != c.InW || testSet.H != c.InH || testSet.W != c.InW {
		return FashionResult{}, fmt.Errorf("cnn: images are %d×%d, the model expects %d×%d", trainSet.H, trainSet.W, c.InH, c.InW)
	}
	n := trainSet.N
	if o.Limit > 0 {
		n = min(n, o.Limit)
	}
	if n < o.Batch {
		return FashionResult{}, fmt.Errorf("cnn: %d training images do not fill one batch of %d", n, o.Batch)
	}
	m, err := New(o.Model)
	if err != nil {
		return FashionResult{}, err
	}
	par, err := m.NewParallel(o.Batch, o.Shards, o.Workers)
	if err != nil {
		return FashionResult{}, err
	}
	defer par.Close()
	t := &fashionTrainable{m: m, par: par, g: m.NewGrads(), set: trainSet, batch: o.Batch, perEpoch: n / o.Batch,
		seed: o.Seed, perm: make([]int, n), permOf: -1, images: make([]float32, o.Batch*trainSet.H*trainSet.W),
		labels: make([]int32, o.Batch)}
	gl := t.g.List()
	for i, p := range m.P.List() {
		t.params = append(t.params, optim.Param{Name: p.Name, Data: p.Data, Grad: gl[i].Data, Decay: p.Decay})
	}
	opt, err := optim.NewSGD(t.params, optim.SGDConfig{Momentum: o.Momentum})
	if err != nil {
		return FashionResult{}, err
	}
	testLabels := Labels32(testSet)

	dir := o.Dir
	lock, err := train.LockDir(dir)
	if err != nil {
		return FashionResult{}, err
	}
	defer lock.Unlock()
	cfgJSON, _ := json.Marshal(o)
	var res FashionResult
	var evalSeconds float64
	mark := time.Now()
	sum, err := train.Run(ctx, t, opt, train.Options{
		Steps: o.Epochs * t.perEpoch, LogEvery: 10, EvalEvery: t.perEpoch, KeepCheckpoints: 1,
		Schedule: optim.Constant(o.LR), Dir: dir, Resume: o.Resume, Progress: o.Progress,
		Config: cfgJSON, MayChange: []string{"epochs"}, AllowConfigChange: o.AllowConfigChange, Lock: lock, Log: o.Log,
		Metadata: map[string]string{ConfigMetadataKey: string(m.Cfg.JSON()), "train_cnn": string(cfgJSON)},
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
		var done FashionResult
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
		return res, fmt.Errorf("cnn: %w", err)
	}
	return res, nil
}
