package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/transformer"
)

// quickInduction are flags for an induction run that forms the circuit in a
// few hundred steps (well under a second).
var quickInduction = []string{"--d-vocab", "16", "--seq-len", "6", "--min-repeat", "3", "--d-model", "32",
	"--n-heads", "2", "--d-head", "16", "--batch", "32", "--lr", "0.003", "--eval-every", "20"}

func trainArgs(out string, extra ...string) []string {
	return append(append([]string{"train", "induction", "--out", out}, quickInduction...), extra...)
}

// TestTrainResumeChecksFirst drives --resume through the CLI: a finished
// run is left alone and says so, a changed seed or too few steps are
// refused without touching the folder, --allow-config-change accepts the
// seed and records it, and the folder loads as a model.
func TestTrainResumeChecksFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, _, err := runCLI(t, trainArgs(out, "--steps", "200")...); err != nil {
		t.Fatal(err)
	}
	files := []string{train.TrainConfigFile, train.MetricsFile, train.SummaryFile, transformer.ModelFile}
	snapshot := func() [][]byte {
		var s [][]byte
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, b)
		}
		return s
	}
	before := snapshot()
	unchanged := func(what string) {
		t.Helper()
		for i, b := range snapshot() {
			if !bytes.Equal(b, before[i]) {
				t.Errorf("%s rewrote %s", what, files[i])
			}
		}
	}
	stdout, stderr, err := runCLI(t, trainArgs(out, "--steps", "200", "--resume")...)
	if err != nil || !strings.Contains(stderr, "already finished at step 200") || !strings.Contains(stdout, "trained 200 steps") {
		t.Errorf("resuming a finished run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	unchanged("resuming a finished run")
	_, _, err = runCLI(t, trainArgs(out, "--steps", "240", "--seed", "3", "--resume")...)
	if err == nil || !strings.Contains(err.Error(), "seed 0 → 3") || !strings.Contains(err.Error(), "--allow-config-change") {
		t.Errorf("resume with another seed: %v, want a refusal naming seed and --allow-config-change", err)
	}
	unchanged("a refused resume")
	_, _, err = runCLI(t, trainArgs(out, "--steps", "10", "--resume")...)
	if err == nil || !strings.Contains(err.Error(), "step 200, past the 10 steps") {
		t.Errorf("resume with --steps 10 after 200: %v, want a refusal", err)
	}
	unchanged("a resume with too few steps")
	if _, _, err := runCLI(t, trainArgs(out, "--steps", "240", "--seed", "3", "--resume", "--allow-config-change")...); err != nil {
		t.Fatalf("resume with --allow-config-change: %v", err)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, train.MetricsFile))
	if !bytes.Contains(metrics, []byte(`"event":"config_change"`)) || !bytes.Contains(metrics, []byte(`"field":"seed","old":0,"new":3`)) {
		t.Error("metrics.jsonl does not record the allowed config change")
	}
	if _, err := transformer.Load(out); err != nil {
		t.Errorf("transformer.Load(run folder): %v", err)
	}
	if _, _, err := runCLI(t, "eval", "--model", out, "--tokens", writeTokensFile(t, `[[1, 2, 3, 1, 2, 3]]`)); err != nil {
		t.Errorf("eval --model RUN_FOLDER: %v", err)
	}
	if stdout, _, err := runCLI(t, "inspect", out); err != nil || !strings.Contains(stdout, "blocks.0.attn.W_Q") {
		t.Errorf("inspect RUN_FOLDER: %v\n%s", err, stdout)
	}
}

func writeTokensFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "toks.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecondProcessIsRefused starts a long training in one process and the
// same run folder's resume in another: the second must fail with a clear
// error while the first runs. After the first is killed (kill -9, as a
// crash), with a leftover temporary file and its newest checkpoint torn,
// the folder is free again and resumes from the previous checkpoint,
// saying what it removed and skipped, every metrics line whole.
func TestSecondProcessIsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	long := trainArgs(out, "--steps", "1000000")
	first := cliCommand(t, long...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	killed := false
	defer func() {
		if !killed {
			first.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if steps, _ := train.Checkpoints(out); len(steps) >= 2 {
			break
		}
		select {
		case err := <-done:
			killed = true
			t.Fatalf("the first training ended early: %v\n%s", err, firstErr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the first training wrote no two checkpoints in 60 s")
		}
	}
	second := cliCommand(t, append(long, "--resume")...)
	var secondErr bytes.Buffer
	second.Stderr = &secondErr
	err := second.Run()
	if err == nil || !strings.Contains(secondErr.String(), "in use by another training") {
		t.Errorf("second writer: %v, stderr:\n%s\nwant a refusal saying the folder is in use", err, secondErr.String())
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	killed = true
	steps, err := train.Checkpoints(out)
	if err != nil || len(steps) < 2 {
		t.Fatalf("checkpoints after kill -9: %v, %v", steps, err)
	}
	last := steps[len(steps)-1]
	// What a kill mid-write leaves: a temporary file, and (worse) a torn
	// newest checkpoint.
	temp := filepath.Join(out, "checkpoints", ".step-999999.safetensors.tmp-42")
	if err := os.WriteFile(temp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(train.CheckpointPath(out, last), 100); err != nil {
		t.Fatal(err)
	}
	more := trainArgs(out, "--steps", strconv.Itoa(last+20), "--resume")
	_, stderr, err := runCLI(t, more...)
	if err != nil {
		t.Fatalf("resume after kill -9: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "removed "+temp) {
		t.Errorf("the resume did not say it removed %s:\n%s", temp, stderr)
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Errorf("%s survived the resume: %v", temp, err)
	}
	if !strings.Contains(stderr, fmt.Sprintf("resuming from step %d instead", steps[len(steps)-2])) {
		t.Errorf("the resume did not say it fell back from the torn checkpoint %d:\n%s", last, stderr)
	}
	err = train.ScanMetrics(out, func(line []byte) error {
		var rec map[string]any
		return json.Unmarshal(line, &rec)
	})
	if err != nil {
		t.Errorf("metrics.jsonl after two writers and a kill: %v", err)
	}
}

// TestGANResumeOfFinishedRunIsNoOp resumes a finished 2-D GAN run: it must
// say so and leave summary.json and the model as they were.
func TestGANResumeOfFinishedRunIsNoOp(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, _, err := runCLI(t, "train", "gan2d", "--out", out, "--steps", "20", "--json"); err != nil {
		t.Fatal(err)
	}
	summary, _ := os.ReadFile(filepath.Join(out, train.SummaryFile))
	model, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	stdout, stderr, err := runCLI(t, "train", "gan2d", "--out", out, "--steps", "20", "--resume", "--json")
	if err != nil || !strings.Contains(stderr, "already finished at step 20") {
		t.Errorf("resuming a finished GAN run: %v\n%s", err, stderr)
	}
	if stdout != string(summary) {
		t.Errorf("--json printed %q, want the run's summary.json", stdout)
	}
	summary2, _ := os.ReadFile(filepath.Join(out, train.SummaryFile))
	model2, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if !bytes.Equal(summary, summary2) || !bytes.Equal(model, model2) {
		t.Error("resuming a finished GAN run rewrote summary.json or the model")
	}
}
