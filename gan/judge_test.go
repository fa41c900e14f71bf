package gan

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

func TestClassifierJudge(t *testing.T) {
	clf, err := cnn.New(cnn.Classifier())
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewClassifierJudge(clf, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if j.Point() != "dropout1.hook_out" || j.Dim() != 32*DefaultJudgeGrid*DefaultJudgeGrid || j.Classes() != 10 {
		t.Fatalf("judge reads %q, %d features, %d classes", j.Point(), j.Dim(), j.Classes())
	}
	const n = 3
	rng := rand.New(rand.NewPCG(8, 8))
	images := make([]float32, n*784)
	for i := range images {
		images[i] = float32(rng.Float64())
	}
	feats, probs := make([]float32, n*j.Dim()), make([]float32, n*10)
	j.batch = 2 // a full batch and a tail
	if err := j.Judge(context.Background(), feats, probs, images, n); err != nil {
		t.Fatal(err)
	}
	ws := clf.NewWorkspace(n)
	if err := ws.Forward(context.Background(), images, cnn.Pass{}, nil); err != nil {
		t.Fatal(err)
	}
	act, _ := ws.Act("dropout1.hook_out")
	// Image 2, channel 5, grid cell (1, 0): rows [3, 7), columns [0, 4) of 7×7.
	var want float64
	for y := 3; y < 7; y++ {
		for x := range 4 {
			want += float64(act.Data[(2*32+5)*49+y*7+x]) / 16
		}
	}
	if got := feats[2*j.Dim()+5*4+2]; math.Abs(float64(got)-want) > 1e-5 {
		t.Errorf("pooled feature %v, want %v", got, want)
	}
	for i := range n {
		if s := tensor.Sum(probs[i*10 : (i+1)*10]); math.Abs(s-1) > 1e-5 {
			t.Errorf("image %d: probabilities sum to %v", i, s)
		}
	}
	for _, bad := range []struct {
		point string
		grid  int
	}{{"fc.hook_out", 1}, {"nope", 1}, {"pool2.hook_out", 8}} {
		if _, err := NewClassifierJudge(clf, hooks.Name(bad.point), bad.grid); err == nil {
			t.Errorf("NewClassifierJudge(%q, %d) accepted", bad.point, bad.grid)
		}
	}
	if err := j.Judge(context.Background(), feats, probs, images[:10], n); err == nil {
		t.Error("Judge accepted too few pixels")
	}
	small := &data.ImageSet{N: 30, H: 28, W: 28, Images: make([]float32, 30*784), Labels: make([]uint8, 30)}
	if _, err := NewEvaluator(context.Background(), j, small, 20, 1); err == nil {
		t.Error("NewEvaluator accepted 30 images for two sets of 20")
	}
}
