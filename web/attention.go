package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/transformer"
)

// attentionAPI is /api/models/{name}/attention: every head's attention
// pattern on one token sequence.
type attentionAPI struct{ log *slog.Logger }

// Routes returns the /attention router: GET with ?tokens=1,2,3 (or
// ?text=), POST with {"tokens": [...]} or {"text": "..."}.
func (a *attentionAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		in, err := tokensFromQuery(r.URL.Query())
		if err != nil {
			return err
		}
		return a.serve(w, r, in)
	}))
	r.Post("/", handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		var in tokensInput
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		return a.serve(w, r, in)
	}))
	return r
}

// serve runs the model once and writes
//
//	{"tokens": [pos], "labels": ["L0H0", ...], "n_layers", "n_heads",
//	 "patterns": [layer][head][dest][src], "predictions": [pos]{"token", "prob"}}
//
// where each pattern row dest holds only src = 0..dest (the causal mask
// zeroes the rest), with four decimals, and predictions[p] is the most
// probable next token after position p. The JSON is written by hand: the
// patterns are most of the bytes and this is the dashboard's hottest
// endpoint.
func (a *attentionAPI) serve(w http.ResponseWriter, r *http.Request, in tokensInput) error {
	m := modelFrom(r)
	toks, ws, err := forward(r.Context(), m, in)
	if err != nil {
		return err
	}
	defer m.release(ws)
	pos := len(toks)
	c := m.m.Cfg
	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	b := (*bp)[:0]
	b = append(b, `{"tokens":`...)
	b = appendInts(b, toks)
	b = append(b, `,"labels":[`...)
	for i, l := range headLabels(c) {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, l)
	}
	b = append(b, `],"n_layers":`...)
	b = strconv.AppendInt(b, int64(c.NLayers), 10)
	b = append(b, `,"n_heads":`...)
	b = strconv.AppendInt(b, int64(c.NHeads), 10)
	b = append(b, `,"patterns":[`...)
	for l := range c.NLayers {
		p := ws.Pattern(l).Data // [1, head, pos, pos]
		if l > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for h := range c.NHeads {
			if h > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			for q := range pos {
				if q > 0 {
					b = append(b, ',')
				}
				b = appendFloats(b, p[(h*pos+q)*pos:][:q+1])
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	b = append(b, `],"predictions":[`...)
	V := c.DVocabOut
	logits := ws.Logits().Data
	for p := range pos {
		if p > 0 {
			b = append(b, ',')
		}
		tok, prob := top1(logits[p*V : (p+1)*V])
		b = append(b, `{"token":`...)
		b = strconv.AppendInt(b, int64(tok), 10)
		b = append(b, `,"prob":`...)
		b = appendFloat(b, prob)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeRawJSON(w, http.StatusOK, b)
	*bp = b
	return nil
}

// forward resolves a request's tokens and runs the model once on them, in
// a recycled workspace that the caller gives back with m.release.
func forward(ctx context.Context, m *model, in tokensInput) ([]int, *transformer.Workspace, error) {
	toks, err := in.resolve("tokens", m.m)
	if err != nil {
		return nil, nil, err
	}
	flat, _, pos, err := m.m.CheckTokens([][]int{toks})
	if err != nil {
		return nil, nil, badRequest(err)
	}
	ws := m.workspace(pos)
	if err := ws.Forward(ctx, flat, nil); err != nil {
		m.release(ws)
		return nil, nil, err
	}
	return toks, ws, nil
}

// top1 returns the most probable token of a row of logits and its
// softmax probability.
func top1(logits []float32) (int, float64) {
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	var z float64
	mx := float64(logits[best])
	for _, v := range logits {
		z += math.Exp(float64(v) - mx)
	}
	return best, 1 / z
}

func appendInts(b []byte, x []int) []byte {
	b = append(b, '[')
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return append(b, ']')
}

// appendFloats writes x as a JSON array of numbers with four decimals, as
// appendFloat, looking values in [0, 1] (attention weights) up in
// probStrings.
func appendFloats(b []byte, x []float32) []byte {
	table := probStrings()
	b = append(b, '[')
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		if v >= 0 && v <= 1 {
			b = append(b, table[int(float64(v)*1e4+0.5)]...)
		} else {
			b = appendFloat(b, float64(v))
		}
	}
	return append(b, ']')
}

// probStrings returns appendFloat's text for i/10⁴, i = 0..10⁴, built once.
var probStrings = sync.OnceValue(func() []string {
	out := make([]string, 1e4+1)
	for i := range out {
		out[i] = string(appendFloat(nil, float64(i)/1e4))
	}
	return out
})

// appendFloat writes v with four decimals and no trailing zeros ("0.25",
// "1", "0"); NaN and infinities, which JSON cannot hold, become 0. Values
// below 1e15 in magnitude are formatted with integer arithmetic, several
// times faster than strconv, which matters for the attention patterns.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, '0')
	}
	if math.Abs(v) >= 1e15 {
		return strconv.AppendFloat(b, v, 'g', 6, 64)
	}
	n := int64(math.Round(v * 1e4))
	if n == 0 {
		return append(b, '0')
	}
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	if n < 1e4 { // the common case: a probability
		b = append(b, '0')
	} else {
		b = strconv.AppendInt(b, n/1e4, 10)
	}
	frac := n % 1e4
	if frac == 0 {
		return b
	}
	digits := [4]byte{byte('0' + frac/1000), byte('0' + frac/100%10), byte('0' + frac/10%10), byte('0' + frac%10)}
	end := 4
	for digits[end-1] == '0' {
		end--
	}
	b = append(b, '.')
	return append(b, digits[:end]...)
}
