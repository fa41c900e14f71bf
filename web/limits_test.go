package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/train/induction"
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

// TestBrokenRunFiles serves a runs folder with files that are not what
// they should be: every answer is a 4xx naming the file (never a 500),
// the list still answers, and no answer reveals where the runs folder is.
func TestBrokenRunFiles(t *testing.T) {
	dir := t.TempDir()
	s := New(Deps{RunsDir: dir})
	srv := httptest.NewServer(s)
	defer srv.Close()
	model, _ := demoFS.ReadFile("demo/model.safetensors")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bad-train/"+trainFile, `{"steps": 10`)
	write("bad-legacy/"+legacyTrainFile, `not json`)
	write("bad-summary/"+trainFile, `{}`)
	write("bad-summary/"+summaryFile, `{"steps": 10,`)
	write("wrong-summary/"+summaryFile, `[1, 2]`)
	write("broken-model/"+modelFile, "not a safetensors file")
	write("truncated-model/"+modelFile, string(model[:len(model)/2]))
	write("huge-loss/"+trainFile, `{}`)
	write("huge-loss/"+metricsFile, `{"step":10,"loss":1e308}`+"\n")
	write("dir-metrics/"+trainFile, `{}`)
	if err := os.MkdirAll(filepath.Join(dir, "dir-metrics", metricsFile), 0o755); err != nil { // reading it fails
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want int
		has  string
	}{
		{"/api/runs/bad-train", 422, "train.json is not valid JSON"},
		{"/api/runs/bad-legacy", 422, "config.json is not valid JSON"},
		{"/api/runs/bad-summary", 422, "summary.json is not valid JSON"},
		{"/api/runs/wrong-summary", 422, "summary.json is not a training summary"},
		{"/api/runs/bad-summary/metrics", 422, "summary.json"},
		{"/api/runs/bad-train/figures/loss.svg", 422, "train.json"},
		{"/api/runs/dir-metrics/metrics", 422, "dir-metrics/metrics.jsonl"},
		{"/api/runs/nosuch", 404, "no run"},
		{"/api/runs/huge-loss/figures/loss.png", 200, "PNG"},
		{"/api/runs/huge-loss/figures/loss.svg", 200, "<svg"},
		{"/api/models/broken-model", 422, "broken-model"},
		{"/api/models/truncated-model/attention?tokens=1", 422, "truncated-model"},
		{"/api/models/nosuch", 404, "no model"},
		{"/api/cnn/models/broken-model", 422, "broken-model"},
		{"/api/gan/models/broken-model", 422, "broken-model"},
		{"/api/runs", 200, `"name":"bad-train","source":"run","status":"invalid"`},
		{"/api/models", 200, `"name":"broken-model"`},
	} {
		code, body := send(t, "GET", srv.URL+tc.path, "", "", "")
		if code != tc.want || !strings.Contains(body, tc.has) {
			t.Errorf("GET %s: %d %.300s, want %d with %q", tc.path, code, body, tc.want, tc.has)
		}
		for _, p := range []string{dir, filepath.Dir(dir)} {
			if strings.Contains(body, p) {
				t.Errorf("GET %s: the answer reveals the path %s: %.300s", tc.path, p, body)
			}
		}
	}
}

// TestCNNMaximizeBounds sends activation maximisation options that used
// to make the objective overflow into NaN (a 500 "json: unsupported
// value"): each is a 400 naming the bound.
func TestCNNMaximizeBounds(t *testing.T) {
	srv := httptest.NewServer(New(Deps{RunsDir: t.TempDir()}))
	defer srv.Close()
	const url = "/api/cnn/models/demo/maximize"
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", url, `{"point":"conv2.hook_out","unit":1,"steps":5,"l2":1e308}`, "l2=1e+308: want 0 to 100"},
		{"POST", url, `{"point":"conv2.hook_out","unit":1,"steps":5,"tv":1e308}`, "tv=1e+308: want 0 to 100"},
		{"POST", url, `{"point":"conv2.hook_out","unit":1,"steps":5,"l2":-1}`, "l2=-1"},
		{"POST", url, `{"point":"conv2.hook_out","unit":1,"steps":5,"lr":1e308}`, "lr=1e+308: want 0 to 10"},
		{"POST", url, `{"point":"conv2.hook_out","unit":1,"steps":5,"jitter":100}`, "jitter=100: want 0 to 8"},
		{"GET", "/api/cnn/models/demo/figures/maximize.png?point=conv2.hook_out&unit=1&steps=5&tv=1e308", "", "tv=1e+308"},
	} {
		code, body := send(t, tc.method, srv.URL+tc.path, "", "", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %.200s, want 400 with %q", tc.method, tc.path, tc.body, code, body, tc.want)
		}
	}
	code, body := send(t, "POST", srv.URL+url, "", "", `{"point":"conv2.hook_out","unit":1,"steps":5,"l2":100,"tv":100,"lr":10}`)
	if code != http.StatusOK {
		t.Errorf("maximize at the bounds: %d %.200s, want 200", code, body)
	}
}

func TestFiniteFloatsJSON(t *testing.T) {
	b, err := json.Marshal(finiteFloats{1.5, math.NaN(), math.Inf(1), -2, math.Inf(-1), 1e308})
	if got, want := string(b), "[1.5,null,null,-2,null,1e+308]"; err != nil || got != want {
		t.Errorf("finiteFloats JSON = %s, %v; want %s", got, err, want)
	}
}

// TestStreamCap opens event streams on a running training up to the cap:
// the next is a 503 until one closes.
func TestStreamCap(t *testing.T) {
	s := New(Deps{RunsDir: t.TempDir(), MaxStreams: 2})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Shutdown(context.Background())
	js := startTraining(t, srv.URL, `{"steps": 100000, "eval_every": 100, "batch": 8}`)
	open := func() *http.Response {
		res, err := http.Get(srv.URL + js.Events)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := open(), open()
	defer b.Body.Close()
	if a.StatusCode != 200 || b.StatusCode != 200 {
		t.Fatalf("streams 1 and 2: %d %d, want 200", a.StatusCode, b.StatusCode)
	}
	c := open()
	body, _ := io.ReadAll(c.Body)
	c.Body.Close()
	if c.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "2 event streams") {
		t.Errorf("stream 3: %d %s, want 503 naming the cap", c.StatusCode, body)
	}
	a.Body.Close()
	var d *http.Response
	for range 100 { // the server notices the closed stream shortly
		if d = open(); d.StatusCode == 200 {
			break
		}
		d.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
	defer d.Body.Close()
	if d.StatusCode != 200 {
		t.Errorf("a stream after one closed: %d, want 200", d.StatusCode)
	}
}

// TestFinishedJobsForgotten runs more trainings than the server keeps:
// the oldest finished ones are forgotten (their runs stay on disk) and a
// finished job's history is its final event alone.
func TestFinishedJobsForgotten(t *testing.T) {
	tr := newTrainer(t.TempDir(), DefaultRunsBudget, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var first *job
	for i := range maxFinishedJobs + 3 {
		j, err := tr.start(tinyTraining())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = j
		}
		<-j.done
	}
	if got := len(tr.list()); got != maxFinishedJobs {
		t.Errorf("%d jobs kept, want %d", got, maxFinishedJobs)
	}
	if tr.get(first.id) != nil {
		t.Errorf("the oldest finished job %s is still kept", first.id)
	}
	replay, sub := first.events.subscribe(0)
	if sub != nil || len(replay) != 1 || replay[0].name != "done" {
		t.Errorf("a finished job's history: %d events, subscriber %v; want the done event alone", len(replay), sub)
	}
}

// tinyTraining is an induction run of a few milliseconds.
func tinyTraining() induction.Config {
	c := induction.Default()
	c.Steps, c.EvalEvery, c.Batch, c.EvalSize = 2, 2, 2, 4
	return c
}

// TestStaticAndQueryInputs: no directory listings under /static/, and a
// query with both ?tokens= and ?text= is refused rather than joined.
func TestStaticAndQueryInputs(t *testing.T) {
	srv := httptest.NewServer(New(Deps{RunsDir: t.TempDir()}))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		want int
		has  string
	}{
		{"/static/", 404, ""},
		{"/static/js/", 404, ""},
		{"/static/js", 404, ""},
		{"/static/css/", 404, ""},
		{"/static/js/lib.js", 200, "export"},
		{"/api/models/demo/attention?tokens=1,2&text=3", 400, "not both"},
		{"/api/models/demo/attention?tokens=1,2&text=", 400, "not both"},
		{"/api/models/demo/figures/attention.png?tokens=1,2&text=3&head=max", 400, "not both"},
		{"/api/models/demo/figures/lens.png?tokens=1,2&text=3", 400, "not both"},
		{"/api/models/demo/attention?text=1+2", 200, `"tokens":[1,2]`},
	} {
		code, body := send(t, "GET", srv.URL+tc.path, "", "", "")
		if code != tc.want || !strings.Contains(body, tc.has) || (tc.want == 404 && strings.Contains(body, "href")) {
			t.Errorf("GET %s: %d %.200s, want %d with %q", tc.path, code, body, tc.want, tc.has)
		}
	}
}
