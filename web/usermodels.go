package web

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/formats"
)

// loadNamedModels loads the models of serve --model, in order, each named
// after its path's base name (made unique).
func loadNamedModels(paths []string) ([]*model, error) {
	var out []*model
	taken := map[string]bool{}
	for _, n := range embeddedRuns() {
		taken[n] = true
	}
	for _, p := range paths {
		m, err := loadNamedModel(p)
		if err != nil {
			return nil, fmt.Errorf("web: --model %s: %w", p, err)
		}
		m.name = uniqueName(modelNameFor(p), taken)
		taken[m.name] = true
		out = append(out, m)
	}
	return out, nil
}

// loadNamedModel loads a model in any format formats.Load reads (a
// Hugging Face folder, a llama2.c checkpoint, a TransformerLens safetensors
// file or a run folder) and the tokenizer beside it.
func loadNamedModel(path string) (*model, error) {
	tm, err := formats.Load(path, "")
	if err != nil {
		return nil, err
	}
	md := &model{source: "model", m: tm, task: taskFor(tm.Cfg, ""), file: filepath.Base(filepath.Clean(path))}
	md.bufs.New = func() any { return new([]byte) }
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	if err := md.attachTokenizer(dir); err != nil {
		return nil, err
	}
	return md, nil
}

// Tokenizer files the dashboard looks for beside a model.
const (
	tokenizerJSON = "tokenizer.json"
	vocabJSON     = "vocab.json"
	mergesTxt     = "merges.txt"
)

// tokenizerFiles names the tokenizer files in dir ("" when there are none).
func tokenizerFiles(dir string) string {
	exists := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, name))
		return err == nil && st.Mode().IsRegular()
	}
	switch {
	case exists(tokenizerJSON):
		return tokenizerJSON
	case exists(vocabJSON) && exists(mergesTxt):
		return vocabJSON + " + " + mergesTxt
	}
	return ""
}

// attachTokenizer loads the tokenizer in dir, if there is one; without one
// the model keeps token-id input and tokNote says why. A tokenizer whose
// ids reach beyond the model's vocabulary is an error.
func (m *model) attachTokenizer(dir string) error {
	files := tokenizerFiles(dir)
	if files == "" {
		m.tokNote = "no tokenizer: the model's folder holds neither " + tokenizerJSON + " nor " + vocabJSON + " + " + mergesTxt + ", so its inputs are token ids"
		return nil
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	if n := tok.VocabSize(); n > m.m.Cfg.DVocab {
		return fmt.Errorf("the tokenizer (%s) has %d tokens, more than the model's d_vocab %d", files, n, m.m.Cfg.DVocab)
	}
	m.tok, m.tokFiles = tok, files
	return nil
}

// modelNameFor turns a --model path into a model name: its base name
// without .safetensors (a file called model.safetensors takes its
// folder's name), with characters checkName refuses replaced by '-'.
func modelNameFor(path string) string {
	clean := filepath.Clean(path)
	base := filepath.Base(clean)
	if base == modelFile {
		if abs, err := filepath.Abs(clean); err == nil {
			base = filepath.Base(filepath.Dir(abs))
		}
	}
	base = strings.TrimSuffix(base, ".safetensors")
	var b strings.Builder
	for i, c := range base {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			c = '_'
		}
		b.WriteRune(c)
	}
	name := b.String()
	if len(name) > maxNameLen-8 {
		name = name[:maxNameLen-8]
	}
	if name == "" || checkName(name) != nil {
		name = "model"
	}
	return name
}

// uniqueName returns name, or name-2, name-3, … the first not taken.
func uniqueName(name string, taken map[string]bool) string {
	if !taken[name] {
		return name
	}
	for i := 2; ; i++ {
		if n := name + "-" + strconv.Itoa(i); !taken[n] {
			return n
		}
	}
}

// archSummary is a model's architecture in a line of the picker.
type archSummary struct {
	Layers     int    `json:"layers"`
	DModel     int    `json:"d_model"`
	Heads      int    `json:"heads"`
	KVHeads    int    `json:"kv_heads"`
	DHead      int    `json:"d_head"`
	Positional string `json:"positional"`
	Norm       string `json:"norm"`
	MLP        string `json:"mlp"`
	Vocab      int    `json:"vocab"`
	NCtx       int    `json:"n_ctx"`
	Params     int    `json:"params"`
	Text       string `json:"text"`
}

// summarize describes c.
func summarize(c transformer.Config) *archSummary {
	a := &archSummary{Layers: c.NLayers, DModel: c.DModel, Heads: c.NHeads, KVHeads: c.NHeads, DHead: c.DHead,
		Positional: c.PositionalEmbeddingType, Norm: c.NormalizationType, Vocab: c.DVocab, NCtx: c.NCtx, Params: c.NumParams()}
	if c.NKeyValueHeads > 0 {
		a.KVHeads = c.NKeyValueHeads
	}
	if a.Norm == "" {
		a.Norm = "none"
	}
	switch {
	case c.AttnOnly:
		a.MLP = "none (attention only)"
	case c.GatedMLP:
		a.MLP = "gated " + c.ActFn
	default:
		a.MLP = c.ActFn
	}
	if c.ParallelAttnMLP {
		a.MLP += ", parallel"
	}
	a.Text = fmt.Sprintf("%d layers · d_model %d · %d heads (%d kv) · %s positions · %s norm · MLP %s · vocab %d · n_ctx %d · %s params",
		a.Layers, a.DModel, a.Heads, a.KVHeads, a.Positional, a.Norm, a.MLP, a.Vocab, a.NCtx, humanCount(a.Params))
	return a
}

// humanCount writes n as 1.2K, 3.4M, 1.1B.
func humanCount(n int) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "B"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "K"
	}
	return strconv.Itoa(n)
}

// tokenizerJSONInfo is a model's tokenizer in the model list.
type tokenizerJSONInfo struct {
	Files string `json:"files,omitempty"` // "tokenizer.json" or "vocab.json + merges.txt"
	Vocab int    `json:"vocab,omitempty"`
	BOS   string `json:"bos,omitempty"`    // the BOS piece auto adds, "" when none
	BOSID *int   `json:"bos_id,omitempty"` // the tokenizer's BOS token, if it has one
	Note  string `json:"note,omitempty"`   // why there is none
}

// tokenizerInfo describes m's tokenizer (or its absence).
func (m *model) tokenizerInfo() *tokenizerJSONInfo {
	if m.tok == nil {
		note := m.tokNote
		if note == "" {
			note = "no tokenizer: this model's inputs are token ids 0.." + strconv.Itoa(m.m.Cfg.DVocab-1)
		}
		return &tokenizerJSONInfo{Note: note}
	}
	info := &tokenizerJSONInfo{Files: m.tokFiles, Vocab: m.tok.VocabSize()}
	if id := m.tok.BOSID(); id >= 0 {
		info.BOSID = &id
		if m.tok.AutoBOS() {
			info.BOS = m.pieceText(id)
		}
	}
	return info
}

// runTokenizer attaches the tokenizer of run folder dir to a run's model,
// when the folder holds one.
func runTokenizer(m *model, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return m.attachTokenizer(dir)
}
