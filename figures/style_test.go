package figures

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{" leading space", " leading space"},
		{"a\nb\tc\r", `a\nb\tc\r`},
		{"\x00\x1b", `\x00\x1b`},
		{"\u0085", `\u0085`},
		{"\xff", "\uFFFD"},
		{"\uFFFE", `\ufffe`},
		{"<|endoftext|>", "<|endoftext|>"},
	} {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("é", 100)
	if got := cleanLabel(long); utf8.RuneCountInString(got) != maxLabelRunes || !strings.HasSuffix(got, "…") {
		t.Errorf("cleanLabel of %d runes = %q, want %d runes ending in …", 100, got, maxLabelRunes)
	}
}

func TestFormatTick(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.5, "0.5"}, {1000, "1000"}, {1e6, "1e6"}, {1e-5, "1e-5"}, {-2.5e-12, "-2.5e-12"}, {1.23456, "1.235"}} {
		if got := formatTick(tc.v); got != tc.want {
			t.Errorf("formatTick(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestScale(t *testing.T) {
	seq := func(vs ...float64) func(func(float64) bool) {
		return func(yield func(float64) bool) {
			for _, v := range vs {
				if !yield(v) {
					return
				}
			}
		}
	}
	for _, tc := range []struct {
		name   string
		m      ColorMap
		r      Range
		values []float64
		lo, hi float64
	}{
		{"data", Sequential, Range{}, []float64{2, -1, 5, math.NaN(), math.Inf(1)}, -1, 5},
		{"diverging symmetric", Diverging, Range{}, []float64{-1, 3}, -3, 3},
		{"diverging zeros", Diverging, Range{}, []float64{0, 0}, -1, 1},
		{"constant", Sequential, Range{}, []float64{4, 4}, 2, 6},
		{"constant zero", Sequential, Range{}, []float64{0}, -0.5, 0.5},
		{"no finite values", Grey, Range{}, []float64{math.NaN()}, 0, 1},
		{"explicit", Diverging, Range{-1, 3}, []float64{100}, -1, 3},
	} {
		s, err := newScale(tc.m, tc.r, seq(tc.values...))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s.lo != tc.lo || s.hi != tc.hi {
			t.Errorf("%s: range [%v, %v], want [%v, %v]", tc.name, s.lo, s.hi, tc.lo, tc.hi)
		}
	}

	// A diverging map is white at 0 and symmetric in intensity.
	s, _ := newScale(Diverging, Range{-1, 3}, seq())
	white := s.color(0)
	if luminance(white) < 0.95 {
		t.Errorf("diverging colour of 0 is %v, want near white", white)
	}
	if neg, pos := s.color(-1), s.color(1); !(neg.B > neg.R && pos.R > pos.B) || math.Abs(luminance(neg)-luminance(pos)) > 0.1 {
		t.Errorf("diverging colours of -1 and 1: %v and %v, want blue and red of similar lightness", neg, pos)
	}
	// Sequential runs light to dark; ends are clamped; NaN is the mask colour.
	s, _ = newScale(Sequential, Range{0, 1}, seq())
	if luminance(s.color(0)) <= luminance(s.color(1)) || s.color(-5) != s.color(0) || s.color(7) != s.color(1) {
		t.Errorf("sequential colours %v (0), %v (1), %v (-5), %v (7)", s.color(0), s.color(1), s.color(-5), s.color(7))
	}
	if got := s.color(math.NaN()); got != maskColor {
		t.Errorf("colour of NaN %v, want the mask colour %v", got, maskColor)
	}
}
