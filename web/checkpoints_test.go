package web

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/transformer"
)

// lmTestConfig is the model of the `train lm` runs the tests write.
var lmTestConfig = transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DVocab: 50, NCtx: 64, AttnOnly: true}

// lmRun describes a `train lm` run folder written by writeLMRun.
type lmRun struct {
	steps, evalEvery int
	phaseAt          int   // the step of the phase_change event (0: none)
	checkpoints      []int // steps with a checkpoint
	lossScale        float64
}

// writeLMRun writes a run folder as `train lm` does (the contract in the
// issue: train.json with "task": "lm", metrics.jsonl with training lines
// every 10 steps, evaluation lines with the language-model measurements,
// a phase_change event, summary.json with phase_change_step), with
// checkpoints whose weights are seeded by their step and the final model.
func writeLMRun(t *testing.T, runsDir, name string, r lmRun) {
	t.Helper()
	dir := filepath.Join(runsDir, name)
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, train.TrainConfigFile), map[string]any{"task": "lm", "steps": r.steps, "eval_every": r.evalEvery})
	var b strings.Builder
	line := func(v map[string]any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	// after the phase change: heads L1H0 (prefix matching) and L0H1
	// (previous token) are on, and late positions are easier than early ones
	on := func(step int) float64 {
		if r.phaseAt == 0 {
			return 0
		}
		return 1 / (1 + math.Exp(-float64(step-r.phaseAt)/15))
	}
	for step := 10; step <= r.steps; step += 10 {
		rec := map[string]any{"step": step, "elapsed_s": float64(step) / 100, "loss": r.lossScale * (2 + 3*math.Exp(-float64(step)/100) - 0.3*on(step)), "lr": 1e-3, "tokens": step * 4096}
		if step%r.evalEvery == 0 {
			o := on(step)
			pm := [][]float64{{0.02, 0.03}, {0.02 + 0.7*o, 0.05}}
			rec["eval_loss"] = r.lossScale * (2.1 + 3*math.Exp(-float64(step)/100) - 0.3*o)
			rec["icl_score"] = -0.05 - 0.5*o
			rec["icl_positions"] = []int{5, 50}
			rec["prefix_matching_score"] = pm
			rec["prefix_matching_max"] = pm[1][0]
			rec["copying_score"] = [][]float64{{0.1, 0.1}, {0.1 + 0.5*o, 0.1}}
			rec["prev_token_score"] = [][]float64{{0.1, 0.2 + 0.6*o}, {0.05, 0.05}}
			rec["induction_score"] = [][]float64{{0.01, 0.01}, {0.01 + 0.6*o, 0.02}}
			rec["induction_max"] = 0.01 + 0.6*o
			if step == r.evalEvery || step == r.phaseAt || step == r.steps {
				pos := make([]float64, 64)
				for i := range pos {
					pos[i] = 3 - o*math.Log1p(float64(i))/4
				}
				rec["per_position_loss"] = pos
			}
		}
		line(rec)
		if step == r.phaseAt {
			line(map[string]any{"step": step, "event": "phase_change", "elapsed_s": float64(step) / 100})
		}
	}
	if err := os.WriteFile(filepath.Join(dir, metricsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var pc any
	if r.phaseAt > 0 {
		pc = r.phaseAt
	}
	// as train lm's --json: the best head's scores are numbers, not [l][h]
	writeJSONFile(t, filepath.Join(dir, summaryFile), map[string]any{"steps": r.steps, "phase_change_step": pc, "final_eval_loss": 2.0,
		"icl_score": -0.55, "induction_score": 0.61, "prefix_matching_score": 0.72, "prev_token_score": 0.8, "tokens_seen": r.steps * 4096})
	for _, s := range r.checkpoints {
		saveSeeded(t, train.CheckpointPath(dir, s), uint64(s))
	}
	saveSeeded(t, filepath.Join(dir, modelFile), uint64(r.steps))
}

// saveSeeded saves a random lmTestConfig model seeded by seed at path.
func saveSeeded(t *testing.T, path string, seed uint64) {
	t.Helper()
	cfg := lmTestConfig
	cfg.Seed = seed
	m, err := transformer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(path, nil); err != nil {
		t.Fatal(err)
	}
}

// stdLMRun is the run most tests use: a phase change at step 300, the
// last evaluation before it at 250, checkpoints on both sides.
var stdLMRun = lmRun{steps: 600, evalEvery: 50, phaseAt: 300, checkpoints: []int{100, 250, 350, 600}, lossScale: 1}

// TestRunCheckpointsAPI: a run lists its checkpoints with the pair around
// the phase change marked; each opens as a model whose weights are that
// checkpoint's; the model list adds one only when asked (?with=).
func TestRunCheckpointsAPI(t *testing.T) {
	s, dir := newTestServer(t)
	writeLMRun(t, dir, "lm-run", stdLMRun)

	// the run is listed as finished, not as an invalid summary
	var d runDetail
	get(t, s, "/api/runs/lm-run", &d)
	if d.Status != "finished" || d.Steps != 600 || d.PhaseChangeStep == nil || *d.PhaseChangeStep != 300 || d.Error != "" {
		t.Errorf("lm run: status %q, steps %d, phase change %v, error %q; want finished, 600, 300", d.Status, d.Steps, d.PhaseChangeStep, d.Error)
	}

	var ck runCheckpoints
	get(t, s, "/api/runs/lm-run/checkpoints", &ck)
	var steps []int
	roles := map[string]int{}
	for _, c := range ck.Checkpoints {
		steps = append(steps, c.Step)
		if c.Model != fmt.Sprintf("lm-run.step-%06d", c.Step) {
			t.Errorf("checkpoint %d has model name %q", c.Step, c.Model)
		}
		if c.Role != "" {
			roles[c.Role] = c.Step
		}
	}
	if !slices.Equal(steps, []int{100, 250, 350, 600}) || ck.Final != "lm-run" || ck.PhaseChange == nil || *ck.PhaseChange != (phase{Before: 250, At: 300}) {
		t.Errorf("checkpoints %v, final %q, phase %v; want 100 250 350 600, lm-run, {250 300}", steps, ck.Final, ck.PhaseChange)
	}
	if roles["before"] != 250 || roles["after"] != 350 || len(roles) != 2 {
		t.Errorf("roles %v, want before 250 and after 350", roles)
	}

	// each checkpoint's model holds that checkpoint's weights
	for _, step := range []int{100, 350} {
		want, err := transformer.Load(train.CheckpointPath(filepath.Join(dir, "lm-run"), step))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Data []float32 `json:"data"`
		}
		get(t, s, fmt.Sprintf("/api/models/lm-run.step-%06d/tensors/embed.W_E", step), &got)
		if !slices.Equal(got.Data, want.StateDict()[0].Data) {
			t.Errorf("step %d: the served embedding is not the checkpoint's", step)
		}
	}
	var detail modelDetail
	get(t, s, "/api/models/lm-run.step-000250", &detail)
	if detail.Source != "checkpoint" || detail.Config.NLayers != 2 {
		t.Errorf("checkpoint model detail: source %q, config %+v", detail.Source, detail.Config)
	}

	names := func(path string) []string {
		var list []modelSummary
		get(t, s, path, &list)
		var out []string
		for _, m := range list {
			out = append(out, m.Name)
		}
		return out
	}
	if got := names("/api/models"); slices.Contains(got, "lm-run.step-000250") || !slices.Contains(got, "lm-run") {
		t.Errorf("plain model list %v: want the run, not its checkpoints", got)
	}
	if got := names("/api/models?with=lm-run.step-000250"); !slices.Contains(got, "lm-run.step-000250") {
		t.Errorf("model list with a checkpoint %v lacks it", got)
	}
	for _, with := range []string{"lm-run.step-000300", "nothing", "../x"} {
		if got := names("/api/models?with=" + with); slices.Contains(got, with) {
			t.Errorf("model list with=%s lists it", with)
		}
	}

	runAPICases(t, s, []apiCase{
		{name: "no such checkpoint", method: "GET", path: "/api/models/lm-run.step-000300", want: 404, contains: "no checkpoint at step 300"},
		{name: "non-canonical step", method: "GET", path: "/api/models/lm-run.step-250", want: 404},
		{name: "no such run", method: "GET", path: "/api/models/other.step-000250", want: 404},
		{name: "checkpoints of no run", method: "GET", path: "/api/runs/other/checkpoints", want: 404},
		{name: "checkpoints bad name", method: "GET", path: "/api/runs/..%2Fx/checkpoints", want: 400},
		{name: "icl figure", method: "GET", path: "/api/runs/lm-run/figures/icl.png", want: 200},
		{name: "prefix-matching figure", method: "GET", path: "/api/runs/lm-run/figures/prefix-matching.svg", want: 200, contains: "*300"},
		{name: "prefix-matching of an induction run", method: "GET", path: "/api/runs/demo/figures/prefix-matching.png", want: 422, contains: "prefix_matching_score"},
		{name: "demo checkpoints", method: "GET", path: "/api/runs/demo/checkpoints", want: 200, contains: `"final":"demo","checkpoints":[]`},
	})
}

// TestParseCheckpointName: one name per checkpoint, round trip.
func TestParseCheckpointName(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  string
		step int
		ok   bool
	}{
		{"run.step-000450", "run", 450, true},
		{"a.b.step-1234567", "a.b", 1234567, true},
		{"run.step-450", "", 0, false},
		{"run.step--00001", "", 0, false},
		{".step-000450", "", 0, false},
		{"run.step-", "", 0, false},
		{"run", "", 0, false},
		{"-x.step-000001", "", 0, false},
	} {
		run, step, ok := parseCheckpointName(tc.name)
		if run != tc.run || step != tc.step || ok != tc.ok {
			t.Errorf("parseCheckpointName(%q) = %q, %d, %v; want %q, %d, %v", tc.name, run, step, ok, tc.run, tc.step, tc.ok)
		}
		if ok && checkpointModelName(run, step) != tc.name {
			t.Errorf("%q does not round-trip", tc.name)
		}
	}
}

// TestCheckpointCacheBounded: at most maxCheckpointModels checkpoints stay
// loaded, the oldest dropped first.
func TestCheckpointCacheBounded(t *testing.T) {
	s, dir := newTestServer(t)
	var steps []int
	for k := range maxCheckpointModels + 3 {
		steps = append(steps, 10*(k+1))
	}
	writeLMRun(t, dir, "many", lmRun{steps: 200, evalEvery: 50, checkpoints: steps, lossScale: 1})
	for _, st := range steps {
		rec := do(t, s, "GET", fmt.Sprintf("/api/models/many.step-%06d", st), "", nil)
		if rec.Code != 200 {
			t.Fatalf("step %d: %d %s", st, rec.Code, rec.Body)
		}
	}
	c := s.models.ckpts
	c.mu.Lock()
	n, first := len(c.entries), c.order[0]
	c.mu.Unlock()
	if n != maxCheckpointModels || first != checkpointModelName("many", steps[3]) {
		t.Errorf("%d checkpoints loaded, oldest %s; want %d, the oldest three dropped", n, first, maxCheckpointModels)
	}
}

// TestRunPhase: a phase_change event decides (from the last evaluation
// before it); without one, induction_max's rise (as for induction runs);
// without either, summary.json's phase_change_step.
func TestRunPhase(t *testing.T) {
	rec := func(step int, kv ...any) map[string]any {
		m := map[string]any{"step": float64(step)}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	evals := []map[string]any{
		rec(100, "eval_loss", 3.0, "induction_max", 0.01), rec(200, "eval_loss", 2.9, "induction_max", 0.02),
		rec(300, "eval_loss", 2.5, "induction_max", 0.6), rec(400, "eval_loss", 2.4, "induction_max", 0.62),
	}
	withEvent := append(slices.Clone(evals), rec(400, "event", "phase_change"))
	flat := []map[string]any{rec(100, "eval_loss", 3.0), rec(200, "eval_loss", 2.9), rec(300, "eval_loss", 2.8)}
	summary := json.RawMessage(`{"steps": 300, "phase_change_step": 250}`)
	for _, tc := range []struct {
		name    string
		records []map[string]any
		summary json.RawMessage
		want    *phase
	}{
		{"event", withEvent, nil, &phase{Before: 300, At: 400}},
		{"induction_max", evals, nil, detectPhase(evals)},
		{"summary", flat, summary, &phase{Before: 200, At: 250}},
		{"none", flat, json.RawMessage(`{"phase_change_step": null}`), nil},
	} {
		got := runPhase(tc.records, tc.summary)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: runPhase = %v, want %v", tc.name, got, tc.want)
		}
	}
	if detectPhase(evals) == nil {
		t.Error("the induction_max case has no phase change: the test does not test it")
	}
}

// get fetches path and decodes the 200 response into v.
func get(t *testing.T, s *Server, path string, v any) {
	t.Helper()
	rec := do(t, s, "GET", path, "", nil)
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}
