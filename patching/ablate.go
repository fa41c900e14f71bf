package patching

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// ZeroAblation returns hooks that set every site to zero. Sites are checked
// against m with up to n_ctx positions.
func ZeroAblation(m *transformer.Model, sites ...Site) (*hooks.Set, error) {
	hs := hooks.NewSet()
	for _, s := range sites {
		if err := s.Check(m.Cfg, m.Cfg.NCtx); err != nil {
			return nil, err
		}
		hs.Add(s.hook(), s.replace(nil))
	}
	return hs, nil
}

// MeanAblation returns hooks that replace every site by its mean over the
// batch ref (per position, head and feature: TransformerLens's usual mean
// ablation), computed by running m on ref. Runs must have ref's number of
// positions.
func MeanAblation(ctx context.Context, m *transformer.Model, ref [][]int, sites ...Site) (*hooks.Set, error) {
	acts, err := reference(ctx, m, ref, sites)
	if err != nil {
		return nil, err
	}
	hs := hooks.NewSet()
	for _, s := range sites {
		hs.Add(s.hook(), s.replace(batchMean(acts[s.hook()])))
	}
	return hs, nil
}

// ResampleAblation returns hooks that replace every site, in batch item b,
// by its value on reference sequence perm[b mod len(ref)], where perm is a
// permutation of ref drawn from rng once, here (the same for every site and
// every run). Runs must have ref's number of positions.
func ResampleAblation(ctx context.Context, m *transformer.Model, ref [][]int, rng *rand.Rand, sites ...Site) (*hooks.Set, error) {
	if rng == nil {
		return nil, fmt.Errorf("patching: resample ablation needs a random source")
	}
	acts, err := reference(ctx, m, ref, sites)
	if err != nil {
		return nil, err
	}
	perm := rng.Perm(len(ref))
	hs := hooks.NewSet()
	for _, s := range sites {
		hs.Add(s.hook(), s.replace(permuteBatch(acts[s.hook()], perm)))
	}
	return hs, nil
}

// reference checks sites and ref and returns the activations of m on ref at
// every site's hook point.
func reference(ctx context.Context, m *transformer.Model, ref [][]int, sites []Site) (map[hooks.Name]*tensor.Tensor, error) {
	flat, b, p, err := m.CheckTokens(ref)
	if err != nil {
		return nil, fmt.Errorf("patching: reference tokens: %w", err)
	}
	want := map[hooks.Name]bool{}
	for _, s := range sites {
		if err := s.Check(m.Cfg, p); err != nil {
			return nil, err
		}
		want[s.hook()] = true
	}
	c := hooks.NewCache()
	if err := m.NewWorkspace(b, p).Forward(ctx, flat, c.Hooks(func(n hooks.Name) bool { return want[n] })); err != nil {
		return nil, err
	}
	out := map[hooks.Name]*tensor.Tensor{}
	for n := range want {
		out[n], _ = c.Get(n)
	}
	return out, nil
}

// batchMean returns the mean of t over its first axis, with that axis kept
// at length 1.
func batchMean(t *tensor.Tensor) *tensor.Tensor {
	shape := append([]int{1}, t.Shape[1:]...)
	out := tensor.New(shape...)
	n := out.Size()
	sum := make([]float64, n)
	for b := 0; b < t.Shape[0]; b++ {
		for i, v := range t.Data[b*n : (b+1)*n] {
			sum[i] += float64(v)
		}
	}
	for i := range sum {
		out.Data[i] = float32(sum[i] / float64(t.Shape[0]))
	}
	return out
}

// permuteBatch returns t with batch item i taken from item perm[i].
func permuteBatch(t *tensor.Tensor, perm []int) *tensor.Tensor {
	out := tensor.New(t.Shape...)
	n := t.Size() / t.Shape[0]
	for i, j := range perm {
		copy(out.Data[i*n:(i+1)*n], t.Data[j*n:(j+1)*n])
	}
	return out
}
