package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/gan"
)

func runGAN2D(t *testing.T, args ...string) (gan2dResult, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runTrainGAN2D(context.Background(), args, &stdout, &stderr)
	var res gan2dResult
	if err == nil && strings.Contains(strings.Join(args, " "), "--json") {
		if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
			t.Fatalf("output is not JSON: %v\n%s", jerr, stdout.String())
		}
	}
	return res, stdout.String() + stderr.String(), err
}

// TestTrainGAN2D runs a few steps of the 2-D command (with the vanishing-
// gradient table unless -short), checks its summary and files, and resumes.
func TestTrainGAN2D(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--out", dir, "--steps", "20", "--json"}
	if !testing.Short() {
		args = append(args, "--vanishing")
	}
	res, out, err := runGAN2D(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Modes != 8 || res.Samples != gan.VEEGANSamples || res.Steps != 20 || res.WallSeconds <= 0 {
		t.Errorf("summary %+v: want 8 modes, %d samples, 20 steps", res, gan.VEEGANSamples)
	}
	if !testing.Short() && (len(res.Vanishing) == 0 || res.Vanishing[0].DSteps != 0) {
		t.Errorf("vanishing gradient table %+v", res.Vanishing)
	}
	var raw map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"modes_captured", "high_quality_fraction", "wall_seconds", "checkpoint"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary.json has no %q", k)
		}
	}
	for _, p := range []string{res.Checkpoint, res.Model, filepath.Join(dir, "metrics.jsonl")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	m, err := gan.Load(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cfg.Arch != gan.ArchMLP {
		t.Errorf("saved model is %q", m.Cfg.Arch)
	}

	// Text output and resuming past the end.
	_, out, err = runGAN2D(t, "--out", dir, "--steps", "30", "--resume", "--mixture", "ring")
	if err != nil || !strings.Contains(out, "modes captured") {
		t.Errorf("resume: %v\n%s", err, out)
	}
}

func TestTrainGAN2DErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--steps", "10"},
		{"--out", dir, "--mixture", "spiral"},
		{"--out", dir, "--loss", "hinge"},
		{"--out", dir, "--steps", "0"},
		{"--out", dir, "stray"},
	} {
		if _, out, err := runGAN2D(t, args...); err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
}

func runGAN(t *testing.T, args ...string) (ganResult, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runTrainGAN(context.Background(), append(args, "--json"), &stdout, &stderr)
	var res ganResult
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
			t.Fatalf("output is not JSON: %v\n%s", jerr, stdout.String())
		}
	}
	return res, stdout.String() + stderr.String(), err
}

// TestTrainGANSynthetic runs the whole command on the synthetic stand-in
// for Fashion-MNIST with a tiny DCGAN: the judge classifier is trained
// first, the controls are ordered, the run resumes. A few seconds; not in
// -short (the race detector makes it minutes).
func TestTrainGANSynthetic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a classifier and a GAN: not short")
	}
	dataDir := syntheticFashion(t, 1500, 600)
	dir := t.TempDir()
	common := []string{"--dataset", "fashion-mnist", "--data", dataDir, "--out", dir, "--batch", "16",
		"--g-width", "8", "--d-width", "4", "--z-dim", "16", "--classifier-epochs", "1", "--eval-n", "200"}
	res, out, err := runGAN(t, append(common, "--steps", "30")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Steps != 30 || !res.Scored || res.EvalN != 200 || res.FeatureDim != 128 || res.WallSeconds <= 0 || res.ClassifierAcc < 0.5 {
		t.Errorf("summary %+v", res)
	}
	c := res.Controls
	if !(c.RealVsReal.FID < c.Noise.FID && c.RealVsReal.FID < c.OneClass.FID) || c.OneClass.ClassesCovered > 0.2 {
		t.Errorf("controls out of order: %+v", c)
	}
	for _, p := range []string{res.Checkpoint, res.Model, res.Samples, res.Classifier, filepath.Join(dir, "summary.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	var raw map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fid", "inception_score", "classes_covered", "wall_seconds", "checkpoint", "controls"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary.json has no %q", k)
		}
	}
	// Resume: the classifier is found in the run directory, not retrained.
	res2, out, err := runGAN(t, append(common, "--steps", "40", "--resume")...)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if res2.Steps != 40 || res2.Classifier != res.Classifier {
		t.Errorf("resumed run: %d steps, classifier %s; want 40 and %s", res2.Steps, res2.Classifier, res.Classifier)
	}
}

func TestTrainGANErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--dataset", "mnist", "--out", dir},
		{"--out", dir, "--loss", "hinge", "--data", dir},
		{"--out", dir, "--epochs", "0", "--data", dir},
		{"--out", dir, "--data", filepath.Join(dir, "missing")},
		{"--dataset", "fashion-mnist"},
	} {
		if _, out, err := runGAN(t, args...); err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
	_, _, err := runGAN(t, "--out", dir, "--data", filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Errorf("missing data: %v, want the Debian package named", err)
	}
}
