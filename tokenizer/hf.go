package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// qwenPattern is the Split regex this package implements as splitQwen.
const qwenPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// llama3Pattern is Llama 3's Split regex, implemented as splitLlama3.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// gpt2Pattern is GPT-2's pattern, implemented as splitGPT2.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// strict decodes data into v, refusing fields v does not have.
func strict(data []byte, v any, what string) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("tokenizer: %s: %w", what, err)
	}
	return nil
}

func isNull(m json.RawMessage) bool {
	return len(m) == 0 || string(bytes.TrimSpace(m)) == "null"
}

type hfFile struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type hfAdded struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfComponent struct {
	Type string `json:"type"`
}

type hfByteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       bool   `json:"use_regex"`
}

type hfSplit struct {
	Type     string    `json:"type"`
	Pattern  hfPattern `json:"pattern"`
	Behavior string    `json:"behavior"`
	Invert   bool      `json:"invert"`
}

type hfBPE struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

func componentType(m json.RawMessage, what string) (string, error) {
	var c hfComponent
	if err := json.Unmarshal(m, &c); err != nil {
		return "", fmt.Errorf("tokenizer: %s: %w", what, err)
	}
	return c.Type, nil
}

// byteLevelPart checks a ByteLevel pre-tokenizer for the byte-level
// fast path; useRegex says whether it may (must) split with
// GPT-2's pattern.
func byteLevelPart(m json.RawMessage, what string) (useRegex bool, err error) {
	var b hfByteLevel
	if err := strict(m, &b, what); err != nil {
		return false, err
	}
	if b.AddPrefixSpace {
		return false, fmt.Errorf("tokenizer: %s: ByteLevel add_prefix_space true is not supported", what)
	}
	return b.UseRegex, nil
}

// LoadJSON reads a Hugging Face tokenizer.json with a BPE model. The
// byte-level BPE of GPT-2, Qwen and Llama 3 (an optional NFC normalizer,
// a ByteLevel pre-tokenizer or a Split with their regex and a ByteLevel
// without, a ByteLevel decoder) takes a fast path; anything else goes
// through the general pipeline: normalizers NFC, NFD, NFKC, NFKD,
// Lowercase, Replace, Prepend, Strip and Sequence; pre-tokenizers
// ByteLevel, Split (any behavior; a regex Go's regexp can run or one of
// the scanners), Metaspace, Digits, Whitespace, WhitespaceSplit and
// Sequence; a BPE model over runes with byte_fallback, unk_token,
// fuse_unk and ignore_merges; decoders ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace and Sequence. Anything else is an
// error naming it. A TemplateProcessing post-processor that puts one
// special token first makes it the BOS token that BOSAuto adds; a
// tokenizer_config.json beside the file, when it exists, gives the BOS
// token and whether BOSAuto adds it (add_bos_token).
func LoadJSON(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := parseJSON(data, path)
	if err != nil {
		return nil, err
	}
	if err := t.readConfig(filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseJSON is LoadJSON on the contents of a tokenizer.json (embedded in
// a binary, say), without a tokenizer_config.json beside it.
func ParseJSON(data []byte) (*Tokenizer, error) { return parseJSON(data, "tokenizer.json") }

// parseJSON reads a tokenizer.json's contents; what names it in errors.
func parseJSON(data []byte, what string) (*Tokenizer, error) {
	var f hfFile
	if err := strict(data, &f, what); err != nil {
		return nil, err
	}
	if !isNull(f.Truncation) {
		return nil, errors.New("tokenizer: truncation is not supported")
	}
	if !isNull(f.Padding) {
		return nil, errors.New("tokenizer: padding is not supported")
	}
	bos, err := postProcessor(f.PostProcessor)
	if err != nil {
		return nil, err
	}
	t, fastErr := loadByteLevel(&f)
	if fastErr != nil {
		if t, err = loadPipeline(&f); err != nil {
			return nil, err
		}
	}
	if bos != "" {
		if t.bos = t.addedID(bos); t.bos < 0 {
			return nil, fmt.Errorf("tokenizer: post_processor TemplateProcessing: %q is not an added token", bos)
		}
		t.autoBOS = true
	}
	return t, nil
}

// postProcessor checks the post_processor: null, ByteLevel (which only
// moves offsets), a TemplateProcessing whose single-sequence template is
// the sequence alone or one special token and the sequence, or a
// Sequence of those; it returns that special token.
func postProcessor(m json.RawMessage) (bos string, err error) {
	if isNull(m) {
		return "", nil
	}
	typ, err := componentType(m, "post_processor")
	if err != nil {
		return "", err
	}
	switch typ {
	case "ByteLevel":
		var b hfByteLevel
		return "", strict(m, &b, "post_processor ByteLevel")
	case "Sequence":
		var c struct {
			Type       string            `json:"type"`
			Processors []json.RawMessage `json:"processors"`
		}
		if err := strict(m, &c, "post_processor Sequence"); err != nil {
			return "", err
		}
		for _, p := range c.Processors {
			b, err := postProcessor(p)
			if err != nil {
				return "", err
			}
			if b == "" {
				continue
			}
			if bos != "" {
				return "", errors.New("tokenizer: post_processor Sequence with two templates that add a token is not supported")
			}
			bos = b
		}
		return bos, nil
	case "TemplateProcessing":
		return templateBOS(m)
	}
	return "", fmt.Errorf("tokenizer: post_processor %s is not supported", typ)
}

// templateBOS reads a TemplateProcessing post-processor.
func templateBOS(m json.RawMessage) (string, error) {
	type piece struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"Sequence"`
	}
	var c struct {
		Type          string          `json:"type"`
		Single        []piece         `json:"single"`
		Pair          json.RawMessage `json:"pair"`
		SpecialTokens json.RawMessage `json:"special_tokens"`
	}
	if err := strict(m, &c, "post_processor TemplateProcessing"); err != nil {
		return "", err
	}
	s := c.Single
	isSeq := func(p piece) bool { return p.Sequence != nil && p.Sequence.ID == "A" && p.SpecialToken == nil }
	switch {
	case len(s) == 1 && isSeq(s[0]):
		return "", nil
	case len(s) == 2 && s[0].SpecialToken != nil && s[0].Sequence == nil && isSeq(s[1]):
		return s[0].SpecialToken.ID, nil
	}
	return "", errors.New("tokenizer: post_processor TemplateProcessing single template other than [A] or [special, A] is not supported")
}

// addedID is the id of the added token s, or -1.
func (t *Tokenizer) addedID(s string) int {
	for _, a := range t.added {
		if a.content == s {
			return a.id
		}
	}
	return -1
}

// parseBPE reads the model: a BPE with its vocabulary and merges.
func parseBPE(raw json.RawMessage) (hfBPE, [][2]string, error) {
	var m hfBPE
	if err := strict(raw, &m, "model"); err != nil {
		return m, nil, err
	}
	if m.Type != "BPE" {
		return m, nil, fmt.Errorf("tokenizer: model %s is not supported (only BPE)", m.Type)
	}
	merges := make([][2]string, len(m.Merges))
	for k, raw := range m.Merges {
		var p []string
		if err := json.Unmarshal(raw, &p); err != nil {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return m, nil, fmt.Errorf("tokenizer: merge %d: want a pair or \"a b\": %w", k+1, err)
			}
			p = strings.Split(s, " ")
		}
		if len(p) != 2 {
			return m, nil, fmt.Errorf("tokenizer: merge %d: want two symbols, got %d", k+1, len(p))
		}
		merges[k] = [2]string{p[0], p[1]}
	}
	return m, merges, nil
}

// addedTokens reads the added tokens; normalized ones are refused when
// a normalizer would have to be applied to them.
func addedTokens(as []hfAdded, normalizes bool) ([]added, error) {
	var extra []added
	for _, a := range as {
		switch {
		case a.Content == "":
			return nil, fmt.Errorf("tokenizer: added token %d is empty", a.ID)
		case a.SingleWord:
			return nil, fmt.Errorf("tokenizer: added token %q: single_word is not supported", a.Content)
		case a.LStrip:
			return nil, fmt.Errorf("tokenizer: added token %q: lstrip is not supported", a.Content)
		case a.RStrip:
			return nil, fmt.Errorf("tokenizer: added token %q: rstrip is not supported", a.Content)
		case a.Normalized && normalizes:
			return nil, fmt.Errorf("tokenizer: added token %q: normalized is not supported", a.Content)
		}
		extra = append(extra, added{content: a.Content, id: a.ID, special: a.Special})
	}
	return extra, nil
}

// loadByteLevel is the fast path: byte-level BPE whose pieces are raw
// bytes, split by a scanner, NFC or no normalizer. It refuses anything
// else, which then goes through loadPipeline.
func loadByteLevel(f *hfFile) (*Tokenizer, error) {
	nfc := false
	if !isNull(f.Normalizer) {
		typ, err := componentType(f.Normalizer, "normalizer")
		if err != nil {
			return nil, err
		}
		var c hfComponent
		if typ != "NFC" || strict(f.Normalizer, &c, "normalizer") != nil {
			return nil, fmt.Errorf("tokenizer: normalizer %s is not supported (only NFC)", typ)
		}
		nfc = true
	}
	split, pattern, err := preTokenizer(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	if !isNull(f.Decoder) {
		typ, err := componentType(f.Decoder, "decoder")
		if err != nil {
			return nil, err
		}
		if typ != "ByteLevel" {
			return nil, fmt.Errorf("tokenizer: decoder %s is not supported (only ByteLevel)", typ)
		}
		// the decoder's add_prefix_space, trim_offsets, use_regex change nothing
		var b hfByteLevel
		if err := strict(f.Decoder, &b, "decoder ByteLevel"); err != nil {
			return nil, err
		}
	}
	m, merges, err := parseBPE(f.Model)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Dropout != nil:
		return nil, errors.New("tokenizer: model dropout is not supported")
	case m.UnkToken != nil:
		return nil, errors.New("tokenizer: model unk_token is not supported (byte-level BPE has none)")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, errors.New("tokenizer: model continuing_subword_prefix is not supported")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, errors.New("tokenizer: model end_of_word_suffix is not supported")
	case m.FuseUnk:
		return nil, errors.New("tokenizer: model fuse_unk is not supported")
	case m.ByteFallback:
		return nil, errors.New("tokenizer: model byte_fallback is not supported")
	}
	extra, err := addedTokens(f.AddedTokens, nfc)
	if err != nil {
		return nil, err
	}
	t, err := build(m.Vocab, merges, extra)
	if err != nil {
		return nil, err
	}
	t.split, t.pattern, t.nfc, t.ignoreMerges = split, pattern, nfc, m.IgnoreMerges
	return t, nil
}

// preTokenizer reads the pre-tokenizer of the byte-level fast path: its
// scanner and the regex it implements.
func preTokenizer(m json.RawMessage) (splitter, string, error) {
	if isNull(m) {
		return nil, "", errors.New("tokenizer: a pre_tokenizer is required (ByteLevel or Split + ByteLevel)")
	}
	typ, err := componentType(m, "pre_tokenizer")
	if err != nil {
		return nil, "", err
	}
	switch typ {
	case "ByteLevel":
		re, err := byteLevelPart(m, "pre_tokenizer")
		if err != nil {
			return nil, "", err
		}
		if !re {
			return nil, "", errors.New("tokenizer: pre_tokenizer ByteLevel without use_regex and without a Split is not supported")
		}
		return splitGPT2, gpt2Pattern, nil
	case "Sequence":
		var seq struct {
			Type          string            `json:"type"`
			Pretokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := strict(m, &seq, "pre_tokenizer"); err != nil {
			return nil, "", err
		}
		if len(seq.Pretokenizers) != 2 {
			return nil, "", fmt.Errorf("tokenizer: pre_tokenizer Sequence of %d parts is not supported (only Split, ByteLevel)", len(seq.Pretokenizers))
		}
		var sp hfSplit
		if typ, _ := componentType(seq.Pretokenizers[0], "pre_tokenizer"); typ != "Split" {
			return nil, "", fmt.Errorf("tokenizer: pre_tokenizer Sequence starting with %s is not supported (only Split, ByteLevel)", typ)
		}
		if err := strict(seq.Pretokenizers[0], &sp, "pre_tokenizer Split"); err != nil {
			return nil, "", err
		}
		if sp.Behavior != "Isolated" || sp.Invert {
			return nil, "", fmt.Errorf("tokenizer: pre_tokenizer Split behavior %s (invert %v) is not supported (only Isolated)", sp.Behavior, sp.Invert)
		}
		var split splitter
		switch {
		case sp.Pattern.Regex == nil:
			return nil, "", errors.New("tokenizer: pre_tokenizer Split without a Regex pattern is not supported")
		case *sp.Pattern.Regex == qwenPattern:
			split = splitQwen
		case *sp.Pattern.Regex == gpt2Pattern:
			split = splitGPT2
		case *sp.Pattern.Regex == llama3Pattern:
			split = splitLlama3
		default:
			return nil, "", fmt.Errorf("tokenizer: pre_tokenizer Split regex %q is not supported (only GPT-2's and Qwen's)", *sp.Pattern.Regex)
		}
		if typ, _ := componentType(seq.Pretokenizers[1], "pre_tokenizer"); typ != "ByteLevel" {
			return nil, "", fmt.Errorf("tokenizer: pre_tokenizer Sequence Split, %s is not supported (only Split, ByteLevel)", typ)
		}
		re, err := byteLevelPart(seq.Pretokenizers[1], "pre_tokenizer ByteLevel")
		if err != nil {
			return nil, "", err
		}
		if re {
			return nil, "", errors.New("tokenizer: pre_tokenizer ByteLevel use_regex after a Split is not supported")
		}
		return split, *sp.Pattern.Regex, nil
	}
	return nil, "", fmt.Errorf("tokenizer: pre_tokenizer %s is not supported", typ)
}

// readConfig reads bos_token and add_bos_token from tokenizer_config.json
// when the file exists (other fields are the chat template's and the
// Python classes' and do not change encoding).
func (t *Tokenizer) readConfig(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	var c struct {
		BOSToken    json.RawMessage `json:"bos_token"`
		AddBOSToken *bool           `json:"add_bos_token"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if !isNull(c.BOSToken) {
		var s string
		if err := json.Unmarshal(c.BOSToken, &s); err != nil {
			var o struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(c.BOSToken, &o); err != nil {
				return fmt.Errorf("tokenizer: %s: bos_token: %w", path, err)
			}
			s = o.Content
		}
		id := t.addedID(s)
		if id < 0 {
			return fmt.Errorf("tokenizer: %s: bos_token %q is not a token", path, s)
		}
		t.bos = id
	}
	if c.AddBOSToken != nil {
		t.autoBOS = *c.AddBOSToken
	}
	if t.autoBOS && t.bos < 0 {
		return fmt.Errorf("tokenizer: %s: add_bos_token without a bos_token", path)
	}
	return nil
}
