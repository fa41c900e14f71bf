package gan

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/optim"
)

// slow skips a long test in -short mode. CI runs it in its full
// `go test ./...` (and skips it in the -short race-detector pass, where it
// would take minutes).
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: skipped in -short mode")
	}
}

var fashion struct {
	once        sync.Once
	train, test *data.ImageSet
	err         error
}

// fashionMNIST returns Fashion-MNIST, through testenv.Installed when it
// is absent (skipped with the install command locally, failed under
// CI=true, where .ci/run installs it).
func fashionMNIST(t *testing.T) (train, test *data.ImageSet) {
	t.Helper()
	fashion.once.Do(func() { fashion.train, fashion.test, fashion.err = data.FashionMNIST("") })
	testenv.Installed(t, data.FashionMNISTPackage, fashion.err)
	if fashion.err != nil {
		t.Fatal(fashion.err)
	}
	return fashion.train, fashion.test
}

// trainJudgeClassifier trains cnn.Classifier() on the first n images of set
// for one epoch with the benchmark's recipe (SGD, momentum 0.9, lr 0.05,
// batch 128): a judge good enough for tests (about 0.85 test accuracy on
// 20,000 images).
func trainJudgeClassifier(t *testing.T, set *data.ImageSet, n int, seed uint64) *cnn.Model {
	t.Helper()
	cfg := cnn.Classifier()
	cfg.Seed = seed
	m, err := cnn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 128
	par, err := m.NewParallel(batch, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer par.Close()
	g := m.NewGrads()
	var ps []optim.Param
	gl := g.List()
	for i, p := range m.P.List() {
		ps = append(ps, optim.Param{Name: p.Name, Data: p.Data, Grad: gl[i].Data, Decay: p.Decay})
	}
	opt, err := optim.NewSGD(ps, optim.SGDConfig{Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	per := set.H * set.W
	images, labels := make([]float32, batch*per), make([]int32, batch)
	perm := rand.New(rand.NewPCG(seed, 1)).Perm(n)
	for s := 0; (s+1)*batch <= n; s++ {
		for i, k := range perm[s*batch : (s+1)*batch] {
			copy(images[i*per:(i+1)*per], set.Image(k))
			labels[i] = int32(set.Labels[k])
		}
		if _, err := par.Step(context.Background(), images, labels, seed+uint64(s), g); err != nil {
			t.Fatal(err)
		}
		opt.Step(0.05)
	}
	return m
}
