package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mechinterp/workbench/tokenizer"
)

// tokensInput is a token sequence from a request: ids, text holding ids
// separated by spaces or commas, or a prompt that the model's tokenizer
// encodes (one of the three).
type tokensInput struct {
	Tokens []int  `json:"tokens,omitempty"`
	Text   string `json:"text,omitempty"`
	// Prompt is text for the model's tokenizer; BOS is its policy: auto
	// (the default: what the tokenizer's configuration says), always or
	// never. Models without a tokenizer refuse a prompt, saying why.
	Prompt string `json:"prompt,omitempty"`
	BOS    string `json:"bos,omitempty"`
}

// Bounds of a prompt, before the model's own n_ctx.
const (
	maxPromptBytes = 64 << 10
	maxTextTokens  = 1 << 16 // ids parsed from text
)

// resolve returns the sequence, checked against m (a 400 naming the
// problem otherwise), and, for a model with a tokenizer, each token's text:
// the prompt's bytes it covers (a BOS token: its piece), or the piece of
// an id.
func (in tokensInput) resolve(what string, m *model) ([]int, []string, error) {
	given := 0
	for _, ok := range []bool{in.Tokens != nil, in.Text != "", in.Prompt != ""} {
		if ok {
			given++
		}
	}
	if given > 1 {
		return nil, nil, errorf(http.StatusBadRequest, "web: %s: give one of tokens, text and prompt, not both", what)
	}
	if in.BOS != "" && in.Prompt == "" {
		return nil, nil, errorf(http.StatusBadRequest, "web: %s: bos applies to a prompt only", what)
	}
	if in.Prompt != "" {
		return m.encodePrompt(what, in.Prompt, in.BOS)
	}
	toks := in.Tokens
	if in.Text != "" {
		fields := strings.FieldsFunc(in.Text, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' })
		if len(fields) > maxTextTokens {
			return nil, nil, errorf(http.StatusBadRequest, "web: %s: %d tokens, more than n_ctx %d", what, len(fields), m.m.Cfg.NCtx)
		}
		for _, f := range fields {
			id, err := strconv.Atoi(f)
			if err != nil {
				hint := ""
				if m.tok != nil {
					hint = "; to type text, use the prompt"
				}
				return nil, nil, errorf(http.StatusBadRequest, "web: %s: %q is not a token id (this model's tokens are the ids 0..%d%s)", what, f, m.m.Cfg.DVocab-1, hint)
			}
			toks = append(toks, id)
		}
	}
	if len(toks) == 0 {
		return nil, nil, errorf(http.StatusBadRequest, "web: %s: no tokens (give \"tokens\": [ids], \"text\": \"ids separated by spaces\" or, for a model with a tokenizer, \"prompt\": \"text\")", what)
	}
	if _, _, _, err := m.m.CheckTokens([][]int{toks}); err != nil {
		return nil, nil, errorf(http.StatusBadRequest, "web: %s: %v", what, err)
	}
	var pieces []string
	if m.tok != nil {
		pieces = make([]string, len(toks))
		for i, t := range toks {
			pieces[i] = m.pieceText(t)
		}
	}
	return toks, pieces, nil
}

// encodePrompt tokenizes a prompt with m's tokenizer.
func (m *model) encodePrompt(what, prompt, bosName string) ([]int, []string, error) {
	enc, err := m.encode(what, prompt, bosName)
	if err != nil {
		return nil, nil, err
	}
	return enc.IDs, spanPieces(m, prompt, enc), nil
}

// encode tokenizes a prompt with m's tokenizer under a BOS policy name
// ("" is auto), bounded by maxPromptBytes and n_ctx.
func (m *model) encode(what, prompt, bosName string) (tokenizer.Encoding, error) {
	var none tokenizer.Encoding
	if m.tok == nil {
		note := m.tokNote
		if note == "" {
			note = "it has no tokenizer"
		}
		return none, errorf(http.StatusBadRequest, "web: %s: model %q cannot take a prompt: %s; give token ids", what, m.name, note)
	}
	if len(prompt) > maxPromptBytes {
		return none, errorf(http.StatusBadRequest, "web: %s: the prompt is %d bytes, more than the %d this server tokenizes", what, len(prompt), maxPromptBytes)
	}
	if bosName == "" {
		bosName = "auto"
	}
	bos, err := tokenizer.ParseBOS(bosName)
	if err != nil {
		return none, badRequest(fmt.Errorf("web: %s: %w", what, err))
	}
	enc, err := m.tok.Encode(prompt, tokenizer.Options{BOS: bos})
	if err != nil {
		return none, badRequest(fmt.Errorf("web: %s: %w", what, err))
	}
	switch n := len(enc.IDs); {
	case n == 0:
		return none, errorf(http.StatusBadRequest, "web: %s: the prompt encodes to no tokens", what)
	case n > m.m.Cfg.NCtx:
		return none, errorf(http.StatusBadRequest, "web: %s: the prompt is %d tokens, more than n_ctx %d", what, n, m.m.Cfg.NCtx)
	}
	if _, _, _, err := m.m.CheckTokens([][]int{enc.IDs}); err != nil {
		return none, errorf(http.StatusBadRequest, "web: %s: %v", what, err)
	}
	return enc, nil
}

// spanPieces returns each token's text: the bytes of the prompt it covers,
// or its piece when it covers none (a BOS token).
func spanPieces(m *model, prompt string, enc tokenizer.Encoding) []string {
	out := make([]string, len(enc.IDs))
	for i, sp := range enc.Spans {
		if sp.End > sp.Start {
			out[i] = visibleBytes(prompt[sp.Start:sp.End])
		} else {
			out[i] = m.pieceText(enc.IDs[i])
		}
	}
	return out
}

// pieceText returns token id's text for display ("" for an id the
// tokenizer does not have or a model without one).
func (m *model) pieceText(id int) string {
	if m.tok == nil {
		return ""
	}
	p, err := m.tok.Piece(id)
	if err != nil {
		return ""
	}
	return visibleBytes(p)
}

// visibleBytes returns s with each byte that is not part of valid UTF-8
// (a token holding part of a character) written as \xNN.
func visibleBytes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, `\x%02X`, s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// oneToken returns the single token a string encodes to (no BOS): the
// answer of a metric or a row of the circuit explorer given as text.
func (m *model) oneToken(what, s string) (int, error) {
	enc, err := m.encode(what, s, "never")
	if err != nil {
		return 0, err
	}
	if len(enc.IDs) != 1 {
		parts := make([]string, len(enc.IDs))
		for i, id := range enc.IDs {
			parts[i] = strconv.Quote(m.pieceText(id))
		}
		return 0, errorf(http.StatusBadRequest, "web: %s %q is %d tokens (%s), not one; try a leading space, or another word", what, s, len(enc.IDs), strings.Join(parts, " "))
	}
	return enc.IDs[0], nil
}

// textAnswers sets *answer and *wrong to the one token each of
// answerText and wrongText encodes to, when given; giving both forms of
// one is an error.
func (m *model) textAnswers(answerText, wrongText *string, answer, wrong **int) error {
	for _, a := range []struct {
		what string
		text *string
		id   **int
	}{{"answer", answerText, answer}, {"wrong", wrongText, wrong}} {
		if a.text == nil {
			continue
		}
		if *a.id != nil {
			return errorf(http.StatusBadRequest, "web: give %s or %s_text, not both", a.what, a.what)
		}
		id, err := m.oneToken(a.what, *a.text)
		if err != nil {
			return err
		}
		*a.id = &id
	}
	return nil
}

// encodeResponse is POST /tokens/encode: the prompt's tokens, their
// text and byte spans in the prompt, and the BOS policy applied.
type encodeResponse struct {
	Tokens   []int    `json:"tokens"`
	Pieces   []string `json:"pieces"`
	Spans    [][2]int `json:"spans"`
	BOS      string   `json:"bos"`
	BOSAdded bool     `json:"bos_added"`
}

// encodePromptHandler answers POST /tokens/encode {"prompt", "bos"}.
func (a *tokensAPI) encode(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	var in struct {
		Prompt string `json:"prompt"`
		BOS    string `json:"bos"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.BOS == "" {
		in.BOS = "auto"
	}
	enc, err := m.encode("prompt", in.Prompt, in.BOS)
	if err != nil {
		return err
	}
	out := encodeResponse{Tokens: enc.IDs, Pieces: spanPieces(m, in.Prompt, enc), BOS: in.BOS}
	for i, sp := range enc.Spans {
		out.Spans = append(out.Spans, [2]int{sp.Start, sp.End})
		if i == 0 && sp.End == 0 && enc.IDs[0] == m.tok.BOSID() {
			out.BOSAdded = true
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// appendJSONStrings writes ss as a JSON array of strings.
func appendJSONStrings(b []byte, ss []string) []byte {
	js, _ := json.Marshal(ss) // strings always marshal
	return append(b, js...)
}

// appendJSONString writes s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	js, _ := json.Marshal(s) // strings always marshal
	return append(b, js...)
}
