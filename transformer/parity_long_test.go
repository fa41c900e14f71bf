package transformer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// Tolerances against attn2_long's float64 reference (one sequence of 300
// tokens, n_ctx 320, d_head 16): the float32 forward differs by rounding
// only, in sums of up to 300 terms. This random model's logits are small
// (|logit| ≲ 1); observed errors are 3e-7 on logits, 2e-9 on patterns and
// ≤ 5e-9 on gradients, so every bound has a margin of ten or more.
const (
	longLogitTol   = 1e-5 // absolute
	longLossTol    = 1e-5 // absolute
	longPatternTol = 1e-6 // absolute, probabilities
	longGradRelTol = 1e-4 // × the tensor's largest |gradient|
	longGradAbsTol = 1e-7 // floor for b_K, whose exact gradient is 0
)

// TestParityLong checks attn2_long (../shared/testdata/parity, README
// there): a random 2-layer attention-only model on 300 tokens, past every
// attention tile (16-column blocks, the 128 register-resident rows and the
// 128-key chunks of the d_head = 16 fast path) and GEMM block (64 columns,
// 128 and 256 deep). Logits come from the fused, hook-free forward and
// pattern_tail (the last four query rows of every pattern) from the hooked,
// step-wise one; the loss and gradients from Gradients and, on the same
// weights, from a Parallel training step (the query-range kernels).
func TestParityLong(t *testing.T) {
	dir := filepath.Join(transformertest.ParityDir(t), "attn2_long")
	m, err := transformer.LoadWithConfig(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var toks [][]int
	transformertest.ReadJSON(t, filepath.Join(dir, "tokens.json"), &toks)
	var exp struct {
		Loss        float64
		Logits      json.RawMessage
		PatternTail json.RawMessage `json:"pattern_tail"`
		Grads       map[string]json.RawMessage
	}
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &exp)
	if len(toks) == 0 || len(toks[0]) <= 256 {
		t.Fatalf("attn2_long: want sequences past 256 tokens, got %d×%d", len(toks), len(toks[0]))
	}
	ctx := context.Background()

	logits, err := m.Run(ctx, toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	longCompare(t, "logits", logits.Data, longFlatten(t, exp.Logits), longLogitTol)

	set, cache := hooks.Capture(func(n hooks.Name) bool { return n.Kind() == "attn.hook_pattern" })
	if _, err := m.Run(ctx, toks, set); err != nil {
		t.Fatal(err)
	}
	const tail = 4
	batch, T, H := len(toks), len(toks[0]), m.Cfg.NHeads
	var gotTail []float32
	for l := range m.Cfg.NLayers {
		p, ok := cache.Get(hooks.Pattern(l))
		if !ok {
			t.Fatalf("pattern %d not cached", l)
		}
		for bh := range batch * H {
			gotTail = append(gotTail, p.Data[(bh*T+T-tail)*T:(bh+1)*T*T]...)
		}
	}
	longCompare(t, "pattern_tail", gotTail, longFlatten(t, exp.PatternTail), longPatternTol)

	loss, g, err := m.Gradients(ctx, toks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	flat, _, _, err := m.CheckTokens(toks)
	if err != nil {
		t.Fatal(err)
	}
	par, err := m.NewParallel(batch, T, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer par.Close()
	targets, weights := transformer.NextTokenTargets(flat, batch, T)
	gp := m.NewGrads()
	lossP, err := par.Step(ctx, flat, targets, weights, gp)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name string
		loss float64
		g    *transformer.Params
	}{{"Gradients", loss, g}, {"Parallel", lossP, gp}} {
		if math.Abs(r.loss-exp.Loss) > longLossTol {
			t.Errorf("%s: loss %.7f, reference %.7f", r.name, r.loss, exp.Loss)
		}
		sd := (&transformer.Model{Cfg: m.Cfg, P: r.g}).StateDict()
		if len(sd) != len(exp.Grads) {
			t.Errorf("%s: %d gradients, reference %d", r.name, len(sd), len(exp.Grads))
		}
		for _, st := range sd {
			raw, ok := exp.Grads[st.Name]
			if !ok {
				t.Errorf("%s: no reference gradient for %q", r.name, st.Name)
				continue
			}
			want := longFlatten(t, raw)
			scale := 0.0
			for _, w := range want {
				scale = math.Max(scale, math.Abs(w))
			}
			longCompare(t, r.name+" d "+st.Name, st.Data, want, math.Max(longGradRelTol*scale, longGradAbsTol))
		}
	}
}

// longCompare fails if got and want differ in length or by more than tol
// anywhere, naming the worst index.
func longCompare(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference %d", name, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	t.Logf("%s: max |got − reference| = %.3g (tolerance %.3g)", name, worst, tol)
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s differs from the reference by %.3g at %d (%v, reference %v), more than %g", name, worst, at, got[at], want[at], tol)
	}
}

// longFlatten returns the numbers of a nested JSON array of numbers in
// row-major order, reading it token by token.
func longFlatten(t *testing.T, raw json.RawMessage) []float64 {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var out []float64
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v != '[' && v != ']' {
				t.Fatalf("unexpected %v in a numeric array", v)
			}
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		default:
			t.Fatalf("unexpected JSON value %v (%T) in a numeric array", v, v)
		}
	}
}
