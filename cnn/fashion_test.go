package cnn

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data/datatest"
)

// TestTrainFashionMNIST runs the classifier pipeline, the one the CLI, the
// dashboard and notebooks share, on a synthetic stand-in: it learns the
// ten square positions (chance is 0.1), writes its run folder, and refuses
// bad options by name.
func TestTrainFashionMNIST(t *testing.T) {
	o := DefaultFashionOptions(runtime.GOMAXPROCS(0))
	o.Data, o.Dir, o.Epochs, o.Batch = datatest.SyntheticFashion(t, 320, 100), t.TempDir(), 2, 32
	res, err := TrainFashionMNIST(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 20 || len(res.EpochAccuracy) != 2 || res.TestAccuracy < 0.5 {
		t.Errorf("%d steps, per-epoch accuracy %v, final %v: want 20 steps, 2 epochs and ≥ 0.5", res.Steps, res.EpochAccuracy, res.TestAccuracy)
	}
	for _, f := range []string{"train.json", "metrics.jsonl", "model.safetensors", "summary.json"} {
		if _, err := os.Stat(filepath.Join(o.Dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	var sum FashionResult
	if b, err := os.ReadFile(filepath.Join(o.Dir, "summary.json")); err != nil || json.Unmarshal(b, &sum) != nil || sum.TestAccuracy != res.TestAccuracy {
		t.Errorf("summary.json holds test accuracy %v, the run returned %v (read error %v)", sum.TestAccuracy, res.TestAccuracy, err)
	}
	m, err := Load(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cfg.NClasses != 10 {
		t.Errorf("saved model has %d classes", m.Cfg.NClasses)
	}

	for _, tc := range []struct {
		edit func(o *FashionOptions)
		want string
	}{
		{func(o *FashionOptions) { o.Epochs = 0 }, "epochs 0"},
		{func(o *FashionOptions) { o.Momentum = 1 }, "momentum 1"},
		{func(o *FashionOptions) { o.Dir = "" }, "run folder"},
		{func(o *FashionOptions) { o.Batch = 1000 }, "do not fill one batch"},
	} {
		bad := o
		bad.Dir = t.TempDir()
		tc.edit(&bad)
		if _, err := TrainFashionMNIST(context.Background(), bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}
