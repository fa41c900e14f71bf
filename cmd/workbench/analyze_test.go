package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tolerances of the bars against the float64 reference: composition
// and eigenvalue positivity are float64 computations from the same float32
// weights; detector scores average float32 attention patterns.
const (
	analyzeCircuitTol = 1e-6
	analyzeDetectTol  = 1e-5
)

func runAnalyzeCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runAnalyze(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// analyzeJSON is the CLI contract's part of `analyze --json`.
type analyzeJSON struct {
	Heads               []string                   `json:"heads"`
	Composition         map[string][][][][]float64 `json:"composition"`
	CompositionBaseline float64                    `json:"composition_baseline"`
	OVEigenPositivity   [][]float64                `json:"ov_eigen_positivity"`
	FullOVTop1          [][]float64                `json:"full_ov_top1"`
	PrevTokenScore      [][]float64                `json:"prev_token_score"`
	DuplicateTokenScore [][]float64                `json:"duplicate_token_score"`
	InductionScore      [][]float64                `json:"induction_score"`
}

// within reports the entries of got further than tol from want, flattened
// to [l][h] grids, and returns the largest difference.
func within(t *testing.T, label string, got, want [][]float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", label, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s[%d]: %d entries, want %d", label, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			d := math.Abs(got[i][j] - want[i][j])
			worst = max(worst, d)
			if !(d <= tol) {
				t.Errorf("%s[%d][%d] = %v, reference %v", label, i, j, got[i][j], want[i][j])
			}
		}
	}
	return worst
}

func TestAnalyzeJSONMatchesReference(t *testing.T) {
	needParity(t)
	for _, name := range []string{"attn2_induction", "full2_ln_gelu"} {
		dir := filepath.Join(parityDir, name)
		out, _, err := runAnalyzeCLI(t, append(parityArgs(dir), "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var got, want analyzeJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v in %s", name, err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		nLayers, nHeads := len(want.OVEigenPositivity), len(want.OVEigenPositivity[0])
		if len(got.Heads) != nLayers*nHeads || got.Heads[0] != "L0H0" || got.Heads[nLayers*nHeads-1] != fmt.Sprintf("L%dH%d", nLayers-1, nHeads-1) {
			t.Errorf("%s: heads %q", name, got.Heads)
		}
		if got.CompositionBaseline <= 0 || got.CompositionBaseline >= 1 {
			t.Errorf("%s: composition_baseline %v", name, got.CompositionBaseline)
		}
		var compErr float64
		for _, mode := range []string{"Q", "K", "V"} {
			for l1 := range want.Composition[mode] {
				for h1 := range want.Composition[mode][l1] {
					label := fmt.Sprintf("%s composition.%s[%d][%d]", name, mode, l1, h1)
					compErr = max(compErr, within(t, label, got.Composition[mode][l1][h1], want.Composition[mode][l1][h1], analyzeCircuitTol))
				}
			}
		}
		posErr := within(t, name+" ov_eigen_positivity", got.OVEigenPositivity, want.OVEigenPositivity, analyzeCircuitTol)
		within(t, name+" full_ov_top1", got.FullOVTop1, want.FullOVTop1, 0)
		detErr := within(t, name+" prev_token_score", got.PrevTokenScore, want.PrevTokenScore, analyzeDetectTol)
		detErr = max(detErr, within(t, name+" duplicate_token_score", got.DuplicateTokenScore, want.DuplicateTokenScore, analyzeDetectTol))
		detErr = max(detErr, within(t, name+" induction_score", got.InductionScore, want.InductionScore, analyzeDetectTol))
		t.Logf("%s: largest errors: composition %.2g, OV positivity %.2g, detectors %.2g", name, compErr, posErr, detErr)
	}
}

func TestAnalyzeJSONWithoutTokens(t *testing.T) {
	run, _ := inductionRun(t)
	out, _, err := runAnalyzeCLI(t, "--model", run, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"heads", "composition", "composition_baseline", "ov_eigen_positivity", "full_ov_top1"} {
		if _, ok := got[k]; !ok {
			t.Errorf("--json without --tokens lacks %q", k)
		}
	}
	for _, k := range []string{"prev_token_score", "duplicate_token_score", "induction_score"} {
		if _, ok := got[k]; ok {
			t.Errorf("--json without --tokens has %q", k)
		}
	}
}

func TestAnalyzeText(t *testing.T) {
	run, tokens := inductionRun(t)
	out, _, err := runAnalyzeCLI(t, "--model", run, "--tokens", tokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Composition baseline: 1/√d_model = 0.1768",
		"Strongest compositions", "× baseline",
		"K-composition, × baseline",
		"tl-prev", "tl-ind",
		"previous-token heads (≥ 30% of attention on the previous token): L0H",
		"strongest K-composition from L0H", "is a previous-token head",
		"copying heads (copy ≥ 0.80 and top1 ≥ 0.50): L",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if i := strings.Index(out, "copying heads"); i < 0 || !strings.Contains(strings.SplitN(out[i:], "\n", 2)[0], "L1H") {
		t.Errorf("report names no layer-1 copying head:\n%s", out)
	}
	if !strings.Contains(out, "induction heads (prefix matching ≥ 0.30):\n    L1H") {
		t.Errorf("report names no layer-1 induction head:\n%s", out)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	run, _ := inductionRun(t)
	model := []string{"--model", run}
	badTokens := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(badTokens, []byte("[[1, 2, 999]]"), 0o644)
	for name, args := range map[string][]string{
		"no model":        {"--json"},
		"extra argument":  append(append([]string{}, model...), "extra"),
		"bad prefix":      append(append([]string{}, model...), "--prefix", "1,x"),
		"prefix range":    append(append([]string{}, model...), "--prefix", "16"),
		"token range":     append(append([]string{}, model...), "--tokens", badTokens),
		"missing tokens":  append(append([]string{}, model...), "--tokens", filepath.Join(t.TempDir(), "none.json")),
		"zero samples":    append(append([]string{}, model...), "--baseline-samples", "0"),
		"unknown flag":    {"--frobnicate"},
		"missing weights": {"--model", filepath.Join(t.TempDir(), "none.safetensors")},
	} {
		if _, _, err := runAnalyzeCLI(t, args...); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
}
