package circuits

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/internal/testenv"
)

// parityTol is the bar for composition scores and eigenvalue
// positivity against those values: both sides are float64 computations
// from the same float32 weights.
const parityTol = 1e-6

// safetensors reads a safetensors file of float32 tensors into float64.
func safetensors(t *testing.T, path string) map[string]struct {
	shape []int
	data  []float64
} {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		shape []int
		data  []float64
	}{}
	body := b[8+n:]
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		if info.Dtype != "F32" {
			t.Fatalf("%s: %s has dtype %s, want F32", path, name, info.Dtype)
		}
		raw := body[info.Offsets[0]:info.Offsets[1]]
		data := make([]float64, len(raw)/4)
		for i := range data {
			data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		out[name] = struct {
			shape []int
			data  []float64
		}{info.Shape, data}
	}
	return out
}

// TestParity compares composition scores and eigenvalue positivity with
// every fixture model's expected.json: values computed by an independent
// float64 PyTorch implementation of TransformerLens's definitions (see the
// fixtures' README). The fixtures come through testenv.Dir.
func TestParity(t *testing.T) {
	parityDir := testenv.ParityDir(t)
	dirs, err := filepath.Glob(filepath.Join(parityDir, "*", "expected.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no expected.json in the parity fixtures at %s (%v)", parityDir, err)
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var cfg struct {
				NLayers int `json:"n_layers"`
				NHeads  int `json:"n_heads"`
				DModel  int `json:"d_model"`
				DHead   int `json:"d_head"`
			}
			var want struct {
				Composition       map[string][][][][]float64 `json:"composition"`
				OVEigenPositivity [][]float64                `json:"ov_eigen_positivity"`
				FullOVTop1        [][]float64                `json:"full_ov_top1"`
			}
			readJSON(t, filepath.Join(dir, "config.json"), &cfg)
			readJSON(t, exp, &want)
			w := safetensors(t, filepath.Join(dir, "model.safetensors"))
			matrix := func(name string, i, r, c int) *mat.Dense {
				d := w[name].data
				return mat.NewDense(r, c, d[i*r*c:(i+1)*r*c])
			}
			heads := make([][]head64, cfg.NLayers)
			for l := range heads {
				for h := range cfg.NHeads {
					p := fmt.Sprintf("blocks.%d.attn.", l)
					heads[l] = append(heads[l], head64{
						Q: matrix(p+"W_Q", h, cfg.DModel, cfg.DHead), K: matrix(p+"W_K", h, cfg.DModel, cfg.DHead),
						V: matrix(p+"W_V", h, cfg.DModel, cfg.DHead), O: matrix(p+"W_O", h, cfg.DHead, cfg.DModel),
					})
				}
			}
			got, err := compositionScores(context.Background(), heads)
			if err != nil {
				t.Fatal(err)
			}
			for m, name := range []string{"Q", "K", "V"} {
				g := got.modes()[m]
				for l1, a := range want.Composition[name] {
					for h1, b := range a {
						for l2, c := range b {
							for h2, wv := range c {
								if gv := g[l1][h1][l2][h2]; math.Abs(gv-wv) > parityTol {
									t.Errorf("%s[%d][%d][%d][%d] = %v, want %v", name, l1, h1, l2, h2, gv, wv)
								}
							}
						}
					}
				}
			}
			wE, wU := w["embed.W_E"], w["unembed.W_U"]
			embed := mat.NewDense(wE.shape[0], wE.shape[1], wE.data)
			unembed := mat.NewDense(wU.shape[0], wU.shape[1], wU.data)
			for l := range cfg.NLayers {
				for h, hw := range heads[l] {
					ov, err := FullOV(embed, hw.V, hw.O, unembed)
					if err != nil {
						t.Fatal(err)
					}
					pos, err := EigenPositivity(ov)
					if err != nil {
						t.Fatal(err)
					}
					if wp := want.OVEigenPositivity[l][h]; math.Abs(pos-wp) > parityTol {
						t.Errorf("%s: OV eigenvalue positivity %v, want %v", HeadLabel(l, h), pos, wp)
					}
					top1, err := Top1Diagonal(context.Background(), ov)
					if err != nil {
						t.Fatal(err)
					}
					if wt := want.FullOVTop1[l][h]; top1 != wt {
						t.Errorf("%s: full OV top-1 %v, want %v", HeadLabel(l, h), top1, wt)
					}
				}
			}
		})
	}
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
