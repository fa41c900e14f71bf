package lm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/train"
)

// Files an lm run adds to its folder.
const (
	// ShardFile is the tokenized corpus (data.Shard's file form).
	ShardFile = "corpus.tokens"
	// CorpusFile describes it: source, sizes, split.
	CorpusFile = "corpus.json"
	// TokenizerFile is the tokenizer the model was trained with, copied
	// into the run folder (GPT-2 folders: vocab.json and merges.txt); for
	// byte models the 256 byte tokens without merges.
	TokenizerFile = "tokenizer.json"
)

// MaxCorpusBytes bounds the text read for one run.
const MaxCorpusBytes = 1 << 30

// Corpus is a run's tokenized text and its split: windows for training are
// drawn from [0, Split), for evaluation from [Split, Shard.Len()).
type Corpus struct {
	Shard *data.Shard
	Split int
	Info  CorpusInfo
}

// CorpusInfo is corpus.json.
type CorpusInfo struct {
	Source     string `json:"source"`
	Files      int    `json:"files"`
	Bytes      int    `json:"bytes"`
	Tokens     int    `json:"tokens"`
	Vocab      int    `json:"vocab"`
	ShardWidth int    `json:"shard_width"` // bytes per token in corpus.tokens: 2 or 4
	Split      int    `json:"split"`       // first held-out token
}

// readText reads a file, or every regular file under a folder in path
// order joined by newlines, refusing more than MaxCorpusBytes.
func readText(path string) ([]byte, int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("lm: corpus: %w", err)
	}
	var files []string
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && d.Name()[0] != '.' {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("lm: corpus: %w", err)
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, 0, fmt.Errorf("lm: corpus: no files under %s", path)
		}
	} else {
		files = []string{path}
	}
	var text []byte
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, 0, fmt.Errorf("lm: corpus: %w", err)
		}
		if int64(len(text))+st.Size() > MaxCorpusBytes {
			return nil, 0, fmt.Errorf("lm: corpus: %s is more than %d bytes of text", path, MaxCorpusBytes)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, fmt.Errorf("lm: corpus: %w", err)
		}
		if len(text) > 0 && text[len(text)-1] != '\n' {
			text = append(text, '\n')
		}
		text = append(text, b...)
	}
	return text, len(files), nil
}

// LoadTokenizer returns the tokenizer a Config names: nil for
// TokenizerBytes, else tokenizer.Load of the path.
func LoadTokenizer(spec string) (*tokenizer.Tokenizer, error) {
	if spec == TokenizerBytes {
		return nil, nil
	}
	tok, err := tokenizer.Load(spec)
	if err != nil {
		return nil, fmt.Errorf("lm: %w", err)
	}
	return tok, nil
}

// Encode tokenizes text with tok (bytes when nil) and returns the ids and
// the vocabulary size.
func Encode(tok *tokenizer.Tokenizer, text []byte) ([]int32, int, error) {
	if tok == nil {
		ids := make([]int32, len(text))
		for i, b := range text {
			ids[i] = int32(b)
		}
		return ids, 256, nil
	}
	enc, err := tok.Encode(string(text), tokenizer.Options{BOS: tokenizer.BOSNever})
	if err != nil {
		return nil, 0, fmt.Errorf("lm: tokenize: %w", err)
	}
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	return ids, tok.VocabSize(), nil
}

// openCorpus returns the run's corpus: read back from dir's shard when
// reuse is set and the shard exists (a resume), else read, tokenized, and
// written to dir with corpus.json.
func openCorpus(dir string, cfg Config, tok *tokenizer.Tokenizer, reuse bool) (*Corpus, error) {
	shardPath := filepath.Join(dir, ShardFile)
	if reuse {
		b, err := os.ReadFile(shardPath)
		switch {
		case err == nil:
			sh, err := data.ReadShard(b)
			if err != nil {
				return nil, fmt.Errorf("lm: %s: %w", shardPath, err)
			}
			return newCorpus(sh, cfg, 0)
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("lm: %w", err)
		}
	}
	text, files, err := readText(cfg.Text)
	if err != nil {
		return nil, err
	}
	ids, vocab, err := Encode(tok, text)
	if err != nil {
		return nil, err
	}
	sh, err := data.NewShard(ids, vocab)
	if err != nil {
		return nil, fmt.Errorf("lm: %w", err)
	}
	c, err := newCorpus(sh, cfg, files)
	if err != nil {
		return nil, err
	}
	c.Info.Bytes = len(text)
	if err := checkpoint.WriteAtomic(shardPath, func(w io.Writer) error { _, err := sh.WriteTo(w); return err }); err != nil {
		return nil, fmt.Errorf("lm: %w", err)
	}
	if err := train.WriteJSON(filepath.Join(dir, CorpusFile), c.Info); err != nil {
		return nil, err
	}
	return c, nil
}

// newCorpus splits sh by cfg.HeldOut and checks both parts hold windows.
func newCorpus(sh *data.Shard, cfg Config, files int) (*Corpus, error) {
	n := sh.Len()
	split := n - int(float64(n)*cfg.HeldOut)
	c := &Corpus{Shard: sh, Split: split, Info: CorpusInfo{
		Source: cfg.Text, Files: files, Tokens: n, Vocab: sh.Vocab(), ShardWidth: sh.Width(), Split: split,
	}}
	if split < cfg.Context+2 || n-split < cfg.Context+2 {
		return nil, fmt.Errorf("lm: corpus %s: %d tokens split %d/%d leave no room for windows of %d tokens (use more text or a shorter context)",
			cfg.Text, n, split, n-split, cfg.Context+1)
	}
	return c, nil
}

// copyTokenizer copies the tokenizer spec names into dir (tokenizer.json,
// or GPT-2's vocab.json and merges.txt), so that the run folder is
// self-contained.
func copyTokenizer(dir, spec string) error {
	if spec == TokenizerBytes {
		// The 256 byte tokens with no merges (id = byte value): the
		// dashboard and the text commands read prompts with it.
		tok, err := tokenizer.TrainBPE(context.Background(), nil, 256, tokenizer.TrainOptions{})
		if err != nil {
			return fmt.Errorf("lm: byte tokenizer: %w", err)
		}
		if err := tok.SaveJSON(filepath.Join(dir, TokenizerFile)); err != nil {
			return fmt.Errorf("lm: %w", err)
		}
		return nil
	}
	st, err := os.Stat(spec)
	if err != nil {
		return fmt.Errorf("lm: tokenizer: %w", err)
	}
	pairs := [][2]string{{spec, TokenizerFile}}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(spec, TokenizerFile)); err == nil {
			pairs = [][2]string{{filepath.Join(spec, TokenizerFile), TokenizerFile}}
		} else {
			pairs = [][2]string{{filepath.Join(spec, "vocab.json"), "vocab.json"}, {filepath.Join(spec, "merges.txt"), "merges.txt"}}
		}
	}
	for _, p := range pairs {
		b, err := os.ReadFile(p[0])
		if err != nil {
			return fmt.Errorf("lm: tokenizer: %w", err)
		}
		if filepath.Clean(p[0]) == filepath.Clean(filepath.Join(dir, p[1])) {
			continue
		}
		if err := checkpoint.WriteAtomic(filepath.Join(dir, p[1]), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return fmt.Errorf("lm: %w", err)
		}
	}
	return nil
}

// frequentTokens returns the k most frequent tokens of [lo, hi) in sh, most
// frequent first (ties by id), leaving out tokens that never occur.
func frequentTokens(sh *data.Shard, lo, hi, k int) []int {
	counts := sh.Counts(lo, hi)
	ids := make([]int, 0, len(counts))
	for id, n := range counts {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return counts[ids[i]] > counts[ids[j]] })
	return ids[:min(k, len(ids))]
}

// readCorpusInfo reads dir's corpus.json.
func readCorpusInfo(dir string) (CorpusInfo, error) {
	var ci CorpusInfo
	b, err := os.ReadFile(filepath.Join(dir, CorpusFile))
	if err != nil {
		return ci, fmt.Errorf("lm: %w", err)
	}
	if err := json.Unmarshal(b, &ci); err != nil {
		return ci, fmt.Errorf("lm: %s: %w", CorpusFile, err)
	}
	return ci, nil
}
