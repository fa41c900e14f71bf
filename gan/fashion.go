package gan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
)

// FashionOptions is a GAN training run on Fashion-MNIST judged by a
// classifier of our own (`workbench train gan`): the model, the run's Train
// options and how samples are judged.
type FashionOptions struct {
	Model Config       // the GAN, normally DCGAN() with a seed
	Train TrainOptions // Loss, Batch, LR, Seed, Dir, Resume, Progress, ...; Steps 0: from Epochs
	// Epochs sets Train.Steps to Epochs·images/Batch when Train.Steps is 0.
	Epochs float64
	Data   string // the IDX files' folder ("": Debian's data.FashionMNISTDir)
	Limit  int    // train on the first Limit images only (0: all)
	// Classifier is the path of a cnn checkpoint that judges samples; ""
	// means Dir/classifier/model.safetensors, trained there first with
	// ClassifierEpochs epochs of cnn.TrainFashionMNIST if absent.
	Classifier       string
	ClassifierEpochs int
	EvalN            int // images per set for FID and IS
	EvalEvery        int // score samples every N steps (0: at the end only)
}

// DefaultFashionOptions returns the `workbench train gan` defaults for a
// loss: DCGAN seeded 0, one epoch, batches of 64, the judge classifier
// trained for 2 epochs, 5,000 images per scored set.
func DefaultFashionOptions(loss string) FashionOptions {
	o := FashionOptions{Model: DCGAN(), Train: DefaultTrainOptions(loss), Epochs: 1, ClassifierEpochs: 2, EvalN: 5000}
	o.Train.Steps = 0
	return o
}

// FashionResult is a run's summary: the final scores beside the controls
// and the run's facts.
type FashionResult struct {
	FID               float64  `json:"fid"`
	InceptionScore    float64  `json:"inception_score"`
	InceptionScoreStd float64  `json:"inception_score_std"`
	ClassesCovered    float64  `json:"classes_covered"`
	ClassCounts       []int    `json:"class_counts"`
	Scored            bool     `json:"scored"`    // false if interrupted before any evaluation: no FID
	FIDStart          float64  `json:"fid_start"` // the untrained generator's
	Controls          Controls `json:"controls"`
	EvalN             int      `json:"eval_n"`
	FeaturePoint      string   `json:"feature_point"`
	FeatureDim        int      `json:"feature_dim"`
	Classifier        string   `json:"classifier"`
	ClassifierAcc     float64  `json:"classifier_test_accuracy"`
	Loss              string   `json:"loss"`
	Steps             int      `json:"steps"`
	Epochs            float64  `json:"epochs"`
	TrainSeconds      float64  `json:"train_seconds"` // wall time of training, evaluations included
	Interrupted       bool     `json:"interrupted"`
	Checkpoint        string   `json:"checkpoint"`
	Model             string   `json:"model"`
	Dir               string   `json:"dir"`
	AlreadyFinished   bool     `json:"-"` // a resume found the run complete: nothing was trained or written
}

// TrainFashion trains o.Model on Fashion-MNIST through Train and judges it:
// a Fréchet distance on the judge classifier's features, an Inception-style
// score and class coverage, before training, every EvalEvery steps and at
// the end, beside the Evaluator's controls. It writes the run folder
// o.Train.Dir (Train's files, the judge classifier if it trains one, and
// model.safetensors) and returns the summary and the trained model. An
// interrupted run (ctx cancelled) returns with Interrupted set and no error.
func TrainFashion(ctx context.Context, o FashionOptions) (FashionResult, *Model, error) {
	t := o.Train
	switch {
	case o.Epochs <= 0 && t.Steps <= 0:
		return FashionResult{}, nil, fmt.Errorf("gan: epochs %v must be positive", o.Epochs)
	case o.Limit < 0 || o.EvalN < ISSplits || o.ClassifierEpochs < 1 || o.EvalEvery < 0:
		return FashionResult{}, nil, fmt.Errorf("gan: need limit ≥ 0, eval_n ≥ %d, classifier epochs ≥ 1, eval_every ≥ 0", ISSplits)
	}
	if err := o.Model.Validate(); err != nil {
		return FashionResult{}, nil, err
	}
	trainSet, testSet, err := data.FashionMNIST(o.Data)
	if err != nil {
		return FashionResult{}, nil, fmt.Errorf("gan: %w", err)
	}
	if o.Limit > 0 && o.Limit < trainSet.N {
		trainSet = subset(trainSet, o.Limit)
	}
	if t.Steps <= 0 {
		t.Steps = max(1, int(o.Epochs*float64(trainSet.N)/float64(t.Batch)))
	}
	if err := t.Validate(); err != nil {
		return FashionResult{}, nil, err
	}
	res := FashionResult{Loss: t.Loss, Dir: t.Dir, EvalN: o.EvalN}
	clf, err := judgeClassifier(ctx, o, t.Progress, testSet, &res)
	if err != nil {
		return FashionResult{}, nil, err
	}
	judge, err := NewClassifierJudge(clf, "", 0)
	if err != nil {
		return FashionResult{}, nil, err
	}
	res.FeaturePoint, res.FeatureDim = string(judge.Point()), judge.Dim()
	ev, err := NewEvaluator(ctx, judge, testSet, o.EvalN, t.Seed)
	if err != nil {
		return FashionResult{}, nil, err
	}
	res.Controls = ev.Controls()

	m, err := New(o.Model)
	if err != nil {
		return FashionResult{}, nil, err
	}
	start, err := ev.ScoreModel(ctx, m, t.Seed)
	if err != nil {
		return FashionResult{}, nil, err
	}
	res.FIDStart = start.FID
	t.LogEvery = min(50, t.Steps)
	t.EvalEvery = t.Steps
	if o.EvalEvery > 0 {
		t.EvalEvery = o.EvalEvery
	}
	t.CheckpointEvery = min(500, t.Steps)
	var final Score
	t.Eval = func(ctx context.Context, step int) (map[string]any, error) {
		s, err := ev.ScoreModel(ctx, m, t.Seed)
		if err != nil {
			return nil, err
		}
		final = s
		return map[string]any{"fid": s.FID, "inception_score": s.InceptionScore, "classes_covered": s.ClassesCovered}, nil
	}
	trained := time.Now()
	sum, err := Train(ctx, m, ImageSource{Set: trainSet}, t)
	if err != nil && !sum.Interrupted {
		return FashionResult{}, nil, err
	}
	if sum.AlreadyFinished {
		res.Steps, res.Checkpoint, res.AlreadyFinished = sum.Steps, sum.Checkpoint, true
		return res, m, nil
	}
	res.TrainSeconds = time.Since(trained).Seconds()
	res.Interrupted, res.Steps, res.Checkpoint = sum.Interrupted, sum.Steps, sum.Checkpoint
	res.Epochs = float64(sum.Steps*t.Batch) / float64(trainSet.N)
	if final.N == 0 && !sum.Interrupted { // resumed at the end: nothing was evaluated
		if final, err = ev.ScoreModel(ctx, m, t.Seed); err != nil {
			return FashionResult{}, nil, err
		}
	}
	res.Scored = final.N > 0 // an interrupted run reports its last evaluation, if any
	res.FID, res.InceptionScore, res.InceptionScoreStd = final.FID, final.InceptionScore, final.InceptionScoreStd
	res.ClassesCovered, res.ClassCounts = final.ClassesCovered, final.ClassCounts
	res.Model = filepath.Join(t.Dir, "model.safetensors")
	if err := m.Save(res.Model, map[string]string{"loss": t.Loss}); err != nil {
		return FashionResult{}, nil, err
	}
	return res, m, nil
}

// judgeClassifier loads the classifier that judges samples: o.Classifier,
// else Dir/classifier/model.safetensors, else one trained there now with
// cnn.TrainFashionMNIST. It records its path and test accuracy.
func judgeClassifier(ctx context.Context, o FashionOptions, progress io.Writer, test *data.ImageSet, res *FashionResult) (*cnn.Model, error) {
	path := o.Classifier
	if path == "" {
		dir := filepath.Join(o.Train.Dir, "classifier")
		path = filepath.Join(dir, "model.safetensors")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			co := cnn.DefaultFashionOptions(runtime.GOMAXPROCS(0))
			co.Epochs, co.Seed, co.Data, co.Dir, co.Progress = o.ClassifierEpochs, o.Train.Seed, o.Data, dir, progress
			co.Model.Seed = o.Train.Seed
			r, err := cnn.TrainFashionMNIST(ctx, co)
			if err != nil {
				return nil, fmt.Errorf("gan: judge classifier: %w", err)
			}
			if r.Interrupted {
				return nil, fmt.Errorf("gan: judge classifier: %w", context.Cause(ctx))
			}
			path = r.Model
		}
	}
	m, err := cnn.Load(path)
	if err != nil {
		return nil, fmt.Errorf("gan: judge classifier: %w", err)
	}
	if m.Cfg.InC != 1 || m.Cfg.InH != 28 || m.Cfg.InW != 28 || m.Cfg.NClasses != data.FashionMNISTClasses {
		return nil, fmt.Errorf("gan: judge classifier %s takes %d×%d×%d images into %d classes, want 1×28×28 into %d",
			path, m.Cfg.InC, m.Cfg.InH, m.Cfg.InW, m.Cfg.NClasses, data.FashionMNISTClasses)
	}
	if _, res.ClassifierAcc, err = m.Evaluate(ctx, test.Images, cnn.Labels32(test), 500, runtime.GOMAXPROCS(0)); err != nil {
		return nil, err
	}
	res.Classifier = path
	return m, nil
}

// subset returns the first n images of s (views, not copies).
func subset(s *data.ImageSet, n int) *data.ImageSet {
	per := s.H * s.W
	return &data.ImageSet{N: n, H: s.H, W: s.W, Images: s.Images[:n*per], Labels: s.Labels[:n]}
}
