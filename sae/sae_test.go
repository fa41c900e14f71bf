package sae

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// lossRef is an independent float64 forward pass of the training loss for
// x [B, d]: plain loops, no shared code with the package. active, if not
// nil, fixes which features fire (the set the activation chose), so that
// the loss is smooth in the parameters around the point.
func lossRef(s *SAE, x []float64, B int, l1 float64, active []bool) float64 {
	c := s.Cfg
	d, n := c.DIn, c.DSAE
	var loss float64
	for r := range B {
		xr := x[r*d : (r+1)*d]
		f := make([]float64, n)
		for j := range n {
			pre := float64(s.BEnc[j])
			for i := range d {
				xc := xr[i]
				if !c.Transcoder {
					xc -= float64(s.BDec[i])
				}
				pre += xc * float64(s.WEnc[i*n+j])
			}
			if active[r*n+j] {
				f[j] = pre
			}
		}
		for i := range d {
			xh := float64(s.BDec[i])
			for j := range n {
				xh += f[j] * float64(s.WDec[j*d+i])
			}
			loss += (xh - xr[i]) * (xh - xr[i]) / float64(B)
		}
		for j := range n {
			loss += l1 * f[j] / float64(B)
		}
	}
	return loss
}

// TestGradients checks every parameter gradient of a step against central
// differences of lossRef, for ReLU with L1, TopK and BatchTopK.
func TestGradients(t *testing.T) {
	for _, tc := range []struct {
		act  string
		k    int
		l1   float64
		dsae int // 7: the dense path; 64 with k 2: few enough active entries for the sparse one
	}{{ReLU, 0, 0.1, 7}, {TopK, 3, 0, 7}, {BatchTopK, 3, 0, 7}, {TopK, 2, 0, 64}, {BatchTopK, 2, 0, 64}} {
		s, err := New(Config{DIn: 5, DSAE: tc.dsae, Activation: tc.act, K: tc.k}, 1)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 3))
		for i := range s.BEnc {
			s.BEnc[i] = float32(0.1 * rng.NormFloat64())
		}
		for i := range s.BDec {
			s.BDec[i] = float32(0.1 * rng.NormFloat64())
		}
		const B = 4
		tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 1e-3, L1: tc.l1})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, B*5)
		x64 := make([]float64, len(x))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			x64[i] = float64(x[i])
		}
		tr.Gradients(x, nil)
		if sparse := tr.actStart[B] > 0; sparse != (tc.dsae == 64) {
			t.Fatalf("%s d_sae %d: sparse path %v", tc.act, tc.dsae, sparse)
		}
		active := make([]bool, len(tr.f))
		for i, v := range tr.f {
			active[i] = v != 0
		}
		for _, p := range []struct {
			name    string
			data, g []float32
		}{{"W_enc", s.WEnc, tr.gWEnc}, {"b_enc", s.BEnc, tr.gBEnc}, {"W_dec", s.WDec, tr.gWDec}, {"b_dec", s.BDec, tr.gBDec}} {
			for i := range p.data {
				old := p.data[i]
				const h = 1e-3
				p.data[i] = old + h
				up := lossRef(s, x64, B, tc.l1, active)
				p.data[i] = old - h
				down := lossRef(s, x64, B, tc.l1, active)
				p.data[i] = old
				fd := (up - down) / (2 * h)
				if math.Abs(float64(p.g[i])-fd) > 2e-3*(1+math.Abs(fd)) {
					t.Errorf("%s %s[%d]: gradient %g, central difference %g", tc.act, p.name, i, p.g[i], fd)
				}
			}
		}
	}
}

// TestActivations checks the sparsity each activation promises.
func TestActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const B, n = 6, 40
	pre := make([]float32, B*n)
	for i := range pre {
		pre[i] = float32(rng.NormFloat64())
	}
	for _, tc := range []struct {
		act      string
		training bool
		perRow   int // exact count per row, or -1
		total    int // exact count over the batch, or -1
	}{{TopK, true, 5, -1}, {BatchTopK, true, -1, 5 * B}, {BatchTopK, false, 5, -1}} {
		s := &SAE{Cfg: Config{DIn: 1, DSAE: n, Activation: tc.act, K: 5}}
		f := make([]float32, B*n)
		nz := s.Activate(f, pre, B, tc.training, make([]float32, B*n))
		if tc.total >= 0 && nz != tc.total {
			t.Errorf("%s training=%v: %d active in the batch, want %d", tc.act, tc.training, nz, tc.total)
		}
		for r := range B {
			cnt := 0
			row := append([]float32(nil), pre[r*n:(r+1)*n]...)
			sort.Slice(row, func(a, b int) bool { return row[a] > row[b] })
			for j, v := range f[r*n : (r+1)*n] {
				if v != 0 {
					cnt++
					if v != pre[r*n+j] || v <= 0 {
						t.Errorf("%s: kept %g for pre-activation %g", tc.act, v, pre[r*n+j])
					}
				}
			}
			if tc.perRow >= 0 {
				if cnt != tc.perRow {
					t.Errorf("%s training=%v: row %d has %d active, want %d", tc.act, tc.training, r, cnt, tc.perRow)
				}
				for j, v := range f[r*n : (r+1)*n] {
					if v == 0 && pre[r*n+j] > row[tc.perRow-1] {
						t.Errorf("%s: dropped %g above the %d-th largest %g", tc.act, pre[r*n+j], tc.perRow, row[tc.perRow-1])
					}
				}
			}
		}
	}
}

// trainToy trains a dictionary of size dict on the toy set-up and returns
// its MMCS against the true directions, both ways.
func trainToy(t *testing.T, toy *Toy, dict int, act string, k int, l1 float64, steps int) (mmcs, reverse, fvu float64) {
	t.Helper()
	s, err := New(Config{DIn: toy.D, DSAE: dict, Activation: act, K: k}, 7)
	if err != nil {
		t.Fatal(err)
	}
	const B = 256
	tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 3e-3, L1: l1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, B*toy.D)
	var st Stats
	for range steps {
		toy.Fill(x, B, rng)
		st = tr.Step(x, nil)
	}
	mmcs, reverse = s.MMCS(toy.Dirs, toy.N)
	return mmcs, reverse, st.FVU
}

// TestToyRecovery is the ground truth: 64 sparse features in 32
// dimensions (each fires with probability 0.04). A TopK dictionary of the
// right size recovers them (MMCS ≥ 0.95); half the size cannot hold them
// all (MMCS falls), four times the size still finds them but spends rows
// on duplicates and mixtures (the reverse MMCS falls).
func TestToyRecovery(t *testing.T) {
	toy, err := NewToy(64, 32, 0.04, 1)
	if err != nil {
		t.Fatal(err)
	}
	right, rightRev, fvu := trainToy(t, toy, 64, TopK, 4, 0, 3000)
	t.Logf("dictionary 64 (TopK k=4): MMCS %.3f, reverse %.3f, FVU %.3f", right, rightRev, fvu)
	if right < 0.95 {
		t.Errorf("MMCS %.3f at the right dictionary size, want ≥ 0.95", right)
	}
	small, smallRev, _ := trainToy(t, toy, 32, TopK, 4, 0, 3000)
	big, bigRev, _ := trainToy(t, toy, 256, TopK, 4, 0, 3000)
	t.Logf("dictionary 32: MMCS %.3f, reverse %.3f; dictionary 256: MMCS %.3f, reverse %.3f", small, smallRev, big, bigRev)
	if small >= right-0.05 {
		t.Errorf("half the dictionary: MMCS %.3f, not clearly below %.3f", small, right)
	}
	if bigRev >= rightRev-0.05 {
		t.Errorf("four times the dictionary: reverse MMCS %.3f, not clearly below %.3f", bigRev, rightRev)
	}
	relu, reluRev, reluFVU := trainToy(t, toy, 64, ReLU, 0, 0.1, 3000)
	t.Logf("dictionary 64 (ReLU, L1 0.1): MMCS %.3f, reverse %.3f, FVU %.3f", relu, reluRev, reluFVU)
	if relu < 0.95 {
		t.Errorf("ReLU dictionary: MMCS %.3f, want ≥ 0.95", relu)
	}
}
