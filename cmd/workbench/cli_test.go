package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/train"
)

// TestHelpGoesToStdout checks that every way of asking for help prints
// on stdout, nothing on stderr, and exits 0.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"--help"}, {"help", "eval"}, {"eval", "-h"}, {"eval", "--help"}, {"lens", "-h"},
		{"patch", "-h"}, {"serve", "-h"}, {"train", "-h"}, {"train", "induction", "-h"}, {"train", "cnn", "--help"},
		{"train", "gan", "-h"}, {"sweep", "-h"}, {"sweep", "plan", "-h"}, {"inspect", "-h"}, {"convert", "-h"},
		{"help", "train", "induction"}, {"sae", "train", "-h"}, {"sae", "eval", "-h"}, {"sae", "toy", "-h"},
		{"sae", "steer", "-h"}, {"sae", "features", "-h"}, {"sae", "curve", "-h"}, {"sae", "attribute", "-h"},
		{"tokenizer", "train", "-h"}, {"discover", "-h"}, {"generate", "-h"}, {"tokenize", "-h"}, {"analyze", "-h"},
	} {
		stdout, stderr, err := runCLI(t, args...)
		if code := exitCode(err, io.Discard); code != 0 || stderr != "" || !strings.Contains(stdout, "Usage: workbench") {
			t.Errorf("workbench %s: exit %d (%v), stderr %q, stdout %.60q…; want the usage on stdout and exit 0",
				strings.Join(args, " "), code, err, stderr, stdout)
		}
	}
}

// TestHelpDescribesTrain checks that the command list does not call train
// induction-only, and that train -h lists its experiments.
func TestHelpDescribesTrain(t *testing.T) {
	stdout, _, _ := runCLI(t, "help")
	var line string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "train ") {
			line = l
		}
	}
	for _, want := range []string{"induction", "CNN", "GAN", "train -h"} {
		if !strings.Contains(line, want) {
			t.Errorf("help's train line %q does not mention %q", line, want)
		}
	}
	if strings.Contains(line, "(induction)") {
		t.Errorf("help's train line %q calls it induction-only", line)
	}
	for _, l := range strings.Split(stdout, "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("help line of %d characters, want at most 100: %q", n, l)
		}
	}
	stdout, _, _ = runCLI(t, "train", "-h")
	for _, want := range []string{"induction", "cnn", "gan"} {
		if !strings.Contains(stdout, "  "+want+" ") {
			t.Errorf("train -h does not list %q:\n%s", want, stdout)
		}
	}
}

// TestTyposGetSuggestions checks "did you mean" for commands, flags and
// experiments, and that a bad flag's error is the only thing said: no
// usage printed around it.
func TestTyposGetSuggestions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"evl"}, `did you mean "eval"?`},
		{[]string{"lense"}, `did you mean "lens"?`},
		{[]string{"pacth"}, `did you mean "patch"?`},
		{[]string{"eval", "--modle", "x"}, "unknown flag --modle (did you mean --model?)"},
		{[]string{"eval", "--tokns", "x"}, "did you mean --tokens?"},
		{[]string{"lens", "--tokenzier", "x"}, "did you mean --tokenizer?"},
		{[]string{"patch", "--corupted", "x"}, "did you mean --corrupted?"},
		{[]string{"train", "induction", "--setps", "3"}, "did you mean --steps?"},
		{[]string{"train", "indcution"}, `did you mean "induction"?`},
		{[]string{"sweep", "lanch"}, `did you mean "launch"?`},
		{[]string{"eval", "--frobnicate"}, "unknown flag --frobnicate; 'workbench eval -h' lists the flags"},
		{[]string{"eval", "--batch", "x"}, `invalid value "x" for flag --batch`},
		{[]string{"eval", "--model"}, "flag --model needs a value"},
	} {
		stdout, stderr, err := runCLI(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("workbench %s: error %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if stdout != "" || stderr != "" {
			t.Errorf("workbench %s: printed stdout %q stderr %q besides the error; want the error alone", strings.Join(tt.args, " "), stdout, stderr)
		}
		if strings.Contains(err.Error(), "did you mean") && strings.Count(err.Error(), "did you mean") != 1 {
			t.Errorf("workbench %s: %v", strings.Join(tt.args, " "), err)
		}
	}
	if _, _, err := runCLI(t, "xyzzy"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("workbench xyzzy: %v, want an unknown command without a far-fetched suggestion", err)
	}
}

// TestHumanError checks that what main prints names the command and the
// problem, not the library's package chain.
func TestHumanError(t *testing.T) {
	for _, tt := range []struct{ err, want string }{
		{"eval: sequences 0..0: transformer: token 999 at sequence 0 position 2 is out of range [0, 64)",
			"workbench: eval: sequences 0..0: token 999 at sequence 0 position 2 is out of range [0, 64)\n"},
		{"analyze: circuits: transformer: token 9 is out of range", "workbench: analyze: token 9 is out of range\n"},
		{"patch: patching: clean tokens: transformer: bad", "workbench: patch: clean tokens: bad\n"},
		{"web: tokens: transformer: token 999 out of range", "workbench: token 999 out of range\n"},
		{"eval: checkpoint: not a safetensors file: the file is empty (file x)", "workbench: eval: not a safetensors file: the file is empty (file x)\n"},
		{"lens: --k: want at least 1", "workbench: lens: --k: want at least 1\n"},
		{"train: name an experiment", "workbench: train: name an experiment\n"},
		{"discover: transformer: token 70 is out of range", "workbench: discover: token 70 is out of range\n"},
		{"train induction: interrupted at step 3", "workbench: train induction: interrupted at step 3\n"},
	} {
		var b strings.Builder
		if code := exitCode(errors.New(tt.err), &b); code != 1 || b.String() != tt.want {
			t.Errorf("error %q: printed %q, exit %d; want %q, exit 1", tt.err, b.String(), code, tt.want)
		}
	}
	// Through run: the command's name is added when the error lacks it.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("[[1, 2]]"), 0o644)
	model := filepath.Join(dir, "model.safetensors")
	os.WriteFile(model, []byte(`{"n_layers": 2}`), 0o644)
	_, _, err := runCLI(t, "analyze", "--model", model, "--tokens", bad)
	var b strings.Builder
	exitCode(err, &b)
	if !strings.HasPrefix(b.String(), "workbench: analyze: ") || !strings.Contains(b.String(), "not a safetensors file: it looks like JSON text") || strings.Contains(b.String(), "checkpoint:") {
		t.Errorf("analyze with a JSON file as the model printed %q", b.String())
	}
}

// TestInterruptedTrainingExits130 cancels a training's context (as Ctrl-C
// does through signal.NotifyContext) once it has saved a checkpoint, and
// checks that the command fails with status 130 and says how to resume,
// and that the resume it names works.
func TestInterruptedTrainingExits130(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := trainArgs(out, "--steps", "100000")
	done := make(chan error, 1)
	var stdout, stderr syncBuffer
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	deadline := time.Now().Add(time.Minute)
	for {
		steps, _ := train.Checkpoints(out)
		if len(steps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("no checkpoint after a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	err := <-done
	var b strings.Builder
	if code := exitCode(err, &b); code != 130 {
		t.Errorf("interrupted training: exit %d (%v), want 130", code, err)
	}
	msg := b.String()
	resume := fmt.Sprintf("workbench train induction --out %s --resume", out)
	if !strings.Contains(msg, "interrupted at step") || !strings.Contains(msg, resume) {
		t.Errorf("interrupted training printed %q, want the step and %q", msg, resume)
	}
	// The command it names resumes the run (to a short end).
	if _, _, err := runCLI(t, trainArgs(out, "--steps", "200", "--resume", "--allow-config-change")...); err != nil && !strings.Contains(err.Error(), "past the 200 steps") {
		t.Errorf("resume as told: %v", err)
	}
}

// TestServeSaysWhatRunsHolds checks the banner's account of --runs: a
// folder of runs, a missing folder, one run folder (served through its
// parent), and a file (refused).
func TestServeSaysWhatRunsHolds(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	for _, name := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(runs, name), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(runs, name, train.TrainConfigFile), []byte("{}"), 0o644)
	}
	os.MkdirAll(filepath.Join(runs, "not-a-run"), 0o755)
	file := filepath.Join(root, "file.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tt := range []struct {
		runs    string
		want    []string
		wantErr string
	}{
		{runs: runs, want: []string{"runs folder " + runs + ": 2 runs (a, b)", "saved there"}},
		{runs: filepath.Join(root, "none"), want: []string{"does not exist yet"}},
		{runs: filepath.Join(runs, "a"), want: []string{"is one run, not a folder of runs", "serving its parent " + runs, "2 runs (a, b)"}},
		{runs: file, wantErr: "is a file; it wants a folder holding run folders"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--runs", tt.runs}, &stdout, &stderr)
		}()
		var err error
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stdout.String(), "Ctrl-C") && time.Now().Before(deadline) {
			select {
			case err = <-done:
				deadline = time.Now()
			case <-time.After(10 * time.Millisecond):
			}
		}
		if err == nil {
			cancel()
			err = <-done
		}
		cancel()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("serve --runs %s: %v, want %q", tt.runs, err, tt.wantErr)
			}
			continue
		}
		banner := stdout.String()
		for _, w := range tt.want {
			if !strings.Contains(banner, w) {
				t.Errorf("serve --runs %s: banner %q, want %q", tt.runs, banner, w)
			}
		}
		if strings.Contains(banner, "runs from") {
			t.Errorf("serve --runs %s: banner %q still says \"runs from\"", tt.runs, banner)
		}
	}
}

// TestSweepPlanNamesUnknownFlag checks that a spec naming a flag the
// training command lacks is refused by sweep plan with the flag's name and
// the CLI's suggestion.
func TestSweepPlanNamesUnknownFlag(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "spec.json")
	os.WriteFile(spec, []byte(`{"command": "train induction", "grid": {"sed": [1, 2]}}`), 0o644)
	_, _, err := runCLI(t, "sweep", "plan", spec, "--out", filepath.Join(t.TempDir(), "sweep"))
	if err == nil || !strings.Contains(err.Error(), `command "train induction" has no flag --sed (did you mean --seed?)`) {
		t.Errorf("sweep plan with --sed: %v, want it to name --sed and suggest --seed", err)
	}
}
