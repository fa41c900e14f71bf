package web

import (
	"net/http"
	"strconv"

	"github.com/mechinterp/workbench/transformer"
)

// Long sequences: a 1,024-token pattern is half a million weights a head,
// so the attention page asks for every head as a max-pooled thumbnail and
// for the full patterns of the heads it shows.

// selectHeads parses a request's heads: which of the layer·n_heads heads
// to send in full (all when heads is nil) and whether "max" was asked.
func selectHeads(c transformer.Config, heads []string) ([]bool, bool, error) {
	want := make([]bool, c.NLayers*c.NHeads)
	if heads == nil {
		for i := range want {
			want[i] = true
		}
		return want, false, nil
	}
	if len(heads) > len(want)+1 {
		return nil, false, errorf(http.StatusBadRequest, "web: %d heads asked for, the model has %d (and \"max\")", len(heads), len(want))
	}
	wantMax := false
	for _, h := range heads {
		if h == "max" {
			wantMax = true
			continue
		}
		i, ok := headIndex(c, h)
		if !ok {
			return nil, false, errorf(http.StatusBadRequest, "web: head %q: want L{layer}H{head} with layer < %d and head < %d, or \"max\"", h, c.NLayers, c.NHeads)
		}
		want[i] = true
	}
	return want, wantMax, nil
}

// headIndex parses "L{l}H{h}" into l·n_heads + h.
func headIndex(c transformer.Config, s string) (int, bool) {
	if len(s) < 4 || s[0] != 'L' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] != 'H' {
			continue
		}
		l, err1 := strconv.Atoi(s[1:i])
		h, err2 := strconv.Atoi(s[i+1:])
		if err1 != nil || err2 != nil || l < 0 || l >= c.NLayers || h < 0 || h >= c.NHeads || strconv.Itoa(l) != s[1:i] || strconv.Itoa(h) != s[i+1:] {
			return 0, false
		}
		return l*c.NHeads + h, true
	}
	return 0, false
}

// appendMaxPattern writes ,"max_pattern":[dest][src] and
// ,"max_head":[dest][src]: for each causal cell the largest weight over
// every head and that head (layer·n_heads + head; the first on ties).
func appendMaxPattern(b []byte, ws *transformer.Workspace, nLayers, nHeads, pos int) []byte {
	best := make([]float32, pos*(pos+1)/2)
	arg := make([]int, len(best))
	for i := range best {
		best[i] = -1
	}
	for l := range nLayers {
		p := ws.Pattern(l).Data
		for h := range nHeads {
			k := 0
			for q := range pos {
				row := p[(h*pos+q)*pos:][:q+1]
				for _, v := range row {
					if v > best[k] {
						best[k], arg[k] = v, l*nHeads+h
					}
					k++
				}
			}
		}
	}
	b = append(b, `,"max_pattern":[`...)
	k := 0
	for q := range pos {
		if q > 0 {
			b = append(b, ',')
		}
		b = appendFloats(b, best[k:k+q+1])
		k += q + 1
	}
	b = append(b, `],"max_head":[`...)
	k = 0
	for q := range pos {
		if q > 0 {
			b = append(b, ',')
		}
		b = appendInts(b, arg[k:k+q+1])
		k += q + 1
	}
	return append(b, ']')
}

// thumbSide is the side of a thumbnail of a pos×pos pattern at most n a
// side: pos itself when it fits.
func thumbSide(pos, n int) int { return min(pos, n) }

// thumbnail max-pools head h of a pattern p [head, pos, pos] into s×s
// cells: cell (i, j) is the largest weight of rows ⌊i·pos/s⌋ up to
// ⌊(i+1)·pos/s⌋ and the same columns (the causal mask's zeros included).
func thumbnail(dst []float32, p []float32, h, pos, s int) {
	clear(dst)
	for q := range pos {
		i := q * s / pos
		row := p[(h*pos+q)*pos:][:q+1]
		out := dst[i*s : (i+1)*s]
		for k, v := range row {
			if j := k * s / pos; v > out[j] {
				out[j] = v
			}
		}
	}
}

// appendThumbnails writes ,"thumbnail":s,"thumbnails":[layer][head][s·s].
func appendThumbnails(b []byte, ws *transformer.Workspace, nLayers, nHeads, pos, n int) []byte {
	s := thumbSide(pos, n)
	b = append(b, `,"thumbnail":`...)
	b = strconv.AppendInt(b, int64(s), 10)
	b = append(b, `,"thumbnails":[`...)
	cells := make([]float32, s*s)
	for l := range nLayers {
		if l > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		p := ws.Pattern(l).Data
		for h := range nHeads {
			if h > 0 {
				b = append(b, ',')
			}
			thumbnail(cells, p, h, pos, s)
			b = appendFloats(b, cells)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}
