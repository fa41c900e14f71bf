package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// readFile returns the bytes of a file the test expects to exist.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecondWriterIsRefused runs one training, holds it at step 5, and
// starts a second on the same folder: it must fail with ErrLocked and leave
// the first's metrics intact; once the first ends, the folder is free.
func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := newLinreg(4)
	reached, release := make(chan struct{}), make(chan struct{})
	first.onStep = func(s int) {
		if s == 5 {
			close(reached)
			<-release
		}
	}
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, firstErr = Run(context.Background(), first, newOpt(t, first), opts(dir, 50))
	}()
	<-reached
	second := newLinreg(4)
	o := opts(dir, 50)
	o.Resume = true
	_, err := Run(context.Background(), second, newOpt(t, second), o)
	close(release)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("first writer: %v", firstErr)
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second writer's error = %v, want ErrLocked naming %s", err, dir)
	}
	n := 0
	if err := ScanMetrics(dir, func(line []byte) error {
		n++
		var rec map[string]any
		return json.Unmarshal(line, &rec)
	}); err != nil {
		t.Fatalf("metrics.jsonl after the refused writer: %v", err)
	}
	if n != 10 {
		t.Errorf("metrics.jsonl has %d records, want 10 (every 5 of 50 steps)", n)
	}
	third := newLinreg(4)
	if _, err := Run(context.Background(), third, newOpt(t, third), opts(dir, 50)); err != nil {
		t.Errorf("the folder stayed locked after the first writer ended: %v", err)
	}
}

// TestResumeValidatesBeforeWriting resumes a 30-step run with a changed
// seed, with fewer steps than done, and with exactly the steps done: the
// first two fail and the third does nothing, all leaving every file as it
// was; with AllowConfigChange the changed seed is accepted and recorded.
func TestResumeValidatesBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	cfg := func(seed int) json.RawMessage {
		return json.RawMessage(`{"seed": ` + string(rune('0'+seed)) + `, "lr": 0.05, "steps": 30, "workers": 2}`)
	}
	l := newLinreg(5)
	o := opts(dir, 30)
	o.Config = cfg(1)
	if _, err := Run(context.Background(), l, newOpt(t, l), o); err != nil {
		t.Fatal(err)
	}
	files := []string{TrainConfigFile, MetricsFile, "checkpoints/step-000030.safetensors"}
	snapshot := func() map[string][]byte {
		m := map[string][]byte{}
		for _, f := range files {
			m[f] = readFile(t, filepath.Join(dir, f))
		}
		return m
	}
	before := snapshot()
	unchanged := func(what string) {
		t.Helper()
		for f, b := range snapshot() {
			if !bytes.Equal(b, before[f]) {
				t.Errorf("%s rewrote %s", what, f)
			}
		}
	}

	l = newLinreg(5)
	o = opts(dir, 60)
	o.Resume, o.Config, o.MayChange = true, cfg(2), []string{"steps", "workers"}
	_, err := Run(context.Background(), l, newOpt(t, l), o)
	var cce *ConfigChangeError
	if !errors.As(err, &cce) || len(cce.Changes) != 1 || cce.Changes[0].Field != "seed" || !strings.Contains(err.Error(), "seed 1 → 2") {
		t.Errorf("resume with another seed: %v, want a ConfigChangeError naming seed 1 → 2 only", err)
	}
	unchanged("a refused config change")

	l = newLinreg(5)
	o = opts(dir, 10)
	o.Resume, o.Config = true, cfg(1)
	if _, err := Run(context.Background(), l, newOpt(t, l), o); err == nil || !strings.Contains(err.Error(), "step 30, past the 10 steps") {
		t.Errorf("resume with 10 steps after 30: %v, want an error naming both", err)
	}
	unchanged("a resume with too few steps")

	l = newLinreg(5)
	o = opts(dir, 30)
	o.Resume, o.Config = true, cfg(1)
	sum, err := Run(context.Background(), l, newOpt(t, l), o)
	if err != nil || !sum.AlreadyFinished || sum.Steps != 30 {
		t.Errorf("resume of a finished run: %+v, %v; want AlreadyFinished at step 30", sum, err)
	}
	unchanged("resuming a finished run")

	l = newLinreg(5)
	o = opts(dir, 40)
	o.Resume, o.Config, o.AllowConfigChange = true, cfg(2), true
	if _, err := Run(context.Background(), l, newOpt(t, l), o); err != nil {
		t.Fatalf("resume with AllowConfigChange: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, TrainConfigFile)); !bytes.Contains(got, []byte(`"seed": 2`)) {
		t.Errorf("train.json after an allowed change:\n%s", got)
	}
	var events []string
	ScanMetrics(dir, func(line []byte) error {
		if bytes.Contains(line, []byte(`"event"`)) {
			events = append(events, string(line))
		}
		return nil
	})
	if len(events) != 1 || !strings.Contains(events[0], `"step":30`) || !strings.Contains(events[0], `"field":"seed","old":1,"new":2`) {
		t.Errorf("metrics.jsonl config_change records: %q", events)
	}
}

// TestResumeCleansUpAndSkipsCorruptCheckpoint leaves what kill -9 leaves
// (temporary files) and a truncated newest checkpoint, then resumes: the
// temporary files go, the corrupt checkpoint is set aside with a message,
// and the run ends bit-identical to an uninterrupted one.
func TestResumeCleansUpAndSkipsCorruptCheckpoint(t *testing.T) {
	full := newLinreg(6)
	if _, err := Run(context.Background(), full, newOpt(t, full), opts(t.TempDir(), 100)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	part := newLinreg(6)
	ctx, cancel := context.WithCancel(context.Background())
	part.onStep = func(s int) {
		if s == 37 {
			cancel()
		}
	}
	if _, err := Run(ctx, part, newOpt(t, part), opts(dir, 100)); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	temps := []string{"checkpoints/.step-000040.safetensors.tmp-1234", ".model.safetensors.tmp-99", ".summary.json.tmp-7"}
	for _, f := range temps {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	newest := CheckpointPath(dir, 38)
	b := readFile(t, newest)
	if err := os.WriteFile(newest, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	again := newLinreg(6)
	o := opts(dir, 100)
	o.Resume = true
	var log bytes.Buffer
	o.Log = &log
	sum, err := Run(context.Background(), again, newOpt(t, again), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ResumedAtStep != 30 {
		t.Errorf("resumed at step %d, want 30 (the newest readable checkpoint)", sum.ResumedAtStep)
	}
	for _, want := range []string{"step-000038.safetensors is unreadable", "resuming from step 30", ".step-000040.safetensors.tmp-1234", ".model.safetensors.tmp-99"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not mention %q:\n%s", want, log.String())
		}
	}
	for _, f := range temps {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the resume: %v", f, err)
		}
	}
	if _, err := os.Stat(newest + ".corrupt"); err != nil {
		t.Errorf("the corrupt checkpoint was not set aside: %v", err)
	}
	for j := range full.w {
		if math.Float32bits(full.w[j]) != math.Float32bits(again.w[j]) {
			t.Fatalf("resumed weights %v differ from uninterrupted %v", again.w, full.w)
		}
	}
	// Prune removes leftovers too.
	leftover := filepath.Join(dir, "checkpoints", ".step-000090.safetensors.tmp-5")
	if err := os.WriteFile(leftover, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Prune(dir, []int{100}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Prune left %s: %v", leftover, err)
	}
	if steps, _ := Checkpoints(dir); len(steps) != 1 || steps[0] != 100 {
		t.Errorf("checkpoints after Prune: %v, want [100]", steps)
	}
}

// TestResumeReadsLegacyConfig resumes a run folder written before
// train.json, whose training config is config.json: the resume checks
// against it and then records train.json, leaving config.json alone.
func TestResumeReadsLegacyConfig(t *testing.T) {
	dir := t.TempDir()
	l := newLinreg(7)
	if _, err := Run(context.Background(), l, newOpt(t, l), opts(dir, 20)); err != nil {
		t.Fatal(err)
	}
	legacy := []byte("{\n  \"seed\": 1,\n  \"steps\": 20\n}\n")
	if err := os.WriteFile(filepath.Join(dir, LegacyConfigFile), legacy, 0o644); err != nil {
		t.Fatal(err)
	}
	l = newLinreg(7)
	o := opts(dir, 30)
	o.Resume, o.Config, o.MayChange = true, json.RawMessage(`{"seed": 2, "steps": 30}`), []string{"steps"}
	_, err := Run(context.Background(), l, newOpt(t, l), o)
	var cce *ConfigChangeError
	if !errors.As(err, &cce) || cce.File != LegacyConfigFile {
		t.Fatalf("resume of a config.json folder with another seed: %v, want a ConfigChangeError from config.json", err)
	}
	l = newLinreg(7)
	o.Config = json.RawMessage(`{"seed": 1, "steps": 30}`)
	if _, err := Run(context.Background(), l, newOpt(t, l), o); err != nil {
		t.Fatalf("resume of a config.json folder: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, LegacyConfigFile)); !bytes.Equal(got, legacy) {
		t.Errorf("config.json rewritten:\n%s", got)
	}
	if got, name, err := ReadTrainConfig(dir); err != nil || name != TrainConfigFile || !bytes.Contains(got, []byte(`"steps": 30`)) {
		t.Errorf("ReadTrainConfig after the resume: %s from %q, %v", got, name, err)
	}
}
