package circuits

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestAnalyzeSmallModel runs Analyze on a model whose n_ctx (7) is too short
// for repeated-token sequences and whose output vocabulary (9) is smaller
// than its input vocabulary (10): the report must still hold every
// weight-based number, the OV statistics over the 9×9 block, and say why
// it names no heads.
func TestAnalyzeSmallModel(t *testing.T) {
	m := tinyModel(t, 7)
	tokens := [][]int{{1, 2, 3, 1, 2, 3}, {9, 8, 7, 9, 8, 7}}
	r, err := Analyze(context.Background(), m, AnalyzeOptions{Tokens: tokens, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	w := WeightsOf(m)
	block := func(x *mat.Dense, r0, r1, c0, c1 int) *mat.Dense { return mat.DenseCopyOf(x.Slice(r0, r1, c0, c1)) }
	for l := range 2 {
		for h := range 3 {
			hw := w.heads[l][h]
			ov := mul(block(w.WE, 0, 9, 0, 12), hw.V, hw.O, block(w.WU, 0, 12, 0, 9)) // [9, 9]
			if want := densePositivity(t, ov); math.Abs(r.OVEigenPositivity[l][h]-want) > 1e-9 {
				t.Errorf("%s: OV positivity %v, dense %v", HeadLabel(l, h), r.OVEigenPositivity[l][h], want)
			}
			if want := denseTop1(ov); r.FullOVTop1[l][h] != want {
				t.Errorf("%s: top-1 %v, dense %v", HeadLabel(l, h), r.FullOVTop1[l][h], want)
			}
		}
	}
	want, err := DetectHead(context.Background(), m, tokens, InductionPattern, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.InductionScore[1][2] != want[1][2] {
		t.Errorf("report induction score %v, DetectHead %v", r.InductionScore[1][2], want[1][2])
	}
	if r.Repeated.Sequences != 0 || r.Repeated.Note == "" || r.PrefixMatchingScore != nil || len(r.PrevTokenHeads)+len(r.InductionHeads)+len(r.CopyingHeads) != 0 {
		t.Errorf("repeated-token part %+v, names %v %v %v: want none, with a note", r.Repeated, r.PrevTokenHeads, r.InductionHeads, r.CopyingHeads)
	}
	if len(r.Strongest) != DefaultTop || r.Strongest[0].Score < r.Strongest[DefaultTop-1].Score || r.Strongest[0].L1 >= r.Strongest[0].L2 {
		t.Errorf("strongest compositions %+v", r.Strongest)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "no repeated-token scores") || !strings.Contains(text.String(), "tl-ind") {
		t.Errorf("text report:\n%s", text.String())
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("report does not encode: %v", err)
	}
	// Report.WriteText returns the writer's error.
	if err := r.WriteText(failWriter{}); err == nil {
		t.Error("write error not returned")
	}
	// Invalid tokens and a cancelled context are errors.
	if _, err := Analyze(context.Background(), m, AnalyzeOptions{Tokens: [][]int{{1, 10}}}); err == nil {
		t.Error("token 10 of 10 accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, m, AnalyzeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
