package hf

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// gpt2TestConfig is a GPT-2-shaped config: LN, gelu_new, learned
// positions, tied or not.
func gpt2TestConfig(tied bool) transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 12, NHeads: 3, DHead: 4, DMLP: 20, DVocab: 11, NCtx: 9,
		NormalizationType: transformer.NormLN, ActFn: transformer.ActGELUNew, TiedEmbeddings: tied}
}

// hfConfigJSON is config.json for gpt2TestConfig, with extra fields.
func hfConfigJSON(tied bool, extra string) string {
	return `{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_embd": 12, "n_head": 3,
		"n_inner": 20, "vocab_size": 11, "n_positions": 9, "n_ctx": 9, "activation_function": "gelu_new",
		"layer_norm_epsilon": 1e-05, "tie_word_embeddings": ` + strconv.FormatBool(tied) + extra + `}`
}

// writeGPT2Folder writes m as Hugging Face saves a GPT2LMHeadModel (names
// prefixed by prefix), with the given config.json. It is the inverse of
// the conversion, written from the Hugging Face side: c_attn's column
// j of part s (q, k, v) is head j/d_head's column j%d_head of W_s.
func writeGPT2Folder(t *testing.T, m *transformer.Model, prefix, config string) string {
	t.Helper()
	c := m.Cfg
	d, H, dh := c.DModel, c.NHeads, c.DHead
	tl := map[string][]float32{}
	for _, st := range m.StateDict() {
		tl[st.Name] = st.Data
	}
	var out []checkpoint.Tensor
	add := func(name string, data []float32, shape ...int) {
		out = append(out, checkpoint.Tensor{Name: prefix + name, Shape: shape, Data: data})
	}
	add("wte.weight", tl["embed.W_E"], c.DVocab, d)
	add("wpe.weight", tl["pos_embed.W_pos"], c.NCtx, d)
	for l := range c.NLayers {
		hf, b := "h."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		add(hf+"ln_1.weight", tl[b+"ln1.w"], d)
		add(hf+"ln_1.bias", tl[b+"ln1.b"], d)
		w := make([]float32, d*3*H*dh)
		var bias []float32
		for s, n := range []string{"Q", "K", "V"} {
			W := tl[b+"attn.W_"+n] // [H, d, dh]
			for row := range d {
				for j := range H * dh {
					w[row*3*H*dh+s*H*dh+j] = W[((j/dh)*d+row)*dh+j%dh]
				}
			}
			bias = append(bias, tl[b+"attn.b_"+n]...)
		}
		add(hf+"attn.c_attn.weight", w, d, 3*H*dh)
		add(hf+"attn.c_attn.bias", bias, 3*H*dh)
		add(hf+"attn.c_proj.weight", tl[b+"attn.W_O"], H*dh, d)
		add(hf+"attn.c_proj.bias", tl[b+"attn.b_O"], d)
		add(hf+"ln_2.weight", tl[b+"ln2.w"], d)
		add(hf+"ln_2.bias", tl[b+"ln2.b"], d)
		add(hf+"mlp.c_fc.weight", tl[b+"mlp.W_in"], d, c.DMLP)
		add(hf+"mlp.c_fc.bias", tl[b+"mlp.b_in"], c.DMLP)
		add(hf+"mlp.c_proj.weight", tl[b+"mlp.W_out"], c.DMLP, d)
		add(hf+"mlp.c_proj.bias", tl[b+"mlp.b_out"], d)
	}
	add("ln_f.weight", tl["ln_final.w"], d)
	add("ln_f.bias", tl["ln_final.b"], d)
	if !c.TiedEmbeddings {
		wu := tl["unembed.W_U"] // [d, V]
		lm := make([]float32, len(wu))
		for i := range d {
			for v := range c.DVocab {
				lm[v*d+i] = wu[i*c.DVocab+v]
			}
		}
		out = append(out, checkpoint.Tensor{Name: "lm_head.weight", Shape: []int{c.DVocab, d}, Data: lm})
	}
	dir := t.TempDir()
	if err := checkpoint.WriteFile(filepath.Join(dir, WeightsFile), out, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// randomGPT2 returns a random model of gpt2TestConfig with b_U zero (GPT-2
// has no output bias).
func randomGPT2(t *testing.T, tied bool, seed uint64) *transformer.Model {
	m := transformertest.Random(t, gpt2TestConfig(tied), seed)
	clear(m.P.BU)
	return m
}

// TestLoadGPT2RoundTrip: a model written in Hugging Face's GPT-2 layout
// loads back with the same parameters and bit-identical logits, tied or
// not, with or without the GPT2LMHeadModel prefix.
func TestLoadGPT2RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tied   bool
		prefix string
	}{{"tied", true, "transformer."}, {"untied", false, "transformer."}, {"bare_GPT2Model", true, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			want := randomGPT2(t, tc.tied, 7)
			dir := writeGPT2Folder(t, want, tc.prefix, hfConfigJSON(tc.tied, ""))
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cfg != want.Cfg.WithDefaults() {
				gc, wc := got.Cfg, want.Cfg.WithDefaults()
				gc.InitRange, wc.InitRange = 0, 0
				if gc != wc {
					t.Errorf("config %+v, want %+v", got.Cfg, want.Cfg)
				}
			}
			gs, ws := got.StateDict(), want.StateDict()
			if len(gs) != len(ws) {
				t.Fatalf("%d tensors, want %d", len(gs), len(ws))
			}
			for i := range ws {
				if gs[i].Name != ws[i].Name || !slices.Equal(gs[i].Shape, ws[i].Shape) || !slices.Equal(gs[i].Data, ws[i].Data) {
					t.Errorf("tensor %s %v differs from %s %v", gs[i].Name, gs[i].Shape, ws[i].Name, ws[i].Shape)
				}
			}
			toks := transformertest.Tokens(rand.New(rand.NewPCG(1, 1)), 2, 9, 11)
			gl, err := got.Run(context.Background(), toks, nil)
			if err != nil {
				t.Fatal(err)
			}
			wl, err := want.Run(context.Background(), toks, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gl.Data, wl.Data) {
				t.Error("logits differ from the original model's")
			}
		})
	}
}

// TestLoadGPT2RefusesConfig: config.json fields that would change the
// computation, unknown ones and unsupported formats are errors naming them.
func TestLoadGPT2RefusesConfig(t *testing.T) {
	m := randomGPT2(t, true, 3)
	for _, tc := range []struct{ name, config, want string }{
		{"attention scaling not a boolean", hfConfigJSON(true, `, "scale_attn_weights": "no"`), "scale_attn_weights"},
		{"cross attention", hfConfigJSON(true, `, "add_cross_attention": true`), `"add_cross_attention"`},
		{"pruned heads", hfConfigJSON(true, `, "pruned_heads": {"0": [1]}`), `"pruned_heads"`},
		{"unknown field", hfConfigJSON(true, `, "rotary_dim": 4`), `"rotary_dim"`},
		{"activation", strings.Replace(hfConfigJSON(true, ""), `"gelu_new"`, `"swish"`, 1), `"activation_function"`},
		{"n_ctx", strings.Replace(hfConfigJSON(true, ""), `"n_ctx": 9`, `"n_ctx": 8`, 1), "n_ctx"},
		{"model_type", strings.Replace(hfConfigJSON(true, ""), `"gpt2"`, `"bert"`, 1), `"bert"`},
		{"shape", strings.Replace(hfConfigJSON(true, ""), `"n_inner": 20`, `"n_inner": 16`, 1), "mlp.c_fc.weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeGPT2Folder(t, m, "transformer.", tc.config)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "hf: ") {
				t.Errorf("Load: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	// The same folder with the accepted defaults written out loads.
	ok := hfConfigJSON(true, `, "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true, "reorder_and_upcast_attn": true,
		"attn_pdrop": 0.1, "use_cache": true, "bos_token_id": 10, "pruned_heads": {}, "task_specific_params": {"text-generation": {"do_sample": true}}`)
	if _, err := Load(writeGPT2Folder(t, m, "transformer.", ok)); err != nil {
		t.Errorf("defaults written out: %v", err)
	}
}

// TestLoadGPT2RefusesTensors: a missing, extra or mis-shaped tensor is an
// error naming it; the causal-mask buffers old checkpoints hold are not.
func TestLoadGPT2RefusesTensors(t *testing.T) {
	m := randomGPT2(t, true, 5)
	dir := writeGPT2Folder(t, m, "transformer.", hfConfigJSON(true, ""))
	f, err := checkpoint.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	var base []checkpoint.Tensor
	for _, info := range f.Tensors() {
		data, shape, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		base = append(base, checkpoint.Tensor{Name: info.Name, Shape: shape, Data: data})
	}
	f.Close()
	rewrite := func(t *testing.T, ts []checkpoint.Tensor) string {
		t.Helper()
		if err := checkpoint.WriteFile(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	without := func(name string) []checkpoint.Tensor {
		return slices.DeleteFunc(slices.Clone(base), func(x checkpoint.Tensor) bool { return x.Name == name })
	}
	buf := checkpoint.Tensor{Name: "transformer.h.0.attn.bias", Shape: []int{1, 1, 9, 9}, Data: make([]float32, 81)}
	if _, err := Load(rewrite(t, append(slices.Clone(base), buf))); err != nil {
		t.Errorf("with the attn.bias buffer: %v", err)
	}
	for _, tc := range []struct {
		name string
		ts   []checkpoint.Tensor
		want string
	}{
		{"missing", without("transformer.h.1.mlp.c_fc.bias"), `"transformer.h.1.mlp.c_fc.bias"`},
		{"extra", append(slices.Clone(base), checkpoint.Tensor{Name: "transformer.h.0.attn.q_norm", Shape: []int{4}, Data: make([]float32, 4)}), `"transformer.h.0.attn.q_norm"`},
		{"shape", append(without("transformer.wpe.weight"), checkpoint.Tensor{Name: "transformer.wpe.weight", Shape: []int{8, 12}, Data: make([]float32, 96)}), `"transformer.wpe.weight"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(rewrite(t, tc.ts))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestFolderDetection: IsFolder tells a Hugging Face folder from a
// Workbench run folder (whose old config.json is a training config) and a
// file; a pickle-only folder is refused with the conversion to run.
func TestFolderDetection(t *testing.T) {
	m := randomGPT2(t, true, 9)
	hfDir := writeGPT2Folder(t, m, "transformer.", hfConfigJSON(true, ""))
	run := t.TempDir()
	train, _ := json.Marshal(map[string]any{"steps": 10, "lr": 1e-3})
	if err := os.WriteFile(filepath.Join(run, ConfigFile), train, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{{hfDir, true}, {run, false}, {filepath.Join(hfDir, WeightsFile), false}, {filepath.Join(run, "absent"), false}} {
		if got := IsFolder(tc.path); got != tc.want {
			t.Errorf("IsFolder(%s) = %t, want %t", tc.path, got, tc.want)
		}
	}
	if err := os.Rename(filepath.Join(hfDir, WeightsFile), filepath.Join(hfDir, PickleFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(hfDir); err == nil || !strings.Contains(err.Error(), PickleFile) || !strings.Contains(err.Error(), "safe_serialization") {
		t.Errorf("pickle only: %v, want the conversion named", err)
	}
}

// TestLoadSharded: weights split over shards listed in
// model.safetensors.index.json load as the single file does; a shard name
// that leaves the folder is refused.
func TestLoadSharded(t *testing.T) {
	want := randomGPT2(t, false, 11)
	dir := writeGPT2Folder(t, want, "transformer.", hfConfigJSON(false, ""))
	f, err := checkpoint.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	shards := [2][]checkpoint.Tensor{}
	weightMap := map[string]string{}
	for i, info := range f.Tensors() {
		data, shape, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		shards[i%2] = append(shards[i%2], checkpoint.Tensor{Name: info.Name, Shape: shape, Data: data})
		weightMap[info.Name] = "model-0000" + strconv.Itoa(i%2+1) + "-of-00002.safetensors"
	}
	f.Close()
	if err := os.Remove(filepath.Join(dir, WeightsFile)); err != nil {
		t.Fatal(err)
	}
	for i, ts := range shards {
		if err := checkpoint.WriteFile(filepath.Join(dir, "model-0000"+strconv.Itoa(i+1)+"-of-00002.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex := func(m map[string]string) {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": m})
		if err := os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex(weightMap)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	gs, ws := got.StateDict(), want.StateDict()
	for i := range ws {
		if !slices.Equal(gs[i].Data, ws[i].Data) {
			t.Errorf("tensor %s differs", ws[i].Name)
		}
	}
	weightMap["transformer.wte.weight"] = "../elsewhere.safetensors"
	writeIndex(weightMap)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("shard outside the folder: %v", err)
	}
}
