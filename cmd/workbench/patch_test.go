package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// patchFixture writes a small random model with MLPs and a clean and a
// corrupted batch (differing at position 2) to a temporary directory and
// returns the common flags.
func patchFixture(t *testing.T) (dir string, flags []string) {
	t.Helper()
	dir = t.TempDir()
	m, err := transformer.New(transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 10, NCtx: 8,
		NormalizationType: transformer.NormLN, Seed: 3, InitRange: 0.6})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.safetensors")
	if err := m.Save(model, nil); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean.json", `[[1, 2, 3, 4, 5], [6, 7, 8, 9, 1]]`)
	corrupted := write("corrupted.json", `[[1, 2, 0, 4, 5], [6, 7, 2, 9, 1]]`)
	return dir, []string{"--model", model, "--clean", clean, "--corrupted", corrupted}
}

func runPatchCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runPatch(context.Background(), args, &out, &errb)
	return out.String(), err
}

type patchJSON struct {
	What        string          `json:"what"`
	Metric      string          `json:"metric"`
	Clean       float64         `json:"clean"`
	Corrupted   float64         `json:"corrupted"`
	Normalized  bool            `json:"normalized"`
	Axes        [][]string      `json:"axes"`
	Values      json.RawMessage `json:"values"`
	Attribution json.RawMessage `json:"attribution"`
	Agreement   *struct {
		Pearson     *float64 `json:"pearson"`
		TopK        int      `json:"top_k"`
		TopKOverlap float64  `json:"top_k_overlap"`
	} `json:"agreement"`
}

func TestPatchJSON(t *testing.T) {
	_, flags := patchFixture(t)
	for _, tc := range []struct {
		what string
		rows []string
	}{
		{"resid_pre", []string{"L0", "L1"}},
		{"attn_out", []string{"L0", "L1"}},
		{"mlp_out", []string{"L0", "L1"}},
		{"head_out", []string{"L0H0", "L0H1", "L1H0", "L1H1"}},
	} {
		args := append(flags, "--metric", "logit-diff", "--answer", "3", "--wrong", "0", "--what", tc.what, "--json")
		out, err := runPatchCLI(t, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		var got patchJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v in %s", tc.what, err, out)
		}
		var values [][]float64
		if err := json.Unmarshal(got.Values, &values); err != nil {
			t.Fatalf("%s: values %s: %v", tc.what, got.Values, err)
		}
		if got.What != tc.what || got.Metric != "logit-diff" || strings.Join(got.Axes[0], ",") != strings.Join(tc.rows, ",") ||
			len(got.Axes) != 2 || len(got.Axes[1]) != 5 || got.Axes[1][3] != "pos 3" || len(values) != len(tc.rows) || len(values[0]) != 5 {
			t.Errorf("%s: got %s", tc.what, out)
		}
		// Positions 0 and 1 are the same in both batches and cannot see
		// position 2: patching them changes nothing.
		for r := range values {
			for p := 0; p < 2; p++ {
				if values[r][p] != got.Corrupted {
					t.Errorf("%s %s pos %d: %v, want the corrupted %v", tc.what, tc.rows[r], p, values[r][p], got.Corrupted)
				}
			}
		}
		if got.Clean == got.Corrupted {
			t.Errorf("%s: clean = corrupted = %v; the fixture shows nothing", tc.what, got.Clean)
		}
	}
}

func TestPatchNormalizedAttribution(t *testing.T) {
	_, flags := patchFixture(t)
	args := append(flags, "--metric", "prob", "--answer", "3,9", "--what", "resid_pre", "--by-pos=false", "--normalize", "--attribution", "--json")
	out, err := runPatchCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var got patchJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var values, attr []float64
	if err := json.Unmarshal(got.Values, &values); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.Attribution, &attr); err != nil {
		t.Fatal(err)
	}
	if !got.Normalized || got.Clean == got.Corrupted || values[0] != 1 || len(attr) != 2 || got.Agreement == nil || got.Agreement.TopK != 2 {
		t.Errorf("normalised resid_pre at all positions with attribution: %s", out)
	}
	table, err := runPatchCLI(t, append(flags, "--metric", "loss", "--what", "head_out", "--attribution", "--top-k", "3")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"patching head_out", "metric loss", "L1H1", "\npos ", "attribution estimate", "top-3 overlap"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestPatchBadInput(t *testing.T) {
	dir, flags := patchFixture(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	model, clean := flags[1], flags[3]
	ld := []string{"--metric", "logit-diff", "--answer", "3", "--wrong", "0"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown --what", append(append(flags, ld...), "--what", "heads"), "unknown activation"},
		{"no --what", append(flags, ld...), "--what is required"},
		{"token out of range", append(append([]string{"--model", model, "--clean", clean, "--corrupted", write("big.json", `[[1, 2, 10, 4, 5], [6, 7, 2, 9, 1]]`)}, ld...), "--what", "resid_pre"), "out of range"},
		{"shape mismatch", append(append([]string{"--model", model, "--clean", clean, "--corrupted", write("short.json", `[[1, 2, 0, 4], [6, 7, 2, 9]]`)}, ld...), "--what", "resid_pre"), "must match"},
		{"batch mismatch", append(append([]string{"--model", model, "--clean", clean, "--corrupted", write("one.json", `[[1, 2, 0, 4, 5]]`)}, ld...), "--what", "resid_pre"), "must match"},
		{"not JSON tokens", append(append([]string{"--model", model, "--clean", clean, "--corrupted", write("bad.json", `{"a": 1}`)}, ld...), "--what", "resid_pre"), "JSON array"},
		{"answer out of range", append(flags, "--metric", "logit-diff", "--answer", "10", "--wrong", "0", "--what", "resid_pre"), "outside the output vocabulary"},
		{"answer not a number", append(flags, "--metric", "logit-diff", "--answer", "x", "--wrong", "0", "--what", "resid_pre"), "not a token id"},
		{"no wrong", append(flags, "--metric", "logit-diff", "--answer", "3", "--what", "resid_pre"), "needs --answer and --wrong"},
		{"unknown metric", append(flags, "--metric", "kl", "--answer", "3", "--what", "resid_pre"), "unknown --metric"},
		{"metric position", append(append(flags, ld...), "--pos", "5", "--what", "resid_pre"), "position"},
		{"no model", []string{"--clean", clean, "--corrupted", clean, "--what", "resid_pre"}, "--model is required"},
		{"no corrupted", []string{"--model", model, "--clean", clean, "--what", "resid_pre"}, "give --corrupted FILE, --corrupted-text TEXT or --corrupted-text-file FILE"},
	} {
		_, err := runPatchCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
