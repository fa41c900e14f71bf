package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/lens"
	"github.com/mechinterp/workbench/patching"
)

// flatten appends every number in a decoded JSON value, depth first.
func flatten(dst []float64, v any) []float64 {
	switch v := v.(type) {
	case float64:
		return append(dst, v)
	case []any:
		for _, x := range v {
			dst = flatten(dst, x)
		}
	}
	return dst
}

// closeAll reports the first index where got and want differ by more than
// batchTol, or -1.
func closeAll(got, want []float64) int {
	if len(got) != len(want) {
		return 0
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > batchTol {
			return i
		}
	}
	return -1
}

// TestBatchedAnalysesMatchOneRun runs patch, lens and analyze on 23
// sequences 5 at a time (a partial last batch) and compares their numbers
// with the library's on all 23 at once.
func TestBatchedAnalysesMatchOneRun(t *testing.T) {
	ctx := context.Background()
	dir, m := saveModel(t, smallConfig())
	cleanPath, clean := writeTokens(t, 11, 23, 8, 13)
	corruptedPath, corrupted := writeTokens(t, 12, 23, 8, 13)
	answers := make([]int, 23)
	var ids []string
	for i := range answers {
		answers[i] = (i*5 + 1) % 13
		ids = append(ids, fmt.Sprint(answers[i]))
	}
	decode := func(args ...string) map[string]any {
		t.Helper()
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("workbench %s: %v", strings.Join(args, " "), err)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("workbench %s: output is not JSON: %v", args[0], err)
		}
		return v
	}

	for _, tc := range []struct {
		name   string
		flags  []string
		metric patching.Metric
	}{
		{"logit-diff", []string{"--metric", "logit-diff", "--answer", strings.Join(ids, ","), "--wrong", "0"},
			patching.LogitDiff{Answer: answers, Wrong: []int{0}, Pos: patching.Last}},
		{"loss", []string{"--metric", "loss"}, patching.Loss{Targets: patching.NextTokenTargets(clean, 0)}},
	} {
		got := decode(append([]string{"patch", "--model", dir, "--clean", cleanPath, "--corrupted", corruptedPath,
			"--what", "head_out", "--attribution", "--json", "--batch", "5"}, tc.flags...)...)
		e, err := patching.New(ctx, m, clean, corrupted, tc.metric)
		if err != nil {
			t.Fatal(err)
		}
		opt := patching.Options{ByPos: true, Workers: 2}
		want, err := e.Sweep(ctx, patching.HeadOut, opt)
		if err != nil {
			t.Fatal(err)
		}
		attr, err := e.Attribute(ctx, patching.HeadOut, opt)
		if err != nil {
			t.Fatal(err)
		}
		if i := closeAll([]float64{got["clean"].(float64), got["corrupted"].(float64)}, []float64{want.Clean, want.Corrupted}); i >= 0 {
			t.Errorf("patch %s: clean, corrupted = %v, %v in batches; %v, %v at once", tc.name, got["clean"], got["corrupted"], want.Clean, want.Corrupted)
		}
		if i := closeAll(flatten(nil, got["values"]), want.Values); i >= 0 {
			t.Errorf("patch %s: value %d differs between batches and one run", tc.name, i)
		}
		if i := closeAll(flatten(nil, got["attribution"]), attr.Values); i >= 0 {
			t.Errorf("patch %s: attribution %d differs between batches and one run", tc.name, i)
		}
	}

	got := decode("lens", "--model", dir, "--tokens", cleanPath, "--json", "--batch", "5")
	want, err := lens.Logit(ctx, m, clean, lens.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		key  string
		want func(lens.Stats) float64
	}{
		{"accuracy", func(s lens.Stats) float64 { return s.Accuracy }},
		{"loss", func(s lens.Stats) float64 { return s.Loss }},
		{"kl_to_final", func(s lens.Stats) float64 { return s.KLToFinal }},
		{"entropy", func(s lens.Stats) float64 { return s.Entropy }},
	} {
		var w []float64
		for _, s := range want {
			w = append(w, f.want(s))
		}
		if i := closeAll(flatten(nil, got[f.key]), w); i >= 0 {
			t.Errorf("lens %s at point %d differs between batches and one run: %v vs %v", f.key, i, got[f.key], w)
		}
	}
	var wantTop []any
	for _, s := range want {
		b, _ := json.Marshal(s.Top)
		var v any
		json.Unmarshal(b, &v)
		wantTop = append(wantTop, v)
	}
	if i := closeAll(flatten(nil, got["top"]), flatten(nil, wantTop)); i >= 0 {
		t.Errorf("lens top tokens differ between batches and one run at %d", i)
	}

	got = decode("analyze", "--model", dir, "--tokens", cleanPath, "--json", "--batch", "5")
	r, err := circuits.Analyze(ctx, m, circuits.AnalyzeOptions{Tokens: clean})
	if err != nil {
		t.Fatal(err)
	}
	for key, w := range map[string][][]float64{"prev_token_score": r.PrevTokenScore, "duplicate_token_score": r.DuplicateTokenScore, "induction_score": r.InductionScore} {
		var wf []float64
		for _, row := range w {
			wf = append(wf, row...)
		}
		if i := closeAll(flatten(nil, got[key]), wf); i >= 0 {
			t.Errorf("analyze %s differs between batches and one run at %d", key, i)
		}
	}
}
