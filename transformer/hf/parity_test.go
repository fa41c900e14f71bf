package hf

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// Tolerances against TransformerLens's float64 forward after its own
// Hugging Face conversion (../shared/testdata/hf/README.md): our float32
// forward differs by rounding only (the fixture notes TL's own float32 run
// differs from float64 by about 1e-5 on its logits).
const (
	parityLogitTol   = 1e-4
	parityLossTol    = 1e-5
	parityPatternTol = 1e-5
	// parityAccuracyTol: TransformerLens reports the accuracy as a float32
	// (4/93 = 0.043010752688… prints as 0.04301075264811516).
	parityAccuracyTol = 1e-7
)

// hfExpected is expected.json of a ../shared/testdata/hf fixture.
type hfExpected struct {
	Logits   [][][]float64     `json:"logits"`   // [batch][pos][d_vocab]
	Loss     float64           `json:"loss"`     // mean next-token cross-entropy
	Accuracy float64           `json:"accuracy"` // argmax at 0..T-2 vs the next token
	Pattern  [][][][][]float64 `json:"pattern"`  // [layer][batch][head][q][k]
	TLConfig json.RawMessage   `json:"tl_config"`
}

func TestParityGPT2Tiny(t *testing.T) {
	// TransformerLens stores W_U as its own copy of W_Eᵀ, the same numbers.
	checkParity(t, "gpt2_tiny", func(c *transformer.Config) { c.TiedEmbeddings = false })
}

// TestParityLlamaGQATiny: LlamaForCausalLM with RMS norm, rotary
// (rotate-half), SwiGLU and 2 K/V heads for 8 query heads.
func TestParityLlamaGQATiny(t *testing.T) {
	checkParity(t, "llama_gqa_tiny", func(*transformer.Config) {})
}

// TestParityPythiaTiny: GPTNeoXForCausalLM with rotary on a quarter of
// each head, fused per-head interleaved query_key_value and parallel
// attention and MLP.
func TestParityPythiaTiny(t *testing.T) {
	checkParity(t, "pythia_tiny", func(*transformer.Config) {})
}

// checkParity loads the fixture folder sub of ../shared/testdata/hf and
// compares its config, logits, loss, accuracy and patterns with what
// TransformerLens computed; fix adjusts our config where TransformerLens
// stores the same numbers differently.
func checkParity(t *testing.T, sub string, fix func(*transformer.Config)) {
	t.Helper()
	dir := filepath.Join(testenv.SharedDir(t, "hf"), sub)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var toks [][]int
	transformertest.ReadJSON(t, filepath.Join(dir, "tokens.json"), &toks)
	var exp hfExpected
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &exp)

	// The config TransformerLens used, read by transformer.ParseConfig,
	// is the one we derived from config.json.
	tl, err := transformer.ParseConfig(exp.TLConfig)
	if err != nil {
		t.Fatalf("tl_config: %v", err)
	}
	got := m.Cfg
	got.InitRange = tl.InitRange
	fix(&got)
	if got != tl {
		t.Errorf("config %+v, TransformerLens used %+v", m.Cfg, tl)
	}

	set, cache := hooks.Capture(func(n hooks.Name) bool { return n.Kind() == "attn.hook_pattern" })
	logits, err := m.Run(context.Background(), toks, set)
	if err != nil {
		t.Fatal(err)
	}
	B, T, V := len(exp.Logits), len(exp.Logits[0]), len(exp.Logits[0][0])
	if want := []int{B, T, V}; len(logits.Data) != B*T*V {
		t.Fatalf("logits shape %v, want %v", logits.Shape, want)
	}
	maxErr, correct := 0.0, 0
	for b := range B {
		for p := range T {
			row := logits.Data[(b*T+p)*V : (b*T+p+1)*V]
			best := 0
			for v := range V {
				maxErr = math.Max(maxErr, math.Abs(float64(row[v])-exp.Logits[b][p][v]))
				if row[v] > row[best] {
					best = v
				}
			}
			if p < T-1 && best == toks[b][p+1] {
				correct++
			}
		}
	}
	t.Logf("max |logit − TransformerLens| = %.3g", maxErr)
	if maxErr > parityLogitTol {
		t.Errorf("logits differ from TransformerLens by %.3g > %g", maxErr, parityLogitTol)
	}
	if acc := float64(correct) / float64(B*(T-1)); math.Abs(acc-exp.Accuracy) > parityAccuracyTol {
		t.Errorf("accuracy %g, TransformerLens %g", acc, exp.Accuracy)
	}

	loss, err := m.Loss(context.Background(), toks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.9f, TransformerLens %.9f", loss, exp.Loss)
	if math.Abs(loss-exp.Loss) > parityLossTol {
		t.Errorf("loss %.9f, TransformerLens %.9f", loss, exp.Loss)
	}

	maxErr = 0
	for l, want := range exp.Pattern {
		p, ok := cache.Get(hooks.Pattern(l))
		if !ok {
			t.Fatalf("pattern %d not cached", l)
		}
		i := 0
		for _, wb := range want {
			for _, wh := range wb {
				for _, wq := range wh {
					for _, w := range wq {
						if i >= len(p.Data) {
							t.Fatalf("layer %d: pattern shape %v smaller than TransformerLens's", l, p.Shape)
						}
						maxErr = math.Max(maxErr, math.Abs(float64(p.Data[i])-w))
						i++
					}
				}
			}
		}
		if i != len(p.Data) {
			t.Fatalf("layer %d: pattern has %d values, TransformerLens %d", l, len(p.Data), i)
		}
	}
	t.Logf("max |pattern − TransformerLens| = %.3g", maxErr)
	if maxErr > parityPatternTol {
		t.Errorf("patterns differ from TransformerLens by %.3g > %g", maxErr, parityPatternTol)
	}
}
