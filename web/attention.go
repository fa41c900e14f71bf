package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/transformer"
)

// attentionAPI is /api/models/{name}/attention: every head's attention
// pattern on one token sequence.
type attentionAPI struct{ log *slog.Logger }

// Routes returns the /attention router: GET with ?tokens=1,2,3 (or
// ?text=, ?prompt=; ?heads=L0H1,max and ?thumbnail=N as the body's), POST
// with an attentionRequest.
func (a *attentionAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		in, err := tokensFromQuery(q)
		if err != nil {
			return err
		}
		req := attentionRequest{tokensInput: in}
		if q.Has("heads") {
			req.Heads = strings.Split(q.Get("heads"), ",")
		}
		if req.Thumbnail, err = intParam(q, "thumbnail", 0, minThumbnail, maxThumbnail); err != nil {
			return err
		}
		return a.serve(w, r, req)
	}))
	r.Post("/", handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		var in attentionRequest
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		return a.serve(w, r, in)
	}))
	return r
}

// attentionRequest is the sequence and, for long sequences, what to send
// of it: Heads ("L0H1", …, and "max" for the maximum over heads) limits
// the full patterns to those heads; Thumbnail N adds every head's pattern
// max-pooled to at most N×N cells.
type attentionRequest struct {
	tokensInput
	Heads     []string `json:"heads,omitempty"`
	Thumbnail int      `json:"thumbnail,omitempty"`
}

// Bounds of the attention endpoint: thumbnail sizes, and the pattern
// values one answer holds (a 12-layer, 12-head model at 1,024 tokens has
// 75 million: ask for heads).
const (
	minThumbnail     = 8
	maxThumbnail     = 256
	maxPatternValues = 8 << 20
)

// serve runs the model once and writes
//
//	{"tokens": [pos], "labels": ["L0H0", ...], "n_layers", "n_heads",
//	 "patterns": [layer][head][dest][src], "predictions": [pos]{"token", "prob"}}
//
// where each pattern row dest holds only src = 0..dest (the causal mask
// zeroes the rest), with four decimals, and predictions[p] is the most
// probable next token after position p. A model with a tokenizer adds
// "pieces" (each token's text) and each prediction's "text". With heads,
// the patterns of other heads are [], and "max" adds "max_pattern"
// [dest][src] and "max_head" [dest][src] (the head attending most, as
// layer·n_heads + head); with thumbnail, "thumbnail" is the side s and
// "thumbnails" [layer][head] each s·s values, row-major, every cell the
// maximum of its block of the pattern (0 above the diagonal). The JSON is
// written by hand: the patterns are most of the bytes and this is the
// dashboard's hottest endpoint.
func (a *attentionAPI) serve(w http.ResponseWriter, r *http.Request, in attentionRequest) error {
	m := modelFrom(r)
	c := m.m.Cfg
	if in.Thumbnail != 0 && (in.Thumbnail < minThumbnail || in.Thumbnail > maxThumbnail) {
		return errorf(http.StatusBadRequest, "web: thumbnail %d: want %d to %d cells a side", in.Thumbnail, minThumbnail, maxThumbnail)
	}
	want, wantMax, err := selectHeads(c, in.Heads)
	if err != nil {
		return err
	}
	toks, pieces, ws, err := forward(r.Context(), m, in.tokensInput)
	if err != nil {
		return err
	}
	defer m.release(ws)
	pos := len(toks)
	heads := 0
	for _, ok := range want {
		if ok {
			heads++
		}
	}
	if wantMax {
		heads++
	}
	if n := heads * pos * (pos + 1) / 2; n > maxPatternValues {
		return errorf(http.StatusUnprocessableEntity, "web: %d heads at %d tokens are %d attention weights, more than the %d one answer holds: ask for some \"heads\" (and a \"thumbnail\" of all)", heads, pos, n, maxPatternValues)
	}
	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	b := (*bp)[:0]
	b = append(b, `{"tokens":`...)
	b = appendInts(b, toks)
	if pieces != nil {
		b = append(b, `,"pieces":`...)
		b = appendJSONStrings(b, pieces)
	}
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
			if want[l*c.NHeads+h] {
				for q := range pos {
					if q > 0 {
						b = append(b, ',')
					}
					b = appendFloats(b, p[(h*pos+q)*pos:][:q+1])
				}
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	if wantMax {
		b = appendMaxPattern(b, ws, c.NLayers, c.NHeads, pos)
	}
	if in.Thumbnail > 0 {
		b = appendThumbnails(b, ws, c.NLayers, c.NHeads, pos, in.Thumbnail)
	}
	b = append(b, `,"predictions":[`...)
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
		if m.tok != nil {
			b = append(b, `,"text":`...)
			b = appendJSONString(b, m.pieceText(tok))
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeRawJSON(w, http.StatusOK, b)
	*bp = b
	return nil
}

// forward resolves a request's tokens and runs the model once on them, in
// a recycled workspace that the caller gives back with m.release.
func forward(ctx context.Context, m *model, in tokensInput) ([]int, []string, *transformer.Workspace, error) {
	toks, pieces, err := in.resolve("tokens", m)
	if err != nil {
		return nil, nil, nil, err
	}
	flat, _, pos, err := m.m.CheckTokens([][]int{toks})
	if err != nil {
		return nil, nil, nil, badRequest(err)
	}
	ws := m.workspace(pos)
	if err := ws.Forward(ctx, flat, nil); err != nil {
		m.release(ws)
		return nil, nil, nil, err
	}
	return toks, pieces, ws, nil
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
