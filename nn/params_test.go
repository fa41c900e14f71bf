package nn

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
)

// transpose2 stores a [r, c] state-dict tensor transposed, [c, r], to
// exercise Layout.
type transpose2 struct{ r, c int }

func (l transpose2) ToDict(dst, src []float32) { // src [c, r] → dst [r, c]
	for i := range l.r {
		for j := range l.c {
			dst[i*l.c+j] = src[j*l.r+i]
		}
	}
}

func (l transpose2) FromDict(dst, src []float32) { // src [r, c] → dst [c, r]
	for i := range l.r {
		for j := range l.c {
			dst[j*l.r+i] = src[i*l.c+j]
		}
	}
}

func testSpecs() []ParamSpec {
	return []ParamSpec{
		{Name: "a.weight", Shape: []int{2, 3}, Decay: true, Init: Normal(0, 0.5), Layout: transpose2{2, 3}},
		{Name: "a.bias", Shape: []int{3}, Init: Uniform(0.25)},
		{Name: "bn.weight", Shape: []int{4}, Init: Ones()},
		{Name: "bn.bias", Shape: []int{4}},
		{Name: "b.weight", Shape: []int{2, 2}, Init: Normal(1, 0.1)},
	}
}

func TestParamsLayout(t *testing.T) {
	p := NewParams(testSpecs())
	if got, want := len(p.Data()), 6+3+4+4+4; got != want {
		t.Fatalf("arena of %d floats, want %d", got, want)
	}
	off := 0
	for i, s := range testSpecs() {
		v := p.View(i)
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		if len(v) != n || cap(v) != n || &v[0] != &p.Data()[off] {
			t.Errorf("tensor %s: view len %d cap %d at offset %d, want %d, %d at %d", s.Name, len(v), cap(v), off, n, n, off)
		}
		off += n
	}
	for i, pr := range p.List() {
		if pr.Name != testSpecs()[i].Name || &pr.Data[0] != &p.View(i)[0] || pr.Decay != testSpecs()[i].Decay {
			t.Errorf("List()[%d] = %s decay %v, want %s decay %v aliasing View(%d)", i, pr.Name, pr.Decay, testSpecs()[i].Name, testSpecs()[i].Decay, i)
		}
	}
	if d, shape, ok := p.Get("bn.bias"); !ok || !slices.Equal(shape, []int{4}) || &d[0] != &p.View(3)[0] {
		t.Errorf("Get(bn.bias) = %v, %v, %v", d, shape, ok)
	}
	if _, _, ok := p.Get("nope"); ok {
		t.Error("Get of an unknown name succeeded")
	}
	p.Data()[0] = 7
	c, z := p.Clone(), p.NewLike()
	p.Data()[0] = 8
	if c.Data()[0] != 7 || z.Data()[0] != 0 || len(z.Data()) != len(p.Data()) || z.Len() != p.Len() {
		t.Errorf("Clone holds %v (want 7, a deep copy); NewLike holds %v (want 0) over %d floats", c.Data()[0], z.Data()[0], len(z.Data()))
	}
}

// TestParamsInit checks Init against the definition, drawing from a second
// generator with the same seed in layout order.
func TestParamsInit(t *testing.T) {
	const seed = 11
	p := NewParams(testSpecs())
	p.Init(rand.New(rand.NewPCG(seed, seed)))
	ref := rand.New(rand.NewPCG(seed, seed))
	var want []float32
	for range 6 {
		want = append(want, float32(0.5*ref.NormFloat64()))
	}
	for range 3 {
		want = append(want, float32(0.25*(2*ref.Float64()-1)))
	}
	want = append(want, 1, 1, 1, 1, 0, 0, 0, 0)
	for range 4 {
		want = append(want, float32(1+0.1*ref.NormFloat64()))
	}
	for i := range want {
		if math.Float32bits(p.Data()[i]) != math.Float32bits(want[i]) {
			t.Fatalf("seed %d: element %d = %v, want %v", seed, i, p.Data()[i], want[i])
		}
	}
}

// TestStateDictRoundTrip writes two arenas through a safetensors file and
// reads them back into fresh ones, with a layout conversion on the way.
func TestStateDictRoundTrip(t *testing.T) {
	params, buffers := NewParams(testSpecs()), NewParams([]ParamSpec{{Name: "bn.running_var", Shape: []int{4}, Init: Ones()}})
	params.Init(rand.New(rand.NewPCG(1, 2)))
	buffers.Init(rand.New(rand.NewPCG(1, 2)))
	sd := StateDict(params, buffers)
	if len(sd) != 6 || sd[5].Name != "bn.running_var" {
		t.Fatalf("state dict has %d entries ending %q, want 6 ending bn.running_var", len(sd), sd[len(sd)-1].Name)
	}
	// a.weight is stored transposed: the dict holds element (i, j) at i*3+j.
	mem := params.View(0) // [3, 2]
	for i := range 2 {
		for j := range 3 {
			if sd[0].Data[i*3+j] != mem[j*2+i] {
				t.Fatalf("a.weight dict (%d, %d) = %v, memory holds %v", i, j, sd[0].Data[i*3+j], mem[j*2+i])
			}
		}
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	extra := checkpoint.Tensor{Name: "optim/m", Shape: []int{1}, Data: []float32{1}}
	if err := checkpoint.WriteFile(path, append(sd, extra), nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p2, b2 := params.NewLike(), buffers.NewLike()
	ignoreOptim := func(name string) bool { return strings.HasPrefix(name, "optim/") }
	if err := LoadStateDict(f, ignoreOptim, p2, b2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p2.Data(), params.Data()) || !slices.Equal(b2.Data(), buffers.Data()) {
		t.Error("loaded arenas differ from the saved ones")
	}

	// Errors name the tensor: an entry nobody holds, a missing one, a
	// mis-shaped one.
	for _, tc := range []struct {
		name  string
		specs []ParamSpec
		want  []string
	}{
		{"unexpected", testSpecs()[:4], []string{`unexpected tensor "b.weight"`, `unexpected tensor "optim/m"`}},
		{"missing", append(testSpecs(), ParamSpec{Name: "c.weight", Shape: []int{1}}), []string{`missing tensor "c.weight"`}},
		{"shape", []ParamSpec{{Name: "a.weight", Shape: []int{3, 2}}}, []string{`tensor "a.weight": want shape [3 2], got [2 3]`}},
	} {
		err := LoadStateDict(f, nil, NewParams(tc.specs), NewParams([]ParamSpec{{Name: "bn.running_var", Shape: []int{4}}}))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want one containing %s", tc.name, err, w)
			}
		}
	}
}
