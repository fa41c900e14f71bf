package lm

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/transformer"
)

// writeCorpus writes n lines, each a random word of 6 lower-case letters
// followed by filler and the same word again ("name ... name"), so that
// copying from context pays, and returns the file's path.
func writeCorpus(t *testing.T, n int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	word := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	var sb strings.Builder
	for range n {
		w := word(6)
		sb.WriteString(w + " said " + word(3) + " to " + w + ".\n")
	}
	p := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tinyConfig is a model small enough for unit tests.
func tinyConfig(text string) Config {
	c := Default()
	c.Text = text
	c.DModel, c.NHeads, c.DHead, c.Context = 32, 2, 16, 32
	c.Batch, c.Steps, c.EvalEvery, c.EvalWindows, c.Warmup = 8, 40, 10, 8, 5
	c.LR = 3e-3
	return c
}

func TestICLPositions(t *testing.T) {
	for _, tc := range []struct{ T, early, late int }{{512, 50, 500}, {256, 25, 250}, {1024, 100, 1000}, {64, 6, 63}, {8, 1, 7}} {
		if e, l := ICLPositions(tc.T); e != tc.early || l != tc.late {
			t.Errorf("ICLPositions(%d) = %d, %d; want %d, %d", tc.T, e, l, tc.early, tc.late)
		}
	}
}

func TestICLScore(t *testing.T) {
	// A loss falling by 0.01 nats per position: the bands around 25 ([17, 33],
	// mean 25) and 250 ([242, 255], clipped at the end, mean 248.5).
	per := make([]float64, 256)
	for i := range per {
		per[i] = 3 - 0.01*float64(i)
	}
	if got, want := ICLScore(per), -0.01*(248.5-25); math.Abs(got-want) > 1e-12 {
		t.Errorf("ICLScore of a linear fall = %v, want %v", got, want)
	}
	flat := slices.Repeat([]float64{2}, 256)
	if got := ICLScore(flat); got != 0 {
		t.Errorf("ICLScore of a flat loss = %v, want 0", got)
	}
}

func TestTokenLosses(t *testing.T) {
	logits := []float32{0, 0, 1, 2, 3, 4, -1000, 0}
	got := TokenLosses(nil, logits, []int32{0, 1, 0, 0})
	// −log softmax: log(1+e^(other−target)) for two logits.
	want := []float64{math.Ln2, math.Log(1 + 1/math.E), math.Log(1 + math.E), 1000}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("row %d: loss %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseConfigStrict(t *testing.T) {
	c := tinyConfig("x.txt")
	b, _ := json.Marshal(c)
	back, err := ParseConfig(b)
	if err != nil || back != c {
		t.Fatalf("round trip: %v (%+v)", err, back)
	}
	bad := bytes.Replace(b, []byte(`"task"`), []byte(`"colour":1,"task"`), 1)
	if _, err := ParseConfig(bad); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: %v", err)
	}
	c.RepeatMax = 0.6
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "fit twice") {
		t.Errorf("spans of 60%% of the context: %v", err)
	}
	c.RepeatMax = 0.25
	c.Task = "induction"
	b, _ = json.Marshal(c)
	if _, err := ParseConfig(b); err == nil || !strings.Contains(err.Error(), `task must be "lm"`) {
		t.Errorf("wrong task: %v", err)
	}
}

func TestPhaseTracker(t *testing.T) {
	p := &phaseTracker{icl: map[int]float64{}}
	vals := []float64{0.03, 0.03, 0.04, 0.05, 0.2, 0.5, 0.6, 0.6}
	var events []train.Record
	for i, v := range vals {
		if e := p.observe(100*(i+1), v, -float64(i)/10); e != nil {
			events = append(events, e)
		}
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want 1: %v", len(events), events)
	}
	// 0.5 at step 600 is the first rise of at least PhaseMinRise; halfway
	// from 0.03 to 0.5 is 0.265, first passed at step 600, before it 500.
	e := events[0]
	if e["step"] != 600 || e["phase_change_step"] != 600 || e["before_step"] != 500 || e["icl_score_before"] != -0.4 {
		t.Errorf("event %v, want step 600, phase change 600, before 500, icl before -0.4", e)
	}
}

// readMetrics returns metrics.jsonl's records.
func readMetrics(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := train.ScanMetrics(dir, func(line []byte) error {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTrainRunFolder(t *testing.T) {
	cfg := tinyConfig(writeCorpus(t, 400, 1))
	dir := t.TempDir()
	s, err := Train(context.Background(), cfg, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{train.TrainConfigFile, ShardFile, CorpusFile, train.MetricsFile, train.SummaryFile, transformer.ModelFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	// A byte model's folder holds the byte tokenizer: id = byte value.
	tok, err := tokenizer.Load(filepath.Join(dir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	line := "ROMEO: O, speak again,\n\xff\x00 bright angel!"
	enc, err := tok.Encode(line, tokenizer.Options{BOS: tokenizer.BOSAuto})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, len(line))
	for i := range line {
		want[i] = int(line[i])
	}
	if tok.VocabSize() != 256 || !slices.Equal(enc.IDs, want) {
		t.Errorf("byte tokenizer: vocab %d, %q encodes to %v, want its bytes %v", tok.VocabSize(), line, enc.IDs, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, train.TrainConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseConfig(b); err != nil || back != cfg {
		t.Errorf("train.json does not read back as the config: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ShardFile))
	text, _ := os.ReadFile(cfg.Text)
	if want := 24 + 2*len(text); len(raw) != want {
		t.Errorf("corpus.tokens is %d bytes, want %d (uint16 per byte of text)", len(raw), want)
	}
	recs := readMetrics(t, dir)
	evals := 0
	T, L, H := cfg.Context, cfg.NLayers, cfg.NHeads
	for _, r := range recs {
		for _, k := range []string{"step", "elapsed_s", "loss", "lr"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record %v lacks %q", r, k)
			}
		}
		if _, ok := r["eval_loss"]; !ok {
			continue
		}
		evals++
		for _, k := range []string{"prefix_matching_score", "copying_score", "prev_token_score", "induction_score"} {
			g, _ := r[k].([]any)
			if len(g) != L || len(g[0].([]any)) != H {
				t.Errorf("step %v: %s is not [%d][%d]: %v", r["step"], k, L, H, r[k])
			}
		}
		if pos, _ := r["icl_positions"].([]any); len(pos) != 2 || pos[0] != 3.0 || pos[1] != 31.0 {
			t.Errorf("icl_positions %v, want [3 31]", r["icl_positions"])
		}
		if pp, ok := r["per_position_loss"].([]any); ok && len(pp) != T {
			t.Errorf("per_position_loss has %d positions, want %d", len(pp), T)
		}
		for _, k := range []string{"icl_score", "prefix_matching_max", "induction_max", "eval_loss"} {
			if _, ok := r[k].(float64); !ok {
				t.Errorf("step %v: %s = %v", r["step"], k, r[k])
			}
		}
	}
	if evals != cfg.Steps/cfg.EvalEvery {
		t.Errorf("%d evaluations, want %d", evals, cfg.Steps/cfg.EvalEvery)
	}
	// Per-position loss at the first evaluation (every 5th) and the last.
	var pp []float64
	for _, r := range recs {
		if _, ok := r["per_position_loss"]; ok {
			pp = append(pp, r["step"].(float64))
		}
	}
	if !slices.Equal(pp, []float64{10, 40}) {
		t.Errorf("per-position loss at steps %v, want [10 40]", pp)
	}
	if s.TokensSeen != cfg.Steps*cfg.Batch*cfg.Context || s.Steps != cfg.Steps || s.Checkpoint != train.CheckpointPath(dir, cfg.Steps) {
		t.Errorf("summary: %+v", s.Result)
	}
	sb, _ := os.ReadFile(filepath.Join(dir, train.SummaryFile))
	var sum map[string]any
	json.Unmarshal(sb, &sum)
	if _, ok := sum["phase_change_step"]; !ok {
		t.Error("summary.json lacks phase_change_step")
	}
}

// tensors reads a safetensors file's float32 tensors.
func tensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, info := range f.Tensors() {
		name := info.Name
		d, _, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = d
	}
	return out
}

func sameTensors(t *testing.T, what string, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%s: %d tensors against %d", what, len(a), len(b))
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			t.Errorf("%s: tensor %s differs", what, k)
		}
	}
}

// evalLines returns the evaluation records without their timings.
func evalLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, r := range readMetrics(t, dir) {
		delete(r, "elapsed_s")
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	return out
}

func TestResumeIsExact(t *testing.T) {
	cfg := tinyConfig(writeCorpus(t, 400, 2))
	cfg.RepeatFrac = 0.5
	whole := t.TempDir()
	if _, err := Train(context.Background(), cfg, whole, Options{}); err != nil {
		t.Fatal(err)
	}
	// Interrupted after step 15 (between evaluations), then resumed.
	parts := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Train(ctx, cfg, parts, Options{Listeners: []func(train.Record){func(r train.Record) {
		if r["step"] == 10 {
			cancel()
		}
	}}})
	if err != nil || !s.Interrupted || s.Steps != 10 {
		t.Fatalf("interrupted run: %v, interrupted %v at %d", err, s.Interrupted, s.Steps)
	}
	s, err = Train(context.Background(), cfg, parts, Options{Resume: true})
	if err != nil || s.Interrupted || s.Steps != cfg.Steps {
		t.Fatalf("resumed run: %v, %+v", err, s)
	}
	sameTensors(t, "final model", tensors(t, filepath.Join(whole, transformer.ModelFile)), tensors(t, filepath.Join(parts, transformer.ModelFile)))
	if a, b := evalLines(t, whole), evalLines(t, parts); !slices.Equal(a, b) {
		t.Errorf("metrics differ after resume:\n%v\n%v", a, b)
	}
}

func TestWorkersDoNotChangeResults(t *testing.T) {
	cfg := tinyConfig(writeCorpus(t, 400, 3))
	cfg.Steps = 20
	var models []map[string][]float32
	for _, w := range []int{1, 2, 3} {
		cfg.Workers = w
		dir := t.TempDir()
		if _, err := Train(context.Background(), cfg, dir, Options{}); err != nil {
			t.Fatal(err)
		}
		models = append(models, tensors(t, filepath.Join(dir, transformer.ModelFile)))
	}
	sameTensors(t, "workers 1 vs 2", models[0], models[1])
	sameTensors(t, "workers 1 vs 3", models[0], models[2])
}

func TestTrainRefusesSmallCorpus(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tiny.txt")
	os.WriteFile(p, []byte("to be or not to be"), 0o644)
	cfg := tinyConfig(p)
	if _, err := Train(context.Background(), cfg, t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "no room for windows") {
		t.Errorf("a corpus shorter than two windows: %v", err)
	}
	cfg.Text = filepath.Join(t.TempDir(), "missing.txt")
	if _, err := Train(context.Background(), cfg, t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("a missing corpus: %v", err)
	}
}

func TestCorpusFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("second"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("first\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "c.txt"), []byte("third"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("never"), 0o644)
	text, files, err := readText(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(text), "first\nsecond\nthird"; got != want || files != 3 {
		t.Errorf("folder corpus %q from %d files, want %q from 3", got, files, want)
	}
}

// TestTelemetryOnTheSyntheticDemo runs the evaluator on the repository's
// synthetic demo model (web/demo: a 2-layer attention-only model trained by
// train induction, with a previous-token head in layer 0 and an induction
// head in layer 1) over a corpus using its whole vocabulary: the repeated
// random token scores must find those heads.
// demoEvaluator returns an evaluator of m (the synthetic demo) on a corpus
// of toks, 64 held-out windows of its n_ctx.
func demoEvaluator(t *testing.T, m *transformer.Model, toks []int32) *evaluator {
	t.Helper()
	sh, err := data.NewShard(toks, m.Cfg.DVocab)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Context, cfg.EvalWindows = m.Cfg.NCtx, 64
	c, err := newCorpus(sh, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newEvaluator(m, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestTelemetryOnTheSyntheticDemo(t *testing.T) {
	m, err := transformer.Load("../../web/demo/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	toks := make([]int32, 20000)
	for i := range toks {
		toks[i] = int32(rng.IntN(m.Cfg.DVocab))
	}
	ev := demoEvaluator(t, m, toks)
	tel, err := ev.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prefix matching %.3f, induction %.3f, prev-token %v, copying %v, icl %.3f, loss %.3f",
		tel.PrefixMax, tel.IndMax, tel.PrevToken, tel.Copying, tel.ICL, tel.Loss)
	if best := slices.Max(tel.PrefixMatching[1]); best < 0.5 {
		t.Errorf("best layer-1 prefix-matching score %.3f < 0.5", best)
	}
	if best := slices.Max(tel.Induction[1]); best < 0.5 {
		t.Errorf("best layer-1 induction score %.3f < 0.5", best)
	}
	if best := slices.Max(tel.PrevToken[0]); best < 0.4 {
		t.Errorf("best layer-0 previous-token score %.3f < 0.4", best)
	}
}

// TestCurriculum: with RepeatSteps, the windows of the steps before it
// carry repeated spans and those from it on are plain text, the same
// windows a task without mixing draws from the same rng.
func TestCurriculum(t *testing.T) {
	toks := make([]int32, 4000)
	for i := range toks {
		toks[i] = int32(i % 200)
	}
	sh, err := data.NewShard(toks, 256)
	if err != nil {
		t.Fatal(err)
	}
	mixed := data.TextLM{Shard: sh, Hi: sh.Len(), SeqLen: 64, RepeatFrac: 1, MinSpan: 8, MaxSpan: 16, RandomSpans: true}
	plain := mixed
	plain.RepeatFrac = 0
	c := curriculum{early: mixed, late: plain, until: 10}
	b, want := data.NewBatch(8, 64), data.NewBatch(8, 64)
	for _, step := range []int{0, 9, 10, 500} {
		c.FillStep(b, rand.New(rand.NewPCG(1, uint64(step))), step)
		plain.Fill(want, rand.New(rand.NewPCG(1, uint64(step))))
		same := slices.Equal(b.Tokens, want.Tokens) && slices.Equal(b.Targets, want.Targets)
		repeats := slices.Max(b.Repeat) > 0
		if step < 10 && (same || !repeats) {
			t.Errorf("step %d (before the curriculum ends): plain windows (repeats %v)", step, b.Repeat)
		}
		if step >= 10 && (!same || repeats) {
			t.Errorf("step %d (after): windows differ from plain text (repeats %v)", step, b.Repeat)
		}
	}
}

// TestAblateInductionHeads: on text made of repeated blocks the demo's
// induction heads make the ICL score: mean-ablating them (the heads the
// induction scores name) raises it.
func TestAblateInductionHeads(t *testing.T) {
	m, err := transformer.Load("../../web/demo/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	const block = 20 // two copies fill the demo's n_ctx of 40
	var toks []int32
	for len(toks) < 20000 {
		b := make([]int32, block)
		for i := range b {
			b[i] = int32(rng.IntN(m.Cfg.DVocab))
		}
		toks = append(append(toks, b...), b...)
	}
	ev := demoEvaluator(t, m, toks)
	ctx := context.Background()
	tel, err := ev.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ev.ablate(ctx, tel.Induction)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("intact: loss %.3f, icl %.3f; induction heads %v ablated: loss %.3f, icl %.3f", tel.Loss, tel.ICL, a.Heads, a.Loss, a.ICLScore)
	var want [][2]int
	for l, row := range tel.Induction {
		for h, v := range row {
			if v >= InductionHeadMin {
				want = append(want, [2]int{l, h})
			}
		}
	}
	if len(want) == 0 || !slices.Equal(a.Heads, want) {
		t.Errorf("ablated heads %v, want those with induction score ≥ %g: %v", a.Heads, InductionHeadMin, want)
	}
	// (The loss is no guide on this model: it is confidently wrong on each
	// block's first copy, less so without its heads.)
	if tel.ICL > -0.5 || a.ICLScore < tel.ICL+0.5 {
		t.Errorf("ablating the induction heads: ICL %.3f → %.3f (want it to rise by ≥ 0.5 from ≤ −0.5)", tel.ICL, a.ICLScore)
	}
	// Scores below the threshold ablate nothing.
	none, err := ev.ablate(ctx, [][]float64{{0, 0.1}, {0.29, 0}})
	if err != nil || len(none.Heads) != 0 {
		t.Errorf("no head over %g: ablated %v (%v)", InductionHeadMin, none.Heads, err)
	}
}

// TestDefaultIsTheEmbeddedRun: the dashboard's text demo (web/textdemo,
// whose summary TestTextDemoRunMeetsTheBar checks) was trained with
// Default, so what the README says of the default is what that run shows.
func TestDefaultIsTheEmbeddedRun(t *testing.T) {
	b, err := os.ReadFile("../../web/textdemo/train.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	// The corpus, the tokenizer 'train lm' learned on it, and the worker
	// count (results do not depend on it) are the run's own.
	want.Text, want.Tokenizer, want.Workers = got.Text, got.Tokenizer, got.Workers
	if got != want {
		t.Errorf("the embedded run's config differs from Default:\n got %+v\nwant %+v", got, want)
	}
	if !strings.HasSuffix(got.Tokenizer, TokenizerFile) || !strings.HasSuffix(got.Text, "tinyshakespeare.txt") {
		t.Errorf("the embedded run trained on %q with %q, want tinyshakespeare with its learned tokenizer", got.Text, got.Tokenizer)
	}
}
