package transformer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
)

// Tolerances against the independent float64 PyTorch reference
// (../shared/testdata/parity/README.md): our float32 forward differs by
// rounding only.
const (
	parityLogitTol   = 2e-4 // absolute, float32 rounding on logits of magnitude ~30
	parityLossTol    = 1e-4 // absolute
	parityPatternTol = 1e-5 // absolute, probabilities
	parityGradRelTol = 1e-3 // × the tensor's largest |gradient|
	// parityGradAbsTol is a floor for tensors whose exact gradient is zero:
	// b_K's gradient vanishes identically (softmax ignores a constant added
	// to a query's scores), so the reference holds ~1e-17 and our float32
	// sums hold rounding of order 1e-8.
	parityGradAbsTol = 1e-6
)

type parityCase struct {
	name     string
	model    *Model
	tokens   [][]int
	expected map[string]json.RawMessage
}

func loadParity(t *testing.T) []parityCase {
	t.Helper()
	parityDir := testenv.ParityDir(t)
	var cases []parityCase
	for _, name := range []string{"attn2_induction", "full2_ln_gelu"} {
		dir := filepath.Join(parityDir, name)
		m, err := LoadWithConfig(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var toks [][]int
		readJSON(t, filepath.Join(dir, "tokens.json"), &toks)
		var exp map[string]json.RawMessage
		readJSON(t, filepath.Join(dir, "expected.json"), &exp)
		cases = append(cases, parityCase{name, m, toks, exp})
	}
	return cases
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// flatten returns the numbers of a nested JSON array in row-major order.
func flatten(t *testing.T, raw json.RawMessage) []float64 {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out []float64
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case float64:
			out = append(out, x)
		default:
			t.Fatalf("unexpected JSON value %T", x)
		}
	}
	walk(v)
	return out
}

func TestParityForward(t *testing.T) {
	for _, pc := range loadParity(t) {
		t.Run(pc.name, func(t *testing.T) {
			set, cache := hooks.Capture(func(n hooks.Name) bool { return n.Kind() == "attn.hook_pattern" })
			logits, err := pc.model.Run(context.Background(), pc.tokens, set)
			if err != nil {
				t.Fatal(err)
			}
			want := flatten(t, pc.expected["logits"])
			if len(want) != len(logits.Data) {
				t.Fatalf("logits: got %d values, want %d", len(logits.Data), len(want))
			}
			maxErr := 0.0
			for i, w := range want {
				maxErr = math.Max(maxErr, math.Abs(float64(logits.Data[i])-w))
			}
			t.Logf("max |logit − reference| = %.3g", maxErr)
			if maxErr > parityLogitTol {
				t.Errorf("logits differ from the reference by %.3g > %g", maxErr, parityLogitTol)
			}
			// pattern: [layer][batch][head][q][k]
			wantPat := flatten(t, pc.expected["pattern"])
			var got []float32
			for l := 0; l < pc.model.Cfg.NLayers; l++ {
				p, ok := cache.Get(hooks.Pattern(l))
				if !ok {
					t.Fatalf("pattern %d not cached", l)
				}
				got = append(got, p.Data...)
			}
			if len(got) != len(wantPat) {
				t.Fatalf("pattern: got %d values, want %d", len(got), len(wantPat))
			}
			maxErr = 0
			for i, w := range wantPat {
				maxErr = math.Max(maxErr, math.Abs(float64(got[i])-w))
			}
			if maxErr > parityPatternTol {
				t.Errorf("patterns differ by %.3g > %g", maxErr, parityPatternTol)
			}
		})
	}
}

func TestParityLossAndGrads(t *testing.T) {
	for _, pc := range loadParity(t) {
		t.Run(pc.name, func(t *testing.T) {
			loss, g, err := pc.model.Gradients(context.Background(), pc.tokens, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var wantLoss float64
			if err := json.Unmarshal(pc.expected["loss"], &wantLoss); err != nil {
				t.Fatal(err)
			}
			if math.Abs(loss-wantLoss) > parityLossTol {
				t.Errorf("loss = %.7f, reference %.7f", loss, wantLoss)
			}
			var grads map[string]json.RawMessage
			if err := json.Unmarshal(pc.expected["grads"], &grads); err != nil {
				t.Fatal(err)
			}
			gm := &Model{Cfg: pc.model.Cfg, P: g, nm: pc.model.nm}
			ours := map[string][]float32{}
			for _, st := range gm.StateDict() {
				ours[st.Name] = st.Data
			}
			if len(grads) != len(ours) {
				t.Errorf("reference has %d gradients, we have %d", len(grads), len(ours))
			}
			for name, raw := range grads {
				want := flatten(t, raw)
				got, ok := ours[name]
				if !ok {
					t.Errorf("no gradient for %q", name)
					continue
				}
				if len(got) != len(want) {
					t.Errorf("%s: %d values, want %d", name, len(got), len(want))
					continue
				}
				scale, maxErr := 0.0, 0.0
				for i, w := range want {
					scale = math.Max(scale, math.Abs(w))
					maxErr = math.Max(maxErr, math.Abs(float64(got[i])-w))
				}
				if maxErr > math.Max(parityGradRelTol*scale, parityGradAbsTol) {
					t.Errorf("%s: gradient differs by %.3g, more than %g × max |grad| %.3g", name, maxErr, parityGradRelTol, scale)
				}
			}
		})
	}
}
