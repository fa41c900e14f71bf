package web

import (
	"net/http"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/lens"
)

// dlaRequest is POST /lens/dla: a sequence, the answer token (and, for a
// logit difference, a wrong one) as ids or, for a model with a tokenizer,
// strings of one token each, and the position (default the last).
type dlaRequest struct {
	tokensInput
	Answer     *int    `json:"answer,omitempty"`
	Wrong      *int    `json:"wrong,omitempty"`
	AnswerText *string `json:"answer_text,omitempty"`
	WrongText  *string `json:"wrong_text,omitempty"`
	Pos        *int    `json:"pos,omitempty"`
}

// dlaResponse is the direct logit attribution of the final residual
// stream at one position: each component's share of the answer's logit
// (or of answer − wrong) through the linearised ln_final and W_U, the
// constant no component writes, their sum, and the model's own logit
// (difference) there, which the sum equals up to rounding.
type dlaResponse struct {
	Tokens     []int     `json:"tokens"`
	Pieces     []string  `json:"pieces,omitempty"`
	Pos        int       `json:"pos"`
	Answer     int       `json:"answer"`
	Wrong      *int      `json:"wrong,omitempty"`
	AnswerText *string   `json:"answer_text,omitempty"`
	WrongText  *string   `json:"wrong_text,omitempty"`
	Labels     []string  `json:"labels"`
	Values     []float64 `json:"values"`
	Const      float64   `json:"const"`
	Total      float64   `json:"total"`
	Logit      float64   `json:"logit"`
}

func (a *lensAPI) dla(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	var in dlaRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := m.textAnswers(in.AnswerText, in.WrongText, &in.Answer, &in.Wrong); err != nil {
		return err
	}
	if in.Answer == nil {
		return errorf(http.StatusBadRequest, "web: DLA needs an \"answer\" token id or, for a model with a tokenizer, an \"answer_text\"")
	}
	toks, pieces, ws, err := forward(r.Context(), m, in.tokensInput)
	if err != nil {
		return err
	}
	c := m.m.Cfg
	V := c.DVocabOut
	pos := len(toks) - 1
	if in.Pos != nil {
		pos = *in.Pos
		if pos < 0 {
			pos += len(toks)
		}
		if pos < 0 || pos >= len(toks) {
			m.release(ws)
			return errorf(http.StatusBadRequest, "web: pos %d is outside the %d positions", *in.Pos, len(toks))
		}
	}
	for _, t := range []*int{in.Answer, in.Wrong} {
		if t != nil && (*t < 0 || *t >= V) {
			m.release(ws)
			return errorf(http.StatusBadRequest, "web: token %d is outside the output vocabulary [0, %d)", *t, V)
		}
	}
	row := ws.Logits().Data[pos*V : (pos+1)*V]
	logit := float64(row[*in.Answer])
	if in.Wrong != nil {
		logit -= float64(row[*in.Wrong])
	}
	m.release(ws)

	dc, err := lens.Decompose(r.Context(), m.m, [][]int{toks}, hooks.ResidPost(c.NLayers-1))
	if err != nil {
		return inputErr(r.Context(), err)
	}
	var wrong []int
	if in.Wrong != nil {
		wrong = []int{*in.Wrong}
	}
	att, err := dc.DLA(m.m, []int{*in.Answer}, wrong)
	if err != nil {
		return badRequest(err)
	}
	out := dlaResponse{Tokens: toks, Pieces: pieces, Pos: pos, Answer: *in.Answer, Wrong: in.Wrong, Labels: att.Labels,
		Const: att.Const[0], Total: att.Total(0, pos), Logit: logit}
	for ci := range att.Labels {
		out.Values = append(out.Values, att.Values[ci][0][pos])
	}
	if m.tok != nil {
		s := m.pieceText(*in.Answer)
		out.AnswerText = &s
		if in.Wrong != nil {
			s := m.pieceText(*in.Wrong)
			out.WrongText = &s
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
