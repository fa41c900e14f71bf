package hf

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// fixtureLogitTol bounds |our float32 logits − the float64 NumPy
// reference| on testdata's fixtures (made by testdata/make_fixtures.py
// from the published architecture descriptions, with the weights as
// stored): float32 rounding through two to four tiny blocks is ~1e-6.
const fixtureLogitTol = 1e-4

// fixtureExpected is expected.json of a testdata fixture.
type fixtureExpected struct {
	Tokens [][]int       `json:"tokens"`
	Logits [][][]float64 `json:"logits"` // [batch][pos][d_vocab]
}

// fixtureLogits loads testdata/name and returns its logits on the
// fixture's tokens, with the expectation.
func fixtureLogits(t *testing.T, dir string) (*transformer.Model, []float32, fixtureExpected) {
	t.Helper()
	var exp fixtureExpected
	transformertest.ReadJSON(t, filepath.Join("testdata", filepath.Base(dir), "expected.json"), &exp)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Run(context.Background(), exp.Tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, logits.Data, exp
}

// maxLogitDiff returns the largest |got − want| over positions where keep
// is true.
func maxLogitDiff(got []float32, want [][][]float64, keep func(pos int) bool) float64 {
	worst, i := 0.0, 0
	for _, seq := range want {
		for p, row := range seq {
			for _, w := range row {
				if keep(p) {
					worst = math.Max(worst, math.Abs(float64(got[i])-w))
				}
				i++
			}
		}
	}
	return worst
}

func allPositions(int) bool { return true }

// TestFixtures loads each testdata folder (GPT-Neo with alternating global
// and local attention and no score scaling; Qwen2 with q/k/v biases, GQA
// and tied embeddings; Mistral with a sliding window shorter than the
// sequence; F16 and BF16 copies) and compares the logits with the
// independent float64 reference.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		name, dtype string
		check       func(c transformer.Config) bool
	}{
		{"gpt_neo_tiny", "F32", func(c transformer.Config) bool {
			return c.AttnScale == 1 && c.UseLocalAttn && c.AttnTypes == "global,local,global,local" && c.WindowSize == 3 && c.TiedEmbeddings
		}},
		{"gpt_neo_tiny_f16", "F16", func(c transformer.Config) bool { return c.AttnScale == 1 && c.WindowSize == 3 }},
		{"qwen2_tiny", "F32", func(c transformer.Config) bool {
			return c.NKeyValueHeads == 2 && c.TiedEmbeddings && c.RotaryBase == 500 && !c.UseLocalAttn
		}},
		{"qwen2_tiny_bf16", "BF16", func(c transformer.Config) bool { return c.NKeyValueHeads == 2 }},
		{"mistral_tiny", "F32", func(c transformer.Config) bool {
			return c.UseLocalAttn && c.WindowSize == 5 && c.AttnTypes == "local,local" && !c.TiedEmbeddings
		}},
		{"gpt2_inverse_layer_tiny", "F32", func(c transformer.Config) bool {
			return c.ScaleAttnByInverseLayerIdx && c.AttnScale == 2 && !c.UseLocalAttn
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			f, err := checkpoint.Open(filepath.Join(dir, WeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, info := range f.Tensors() {
				if string(info.DType) != tc.dtype {
					t.Fatalf("fixture tensor %s is %s, want %s", info.Name, info.DType, tc.dtype)
				}
			}
			f.Close()
			m, got, exp := fixtureLogits(t, dir)
			if !tc.check(m.Cfg) {
				t.Errorf("config %+v", m.Cfg)
			}
			d := maxLogitDiff(got, exp.Logits, allPositions)
			t.Logf("max abs logit difference from the reference: %.2g", d)
			if d > fixtureLogitTol {
				t.Errorf("logits differ from the reference by up to %g (tolerance %g)", d, fixtureLogitTol)
			}
			if strings.HasPrefix(tc.name, "qwen2") {
				b := m.P.Blocks[1]
				if b.BQ[0] == 0 || b.BK[0] == 0 || b.BV[0] == 0 || b.BO[0] != 0 {
					t.Errorf("Qwen2 biases: b_Q %g, b_K %g, b_V %g (want non-zero), b_O %g (want 0)", b.BQ[0], b.BK[0], b.BV[0], b.BO[0])
				}
			}
		})
	}
}

// editedFixture copies testdata/name into a temporary folder with the
// first old in its config.json replaced by new, and returns the folder.
func editedFixture(t *testing.T, name, old, new string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), old) {
		t.Fatalf("%s's config.json has no %s", name, old)
	}
	cfg = []byte(strings.Replace(string(cfg), old, new, 1))
	weights, err := os.ReadFile(filepath.Join(src, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644) != nil || os.WriteFile(filepath.Join(dir, WeightsFile), weights, 0o644) != nil {
		t.Fatal("writing the copy failed")
	}
	return dir
}

// TestMistralWindowMatters: with its sliding_window (5) removed, the
// Mistral fixture's logits still agree with the reference at positions
// 0–4, which see every key either way, and differ after: the window is
// what makes TestFixtures pass there.
func TestMistralWindowMatters(t *testing.T) {
	m, got, exp := fixtureLogits(t, editedFixture(t, "mistral_tiny", `"sliding_window": 5`, `"sliding_window": null`))
	if m.Cfg.UseLocalAttn {
		t.Fatalf("sliding_window null read as local attention: %+v", m.Cfg)
	}
	if d := maxLogitDiff(got, exp.Logits, func(p int) bool { return p < 5 }); d > fixtureLogitTol {
		t.Errorf("positions 0-4: logits differ by %g without the window, want agreement", d)
	}
	if d := maxLogitDiff(got, exp.Logits, func(p int) bool { return p >= 5 }); d < 1e-2 {
		t.Errorf("positions 5+: logits differ by only %g without the window", d)
	}
}

// TestGPT2InverseLayerMatters: the GPT-2 fixture read without
// scale_attn_by_inverse_layer_idx misses the reference, so TestFixtures
// checks the option's effect.
func TestGPT2InverseLayerMatters(t *testing.T) {
	_, got, exp := fixtureLogits(t, editedFixture(t, "gpt2_inverse_layer_tiny", `"scale_attn_by_inverse_layer_idx": true`, `"scale_attn_by_inverse_layer_idx": false`))
	if d := maxLogitDiff(got, exp.Logits, allPositions); d < 1e-2 {
		t.Errorf("logits differ by only %g without scale_attn_by_inverse_layer_idx", d)
	}
}

// TestDescribe: Describe reports the model_type, the config Load builds and
// every tensor's dtype and shape from the headers alone.
func TestDescribe(t *testing.T) {
	dir := filepath.Join("testdata", "qwen2_tiny_bf16")
	d, err := Describe(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// 2 layers × (2 norms, 4 projections, 3 biases, 3 MLP matrices) + embedding + final norm.
	if d.ModelType != "qwen2" || d.ConfigErr != nil || d.Config != m.Cfg || len(d.Tensors) != 2*12+2 || len(d.Files) != 1 || d.Files[0] != WeightsFile {
		t.Errorf("Describe: model_type %q, %d tensors, files %v, config %+v (Load's %+v)", d.ModelType, len(d.Tensors), d.Files, d.Config, m.Cfg)
	}
	for _, info := range d.Tensors {
		if info.DType != "BF16" {
			t.Errorf("tensor %s: dtype %s, want BF16", info.Name, info.DType)
		}
	}
	if _, err := Describe(t.TempDir()); err == nil || !strings.HasPrefix(err.Error(), "hf: ") {
		t.Errorf("Describe of an empty folder: %v, want an hf: error", err)
	}
	// A folder whose config does not convert is still described, with the reason.
	bad := filepath.Join(t.TempDir(), "bert")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if os.WriteFile(filepath.Join(bad, ConfigFile), []byte(`{"model_type": "bert"}`), 0o644) != nil || os.WriteFile(filepath.Join(bad, WeightsFile), weights, 0o644) != nil {
		t.Fatal("writing the folder failed")
	}
	d, err = Describe(bad)
	if err != nil || d.ModelType != "bert" || d.ConfigErr == nil || !strings.Contains(d.ConfigErr.Error(), `"bert" is not supported`) || len(d.Tensors) != 26 {
		t.Errorf("Describe of a bert folder: %+v, %v", d, err)
	}
}
