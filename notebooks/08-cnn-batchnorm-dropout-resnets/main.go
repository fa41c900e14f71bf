// Command 08-cnn-batchnorm-dropout-resnets is the notebook "CNNs, BatchNorm,
// Dropout, ResNets": on Fashion-MNIST (or, without the Debian package
// dataset-fashion-mnist, a small generated data set) it measures activation
// statistics with and without BatchNorm, dropout as an ensemble, a plain
// against a residual deep network, and saliency and integrated gradients.
// Run it as
//
//	go run ./notebooks/08-cnn-batchnorm-dropout-resnets [-out DIR] [-quick] [-seed N]
package main

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/notebooks/report"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

//go:embed main.go
var source []byte

const name = "08-cnn-batchnorm-dropout-resnets"

func main() {
	if err := report.Main(context.Background(), name, os.Args[1:], run); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type sizes struct {
	Train, Test, Steps, Batch int
	Masks                     int
	DepthStages               []int
	DepthWidth, DepthSteps    int
	DepthImages, IGSteps      int
}

func config(o report.Options) sizes {
	// region: sizes
	s := sizes{Train: 6000, Test: 2000, Steps: 400, Batch: 64, Masks: 50,
		DepthStages: []int{3, 3, 3}, DepthWidth: 8, DepthSteps: 150, DepthImages: 2000, IGSteps: 64}
	if o.Quick {
		s = sizes{Train: 256, Test: 200, Steps: 12, Batch: 32, Masks: 8,
			DepthStages: []int{1, 1}, DepthWidth: 4, DepthSteps: 4, DepthImages: 64, IGSteps: 8}
	}
	// endregion
	return s
}

// dataset is the images the notebook uses, and whether they are real.
type dataset struct {
	trainX, testX []float32
	trainY, testY []int32
	real          bool
	h, w          int
}

// loadData reads Fashion-MNIST, or generates ten classes of noisy smooth
// templates when the Debian package is not installed.
func loadData(s sizes, seed uint64) dataset {
	tr, te, err := data.FashionMNIST("")
	if err == nil {
		d := dataset{real: true, h: tr.H, w: tr.W}
		per := tr.H * tr.W
		d.trainX = append([]float32(nil), tr.Images[:s.Train*per]...)
		d.testX = append([]float32(nil), te.Images[:s.Test*per]...)
		for i := range s.Train {
			d.trainY = append(d.trainY, int32(tr.Labels[i]))
		}
		for i := range s.Test {
			d.testY = append(d.testY, int32(te.Labels[i]))
		}
		return d
	}
	// Generated fallback: class k is a fixed random smooth template plus noise.
	const h, w = 28, 28
	rng := rand.New(rand.NewPCG(seed, 808))
	tmpl := make([][]float32, 10)
	for k := range tmpl {
		t := make([]float32, h*w)
		for range 4 {
			cy, cx, r := 4+rng.Float64()*20, 4+rng.Float64()*20, 2+rng.Float64()*5
			for y := range h {
				for x := range w {
					d2 := ((float64(y)-cy)*(float64(y)-cy) + (float64(x)-cx)*(float64(x)-cx)) / (r * r)
					t[y*w+x] += float32(math.Exp(-d2))
				}
			}
		}
		tmpl[k] = t
	}
	gen := func(n int) ([]float32, []int32) {
		x, y := make([]float32, n*h*w), make([]int32, n)
		for i := range n {
			k := rng.IntN(10)
			y[i] = int32(k)
			for p := range h * w {
				v := tmpl[k][p] + float32(0.3*rng.NormFloat64())
				x[i*h*w+p] = min(1, max(0, v))
			}
		}
		return x, y
	}
	d := dataset{h: h, w: w}
	d.trainX, d.trainY = gen(s.Train)
	d.testX, d.testY = gen(s.Test)
	return d
}

// trainClassifier trains c with SGD and momentum on the training images.
func trainClassifier(ctx context.Context, c cnn.Config, d dataset, s sizes, seed uint64) (*cnn.Model, []float64, error) {
	// region: train
	m, err := cnn.New(c)
	if err != nil {
		return nil, nil, err
	}
	par, err := m.NewParallel(s.Batch, 2, 2)
	if err != nil {
		return nil, nil, err
	}
	defer par.Close()
	g := m.NewGrads()
	var params []optim.Param
	gl := g.List()
	for i, p := range m.P.List() {
		params = append(params, optim.Param{Name: p.Name, Data: p.Data, Grad: gl[i].Data, Decay: p.Decay})
	}
	sgd, err := optim.NewSGD(params, optim.SGDConfig{Momentum: 0.9})
	if err != nil {
		return nil, nil, err
	}
	per := d.h * d.w
	rng := rand.New(rand.NewPCG(seed, 1))
	bx, by := make([]float32, s.Batch*per), make([]int32, s.Batch)
	var losses []float64
	for step := range s.Steps {
		for i := range s.Batch {
			k := rng.IntN(len(d.trainY))
			copy(bx[i*per:(i+1)*per], d.trainX[k*per:(k+1)*per])
			by[i] = d.trainY[k]
		}
		loss, err := par.Step(ctx, bx, by, seed+uint64(step), g)
		if err != nil {
			return nil, nil, err
		}
		sgd.Step(0.05)
		losses = append(losses, loss)
	}
	// endregion
	return m, losses, nil
}

// layerStds runs one training-mode forward pass of m over x and returns
// the standard deviation of every block's output, stem first. With noBN,
// every BatchNorm passes its input through unchanged (x̂ := x).
func layerStds(ctx context.Context, m *cnn.Model, x []float32, n int, noBN bool) ([]float64, error) {
	// region: nobn
	hs := hooks.NewSet()
	saved := map[string]*tensor.Tensor{}
	if noBN {
		// Remember each convolution's output under the name of the BatchNorm that follows it ...
		hs.AddMatch(func(h hooks.Name) bool {
			s := string(h)
			return strings.HasSuffix(s, ".hook_out") && (isConv(strings.TrimSuffix(s, ".hook_out")))
		}, func(a *tensor.Tensor, h hooks.Name) *tensor.Tensor {
			saved[bnOf(strings.TrimSuffix(string(h), ".hook_out"))] = a.Clone()
			return nil
		})
		// ... and hand it to the BatchNorm in place of its normalised x̂ (γ = 1, β = 0 at init).
		hs.AddMatch(func(h hooks.Name) bool { return strings.HasSuffix(string(h), ".hook_normalized") },
			func(a *tensor.Tensor, h hooks.Name) *tensor.Tensor {
				return saved[strings.TrimSuffix(string(h), ".hook_normalized")]
			})
	}
	// endregion
	isOut := func(h hooks.Name) bool {
		s := string(h)
		return s == "relu1.hook_out" || (strings.HasPrefix(s, "layer") && strings.Count(s, ".") == 2 && strings.HasSuffix(s, ".hook_out"))
	}
	cap, cache := hooks.Capture(isOut)
	ws := m.NewWorkspace(n)
	if err := ws.Forward(ctx, x, cnn.Pass{Train: true}, hooks.Merge(hs, cap)); err != nil {
		return nil, err
	}
	var out []float64
	for _, h := range m.HookPoints() {
		if !isOut(h) {
			continue
		}
		t, _ := cache.Get(h)
		out = append(out, std(t.Data))
	}
	return out, nil
}

// isConv reports whether a layer name is a convolution feeding a BatchNorm.
func isConv(l string) bool {
	last := l[strings.LastIndex(l, ".")+1:]
	return strings.HasPrefix(last, "conv") || strings.HasSuffix(l, "downsample.0")
}

// bnOf names the BatchNorm after convolution l: conv2 → bn2, downsample.0 → downsample.1.
func bnOf(l string) string {
	if strings.HasSuffix(l, "downsample.0") {
		return strings.TrimSuffix(l, "0") + "1"
	}
	i := strings.LastIndex(l, "conv")
	return l[:i] + "bn" + l[i+4:]
}

func std(x []float32) float64 {
	var s, s2 float64
	for _, v := range x {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(x))
	return math.Sqrt(max(0, s2/n-(s/n)*(s/n)))
}

func softmax(dst []float64, logits []float32) {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var z float64
	for i, v := range logits {
		dst[i] = math.Exp(float64(v) - mx)
		z += dst[i]
	}
	for i := range dst {
		dst[i] /= z
	}
}

func argmax[T float32 | float64](x []T) int {
	b := 0
	for i := range x {
		if x[i] > x[b] {
			b = i
		}
	}
	return b
}

func f3(x float64) string { return fmt.Sprintf("%.3f", x) }

func run(ctx context.Context, o report.Options) error {
	r := report.New("CNNs, BatchNorm, Dropout, ResNets", source, o)
	s := config(o)
	d := loadData(s, o.Seed)
	per := d.h * d.w
	r.Result("real_data", d.real)
	if d.real {
		r.P("Data: **Fashion-MNIST** (the Debian package `dataset-fashion-mnist`), %d training and %d test images of "+
			"28×28 grey clothing items in ten classes.", s.Train, s.Test)
	} else {
		r.Note("Fashion-MNIST is not installed (Debian package `dataset-fashion-mnist`, read from `%s`), so this run "+
			"uses a **small generated data set** instead: ten classes, each a fixed random blob template plus pixel noise. "+
			"The numbers below are about that data set, not Fashion-MNIST.", data.FashionMNISTDir)
	}
	r.Code("sizes")

	// 1. BatchNorm.
	r.Section("Activation statistics with and without BatchNorm")
	r.P("BatchNorm normalises every channel of a convolution's output over the batch and the pixels, x̂ = (x − μ_B)/σ_B, " +
		"then rescales it, γ·x̂ + β. The `cnn` package has no configuration without BatchNorm, but it has hooks: a forward " +
		"hook on each `bnN.hook_normalized` can hand the layer its raw input instead of x̂. At initialisation γ = 1 and β = 0, " +
		"so that is exactly the network without BatchNorm.")
	r.Code("nobn")
	probeN := min(64, len(d.trainY))
	probe := d.trainX[:probeN*per]
	mk := func(c cnn.Config) cnn.Config {
		c.InC, c.InH, c.InW, c.NClasses, c.Width, c.Seed = 1, d.h, d.w, 10, s.DepthWidth, o.Seed
		return c
	}
	plainCfg := mk(cnn.Plain(cnn.BlockBasic, s.DepthStages...))
	resCfg := mk(cnn.ResNet(cnn.BlockBasic, s.DepthStages...))
	var bnSeries []figures.Series
	var bnRows [][]string
	lastStd := map[string]float64{}
	for _, c := range []struct {
		name string
		cfg  cnn.Config
	}{{"plain", plainCfg}, {"residual", resCfg}} {
		m, err := cnn.New(c.cfg)
		if err != nil {
			return err
		}
		for _, noBN := range []bool{false, true} {
			st, err := layerStds(ctx, m, probe, probeN, noBN)
			if err != nil {
				return err
			}
			label := c.name + ", with BatchNorm"
			key := c.name + "_bn"
			if noBN {
				label, key = c.name+", without BatchNorm", c.name+"_nobn"
			}
			bnSeries = append(bnSeries, figures.Series{Name: label, Y: st})
			lastStd[key] = st[len(st)-1]
			bnRows = append(bnRows, []string{label, f3(st[0]), f3(st[len(st)/2]), f3(st[len(st)-1])})
		}
	}
	fig, err := figures.Curves(figures.CurvesSpec{Title: "Std of each block's output at initialisation", XLabel: "block (stem = 0)",
		YLabel: "std", LogY: true, Series: bnSeries, LegendLeft: true})
	if err != nil {
		return err
	}
	r.Figure(fig, "Per-layer standard deviation of the block outputs on one batch, at initialisation, with BatchNorm and with every BatchNorm bypassed by the hook.")
	r.Table("Output std at the stem, the middle block and the last block.", []string{"network", "stem", "middle", "last"}, bnRows)
	for k, v := range lastStd {
		r.Result("last_std_"+k, v)
	}
	h := r.Headline("resnet_nobn_last_std", "residual net without BN: last block's output std", lastStd["residual_nobn"], "%.3g")
	hpn := r.Headline("plain_nobn_last_std", "plain net without BN: last block's output std", lastStd["plain_nobn"], "%.3g")
	orderOne := func(v float64) bool { return v > 0.25 && v < 4 }
	r.Claim("bn_order_one", orderOne(lastStd["plain_bn"]) && orderOne(lastStd["residual_bn"]),
		fmt.Sprintf("last block's std with BatchNorm: %.3g plain, %.3g residual", lastStd["plain_bn"], lastStd["residual_bn"]),
		"With BatchNorm the last block's output has a std of order one (between 0.25 and 4) in both networks.")
	r.Claim("nobn_residual_accumulates", lastStd["residual_nobn"] > 2*lastStd["plain_nobn"],
		fmt.Sprintf("last block's std without BatchNorm: plain %s, residual %s", hpn, h),
		"Without it the scale is whatever the initialisation and the input make it, and depth compounds it: the plain "+
			"network's last block ends less than half as large as the residual network's, where each block adds its "+
			"branch to its input, so variance accumulates along the residual stream.")
	r.P("BatchNorm removes that dependence at every layer, which is what lets one learning rate suit every layer.")

	// Train the classifier with dropout.
	r.Section("Training a small classifier")
	clsCfg := cnn.Classifier()
	clsCfg.Dropout, clsCfg.Seed = 0.5, o.Seed
	o.Logf("training the classifier (%d steps)", s.Steps)
	m, losses, err := trainClassifier(ctx, clsCfg, d, s, o.Seed)
	if err != nil {
		return err
	}
	r.P("The classifier is `cnn.Classifier()` — conv16–BN–ReLU–pool–conv32–BN–ReLU–pool, then **dropout with p = 0.5** and a "+
		"linear head — trained for %d steps of SGD with momentum 0.9, lr 0.05, batch %d:", s.Steps, s.Batch)
	r.Code("train")
	_, acc, err := m.Evaluate(ctx, d.testX, d.testY, 100, 2)
	if err != nil {
		return err
	}
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Training loss", XLabel: "step", YLabel: "cross-entropy",
		Series: []figures.Series{{Name: "batch loss", Y: losses}}})
	if err != nil {
		return err
	}
	r.Figure(fig, "The classifier's training loss per step.")
	ha := r.Headline("test_acc", "classifier test accuracy (eval mode)", acc, "%.3f")
	r.P("Test accuracy in evaluation mode: **%s**.", ha)

	// BatchNorm's batch vs running statistics.
	r.Subsection("BatchNorm: batch statistics against running statistics")
	test := tensor.New(s.Test, 1, d.h, d.w)
	copy(test.Data, d.testX)
	bst, err := m.BatchNormStats(ctx, test, cnn.Pass{}, nil)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, b := range bst {
		rows = append(rows, []string{b.Layer, f3(mean(b.BatchMean)), f3(mean(b.RunningMean)), f3(mean(b.BatchVar)),
			f3(mean(b.RunningVar)), f3(mean(b.NormMean)), f3(mean(b.NormVar))})
	}
	r.Table("Each BatchNorm layer on the test images in evaluation mode, averaged over channels: the input's batch mean and variance against the running estimates, and the mean and variance of x̂ (0 and 1 would mean the running statistics match the test batch exactly).",
		[]string{"layer", "batch mean", "running mean", "batch var", "running var", "x̂ mean", "x̂ var"}, rows)
	r.Result("bn1_norm_var_eval", mean(bst[0].NormVar))

	// 2. Dropout as an ensemble.
	r.Section("Dropout as an ensemble")
	r.P("In training, dropout zeroes each input of the head with probability p and scales the rest by 1/(1 − p), so every "+
		"step trains a different thinned network. At test time the layer is the identity: the *weight-scaling rule*, which "+
		"approximates the average prediction of the exponentially many thinned networks. We measure the approximation: in "+
		"evaluation mode (running BatchNorm statistics) a hook on `dropout1.hook_out` applies a fresh mask per image, and we "+
		"average the softmax over %d masks.", s.Masks)
	r.Code("ensemble")
	// region: ensemble
	nT := s.Test
	ws := m.NewWorkspace(nT)
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	p := clsCfg.Dropout
	maskHook := hooks.NewSet().Add("dropout1.hook_out", func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		for i := range a.Data {
			if rng.Float64() < p {
				a.Data[i] = 0
			} else {
				a.Data[i] /= float32(1 - p)
			}
		}
		return nil
	})
	if err := ws.Forward(ctx, d.testX, cnn.Pass{}, nil); err != nil { // weight scaling: no masks
		return err
	}
	evalPred := make([]int, nT)
	lg := ws.Logits().Data
	for i := range nT {
		evalPred[i] = argmax(lg[i*10 : (i+1)*10])
	}
	avg := make([]float64, nT*10)
	prob := make([]float64, 10)
	var ensAcc, singleAcc, singleAgree []float64
	for k := range s.Masks {
		if err := ws.Forward(ctx, d.testX, cnn.Pass{}, maskHook); err != nil {
			return err
		}
		lg := ws.Logits().Data
		var c1, a1, ce float64
		for i := range nT {
			softmax(prob, lg[i*10:(i+1)*10])
			for j := range 10 {
				avg[i*10+j] += prob[j]
			}
			pr := argmax(prob)
			if pr == int(d.testY[i]) {
				c1++
			}
			if pr == evalPred[i] {
				a1++
			}
			if argmax(avg[i*10:(i+1)*10]) == int(d.testY[i]) {
				ce++
			}
		}
		singleAcc = append(singleAcc, c1/float64(nT))
		singleAgree = append(singleAgree, a1/float64(nT))
		ensAcc = append(ensAcc, ce/float64(nT))
		_ = k
	}
	var agree float64
	for i := range nT {
		if argmax(avg[i*10:(i+1)*10]) == evalPred[i] {
			agree++
		}
	}
	agree /= float64(nT)
	// endregion
	xs := make([]float64, s.Masks)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Monte-Carlo dropout ensemble", XLabel: "masks averaged", YLabel: "test accuracy",
		Series: []figures.Series{{Name: "ensemble of k masks", X: xs, Y: ensAcc}, {Name: "single mask", X: xs, Y: singleAcc}},
		HLines: []figures.Marker{{At: acc, Label: "eval mode (weight scaling)"}}, LegendBottom: true})
	if err != nil {
		return err
	}
	r.Figure(fig, "Test accuracy of the average of the first k masks' softmax outputs, of each single mask, and of evaluation mode.")
	he := r.Headline("ensemble_acc", fmt.Sprintf("dropout ensemble accuracy (%d masks)", s.Masks), ensAcc[len(ensAcc)-1], "%.3f")
	hg := r.Headline("ensemble_agreement", "agreement of ensemble and eval-mode predictions", agree, "%.3f")
	r.Result("single_mask_acc", mean(singleAcc))
	r.Result("single_mask_agreement", mean(singleAgree))
	r.Table("Dropout as an ensemble, on the test images.", []string{"predictor", "test accuracy", "agreement with eval mode"},
		[][]string{{"eval mode (weight scaling)", f3(acc), "1"}, {"one dropout mask (mean over masks)", f3(mean(singleAcc)), f3(mean(singleAgree))},
			{fmt.Sprintf("average of %d masks", s.Masks), he, hg}})
	r.Claim("single_mask_worse", mean(singleAcc) < acc,
		fmt.Sprintf("one mask: accuracy %.3f, agreement with evaluation mode %.1f%%; evaluation mode %.3f", mean(singleAcc), 100*mean(singleAgree), acc),
		"A single thinned network is worse than the full one.")
	r.Claim("ensemble_recovers", ensAcc[len(ensAcc)-1] >= acc-0.02 && agree >= 0.95,
		fmt.Sprintf("%d masks: accuracy %s (evaluation mode %.3f), agreement %s", s.Masks, he, acc, hg),
		"Averaging masks recovers the full network: the ensemble comes within 0.02 of evaluation mode's accuracy and agrees "+
			"with it on at least 95%% of the images — weight scaling is a good, cheap approximation of the ensemble.")

	// 3. Plain vs residual.
	r.Section("A plain against a residual deep network")
	r.P("He et al. (2016) found that a deep *plain* network trains worse than a shallower one, and that identity shortcuts "+
		"fix it. `cnn.CompareDepth` trains a plain and a residual network of the same depth (%d weighted layers, stages %v, "+
		"width %d) side by side on the same data order and measures per-layer statistics on a probe batch.",
		plainCfg.Layers(), s.DepthStages, s.DepthWidth)
	r.Code("depth")
	nd := min(s.DepthImages, len(d.trainY))
	o.Logf("plain vs residual (%d steps)", s.DepthSteps)
	// region: depth
	runs, err := cnn.CompareDepth(ctx, []cnn.Config{plainCfg, resCfg}, d.trainX[:nd*per], d.trainY[:nd],
		cnn.DepthOptions{Steps: s.DepthSteps, Batch: min(32, nd), LR: 0.05, Probe: min(64, nd), Seed: o.Seed, Workers: 2})
	// endregion
	if err != nil {
		return err
	}
	smooth := func(x []float64) []float64 {
		out := make([]float64, len(x))
		var e float64
		for i, v := range x {
			if i == 0 {
				e = v
			} else {
				e = 0.9*e + 0.1*v
			}
			out[i] = e
		}
		return out
	}
	fig, err = figures.Curves(figures.CurvesSpec{Title: "Training loss (smoothed)", XLabel: "step", YLabel: "cross-entropy",
		Series: []figures.Series{{Name: "plain", Y: smooth(runs[0].Loss)}, {Name: "residual", Y: smooth(runs[1].Loss)}}})
	if err != nil {
		return err
	}
	var respS []figures.Series
	var gradS []figures.Series
	for i, nm := range []string{"plain", "residual"} {
		var b, g []float64
		for _, l := range runs[i].Trained[1:] {
			b = append(b, l.BranchStd)
		}
		for _, l := range runs[i].Trained {
			g = append(g, l.GradStd)
		}
		respS = append(respS, figures.Series{Name: nm, Y: b})
		gradS = append(gradS, figures.Series{Name: nm, Y: g})
	}
	fig2, err := figures.Curves(figures.CurvesSpec{Title: "Response std per block (trained)", XLabel: "block", YLabel: "std of F(x)", Series: respS})
	if err != nil {
		return err
	}
	fig3, err := figures.Curves(figures.CurvesSpec{Title: "Gradient std per layer (trained)", XLabel: "layer (stem = 0)", YLabel: "std of ∂loss/∂act", LogY: true, Series: gradS})
	if err != nil {
		return err
	}
	r.BeginRow()
	r.Figure(fig, "Training loss of the plain and the residual network.")
	r.Figure(fig2, "Std of each block's residual branch F(x) after its last BatchNorm (He et al. 2016, Fig. 7).")
	r.Figure(fig3, "Std of the gradient reaching each layer's output.")
	r.EndRow()
	hp := r.Headline("plain_final_loss", "plain net: final training loss", runs[0].FinalLoss(), "%.3f")
	hr := r.Headline("resnet_final_loss", "residual net: final training loss", runs[1].FinalLoss(), "%.3f")
	r.Result("plain_mean_response_std", meanBranch(runs[0].Trained))
	r.Result("resnet_mean_response_std", meanBranch(runs[1].Trained))
	r.Result("plain_stem_grad_std", runs[0].Trained[0].GradStd)
	r.Result("resnet_stem_grad_std", runs[1].Trained[0].GradStd)
	pr, rr := meanBranch(runs[0].Trained), meanBranch(runs[1].Trained)
	verdict := "smaller, as He et al. found: a residual branch only has to add a correction to the identity"
	if rr >= pr {
		verdict = "not smaller in this short run, unlike He et al.'s longer ones"
	}
	r.P("Final training loss (the mean of the last steps): plain **%s**, residual **%s**. The mean response std of the "+
		"blocks is %.3f (plain) against %.3f (residual): the residual responses are %s. The gradient reaching the stem has std "+
		"%.3g (plain) and %.3g (residual).", hp, hr, pr, rr, verdict, runs[0].Trained[0].GradStd, runs[1].Trained[0].GradStd)

	// 4. Saliency and integrated gradients.
	r.Section("Saliency and integrated gradients")
	demo := m
	demoNote := "the classifier trained above"
	if path, err := report.RepoFile("web/cnndemo/model.safetensors"); err == nil {
		if dm, err := cnn.Load(path); err == nil {
			demo, demoNote = dm, "the dashboard's demo classifier (`web/cnndemo`, test accuracy 0.882 on Fashion-MNIST)"
		}
	}
	r.P("Which pixels does a class logit depend on? We attribute with %s. **Saliency** is the gradient of the logit with "+
		"respect to the pixels; **integrated gradients** average that gradient along the straight path from a black image to "+
		"the input and multiply by the input, so the attributions sum to the logit's change (completeness).", demoNote)
	r.Code("attr")
	var imgs [][]float32
	var labels []string
	var compl []float64
	for i := range min(4, s.Test) {
		x := d.testX[i*per : (i+1)*per]
		// region: attr
		cls := int(d.testY[i])
		sal, _, err := demo.Saliency(ctx, x, cls, nil)
		if err != nil {
			return err
		}
		ig, err := demo.IntegratedGradients(ctx, x, cls, cnn.IGOptions{Steps: s.IGSteps}, nil)
		if err != nil {
			return err
		}
		// endregion
		absSal := make([]float32, len(sal))
		for j, v := range sal {
			absSal[j] = float32(math.Abs(float64(v)))
		}
		name := fmt.Sprint(cls)
		if d.real {
			name = data.FashionMNISTLabel(uint8(cls))
		}
		imgs = append(imgs, x, absSal, ig.Map)
		labels = append(labels, name, "|saliency|", "integrated grad.")
		compl = append(compl, ig.CompletenessError())
	}
	fig, err = figures.ImageGrid(figures.ImageGridSpec{Title: "Attributions of the true class's logit", Images: imgs, Height: d.h, Width: d.w,
		Cols: 6, Labels: labels, PerImage: true, ColorMap: figures.Auto})
	if err != nil {
		return err
	}
	r.FigureAt(fig, 900, 340, "Each test image, the absolute saliency, and the integrated-gradients map (each image on its own colour scale).")
	hc := r.Headline("ig_completeness_error", "integrated gradients: max completeness error", maxOf(compl), "%.3g")
	r.FullClaim("ig_complete", maxOf(compl) < 0.1, fmt.Sprintf("largest |Σ attributions − (f(x) − f(black))| = %s with %d Riemann steps", hc, s.IGSteps),
		"Completeness, Σ attributions = f(x) − f(black), holds to within 0.1 of the logit — a check that the backward pass "+
			"through the hooks is right.")
	return r.Write()
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(max(1, len(x)))
}

func maxOf(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func meanBranch(ls []cnn.LayerStat) float64 {
	var b []float64
	for _, l := range ls[1:] {
		b = append(b, l.BranchStd)
	}
	return mean(b)
}
