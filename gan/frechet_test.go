package gan

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// frechetTol is the relative error allowed in the Fréchet distance of
// exactly given Gaussians: two float64 eigen-decompositions of well-
// conditioned matrices lose a few ulps times the dimension.
const frechetTol = 1e-9

func TestFrechetClosedForm(t *testing.T) {
	tests := []struct {
		name   string
		ma, mb []float64
		a, b   []float64 // 2×2 covariances, row-major
	}{
		{"identical", []float64{1, -2}, []float64{1, -2}, []float64{2, 0.5, 0.5, 1}, []float64{2, 0.5, 0.5, 1}},
		{"diagonal", []float64{0, 0}, []float64{3, 4}, []float64{4, 0, 0, 9}, []float64{1, 0, 0, 16}},
		{"non-commuting", []float64{1, 0}, []float64{0, 1}, []float64{2, 0.9, 0.9, 1}, []float64{1, -0.3, -0.3, 3}},
		{"singular", []float64{0, 0}, []float64{0, 0}, []float64{1, 1, 1, 1}, []float64{2, 0, 0, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Gaussian{Mean: tt.ma, Cov: mat.NewSymDense(2, tt.a)}
			b := Gaussian{Mean: tt.mb, Cov: mat.NewSymDense(2, tt.b)}
			got, err := FrechetDistance(a, b)
			if err != nil {
				t.Fatal(err)
			}
			// For 2×2 positive semi-definite M, tr √M = √(tr M + 2√det M);
			// with M = Σa^½ Σb Σa^½, tr M = tr(Σa Σb), det M = det Σa · det Σb.
			var ab mat.Dense
			ab.Mul(a.Cov, b.Cov)
			cross := math.Sqrt(mat.Trace(&ab) + 2*math.Sqrt(mat.Det(a.Cov)*mat.Det(b.Cov)))
			dm := (tt.ma[0]-tt.mb[0])*(tt.ma[0]-tt.mb[0]) + (tt.ma[1]-tt.mb[1])*(tt.ma[1]-tt.mb[1])
			want := max(dm+mat.Trace(a.Cov)+mat.Trace(b.Cov)-2*cross, 0)
			if math.Abs(got-want) > frechetTol*math.Max(1, want) {
				t.Errorf("FrechetDistance(%v, %v) = %.12g, want %.12g", tt.a, tt.b, got, want)
			}
		})
	}
}

// TestFrechetDiagonal checks a 50-dimensional case against the commuting
// closed form ‖μa − μb‖² + Σ (√λa − √λb)², after a random rotation that
// makes neither covariance diagonal.
func TestFrechetDiagonal(t *testing.T) {
	const d = 50
	seed := uint64(5)
	rng := rand.New(rand.NewPCG(seed, seed))
	var q mat.QR
	r := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			r.Set(i, j, rng.NormFloat64())
		}
	}
	q.Factorize(r)
	var u mat.Dense
	q.QTo(&u)
	la, lb := make([]float64, d), make([]float64, d)
	ma, mb := make([]float64, d), make([]float64, d)
	want := 0.0
	for i := range d {
		la[i], lb[i] = 0.1+rng.Float64()*3, 0.1+rng.Float64()*3
		ma[i], mb[i] = rng.NormFloat64(), rng.NormFloat64()
		want += (ma[i]-mb[i])*(ma[i]-mb[i]) + (math.Sqrt(la[i])-math.Sqrt(lb[i]))*(math.Sqrt(la[i])-math.Sqrt(lb[i]))
	}
	cov := func(l []float64) *mat.SymDense {
		var p mat.Dense
		p.Mul(&u, mat.NewDiagDense(d, l))
		p.Mul(&p, u.T())
		s := mat.NewSymDense(d, nil)
		for i := range d {
			for j := i; j < d; j++ {
				s.SetSym(i, j, (p.At(i, j)+p.At(j, i))/2)
			}
		}
		return s
	}
	got, err := FrechetDistance(Gaussian{Mean: ma, Cov: cov(la)}, Gaussian{Mean: mb, Cov: cov(lb)})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-8*want {
		t.Errorf("seed %d: FrechetDistance = %.12g, closed form %.12g", seed, got, want)
	}
}

// TestFrechetSelf checks that a fitted feature set is at distance 0 from
// itself, and that FitGaussian recovers a known Gaussian.
func TestFrechetSelf(t *testing.T) {
	const n, d = 4000, 6
	seed := uint64(7)
	rng := rand.New(rand.NewPCG(seed, seed))
	x := make([]float32, n*d)
	for i := range n {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		for j := range d {
			// Features with correlations: x_j = j + a + (j%2)·b + 0.5·ε.
			x[i*d+j] = float32(float64(j) + a + float64(j%2)*b + 0.5*rng.NormFloat64())
		}
	}
	g, err := FitGaussian(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	self, err := FrechetDistance(g, g)
	if err != nil {
		t.Fatal(err)
	}
	if self > 1e-9*mat.Trace(g.Cov) {
		t.Errorf("seed %d: distance of a set to itself = %g, want 0", seed, self)
	}
	// Σ_jk = 1 + [j, k odd] + 0.25·[j = k]; sampling error ~ 1/√n.
	for j := range d {
		for k := range d {
			want := 1.0
			if j%2 == 1 && k%2 == 1 {
				want++
			}
			if j == k {
				want += 0.25
			}
			if got := g.Cov.At(j, k); math.Abs(got-want) > 0.15 {
				t.Errorf("seed %d: cov[%d][%d] = %.3f, want %.3f", seed, j, k, got, want)
			}
		}
		if math.Abs(g.Mean[j]-float64(j)) > 0.1 {
			t.Errorf("seed %d: mean[%d] = %.3f, want %d", seed, j, g.Mean[j], j)
		}
	}
	if _, err := FitGaussian(x[:5], 1, 5); err == nil {
		t.Error("FitGaussian accepted a single vector")
	}
	if _, err := FrechetDistance(g, Gaussian{Mean: []float64{0}, Cov: mat.NewSymDense(1, []float64{1})}); err == nil {
		t.Error("FrechetDistance accepted Gaussians of different dimensions")
	}
}

func TestInceptionScore(t *testing.T) {
	const k = 4
	onehot := func(n int, class func(i int) int) []float32 {
		p := make([]float32, n*k)
		for i := range n {
			p[i*k+class(i)] = 1
		}
		return p
	}
	tests := []struct {
		name  string
		probs []float32
		n     int
		want  float64
	}{
		{"confident and even", onehot(48, func(i int) int { return i % k }), 48, k},
		{"one class", onehot(48, func(int) int { return 2 }), 48, 1},
		{"two classes", onehot(48, func(i int) int { return i % 2 }), 48, 2},
		{"uniform", func() []float32 {
			p := make([]float32, 48*k)
			for i := range p {
				p[i] = 1.0 / k
			}
			return p
		}(), 48, 1},
	}
	for _, tt := range tests {
		got, std, err := InceptionScore(tt.probs, tt.n, k, 4)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.want) > 1e-6 || std > 1e-6 {
			t.Errorf("%s: InceptionScore = %v ± %v, want %v ± 0", tt.name, got, std, tt.want)
		}
		counts := ClassCounts(tt.probs, tt.n, k)
		total := 0
		for _, c := range counts {
			total += c
		}
		if total != tt.n {
			t.Errorf("%s: ClassCounts %v sum to %d, want %d", tt.name, counts, total, tt.n)
		}
	}
	if c := Coverage([]int{3, 0, 1, 0}); c != 0.5 {
		t.Errorf("Coverage = %v, want 0.5", c)
	}
}
