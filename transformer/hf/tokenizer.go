package hf

import (
	"fmt"

	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
)

// LoadTokenizer reads the tokenizer at path for a model of config cfg:
// path is a folder holding tokenizer.json, or vocab.json + merges.txt (with
// tokenizer_config.json's BOS settings beside them), as Hugging Face saves
// them, or a tokenizer.json itself (see tokenizer.Load). It checks that
// the two fit: every id the tokenizer can produce is below cfg.DVocab
// (a model may have more rows than its tokenizer has tokens, padding
// rows, but not fewer).
//
// It is the Go side of a model's tokenizer: a transformer.Model is weights
// and an architecture and carries no tokenizer (package transformer knows
// nothing of text), so a caller pairs the two, usually from one folder:
//
//	m, err := hf.Load(dir)
//	tok, err := hf.LoadTokenizer(dir, m.Cfg)
func LoadTokenizer(path string, cfg transformer.Config) (*tokenizer.Tokenizer, error) {
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, err
	}
	if n := tok.VocabSize(); n > cfg.DVocab {
		return nil, fmt.Errorf("hf: the tokenizer %s has %d tokens, more than the model's d_vocab %d: it is not this model's tokenizer", path, n, cfg.DVocab)
	}
	return tok, nil
}
