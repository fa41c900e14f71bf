package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lensLossTol is the bar for per-point loss against the float64
// reference: float32 rounding only.
const lensLossTol = 1e-4

func runLensCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runLens(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

type lensOut struct {
	Layers    []string  `json:"layers"`
	Accuracy  []float64 `json:"accuracy"`
	Loss      []float64 `json:"loss"`
	KLToFinal []float64 `json:"kl_to_final"`
	Entropy   []float64 `json:"entropy"`
	Top       [][][][]struct {
		Token int     `json:"token"`
		Prob  float64 `json:"prob"`
	} `json:"top"`
	Tuned *lensOut `json:"tuned"`
}

func parityArgs(dir string) []string {
	return []string{"--model", filepath.Join(dir, "model.safetensors"), "--config", filepath.Join(dir, "config.json"), "--tokens", filepath.Join(dir, "tokens.json")}
}

func TestLensJSONMatchesReference(t *testing.T) {
	needParity(t)
	for _, name := range []string{"attn2_induction", "full2_ln_gelu"} {
		dir := filepath.Join(parityDir, name)
		out, _, err := runLensCLI(t, append(parityArgs(dir), "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var got lensOut
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v in %s", name, err, out)
		}
		var exp struct {
			LogitLens struct {
				Labels   []string  `json:"labels"`
				Accuracy []float64 `json:"accuracy"`
				Loss     []float64 `json:"loss"`
			} `json:"logit_lens"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &exp); err != nil {
			t.Fatal(err)
		}
		want := exp.LogitLens
		if !slices.Equal(got.Layers, want.Labels) {
			t.Fatalf("%s: layers %q, reference %q", name, got.Layers, want.Labels)
		}
		for i := range want.Labels {
			// The lens package's parity test allows a one-prediction
			// difference at near-ties; these fixtures have none.
			if got.Accuracy[i] != want.Accuracy[i] || math.Abs(got.Loss[i]-want.Loss[i]) > lensLossTol {
				t.Errorf("%s %s: accuracy %v loss %v, reference %v %v", name, want.Labels[i], got.Accuracy[i], got.Loss[i], want.Accuracy[i], want.Loss[i])
			}
		}
		if n := len(got.Layers); len(got.Top) != n || len(got.Top[0]) != 3 || len(got.Top[0][0][0]) != 5 || got.KLToFinal[n-1] != 0 || len(got.Entropy) != n {
			t.Errorf("%s: top [%d][%d][..][%d], kl_to_final %v, entropy %v", name, len(got.Top), len(got.Top[0]), len(got.Top[0][0][0]), got.KLToFinal, got.Entropy)
		}
		if got.Tuned != nil {
			t.Errorf("%s: tuned field present without --tuned", name)
		}
	}
}

func TestLensTrainThenTuned(t *testing.T) {
	run, tokens := inductionRun(t)
	model := []string{"--model", run}
	runArgs := append(append([]string{}, model...), "--tokens", tokens)
	tuned := filepath.Join(t.TempDir(), "tuned.safetensors")
	out, progress, err := runLensCLI(t, append([]string{"train", "--out", tuned, "--steps", "20", "--batch", "4", "--seed", "3"}, model...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress, "step 20/20") || !strings.Contains(progress, "KL") || !strings.Contains(out, tuned) {
		t.Errorf("train output %q, progress %q", out, progress)
	}

	js, _, err := runLensCLI(t, append(runArgs, "--tuned", tuned, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var got lensOut
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	if got.Tuned == nil || !slices.Equal(got.Tuned.Layers, got.Layers) || len(got.Tuned.KLToFinal) != len(got.Layers) {
		t.Fatalf("tuned report %+v", got.Tuned)
	}
	for i := range len(got.Layers) - 1 {
		t.Logf("%-26s KL logit %.4f tuned %.4f", got.Layers[i], got.KLToFinal[i], got.Tuned.KLToFinal[i])
	}

	table, _, err := runLensCLI(t, append(runArgs, "--tuned", tuned)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tuned lens", "acc all", "blocks.1.hook_resid_post", "top-1"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	// A tuned lens for another architecture (with MLPs: more points) is refused.
	other, _ := saveModel(t, smallConfig())
	otherTokens, _ := writeTokens(t, 2, 2, 9, 13)
	if _, _, err := runLensCLI(t, "--model", other, "--tokens", otherTokens, "--tuned", tuned); err == nil || !strings.Contains(err.Error(), "points") {
		t.Errorf("tuned lens of the induction model on a model with MLPs: %v", err)
	}

	// Training from a token file and on random tokens.
	for _, extra := range [][]string{{"--tokens", tokens}, {"--data", "random"}} {
		if _, _, err := runLensCLI(t, append(append([]string{"train", "--out", tuned, "--steps", "2", "--batch", "2"}, model...), extra...)...); err != nil {
			t.Errorf("train %v: %v", extra, err)
		}
	}
}

func TestLensBadInput(t *testing.T) {
	dir, _ := saveModel(t, wideConfig())
	model := []string{"--model", dir}
	okTokens := writeSeqs(t, [][]int{{1, 2, 3, 1, 2, 3}})
	toks := filepath.Join(t.TempDir(), "toks.json")
	os.WriteFile(toks, []byte(`[[1]]`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"train"}, model...), "--out"},
		{append([]string{"train", "--out", "x", "--data", "zipf"}, model...), "zipf"},
		{append([]string{"train", "--out", "x", "--steps", "0"}, model...), "positive"},
		{append([]string{"--tokens", toks}, model...), "at least 2"},
		{append([]string{"--tokens", toks, "--k", "-1"}, model...), "--k"},
		{append([]string{"--tokens", toks, "--tuned", filepath.Join(dir, "model.safetensors")}, model...), "not a tuned lens"},
		{[]string{"--tokens", toks}, "--model"},
		{append(append([]string{"--tokens", okTokens}, model...), "extra"), "unexpected"},
	} {
		if _, _, err := runLensCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lens %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
