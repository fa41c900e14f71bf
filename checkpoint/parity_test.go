package checkpoint_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/internal/testenv"
)

// The parity fixtures (testenv.Dir) were not written by the official
// Python safetensors library: their README.md says they were written by an
// independent writer of the same layout, "like a bare state dict: no
// __metadata__, header padded with spaces to a multiple of 8 bytes, tensors
// in name order". Reproducing them byte for byte therefore shows that Write
// agrees with that writer's reading of the layout, not with the official
// library itself.

// parityConfig holds the TransformerLens config fields that decide the
// state dict's names and shapes.
type parityConfig struct {
	NLayers           int     `json:"n_layers"`
	DModel            int     `json:"d_model"`
	NHeads            int     `json:"n_heads"`
	DHead             int     `json:"d_head"`
	DMLP              *int    `json:"d_mlp"`
	DVocab            int     `json:"d_vocab"`
	DVocabOut         int     `json:"d_vocab_out"`
	NCtx              int     `json:"n_ctx"`
	AttnOnly          bool    `json:"attn_only"`
	NormalizationType *string `json:"normalization_type"`
	PosEmbedType      string  `json:"positional_embedding_type"`
}

// stateDictShapes returns the TransformerLens state-dict names and shapes
// implied by cfg.
func stateDictShapes(t *testing.T, cfg parityConfig) map[string][]int {
	t.Helper()
	d, h, dh := cfg.DModel, cfg.NHeads, cfg.DHead
	shapes := map[string][]int{
		"embed.W_E":   {cfg.DVocab, d},
		"unembed.W_U": {d, cfg.DVocabOut},
		"unembed.b_U": {cfg.DVocabOut},
	}
	if cfg.PosEmbedType != "standard" {
		t.Fatalf("positional_embedding_type %q not covered by this test", cfg.PosEmbedType)
	}
	shapes["pos_embed.W_pos"] = []int{cfg.NCtx, d}
	norm := func(prefix string) {
		switch {
		case cfg.NormalizationType == nil:
		case *cfg.NormalizationType == "LN":
			shapes[prefix+".w"], shapes[prefix+".b"] = []int{d}, []int{d}
		default:
			t.Fatalf("normalization_type %q not covered by this test", *cfg.NormalizationType)
		}
	}
	for l := range cfg.NLayers {
		p := fmt.Sprintf("blocks.%d.", l)
		norm(p + "ln1")
		for _, m := range []string{"Q", "K", "V"} {
			shapes[p+"attn.W_"+m] = []int{h, d, dh}
			shapes[p+"attn.b_"+m] = []int{h, dh}
		}
		shapes[p+"attn.W_O"] = []int{h, dh, d}
		shapes[p+"attn.b_O"] = []int{d}
		if !cfg.AttnOnly {
			norm(p + "ln2")
			m := *cfg.DMLP
			shapes[p+"mlp.W_in"], shapes[p+"mlp.b_in"] = []int{d, m}, []int{m}
			shapes[p+"mlp.W_out"], shapes[p+"mlp.b_out"] = []int{m, d}, []int{d}
		}
	}
	norm("ln_final")
	return shapes
}

// TestParityFiles loads the fixture models (written by an independent
// writer, see above), checks every tensor's name and shape against the
// config, reads every value, and checks that writing them back reproduces
// the file byte for byte.
func TestParityFiles(t *testing.T) {
	parityDir := testenv.ParityDir(t)
	dirs, err := filepath.Glob(filepath.Join(parityDir, "*", "model.safetensors"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no model.safetensors in the parity fixtures at %s (%v)", parityDir, err)
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cfg parityConfig
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatalf("config.json: %v", err)
			}
			want := stateDictShapes(t, cfg)

			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for how, f := range checkpoint.Readers(t, orig) {
				if f.Metadata != nil {
					t.Errorf("%s: Metadata = %v, want none", how, f.Metadata)
				}
				infos := f.Tensors()
				if len(infos) != len(want) {
					t.Errorf("%s: %d tensors, want %d from the config", how, len(infos), len(want))
				}
				var tensors []checkpoint.Tensor
				for _, info := range infos {
					shape, ok := want[info.Name]
					if !ok || info.DType != checkpoint.F32 || !slices.Equal(info.Shape, shape) {
						t.Errorf("%s: tensor %q is %s %v, want F32 %v (present: %v)", how, info.Name, info.DType, info.Shape, shape, ok)
						continue
					}
					data := make([]float32, info.Numel())
					if err := f.Float32Into(data, info.Name, shape); err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					for i, v := range data {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							t.Errorf("%s: %s[%d] = %v, want finite weights", how, info.Name, i, v)
							break
						}
					}
					tensors = append(tensors, checkpoint.Tensor{Name: info.Name, Shape: info.Shape, Data: data})
				}
				var buf bytes.Buffer
				if err := checkpoint.Write(&buf, tensors, nil); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), orig) {
					t.Errorf("%s: rewriting the tensors gives %d bytes that differ from the fixture writer's %d", how, buf.Len(), len(orig))
				}
			}
		})
	}
}
