package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// compile returns the matcher of a Split or Replace pattern.
func (p hfPattern) compile(what string) (matcher, error) {
	switch {
	case p.String != nil && p.Regex != nil:
		return nil, fmt.Errorf("tokenizer: %s pattern has both String and Regex", what)
	case p.String != nil:
		if *p.String == "" {
			return nil, fmt.Errorf("tokenizer: %s pattern String is empty", what)
		}
		return literal(*p.String), nil
	case p.Regex != nil:
		return compilePattern(*p.Regex, what)
	}
	return nil, fmt.Errorf("tokenizer: %s pattern has neither String nor Regex", what)
}

// hfMetaspace is the Metaspace pre-tokenizer or decoder, in its current
// form (prepend_scheme, split) or its older one (add_prefix_space).
type hfMetaspace struct {
	Type           string  `json:"type"`
	Replacement    string  `json:"replacement"`
	StrRep         *string `json:"str_rep"`
	PrependScheme  *string `json:"prepend_scheme"`
	Split          *bool   `json:"split"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
}

// parse checks the fields and returns the replacement, the prepend
// scheme and split, with Hugging Face's defaults.
func (m hfMetaspace) parse(what string) (rep, scheme string, split bool, err error) {
	if utf8.RuneCountInString(m.Replacement) != 1 {
		return "", "", false, fmt.Errorf("tokenizer: %s Metaspace replacement %q is not one character", what, m.Replacement)
	}
	if m.StrRep != nil && *m.StrRep != m.Replacement {
		return "", "", false, fmt.Errorf("tokenizer: %s Metaspace str_rep %q differs from replacement: not supported", what, *m.StrRep)
	}
	scheme = "always"
	if m.AddPrefixSpace != nil && !*m.AddPrefixSpace {
		scheme = "never"
	}
	if m.PrependScheme != nil {
		scheme = *m.PrependScheme
	}
	if scheme != "always" && scheme != "first" && scheme != "never" {
		return "", "", false, fmt.Errorf("tokenizer: %s Metaspace prepend_scheme %q is not supported (always, first or never)", what, scheme)
	}
	return m.Replacement, scheme, m.Split == nil || *m.Split, nil
}

// parseNormalizer reads the normalizer (null, or one of NFC, NFD, NFKC,
// NFKD, Lowercase, Replace, Prepend, Strip, Sequence) into a list.
func parseNormalizer(m json.RawMessage, dst []normalizer) ([]normalizer, error) {
	if isNull(m) {
		return dst, nil
	}
	typ, err := componentType(m, "normalizer")
	if err != nil {
		return nil, err
	}
	what := "normalizer " + typ
	switch typ {
	case "NFC", "NFD", "NFKC", "NFKD", "Lowercase":
		var c hfComponent
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		f := map[string]normalizer{"NFC": unicodeForm(norm.NFC), "NFD": unicodeForm(norm.NFD),
			"NFKC": unicodeForm(norm.NFKC), "NFKD": unicodeForm(norm.NFKD), "Lowercase": lowercase}[typ]
		return append(dst, f), nil
	case "Replace":
		var c struct {
			Type    string    `json:"type"`
			Pattern hfPattern `json:"pattern"`
			Content string    `json:"content"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		mt, err := c.Pattern.compile(what)
		if err != nil {
			return nil, err
		}
		return append(dst, replaceAll(mt, c.Content)), nil
	case "Prepend":
		var c struct {
			Type    string `json:"type"`
			Prepend string `json:"prepend"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		return append(dst, prepend(c.Prepend)), nil
	case "Strip":
		var c struct {
			Type       string `json:"type"`
			StripLeft  bool   `json:"strip_left"`
			StripRight bool   `json:"strip_right"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		return append(dst, strip(c.StripLeft, c.StripRight)), nil
	case "Sequence":
		var c struct {
			Type        string            `json:"type"`
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		for _, part := range c.Normalizers {
			if dst, err = parseNormalizer(part, dst); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	return nil, fmt.Errorf("tokenizer: normalizer %s is not supported", typ)
}

var splitBehaviors = map[string]bool{"Removed": true, "Isolated": true, "MergedWithPrevious": true, "MergedWithNext": true, "Contiguous": true}

// parsePreTokenizer reads the pre_tokenizer (null, or one of ByteLevel,
// Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Sequence).
func parsePreTokenizer(m json.RawMessage, dst []pretok, hasDigits *bool) ([]pretok, error) {
	if isNull(m) {
		return dst, nil
	}
	typ, err := componentType(m, "pre_tokenizer")
	if err != nil {
		return nil, err
	}
	what := "pre_tokenizer " + typ
	switch typ {
	case "ByteLevel":
		var b hfByteLevel
		if err := strict(m, &b, what); err != nil {
			return nil, err
		}
		return append(dst, byteLevelPre(b.AddPrefixSpace, b.UseRegex)), nil
	case "Split":
		var sp hfSplit
		if err := strict(m, &sp, what); err != nil {
			return nil, err
		}
		if !splitBehaviors[sp.Behavior] {
			return nil, fmt.Errorf("tokenizer: pre_tokenizer Split behavior %q is not supported", sp.Behavior)
		}
		mt, err := sp.Pattern.compile(what)
		if err != nil {
			return nil, err
		}
		return append(dst, splitBy(mt, sp.Behavior, sp.Invert)), nil
	case "Metaspace":
		var c hfMetaspace
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		rep, scheme, split, err := c.parse("pre_tokenizer")
		if err != nil {
			return nil, err
		}
		return append(dst, metaspace(rep, scheme, split)), nil
	case "Digits":
		var c struct {
			Type             string `json:"type"`
			IndividualDigits bool   `json:"individual_digits"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		*hasDigits = true
		return append(dst, digits(c.IndividualDigits)), nil
	case "Whitespace", "WhitespaceSplit":
		var c hfComponent
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		if typ == "WhitespaceSplit" {
			return append(dst, splitBy(runes(unicode.IsSpace), "Removed", false)), nil
		}
		mt, err := compilePattern(`\w+|[^\w\s]+`, what)
		if err != nil {
			return nil, err
		}
		return append(dst, splitBy(mt, "Removed", true)), nil
	case "Sequence":
		var c struct {
			Type          string            `json:"type"`
			Pretokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		for _, part := range c.Pretokenizers {
			if dst, err = parsePreTokenizer(part, dst, hasDigits); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	return nil, fmt.Errorf("tokenizer: pre_tokenizer %s is not supported", typ)
}

// parseDecoder reads the decoder (null, or one of ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace, Sequence).
func parseDecoder(m json.RawMessage, isAdded func(string) bool) (decoder, error) {
	if isNull(m) {
		return nil, nil
	}
	typ, err := componentType(m, "decoder")
	if err != nil {
		return nil, err
	}
	what := "decoder " + typ
	switch typ {
	case "ByteLevel":
		var b hfByteLevel
		if err := strict(m, &b, what); err != nil {
			return nil, err
		}
		return byteLevelDec(isAdded), nil
	case "Metaspace":
		var c hfMetaspace
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		rep, scheme, _, err := c.parse("decoder")
		if err != nil {
			return nil, err
		}
		return metaspaceDec(rep, scheme != "never"), nil
	case "ByteFallback", "Fuse":
		var c hfComponent
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		if typ == "Fuse" {
			return fuseDec, nil
		}
		return byteFallbackDec, nil
	case "Strip":
		var c struct {
			Type    string `json:"type"`
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(c.Content) != 1 || c.Start < 0 || c.Stop < 0 {
			return nil, fmt.Errorf("tokenizer: decoder Strip content %q start %d stop %d: want one character and counts ≥ 0", c.Content, c.Start, c.Stop)
		}
		r, _ := utf8.DecodeRuneInString(c.Content)
		return stripDec(r, c.Start, c.Stop), nil
	case "Replace":
		var c struct {
			Type    string    `json:"type"`
			Pattern hfPattern `json:"pattern"`
			Content string    `json:"content"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		mt, err := c.Pattern.compile(what)
		if err != nil {
			return nil, err
		}
		return replaceDec(mt, c.Content), nil
	case "Sequence":
		var c struct {
			Type     string            `json:"type"`
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := strict(m, &c, what); err != nil {
			return nil, err
		}
		var ds []decoder
		for _, part := range c.Decoders {
			d, err := parseDecoder(part, isAdded)
			if err != nil {
				return nil, err
			}
			if d != nil {
				ds = append(ds, d)
			}
		}
		return sequenceDec(ds), nil
	}
	return nil, fmt.Errorf("tokenizer: decoder %s is not supported", typ)
}

// loadPipeline builds the general tokenizer of a tokenizer.json.
func loadPipeline(f *hfFile) (*Tokenizer, error) {
	p := &pipeline{}
	var err error
	if p.norm, err = parseNormalizer(f.Normalizer, nil); err != nil {
		return nil, err
	}
	if p.pre, err = parsePreTokenizer(f.PreTokenizer, nil, &p.hasDigits); err != nil {
		return nil, err
	}
	m, merges, err := parseBPE(f.Model)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, errors.New("tokenizer: model dropout is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, fmt.Errorf("tokenizer: model continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("tokenizer: model end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	extra, err := addedTokens(f.AddedTokens, len(p.norm) > 0)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, id := range m.Vocab {
		n = max(n, id+1)
	}
	for _, a := range extra {
		n = max(n, a.id+1)
	}
	if n > 1<<24 {
		return nil, fmt.Errorf("tokenizer: vocabulary id %d out of range", n-1)
	}
	p.tokens = make([]string, n)
	seen := make([]bool, n)
	for s, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: vocabulary id %d out of range", id)
		}
		if seen[id] {
			return nil, fmt.Errorf("tokenizer: vocabulary id %d used twice", id)
		}
		seen[id] = true
		p.tokens[id] = s
	}
	isAdded := map[string]bool{}
	for _, a := range extra {
		if a.id < 0 {
			return nil, fmt.Errorf("tokenizer: added token id %d out of range", a.id)
		}
		if seen[a.id] && p.tokens[a.id] != a.content {
			return nil, fmt.Errorf("tokenizer: added token %q has id %d, already %q", a.content, a.id, p.tokens[a.id])
		}
		if id, ok := m.Vocab[a.content]; ok && id != a.id {
			return nil, fmt.Errorf("tokenizer: added token %q has id %d, the vocabulary %d", a.content, a.id, id)
		}
		seen[a.id] = true
		p.tokens[a.id] = a.content
		isAdded[a.content] = true
	}
	for id, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("tokenizer: no token has id %d", id)
		}
	}
	md := &p.model
	md.vocab, md.unk = m.Vocab, -1
	md.byteFallback, md.fuseUnk, md.ignoreMerges = m.ByteFallback, m.FuseUnk, m.IgnoreMerges
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("tokenizer: model unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		md.unk = int32(id)
	}
	for b := range md.byteTok {
		md.byteTok[b] = -1
		if id, ok := m.Vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			md.byteTok[b] = int32(id)
		}
	}
	md.merges = make(map[pair]merge, len(merges))
	for rank, mg := range merges {
		var ids [2]int32
		for k, s := range mg {
			id, ok := m.Vocab[s]
			if !ok {
				return nil, fmt.Errorf("tokenizer: merge %d: %q is not in the vocabulary", rank+1, s)
			}
			ids[k] = int32(id)
		}
		id, ok := m.Vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("tokenizer: merge %d: %q %q makes a token not in the vocabulary", rank+1, mg[0], mg[1])
		}
		if _, dup := md.merges[pair{ids[0], ids[1]}]; !dup {
			md.merges[pair{ids[0], ids[1]}] = merge{int32(rank), int32(id)}
		}
	}
	if p.dec, err = parseDecoder(f.Decoder, func(s string) bool { return isAdded[s] }); err != nil {
		return nil, err
	}
	t := &Tokenizer{pieces: make([]string, n), bos: -1, pipe: p}
	for id := range n {
		t.pieces[id] = p.piece(id)
	}
	t.added = extra
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	for _, a := range t.added {
		t.firstByte[a.content[0]] = true
	}
	return t, nil
}
