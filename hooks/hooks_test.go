package hooks

import (
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

func TestNames(t *testing.T) {
	tests := []struct {
		got  Name
		want string
	}{
		{Embed(), "hook_embed"},
		{PosEmbed(), "hook_pos_embed"},
		{ResidPre(0), "blocks.0.hook_resid_pre"},
		{ResidMid(3), "blocks.3.hook_resid_mid"},
		{ResidPost(11), "blocks.11.hook_resid_post"},
		{LN1Scale(1), "blocks.1.ln1.hook_scale"},
		{LN2Normalized(0), "blocks.0.ln2.hook_normalized"},
		{Q(1), "blocks.1.attn.hook_q"},
		{Z(0), "blocks.0.attn.hook_z"},
		{AttnScores(1), "blocks.1.attn.hook_attn_scores"},
		{Pattern(0), "blocks.0.attn.hook_pattern"},
		{Result(0), "blocks.0.attn.hook_result"},
		{AttnOut(0), "blocks.0.hook_attn_out"},
		{MLPPre(0), "blocks.0.mlp.hook_pre"},
		{MLPPost(0), "blocks.0.mlp.hook_post"},
		{MLPOut(1), "blocks.1.hook_mlp_out"},
		{LNFinalScale(), "ln_final.hook_scale"},
		{LNFinalNormalized(), "ln_final.hook_normalized"},
		{UnembedOut(), "unembed.hook_out"},
		{Pattern(0).Grad(), "blocks.0.attn.hook_pattern_grad"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if l := Pattern(7).Layer(); l != 7 {
		t.Errorf("Pattern(7).Layer() = %d, want 7", l)
	}
	if l := Embed().Layer(); l != -1 {
		t.Errorf("Embed().Layer() = %d, want -1", l)
	}
	if k := Pattern(12).Kind(); k != "attn.hook_pattern" {
		t.Errorf("Kind = %q", k)
	}
}

func TestParse(t *testing.T) {
	known := []Name{Embed(), Pattern(0), Pattern(1), ResidPost(0), ResidPost(1)}
	if n, err := Parse(" blocks.1.attn.hook_pattern ", known); err != nil || n != Pattern(1) {
		t.Errorf("Parse(valid) = %q, %v", n, err)
	}
	if n, err := Parse("blocks.1.attn.hook_pattern_grad", known); err != nil || n != Pattern(1).Grad() {
		t.Errorf("Parse(grad) = %q, %v", n, err)
	}
	_, err := Parse("blocks.1.attn.hook_patern", known)
	if err == nil || !strings.Contains(err.Error(), `"blocks.1.attn.hook_pattern"`) {
		t.Errorf("Parse(typo) error = %v, want a suggestion of blocks.1.attn.hook_pattern", err)
	}
	if _, err := Parse("zzz", known); err == nil {
		t.Error("Parse(zzz) succeeded")
	}
}

func TestSetOrderAndReplace(t *testing.T) {
	var trace []string
	s := NewSet().
		Add(Pattern(0), func(a *tensor.Tensor, n Name) *tensor.Tensor {
			trace = append(trace, "first")
			a.Data[0] = 5
			return nil
		}).
		AddMatch(func(n Name) bool { return strings.HasSuffix(string(n), "hook_pattern") }, func(a *tensor.Tensor, n Name) *tensor.Tensor {
			trace = append(trace, "second saw "+string(rune('0'+int(a.Data[0]))))
			r := tensor.New(a.Shape...)
			r.Data[1] = 9
			return r
		})
	act := tensor.FromSlice([]float32{1, 2}, 2)
	if err := s.RunForward(Pattern(0), act); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, ","); got != "first,second saw 5" {
		t.Errorf("trace = %q", got)
	}
	if act.Data[0] != 0 || act.Data[1] != 9 {
		t.Errorf("after replacement act = %v, want [0 9]", act.Data)
	}
	if s.HasForward(Pattern(1)) != true || s.HasForward(Embed()) {
		t.Error("HasForward wrong")
	}
	bad := NewSet().Add(Embed(), func(a *tensor.Tensor, n Name) *tensor.Tensor { return tensor.New(3) })
	if err := bad.RunForward(Embed(), act); err == nil {
		t.Error("replacement of wrong shape was accepted")
	}
	var nilSet *Set
	if err := nilSet.RunForward(Embed(), act); err != nil || nilSet.HasForward(Embed()) || !nilSet.Empty() {
		t.Error("nil set is not empty")
	}
}

func TestCache(t *testing.T) {
	s, c := CaptureWithGrads(Names(ResidPost(0), Pattern(0)))
	// [batch 2, pos 3, d 2]
	resid := tensor.FromSlice([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 3, 2)
	if err := s.RunForward(ResidPost(0), resid); err != nil {
		t.Fatal(err)
	}
	if err := s.RunForward(Embed(), resid); err != nil {
		t.Fatal(err)
	}
	if err := s.RunBackward(ResidPost(0), resid); err != nil {
		t.Fatal(err)
	}
	resid.Data[0] = 100 // the cache holds a copy
	got, ok := c.Get(ResidPost(0))
	if !ok || got.Data[0] != 0 {
		t.Fatalf("cached = %v, %v", got, ok)
	}
	if _, ok := c.Get(ResidPost(0).Grad()); !ok {
		t.Error("gradient not cached")
	}
	if _, ok := c.Get(Embed()); ok {
		t.Error("filter let hook_embed through")
	}
	sl, err := c.SlicePos(ResidPost(0), []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4, 5, 0, 1, 10, 11, 6, 7}
	for i := range want {
		if sl.Data[i] != want[i] {
			t.Fatalf("SlicePos = %v, want %v", sl.Data, want)
		}
	}
	if _, err := c.SlicePos(ResidPost(0), []int{3}); err == nil {
		t.Error("out-of-range position accepted")
	}
	st, err := c.Stack([]Name{ResidPost(0), ResidPost(0).Grad()})
	if err != nil || !tensor.SameShape(st.Shape, []int{2, 2, 3, 2}) {
		t.Errorf("Stack = %v, %v", st.Shape, err)
	}
	if PosAxis(Pattern(3)) != 2 || PosAxis(ResidPre(0)) != 1 {
		t.Error("PosAxis wrong")
	}
}

func TestCacheSaveLoad(t *testing.T) {
	c := NewCache()
	c.Put(ResidPost(1), tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 1, 3, 2))
	c.Put(Embed(), tensor.FromSlice([]float32{-1, 0.5}, 1, 1, 2))
	c.Put(Pattern(0).Grad(), tensor.FromSlice([]float32{7}, 1, 1, 1, 1))
	path := t.TempDir() + "/cache.safetensors"
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	names := got.Names()
	want := c.Names()
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("order %v, want %v", names, want)
		}
		a, _ := c.Get(want[i])
		b, _ := got.Get(want[i])
		if !tensor.SameShape(a.Shape, b.Shape) {
			t.Fatalf("%s: shape %v, want %v", want[i], b.Shape, a.Shape)
		}
		for j := range a.Data {
			if a.Data[j] != b.Data[j] {
				t.Fatalf("%s differs", want[i])
			}
		}
	}
}

// TestCaptureGradsIsExplicit checks that Capture caches activations only
// and CaptureWithGrads adds the gradients, each named by its function
// rather than by a bool argument.
func TestCaptureGradsIsExplicit(t *testing.T) {
	act := tensor.FromSlice([]float32{1, 2}, 1, 1, 2)
	for _, tc := range []struct {
		name      string
		capture   func(func(Name) bool) (*Set, *Cache)
		wantGrads bool
	}{
		{"Capture", Capture, false},
		{"CaptureWithGrads", CaptureWithGrads, true},
	} {
		s, c := tc.capture(Names(ResidPost(0)))
		if got := s.AnyBackward(); got != tc.wantGrads {
			t.Errorf("%s: set has backward hooks %v, want %v", tc.name, got, tc.wantGrads)
		}
		if err := s.RunForward(ResidPost(0), act); err != nil {
			t.Fatal(err)
		}
		if err := s.RunBackward(ResidPost(0), act); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(ResidPost(0)); !ok {
			t.Errorf("%s: activation not cached", tc.name)
		}
		if _, ok := c.Get(ResidPost(0).Grad()); ok != tc.wantGrads {
			t.Errorf("%s: gradient cached %v, want %v", tc.name, ok, tc.wantGrads)
		}
	}
}
