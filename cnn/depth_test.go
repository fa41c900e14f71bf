package cnn

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dataset "github.com/mechinterp/workbench/data"
)

// Flags of the explicit Fashion-MNIST depth run, for longer measurements:
//
//	go test ./cnn -run DepthFashionMNIST -v -args -depth.layers=20,56 -depth.steps=300
var (
	depthLayers = flag.String("depth.layers", "20", "TestDepthFashionMNIST: depths 6n+2 of the plain/residual pairs")
	depthSteps  = flag.Int("depth.steps", 60, "TestDepthFashionMNIST: SGD steps per network")
	depthBatch  = flag.Int("depth.batch", 32, "TestDepthFashionMNIST: images per step")
)

func TestLayers(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want int
	}{
		{ResNet(BlockBasic, 3, 3, 3), 20},
		{Plain(BlockBasic, 3, 3, 3), 20},
		{ResNet(BlockBasic, 9, 9, 9), 56},
		{ResNet(BlockBottleneck, 3, 4, 6, 3), 50},
		{Classifier(), 3},
	} {
		if got := tc.c.Layers(); got != tc.want {
			t.Errorf("%s %s %v: %d layers, want %d", tc.c.Arch, tc.c.Block, tc.c.Stages, got, tc.want)
		}
	}
}

// quadrants returns n 8×8 images whose class (of 4) is the quadrant that
// is brighter, under Gaussian noise.
func quadrants(n int, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, seed))
	x, y := make([]float32, n*64), make([]int32, n)
	for i := range n {
		k := rng.IntN(4)
		y[i] = int32(k)
		for p := range 64 {
			v := 0.3 * rng.NormFloat64()
			if (p/8)/4 == k/2 && (p%8)/4 == k%2 {
				v += 1
			}
			x[i*64+p] = float32(v)
		}
	}
	return x, y
}

func TestTrainDepthQuick(t *testing.T) {
	x, y := quadrants(256, 1)
	small := func(arch string) Config {
		return Config{Arch: arch, InC: 1, InH: 8, InW: 8, NClasses: 4, Block: BlockBasic, Stages: []int{2, 2}, Width: 4, Seed: 3}
	}
	runs, err := CompareDepth(ctx, []Config{small(ArchPlain), small(ArchResNet)}, x, y, DepthOptions{Steps: 40, Batch: 16, Probe: 32, LR: 0.05, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		t.Logf("%s-%d: probe loss %.3f → %.3f, last steps %.3f", r.Config.Arch, r.Layers, r.InitLoss, r.TrainedLoss, r.FinalLoss())
		if r.Layers != 10 || len(r.Loss) != 40 || len(r.Init) != 5 || len(r.Trained) != 5 {
			t.Fatalf("%s: %d layers, %d losses, %d and %d layer stats; want 10, 40, 5, 5", r.Config.Arch, r.Layers, len(r.Loss), len(r.Init), len(r.Trained))
		}
		if r.Init[0].Point != "relu1.hook_out" || r.Init[4].Point != "layer2.1.hook_out" || r.Init[0].BranchStd != 0 {
			t.Errorf("%s: layer stats start %+v and end %+v", r.Config.Arch, r.Init[0], r.Init[4])
		}
		if !(r.TrainedLoss < r.InitLoss/2) {
			t.Errorf("%s: probe loss %.3f → %.3f: an easy task, want it at least halved", r.Config.Arch, r.InitLoss, r.TrainedLoss)
		}
		for _, s := range append(r.Init, r.Trained...) {
			if !(s.Std > 0) || !(s.GradStd > 0) || math.IsInf(s.Std+s.GradStd+s.BranchStd, 0) {
				t.Errorf("%s: %s: std %v, grad std %v", r.Config.Arch, s.Point, s.Std, s.GradStd)
			}
		}
		// Freshly initialised BatchNorm (γ = 1, β = 0) makes every branch's
		// output unit-variance in training mode.
		if b := r.Init[1].BranchStd; math.Abs(b-1) > 1e-3 {
			t.Errorf("%s: branch std %.4f at initialisation, want 1", r.Config.Arch, b)
		}
	}
	// The same seeds give the same run.
	again, err := TrainDepth(ctx, small(ArchResNet), x, y, DepthOptions{Steps: 40, Batch: 16, Probe: 32, LR: 0.05, Seed: 2, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again.Loss) != fmt.Sprint(runs[1].Loss) {
		t.Errorf("a second run with 2 workers gives other losses")
	}
}

func TestTrainDepthErrors(t *testing.T) {
	x, y := quadrants(32, 1)
	c := Config{Arch: ArchResNet, InC: 1, InH: 8, InW: 8, NClasses: 4, Stages: []int{1}, Width: 2}
	bad := []int32{0, 1, 9}
	for _, tc := range []struct {
		name string
		c    Config
		x    []float32
		y    []int32
		o    DepthOptions
		want string
	}{
		{"bad config", Config{Arch: "vgg", InC: 1, InH: 8, InW: 8, NClasses: 2}, x, y, DepthOptions{}, "arch"},
		{"short images", c, x[:100], y, DepthOptions{Batch: 8, Probe: 8}, "100 values"},
		{"batch too big", c, x, y, DepthOptions{Batch: 64, Probe: 8}, "batch of 64"},
		{"label out of range", c, x[:3*64], bad, DepthOptions{Batch: 2, Probe: 2}, "label 9"},
		{"negative steps", c, x, y, DepthOptions{Steps: -1}, "steps"},
		{"momentum 1", c, x, y, DepthOptions{Momentum: 1, Batch: 8, Probe: 8}, "momentum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := TrainDepth(ctx, tc.c, tc.x, tc.y, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestDepthFashionMNIST trains plain and residual networks of equal depth
// side by side on Fashion-MNIST and logs their losses and per-layer
// statistics. It runs when CI=true (ResNet-20 against Plain-20, 60 steps of
// 32 images: about 40 s on two busy cores) or when -run names it, with the
// depth.* flags for longer runs; never in -short.
//
// Measured with -depth.layers=20,56 -depth.steps=200 (batch 32, lr 0.05,
// momentum 0.9, seed 1), the training loss over the last 20 steps:
// plain-20 0.698, resnet-20 0.669, plain-56 1.176, resnet-56 0.759 — the
// deeper plain network trains worse than the shallower one, the residual
// one does not (He et al. 2016, Fig. 1 and 6). At initialisation the
// gradient's standard deviation grows from the last block to the stem by
// 15× (plain-20), 7× (resnet-20), 3,400× (plain-56) and 54× (resnet-56).
func TestDepthFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("the Fashion-MNIST depth comparison is not short")
	}
	if os.Getenv("CI") != "true" && !explicitlyRun(t) {
		t.Skip("the Fashion-MNIST depth comparison needs CI=true or -run TestDepthFashionMNIST")
	}
	if _, err := os.Stat(filepath.Join(dataset.FashionMNISTDir, "t10k-labels-idx1-ubyte.gz")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and Fashion-MNIST is missing (apt install %s): %v", dataset.FashionMNISTPackage, err)
		}
		t.Skipf("Fashion-MNIST is not installed (apt install %s)", dataset.FashionMNISTPackage)
	}
	train, _, err := dataset.FashionMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	n := min(train.N, 200*(*depthBatch))
	x := train.Images[:n*train.H*train.W]
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(train.Labels[i])
	}
	var cfgs []Config
	for _, f := range strings.Split(*depthLayers, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 8 || (d-2)%6 != 0 {
			t.Fatalf("-depth.layers %q: want depths 6n+2 ≥ 8", *depthLayers)
		}
		k := (d - 2) / 6
		cfgs = append(cfgs, Plain(BlockBasic, k, k, k), ResNet(BlockBasic, k, k, k))
	}
	o := DepthOptions{Steps: *depthSteps, Batch: *depthBatch, Probe: 64, LR: 0.05, Momentum: 0.9, Seed: 1, Workers: 2}
	for _, c := range cfgs {
		start := time.Now()
		r, err := TrainDepth(ctx, c, x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s-%d: %d steps of %d in %.0f s; probe loss %.3f → %.3f; training loss (last tenth) %.3f",
			c.Arch, r.Layers, o.Steps, o.Batch, time.Since(start).Seconds(), r.InitLoss, r.TrainedLoss, r.FinalLoss())
		t.Logf("%s-%d: loss every 10 steps: %s", c.Arch, r.Layers, everyTenth(r.Loss))
		for i := range r.Init {
			a, b := r.Init[i], r.Trained[i]
			t.Logf("  %-22s std %.3f → %.3f   branch std %.3f → %.3f   grad std %.2e → %.2e", a.Point, a.Std, b.Std, a.BranchStd, b.BranchStd, a.GradStd, b.GradStd)
		}
		if !(r.FinalLoss() < r.Loss[0]) {
			t.Errorf("%s-%d: training loss %.3f at the start, %.3f at the end", c.Arch, r.Layers, r.Loss[0], r.FinalLoss())
		}
	}
}

func everyTenth(loss []float64) string {
	var b strings.Builder
	for i := 0; i < len(loss); i += 10 {
		fmt.Fprintf(&b, "%.2f ", loss[i])
	}
	return b.String()
}

// explicitlyRun reports whether the -run flag names test t directly.
func explicitlyRun(t *testing.T) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return false
	}
	re, err := regexp.Compile(f.Value.String())
	return err == nil && re.MatchString(t.Name()) && strings.Contains(f.Value.String(), "FashionMNIST")
}
