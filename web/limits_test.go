package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/train"
)

// TestTrainBounds posts training requests with each field out of its
// bounds: each is a 400 naming the bound, and none starts a training.
func TestTrainBounds(t *testing.T) {
	s, _ := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tc := range []struct{ body, want string }{
		{`{"steps":0}`, "steps=0: want 1 to 100000"},
		{`{"steps":100001}`, "steps=100001: want 1 to 100000"},
		{`{"eval_every":1}`, "eval_every=1: want 10 to 100000"},
		{`{"eval_every":-5}`, "eval_every=-5: want 10"},
		{`{"eval_every":1000000}`, "eval_every=1000000: want 10 to 100000"},
		{`{"steps":100000,"eval_every":10}`, "10000 evaluations: want at most 1000"},
		{`{"batch":0}`, "batch=0: want 1 to 1024"},
		{`{"batch":4096}`, "batch=4096: want 1 to 1024"},
		{`{"steps":100000,"batch":1024,"eval_every":1000}`, "sequences: want at most 6400000"},
		{`{"lr":0}`, "lr=0: want a learning rate in (0, 1]"},
		{`{"lr":1e308}`, "lr=1e+308: want a learning rate in (0, 1]"},
		{`{"lr":-1}`, "lr=-1"},
		{`{"seed":-1}`, "malformed JSON"},
	} {
		code, body := send(t, "POST", srv.URL+"/api/train", "", "", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("POST /api/train %s: %d %s, want 400 with %q", tc.body, code, body, tc.want)
		}
	}
	if jobs := s.trainer.list(); len(jobs) != 0 {
		t.Errorf("out-of-bounds requests started %d trainings", len(jobs))
	}
}

// TestPruneWhileTraining feeds a job the evaluation records of a run
// whose induction score jumps, with a checkpoint on disk per evaluation as
// train writes them: after each record only the newest keepCheckpoints
// and the phase-change pair remain.
func TestPruneWhileTraining(t *testing.T) {
	dir := t.TempDir()
	j := &job{id: "run", dir: dir, log: slog.New(slog.NewTextHandler(io.Discard, nil)), events: newBroker()}
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	score := func(step int) float64 { // jumps between steps 300 and 400
		if step < 400 {
			return 0.05
		}
		return 0.9
	}
	for step := 100; step <= 2000; step += 100 {
		j.onRecord(train.Record{"step": step, "loss": 1.0, "induction_max": score(step)})
		// train writes the checkpoint after the record.
		if err := os.WriteFile(train.CheckpointPath(dir, step), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := train.Checkpoints(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > keepCheckpoints+3 {
			t.Fatalf("after step %d: %d checkpoints on disk %v, want at most %d", step, len(got), got, keepCheckpoints+3)
		}
	}
	got, _ := train.Checkpoints(dir)
	// Pruned at step 2000's record, before its checkpoint was written.
	want := []int{300, 400, 1700, 1800, 1900, 2000}
	if !slices.Equal(got, want) {
		t.Errorf("checkpoints kept %v, want %v (the phase-change pair 300, 400, the newest %d and the last written)", got, want, keepCheckpoints)
	}
	if pc := j.status().PhaseChange; pc == nil || pc.Before != 300 || pc.At != 400 {
		t.Errorf("phase change %+v, want 300 → 400", pc)
	}
}

// TestRunsBudget refuses a training when the runs folder is over its
// budget, with a 507 naming the flag, and accepts it in a folder with
// room.
func TestRunsBudget(t *testing.T) {
	dir := t.TempDir()
	s := New(Deps{RunsDir: dir, RunsBudget: 64 << 20})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Shutdown(context.Background())
	old := filepath.Join(dir, "old-run", "checkpoints", "step-000100.safetensors")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(old)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(63 << 20) // sparse: counts its size, uses no disk
	f.Close()
	code, body := send(t, "POST", srv.URL+"/api/train", "", "", shortTraining)
	if code != http.StatusInsufficientStorage || !strings.Contains(body, "--runs-budget") || !strings.Contains(body, "63.0 MiB") {
		t.Errorf("POST /api/train over budget: %d %s, want 507 naming --runs-budget and 63.0 MiB", code, body)
	}
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	code, body = send(t, "POST", srv.URL+"/api/train", "", "", shortTraining)
	if code != http.StatusAccepted {
		t.Errorf("POST /api/train with room: %d %s, want 202", code, body)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {63 << 20, "63.0 MiB"}, {4 << 30, "4.0 GiB"}, {5 << 40, "5.0 TiB"}} {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
