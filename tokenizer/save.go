package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// WriteJSON writes a byte-level BPE tokenizer (one TrainBPE made, or one
// loaded on the byte-level fast path) as a Hugging Face tokenizer.json:
// a ByteLevel pre-tokenizer (GPT-2's regex) or a Split with the
// tokenizer's regex and a ByteLevel, a ByteLevel decoder, an NFC
// normalizer when the tokenizer has one, and a BPE model with the
// vocabulary in GPT-2's byte-level alphabet and the merges, in rank
// order, as "a b" strings (the form of GPT-2's tokenizer.json, which
// older readers require; newer ones also take pairs). LoadJSON reads it back into a
// tokenizer that encodes identically. Added tokens are written; a BOS
// token that only a tokenizer_config.json or post-processor gave is not.
// Other tokenizers (the general pipeline) are an error.
func (t *Tokenizer) WriteJSON(w io.Writer) error {
	if t.pipe != nil || t.pattern == "" {
		return errors.New("tokenizer: only a byte-level BPE tokenizer can be written")
	}
	enc, _ := byteLevel()
	isAdded := make(map[int]bool, len(t.added))
	added := make([]hfAdded, 0, len(t.added))
	for _, a := range t.added {
		isAdded[a.id] = true
		added = append(added, hfAdded{ID: a.id, Content: a.content, Special: a.special})
	}
	slices.SortFunc(added, func(x, y hfAdded) int { return x.ID - y.ID })

	type rankedMerge struct {
		rank int32
		p    pair
	}
	ms := make([]rankedMerge, 0, len(t.merges))
	for p, m := range t.merges {
		ms = append(ms, rankedMerge{m.rank, p})
	}
	slices.SortFunc(ms, func(x, y rankedMerge) int { return int(x.rank) - int(y.rank) })

	bw := bufio.NewWriter(w)
	put := func(v any) {
		b, _ := json.Marshal(v) // strings and fixed structs only: cannot fail
		bw.Write(b)
	}
	bw.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ")
	put(added)
	bw.WriteString(",\n  \"normalizer\": ")
	if t.nfc {
		put(hfComponent{Type: "NFC"})
	} else {
		bw.WriteString("null")
	}
	bw.WriteString(",\n  \"pre_tokenizer\": ")
	if t.pattern == gpt2Pattern {
		put(hfByteLevel{Type: "ByteLevel", TrimOffsets: true, UseRegex: true})
	} else {
		split := struct {
			Type     string            `json:"type"`
			Pattern  map[string]string `json:"pattern"`
			Behavior string            `json:"behavior"`
			Invert   bool              `json:"invert"`
		}{"Split", map[string]string{"Regex": t.pattern}, "Isolated", false}
		put(struct {
			Type          string `json:"type"`
			Pretokenizers []any  `json:"pretokenizers"`
		}{"Sequence", []any{split, hfByteLevel{Type: "ByteLevel", TrimOffsets: true}}})
	}
	bw.WriteString(",\n  \"post_processor\": ")
	put(hfByteLevel{Type: "ByteLevel", AddPrefixSpace: true, UseRegex: true})
	bw.WriteString(",\n  \"decoder\": ")
	put(hfByteLevel{Type: "ByteLevel", AddPrefixSpace: true, TrimOffsets: true, UseRegex: true})
	bw.WriteString(",\n  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n" +
		"    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n")
	fmt.Fprintf(bw, "    \"ignore_merges\": %v,\n    \"vocab\": {", t.ignoreMerges)
	first := true
	for id, s := range t.pieces {
		if isAdded[id] {
			continue
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		bw.WriteString("\n      ")
		put(toByteLevel(s, &enc))
		fmt.Fprintf(bw, ": %d", id)
	}
	bw.WriteString("\n    },\n    \"merges\": [")
	for k, m := range ms {
		if k > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n      ")
		put(toByteLevel(t.pieces[m.p.a], &enc) + " " + toByteLevel(t.pieces[m.p.b], &enc))
	}
	bw.WriteString("\n    ]\n  }\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}

// SaveJSON writes the tokenizer with WriteJSON to path, atomically (a
// temporary file in the same folder, then a rename).
func (t *Tokenizer) SaveJSON(path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tokenizer-*.json")
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := t.WriteJSON(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}
