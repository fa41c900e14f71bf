package circuits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// detectTol bounds float64 rounding in sums of a few dozen terms.
const detectTol = 1e-12

// tlDuplicate and tlInduction build the detection patterns the way
// TransformerLens's head_detector does — an equality mask with its diagonal
// cleared and its upper triangle dropped; that mask rolled one column to the
// right with column 0 cleared — to check our direct constructions against.
func tlDuplicate(toks []int) *mat.Dense {
	n := len(toks)
	p := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			if toks[i] == toks[j] && i != j && j <= i {
				p.Set(i, j, 1)
			}
		}
	}
	return p
}

func tlInduction(toks []int) *mat.Dense {
	n := len(toks)
	dup := tlDuplicate(toks)
	p := mat.NewDense(n, n, nil)
	for i := range n {
		for j := 1; j < n; j++ {
			if j <= i { // tril after the roll
				p.Set(i, j, dup.At(i, (j-1+n)%n))
			}
		}
	}
	return p
}

func TestDetectionPatternsMatchTransformerLens(t *testing.T) {
	for _, toks := range [][]int{
		{1, 2, 3, 1, 2, 3, 3},
		{5, 5, 5, 5},
		{0, 1, 2, 3},
		{4, 7, 4, 7, 9, 4},
	} {
		if got, want := DuplicateTokenPattern(toks), tlDuplicate(toks); !mat.Equal(got, want) {
			t.Errorf("DuplicateTokenPattern(%v):\n%v\nwant\n%v", toks, mat.Formatted(got), mat.Formatted(want))
		}
		if got, want := InductionPattern(toks), tlInduction(toks); !mat.Equal(got, want) {
			t.Errorf("InductionPattern(%v):\n%v\nwant\n%v", toks, mat.Formatted(got), mat.Formatted(want))
		}
		prev := PrevTokenPattern(toks)
		for i := range len(toks) {
			for j := range len(toks) {
				if want := b2f(j == i-1); prev.At(i, j) != want {
					t.Errorf("PrevTokenPattern(%v)[%d][%d] = %v, want %v", toks, i, j, prev.At(i, j), want)
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestDetectionScore(t *testing.T) {
	// A 3-position head: row 0 on itself; row 1 0.25/0.75; row 2 0.5/0.3/0.2.
	a := mat.NewDense(3, 3, []float64{
		1, 0, 0,
		0.25, 0.75, 0,
		0.5, 0.3, 0.2,
	})
	prev := PrevTokenPattern([]int{0, 0, 0})
	for _, c := range []struct {
		opt  DetectOptions
		want float64
	}{
		// Σ A⊙P = 0.25 + 0.3; Σ A = 3.
		{DetectOptions{}, 0.55 / 3},
		// Column 0 zeroed: Σ A⊙P = 0.3, Σ A = 0.75 + 0.3 + 0.2.
		{DetectOptions{ExcludeBOS: true}, 0.3 / 1.25},
		// Diagonal zeroed: Σ A = 0.25 + 0.5 + 0.3.
		{DetectOptions{ExcludeCurrentToken: true}, 0.55 / 1.05},
		// Both: only (2, 1) = 0.3 is left.
		{DetectOptions{ExcludeBOS: true, ExcludeCurrentToken: true}, 1},
		// |A − P| sums to 0 + 2·0.75 + (0.5 + 0.7 + 0.2) + 1 (row 0) = 3.9; 1 − 3.9/3.
		{DetectOptions{Measure: Abs}, 1 - 3.9/3},
		// Column 0 of |A − P| (1, 0.75, 0.5) zeroed.
		{DetectOptions{Measure: Abs, ExcludeBOS: true}, 1 - 1.65/3},
		// Diagonal of |A − P| (1, 0.75, 0.2) zeroed.
		{DetectOptions{Measure: Abs, ExcludeCurrentToken: true}, 1 - 1.95/3},
	} {
		got, err := DetectionScore(a, prev, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > detectTol {
			t.Errorf("%s, exclude BOS %v, current %v: %v, want %v", c.opt.Measure, c.opt.ExcludeBOS, c.opt.ExcludeCurrentToken, got, c.want)
		}
	}
	// A perfect previous-token head misses only row 0, which can attend
	// nowhere but to itself: 2/3 under both measures.
	perfect := mat.NewDense(3, 3, []float64{1, 0, 0, 1, 0, 0, 0, 1, 0})
	for _, m := range []Measure{Mul, Abs} {
		if got, err := DetectionScore(perfect, prev, DetectOptions{Measure: m}); err != nil || math.Abs(got-2.0/3) > detectTol {
			t.Errorf("%s: perfect previous-token head scores %v, %v; want 2/3", m, got, err)
		}
	}
	// No attention left after the exclusions: 0, not NaN.
	diag := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	if got, err := DetectionScore(diag, PrevTokenPattern([]int{1, 2}), DetectOptions{ExcludeCurrentToken: true}); err != nil || got != 0 {
		t.Errorf("all attention excluded: %v, %v; want 0", got, err)
	}
}

func TestDetectionScoreErrors(t *testing.T) {
	a := mat.NewDense(3, 3, []float64{1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5})
	upper := mat.NewDense(3, 3, nil)
	upper.Set(0, 2, 1)
	nan := mat.NewDense(3, 3, nil)
	nan.Set(1, 0, math.NaN())
	for name, c := range map[string]struct {
		pattern, det *mat.Dense
		shape        bool
	}{
		"non-square pattern": {mat.NewDense(2, 3, nil), PrevTokenPattern([]int{1, 2}), true},
		"wrong size":         {a, PrevTokenPattern([]int{1, 2}), true},
		"above diagonal":     {a, upper, false},
		"not finite":         {a, nan, false},
	} {
		_, err := DetectionScore(c.pattern, c.det, DetectOptions{})
		if err == nil || c.shape && !errors.Is(err, mat.ErrShape) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestPatternsInvariants(t *testing.T) {
	m := tinyModel(t, 4)
	rng := rand.New(rand.NewPCG(4, 4))
	var toks [][]int
	for _, n := range []int{5, 7, 5, 3} { // two lengths batched together, two alone
		s := make([]int, n)
		for i := range s {
			s[i] = rng.IntN(10)
		}
		toks = append(toks, s)
	}
	p, err := RunPatterns(context.Background(), m, toks)
	if err != nil {
		t.Fatal(err)
	}
	for s := range toks {
		alone, err := RunPatterns(context.Background(), m, toks[s:s+1])
		if err != nil {
			t.Fatal(err)
		}
		for l := range 2 {
			for h := range 3 {
				a, _ := p.Pattern(s, l, h)
				b, _ := alone.Pattern(0, l, h)
				label := fmt.Sprintf("sequence %d %s", s, HeadLabel(l, h))
				if !mat.EqualApprox(a, b, 1e-6) {
					t.Errorf("%s: batched pattern differs from the sequence run alone", label)
				}
				T, _ := a.Dims()
				for i := range T {
					row := a.RawRowView(i)
					if sum := floatsSum(row); math.Abs(sum-1) > 1e-5 {
						t.Errorf("%s: row %d sums to %v", label, i, sum)
					}
					for j := i + 1; j < T; j++ {
						if row[j] != 0 {
							t.Errorf("%s: pattern[%d][%d] = %v above the diagonal", label, i, j, row[j])
						}
					}
				}
			}
		}
	}
	if _, err := p.Pattern(4, 0, 0); !errors.Is(err, ErrHeadIndex) {
		t.Errorf("Pattern(4, 0, 0): %v, want ErrHeadIndex", err)
	}
	// Detect is the mean over sequences of DetectionScore.
	got, err := p.Detect(InductionPattern, DetectOptions{ExcludeBOS: true})
	if err != nil {
		t.Fatal(err)
	}
	for l := range 2 {
		for h := range 3 {
			var want float64
			for s, tk := range toks {
				a, _ := p.Pattern(s, l, h)
				v, err := DetectionScore(a, InductionPattern(tk), DetectOptions{ExcludeBOS: true})
				if err != nil {
					t.Fatal(err)
				}
				want += v / float64(len(toks))
			}
			if math.Abs(got[l][h]-want) > detectTol {
				t.Errorf("%s: Detect %v, mean DetectionScore %v", HeadLabel(l, h), got[l][h], want)
			}
		}
	}
	// A fixed pattern must fit every sequence; sequences need 2 tokens.
	if _, err := p.Detect(FixedPattern(PrevTokenPattern(make([]int, 5))), DetectOptions{}); !errors.Is(err, mat.ErrShape) {
		t.Errorf("fixed 5×5 pattern on lengths 5, 7, 3: %v, want ErrShape", err)
	}
	if _, err := DetectHead(context.Background(), m, [][]int{{3}}, PrevTokenPattern, DetectOptions{}); err == nil {
		t.Error("one-token sequence accepted")
	}
	if _, err := DetectHead(context.Background(), m, [][]int{{3, 10}}, PrevTokenPattern, DetectOptions{}); err == nil {
		t.Error("token 10 of a vocabulary of 10 accepted")
	}
}

func floatsSum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}
