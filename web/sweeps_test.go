package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/sweep"
)

// writeTestSweep builds a sweep folder by hand, as run-task leaves one:
// five tasks over a seed axis, three done (phase change at steps 300 and
// 700, and never), one failed with an error naming an absolute path, one
// pending. It returns the plan.
func writeTestSweep(t *testing.T, dir string) sweep.Plan {
	t.Helper()
	p := sweep.Plan{Spec: sweep.Spec{Command: "train induction", Grid: map[string]json.RawMessage{"seed": json.RawMessage(`[0, 1, 2, 3, 4]`)}}}
	for i := range 5 {
		p.Tasks = append(p.Tasks, sweep.Task{Index: i, ID: fmt.Sprintf("%016x", 0xabc0+i),
			Args: []string{"train", "induction", fmt.Sprintf("--seed=%d", i)}, Axes: map[string]string{"seed": fmt.Sprint(i)}})
	}
	if err := sweep.WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	summaries := []string{
		`{"phase_change_step": 300, "final_eval_acc": 0.9, "induction_score": [[0.1, 0.2], [0.8, 0.3]], "wall_seconds": 12.5}`,
		`{"phase_change_step": 700, "final_eval_acc": 0.95, "induction_score": [[0.1, 0.2], [0.6, 0.3]], "wall_seconds": 11}`,
		`{"phase_change_step": null, "final_eval_acc": 0.5, "induction_score": [[0.1, 0.2], [0.2, 0.3]], "wall_seconds": 10}`,
	}
	for i, s := range summaries {
		id := p.Tasks[i].ID
		write(filepath.Join(sweep.TaskDir(dir, id), sweep.DoneFile), `{}`)
		write(filepath.Join(sweep.RunDir(dir, id), "summary.json"), s)
	}
	failed := p.Tasks[3].ID
	msg, _ := json.Marshal(map[string]string{"error": "sweep: task 3: open " + filepath.Join(sweep.RunDir(dir, failed), "model.safetensors") + ": no such file or directory"})
	write(filepath.Join(sweep.TaskDir(dir, failed), sweep.FailedFile), string(msg))
	return p
}

// TestSweepsAPI lists the sweeps of a runs folder (a subfolder's and the
// folder's own) and reads one: the counts line, each task's state, axes and
// metrics, and the statistics across tasks, all checked against values
// worked out by hand; no answer names an absolute path.
func TestSweepsAPI(t *testing.T) {
	s, dir := newTestServer(t)
	writeTestSweep(t, filepath.Join(dir, "seeds"))
	if err := os.MkdirAll(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken", sweep.PlanFile), []byte(`{"spec": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	get := func(path string, want int) string {
		t.Helper()
		rec := do(t, s, "GET", path, "", nil)
		if rec.Code != want {
			t.Fatalf("GET %s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
		if body := rec.Body.String(); strings.Contains(body, abs) || strings.Contains(body, dir) {
			t.Errorf("GET %s names an absolute path: %s", path, body)
		}
		return rec.Body.String()
	}

	var list []sweepSummary
	if err := json.Unmarshal([]byte(get("/api/sweeps", 200)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "broken" || list[0].Error == "" || list[1].Name != "seeds" || list[1].Tasks != 5 ||
		list[1].Counts != "3 done, 0 running, 1 failed, 1 pending" {
		t.Errorf("sweeps %+v, want broken (an error) and seeds (5 tasks: 3 done, 0 running, 1 failed, 1 pending)", list)
	}

	var d struct {
		Name, Command, Counts string
		Axes                  []string
		Total                 int
		Stats                 []sweepStats
		Tasks                 []struct {
			Index   int
			ID      string
			State   string
			Error   string
			Axes    map[string]string
			Metrics map[string]*float64
			Run     string
		}
	}
	if err := json.Unmarshal([]byte(get("/api/sweeps/seeds", 200)), &d); err != nil {
		t.Fatal(err)
	}
	if d.Counts != "3 done, 0 running, 1 failed, 1 pending" || d.Total != 5 || len(d.Tasks) != 5 || d.Command != "train induction" || strings.Join(d.Axes, ",") != "seed" {
		t.Fatalf("detail %+v", d)
	}
	for i, want := range []string{"done", "done", "done", "failed", "pending"} {
		tk := d.Tasks[i]
		if tk.State != want || tk.Axes["seed"] != fmt.Sprint(i) || tk.Run != "runs/"+tk.ID {
			t.Errorf("task %d: %+v, want state %s, seed %d", i, tk, want, i)
		}
		if (tk.Metrics != nil) != (want == "done") {
			t.Errorf("task %d (%s): metrics %v", i, want, tk.Metrics)
		}
	}
	if m := d.Tasks[0].Metrics; m["phase_change_step"] == nil || *m["phase_change_step"] != 300 || *m["induction_score_max"] != 0.8 || m["wall_seconds"] != nil {
		t.Errorf("task 0 metrics %v: want phase_change_step 300, induction_score_max 0.8, no wall_seconds", m)
	}
	if v, ok := d.Tasks[2].Metrics["phase_change_step"]; !ok || v != nil {
		t.Errorf("task 2's phase change never happened: got %v, %v, want null", v, ok)
	}
	if e := d.Tasks[3].Error; !strings.Contains(e, "no such file") || !strings.Contains(e, "model.safetensors") {
		t.Errorf("failed task's error %q", e)
	}
	stats := map[string]sweepStats{}
	for _, st := range d.Stats {
		stats[st.Metric] = st
	}
	ptr := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.6g", *p)
	}
	for _, tc := range []struct {
		metric string
		want   string // n never min q1 median q3 max
	}{
		{"phase_change_step", "2 1 300 300 500 700 700"},
		{"final_eval_acc", "3 0 0.5 0.7 0.9 0.925 0.95"},
		{"induction_score_max", "3 0 0.3 0.45 0.6 0.7 0.8"},
	} {
		st, ok := stats[tc.metric]
		if !ok {
			t.Errorf("no stats for %s in %+v", tc.metric, d.Stats)
			continue
		}
		got := fmt.Sprintf("%d %d %s %s %s %s %s", st.N, st.Never, ptr(st.Min), ptr(st.Q1), ptr(st.Median), ptr(st.Q3), ptr(st.Max))
		if got != tc.want {
			t.Errorf("%s: n never min q1 median q3 max = %s, want %s", tc.metric, got, tc.want)
		}
	}
	if _, ok := stats["wall_seconds"]; ok {
		t.Errorf("wall-clock time summarised as a result")
	}

	// The runs folder itself as a sweep: "." in the list, "-" in URLs.
	s2, dir2 := newTestServer(t)
	writeTestSweep(t, dir2)
	rec := do(t, s2, "GET", "/api/sweeps", "", nil)
	if !strings.Contains(rec.Body.String(), `"name":"."`) {
		t.Errorf("runs folder as a sweep: %s", rec.Body)
	}
	for _, p := range []string{"/api/sweeps/-", "/api/sweeps/."} {
		rec := do(t, s2, "GET", p, "", nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"counts":"3 done, 0 running, 1 failed, 1 pending"`) {
			t.Errorf("GET %s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// TestSweepsBadInput: unknown, unreadable and malformed sweep names answer
// 4xx with a message, never 500.
func TestSweepsBadInput(t *testing.T) {
	s, dir := newTestServer(t)
	writeTestSweep(t, filepath.Join(dir, "seeds"))
	if err := os.MkdirAll(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken", sweep.PlanFile), []byte(`{"spec": {}, "tasks": [{"index": 0, "id": "x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want int
		msg  string
	}{
		{"/api/sweeps/nope", 404, "no sweep"},
		{"/api/sweeps/..%2Fetc", 400, "invalid name"},
		{"/api/sweeps/.hidden", 400, "invalid name"},
		{"/api/sweeps/broken", 422, "malformed"},
		{"/api/sweeps/-", 404, "no sweep"}, // the runs folder holds no plan
	} {
		rec := do(t, s, "GET", tc.path, "", nil)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("GET %s: %d %s, want %d with %q", tc.path, rec.Code, rec.Body, tc.want, tc.msg)
		}
	}
	// A sweep without axes lists none (an empty list, which the page reads).
	one := sweep.Plan{Spec: sweep.Spec{Command: "train induction"}, Tasks: []sweep.Task{{ID: "00000000000000aa", Args: []string{"train", "induction"}}}}
	if err := sweep.WritePlan(filepath.Join(dir, "one"), one); err != nil {
		t.Fatal(err)
	}
	if rec := do(t, s, "GET", "/api/sweeps/one", "", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"axes":[]`) || !strings.Contains(rec.Body.String(), `"counts":"0 done, 0 running, 0 failed, 1 pending"`) {
		t.Errorf("sweep without axes: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "POST", "/api/sweeps", jsonCT, strings.NewReader("{}")); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/sweeps: %d", rec.Code)
	}
}

// TestBrowserSweeps opens the Sweeps page on a runs folder holding a
// hand-built sweep: the counts line, the statistics, the phase-change
// histogram and the task table appear.
func TestBrowserSweeps(t *testing.T) {
	s, dir := newTestServer(t)
	writeTestSweep(t, filepath.Join(dir, "seeds"))
	b := newBrowserOn(t, s, dir)
	b.open("sweeps")
	b.waitFor("tables", `document.querySelectorAll('[data-testid=task-table] tbody tr').length === 5 && !!document.querySelector('[data-testid=stats-table]')`, 20*time.Second)
	if got := eval[string](b, `document.querySelector('[data-testid=counts]').textContent`); got != "3 done, 0 running, 1 failed, 1 pending" {
		t.Errorf("counts line %q", got)
	}
	states := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=task-table] tbody tr')).map(r => r.dataset.state)`)
	if strings.Join(states, " ") != "done done done failed pending" {
		t.Errorf("task states %v", states)
	}
	row := eval[string](b, `document.querySelector('[data-testid=stats-table] tr[data-metric=phase_change_step]').innerText`)
	for _, want := range []string{"phase_change_step", "300", "500", "700"} {
		if !strings.Contains(row, want) {
			t.Errorf("stats row %q lacks %q", row, want)
		}
	}
	// Two tasks with a phase change: the histogram's bars hold two tasks.
	if n := eval[int](b, `Array.from(document.querySelectorAll('[data-testid=phase-hist] rect.bar')).reduce((s, r) => s + +r.dataset.count, 0)`); n != 2 {
		t.Errorf("histogram holds %d tasks, want 2", n)
	}
	if note := eval[string](b, `document.querySelector('#hist-note').textContent`); !strings.Contains(note, "1 never") {
		t.Errorf("histogram note %q", note)
	}
	// The phase-change step against the seed: two points, and the task
	// that never had one hollow on the bottom edge.
	pts := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=scatter-plot] circle.point')).map(c => c.dataset.index + ':' + c.getAttribute('fill'))`)
	if strings.Join(pts, " ") != "0:#1d4ed8 1:#1d4ed8 2:none" {
		t.Errorf("scatter points %v, want tasks 0 and 1 filled, 2 hollow", pts)
	}
	t.Logf("screenshot: %s", b.screenshot("sweeps"))
	b.noErrors()
}
