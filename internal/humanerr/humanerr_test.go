package humanerr

import "testing"

func TestStrip(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"web: tokens: transformer: token 999 at position 2 is out of range [0, 64)", "token 999 at position 2 is out of range [0, 64)"},
		{"eval: checkpoint: model.safetensors: not a safetensors file: it starts like a zip archive", "eval: model.safetensors: not a safetensors file: it starts like a zip archive"},
		{"sae: lm: x", "x"},
		{"datasets: missing", "datasets: missing"}, // a word that only starts like a package name stays
		{"the transformer: layer 3", "the transformer: layer 3"},
		{"", ""},
	} {
		if got := Strip(tt.in); got != tt.want {
			t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
