package gan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data/datatest"
)

// TestTrainFashion runs the image GAN pipeline (judge classifier trained on
// the spot, scores before and after) on a tiny synthetic stand-in for
// Fashion-MNIST: every score is finite, the judge learned something, and
// the run folder holds the model and the classifier.
func TestTrainFashion(t *testing.T) {
	o := DefaultFashionOptions(LossNonSaturating)
	o.Model.ZDim, o.Model.GWidth, o.Model.DWidth = 8, 4, 4
	o.Data = datatest.SyntheticFashion(t, 256, 40)
	o.Train.Dir, o.Train.Batch, o.Train.Steps = t.TempDir(), 16, 4
	o.ClassifierEpochs, o.EvalN = 1, ISSplits
	res, m, err := TrainFashion(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 4 || !res.Scored || res.EvalN != ISSplits || m == nil {
		t.Errorf("%d steps, scored %v, eval_n %d, model %v: want 4, true, %d, a model", res.Steps, res.Scored, res.EvalN, m != nil, ISSplits)
	}
	if res.ClassifierAcc <= 0.1 {
		t.Errorf("judge classifier test accuracy %v, want above chance (0.1)", res.ClassifierAcc)
	}
	if !(res.FID >= 0) || !(res.FIDStart >= 0) || !(res.InceptionScore >= 1) {
		t.Errorf("FID %v (start %v), IS %v: want FIDs ≥ 0 and IS ≥ 1", res.FID, res.FIDStart, res.InceptionScore)
	}
	for _, f := range []string{res.Model, res.Classifier, filepath.Join(o.Train.Dir, "metrics.jsonl")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	bad := o
	bad.Epochs, bad.Train.Steps = 0, 0
	if _, _, err := TrainFashion(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "epochs") {
		t.Errorf("no steps and no epochs: error %v, want one naming epochs", err)
	}
}

// TestRunMixture runs the 2-D mixture pipeline briefly and checks the
// shape of its summary, the saved model and the mixture names.
func TestRunMixture(t *testing.T) {
	o := MixtureRun{Mixture: "Ring", Train: DefaultMixtureOptions(LossNonSaturating)}
	o.Train.Steps, o.Train.Seed, o.Train.Dir = 10, 1, t.TempDir()
	res, err := RunMixture(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Modes != 8 || res.Samples != VEEGANSamples || res.Steps != 10 || res.Mixture != "ring" {
		t.Errorf("summary %+v: want 8 modes, %d samples, 10 steps, mixture ring", res, VEEGANSamples)
	}
	if _, err := Load(res.Model); err != nil {
		t.Error(err)
	}
	if _, err := ParseMixture("spiral"); err == nil || !strings.Contains(err.Error(), "spiral") {
		t.Errorf("ParseMixture(spiral): error %v, want one naming it", err)
	}
}
