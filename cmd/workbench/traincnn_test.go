package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/data/datatest"
	"github.com/mechinterp/workbench/internal/testenv"
)

// syntheticFashion writes datatest's stand-in for Fashion-MNIST.
func syntheticFashion(t *testing.T, nTrain, nTest int) string {
	return datatest.SyntheticFashion(t, nTrain, nTest)
}

func runCNN(t *testing.T, args ...string) (cnn.FashionResult, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runTrainCNN(context.Background(), append(args, "--json"), &stdout, &stderr)
	var res cnn.FashionResult
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
			t.Fatalf("bad JSON %q: %v (stderr %s)", stdout.String(), jerr, stderr.String())
		}
	}
	return res, err
}

func TestTrainCNNSynthetic(t *testing.T) {
	dir := syntheticFashion(t, 640, 200)
	out := t.TempDir()
	res, err := runCNN(t, "--data", dir, "--out", out, "--epochs", "2", "--batch", "32", "--workers", "2")
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAccuracy < 0.9 || len(res.EpochAccuracy) != 2 || len(res.EpochSeconds) != 2 {
		t.Errorf("test accuracy %v (per epoch %v, seconds %v), want ≥ 0.9 after 2 epochs", res.TestAccuracy, res.EpochAccuracy, res.EpochSeconds)
	}
	if res.Steps != 2*640/32 || res.WallSeconds <= 0 || res.ImagesPerSecond <= 0 {
		t.Errorf("summary %+v", res)
	}
	for _, f := range []string{res.Checkpoint, res.Model, filepath.Join(out, "summary.json"), filepath.Join(out, "train.json"), filepath.Join(out, "metrics.jsonl")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	m, err := cnn.Load(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Cfg.Channels, []int{16, 32}) {
		t.Errorf("saved model config %s", m.Cfg.JSON())
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if !strings.Contains(string(metrics), `"test_accuracy"`) {
		t.Error("metrics.jsonl has no test_accuracy record")
	}
}

// TestTrainCNNResume checks exact resume: one epoch, then a resumed second,
// ends with the weights of two uninterrupted epochs, whatever the number of
// workers.
func TestTrainCNNResume(t *testing.T) {
	dir := syntheticFashion(t, 256, 64)
	common := []string{"--data", dir, "--batch", "32", "--dropout", "0.2"}
	full := t.TempDir()
	a, err := runCNN(t, append(common, "--out", full, "--epochs", "2", "--workers", "1")...)
	if err != nil {
		t.Fatal(err)
	}
	split := t.TempDir()
	if _, err := runCNN(t, append(common, "--out", split, "--epochs", "1", "--workers", "2")...); err != nil {
		t.Fatal(err)
	}
	b, err := runCNN(t, append(common, "--out", split, "--epochs", "2", "--workers", "2", "--resume")...)
	if err != nil {
		t.Fatal(err)
	}
	ma, err := cnn.Load(a.Model)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := cnn.Load(b.Model)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ma.P.Data(), mb.P.Data()) || !slices.Equal(ma.Buffers.Data(), mb.Buffers.Data()) {
		t.Error("a resumed run ends with other weights than an uninterrupted one")
	}
	if a.TestAccuracy != b.TestAccuracy {
		t.Errorf("test accuracy %v uninterrupted, %v resumed", a.TestAccuracy, b.TestAccuracy)
	}
}

func TestTrainCNNErrors(t *testing.T) {
	synthetic := syntheticFashion(t, 64, 16)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--epochs", "1"}, "--out is required"},
		{[]string{"--out", t.TempDir(), "--data", filepath.Join(t.TempDir(), "none")}, data.FashionMNISTPackage},
		{[]string{"--out", t.TempDir(), "--arch", "vgg"}, "unknown --arch"},
		{[]string{"--out", t.TempDir(), "--arch", "resnet", "--stages", "3,x"}, "--stages"},
		{[]string{"--out", t.TempDir(), "--epochs", "0"}, "epochs 0"},
		{[]string{"--out", t.TempDir(), "--momentum", "1"}, "momentum 1"},
		{[]string{"--out", t.TempDir(), "--dropout", "1"}, "dropout"},
		{[]string{"--out", t.TempDir(), "--data", synthetic, "--batch", "128"}, "do not fill one batch"},
		{[]string{"--out", t.TempDir(), "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		_, err := runCNN(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to mention %q", tt.args, err, tt.want)
		}
	}
	_, err := runCNN(t, "--out", t.TempDir(), "--data", filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing data: %v does not wrap fs.ErrNotExist", err)
	}
	if err := runTrainCNN(context.Background(), []string{"-h"}, new(bytes.Buffer), new(bytes.Buffer)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// fashionMNIST returns the directory of Debian's dataset-fashion-mnist, or
// stops t through testenv.Installed when it is absent.
func fashionMNIST(t *testing.T) string {
	t.Helper()
	_, err := os.Stat(filepath.Join(data.FashionMNISTDir, "t10k-labels-idx1-ubyte.gz"))
	testenv.Installed(t, data.FashionMNISTPackage, err)
	return data.FashionMNISTDir
}

// TestTrainCNNRealImages trains on a few hundred real images: fast enough
// for -short, and it exercises the Debian data set's loader end to end.
func TestTrainCNNRealImages(t *testing.T) {
	dir := fashionMNIST(t)
	res, err := runCNN(t, "--data", dir, "--out", t.TempDir(), "--epochs", "1", "--batch", "32", "--limit", "640")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %v after %d steps; %.1f s in all", res.TestAccuracy, res.Steps, res.WallSeconds)
	// Twenty steps of SGD on 640 images already beat chance (0.1) by far.
	if res.TestAccuracy < 0.5 {
		t.Errorf("test accuracy %v after 20 steps on 640 images, want ≥ 0.5", res.TestAccuracy)
	}
}

// fashionBar is the bar: ≥ 0.89 test accuracy within 3 epochs (a
// PyTorch reference of the same net reached 0.865 / 0.890 / 0.892).
const fashionBar = 0.89

// TestTrainCNNFashionMNIST is the full benchmark: three epochs on all 60,000
// images: a few minutes on two cores, so it skips under -short.
func TestTrainCNNFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("the full Fashion-MNIST run is not short")
	}
	dir := fashionMNIST(t)
	res, err := runCNN(t, "--data", dir, "--out", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy per epoch %v, training seconds per epoch %v, %.0f images/s, %.1f s in all",
		res.EpochAccuracy, res.EpochSeconds, res.ImagesPerSecond, res.WallSeconds)
	if res.TestAccuracy < fashionBar {
		t.Errorf("test accuracy %v after 3 epochs, want ≥ %v", res.TestAccuracy, fashionBar)
	}
}
