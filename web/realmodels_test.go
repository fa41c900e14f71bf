package web

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
)

// TestPagesOnRealModels serves the Hugging Face fixtures (GPT-2, Pythia:
// partial rotary and parallel blocks, Llama: grouped-query attention) and
// stories260K (llama2.c) with serve --model, and runs every transformer
// page's API on each: attention (whose patterns, sent to 4 decimals, must
// equal TransformerLens's to that precision on the fixtures), lens,
// patching and the circuits report and head circuits.
func TestPagesOnRealModels(t *testing.T) {
	hfDir := testenv.SharedDir(t, "hf")
	bin := filepath.Join(testenv.SharedDir(t, "llama2c"), "stories260K.bin")
	models := []string{filepath.Join(hfDir, "gpt2_tiny"), filepath.Join(hfDir, "pythia_tiny"), filepath.Join(hfDir, "llama_gqa_tiny"), bin}
	s, err := Open(Deps{RunsDir: t.TempDir(), Models: models})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"gpt2_tiny", "pythia_tiny", "llama_gqa_tiny", "stories260K.bin"}
	for i, name := range names {
		var tokens [][]int
		var want struct {
			Pattern [][][][][]float64 `json:"pattern"`
		}
		if i < 3 {
			readJSONTest(t, filepath.Join(models[i], "tokens.json"), &tokens)
			readJSONTest(t, filepath.Join(models[i], "expected.json"), &want)
		} else {
			readJSONTest(t, filepath.Join(filepath.Dir(bin), "tokens.json"), &tokens)
		}
		seq := tokens[0]
		for _, sq := range tokens[1:] { // the longest; the fixtures' first is compared to TL's patterns
			if want.Pattern == nil && len(sq) > len(seq) {
				seq = sq
			}
		}
		seq = seq[:min(len(seq), 24)]
		ids, _ := json.Marshal(seq)
		base := "/api/models/" + name

		var att struct {
			Patterns [][][][]float64 `json:"patterns"`
		}
		post(t, s, base+"/attention", fmt.Sprintf(`{"tokens": %s}`, ids), &att)
		if len(att.Patterns) == 0 {
			t.Fatalf("%s: no attention patterns", name)
		}
		if want.Pattern != nil {
			worst := 0.0
			for l := range att.Patterns {
				for h := range att.Patterns[l] {
					for q := range att.Patterns[l][h] {
						for k := range att.Patterns[l][h][q] {
							worst = math.Max(worst, math.Abs(att.Patterns[l][h][q][k]-want.Pattern[l][0][h][q][k]))
						}
					}
				}
			}
			// The page sends weights to 4 decimals (±5e-5); the model's
			// own are within 1e-5 (transformer/hf's parity test).
			t.Logf("%s: attention page patterns within %.2g of TransformerLens's", name, worst)
			if worst > 1e-5+5e-5 {
				t.Errorf("%s: patterns differ from TransformerLens's by %g", name, worst)
			}
		}

		var ln struct {
			Logit struct {
				Top [][][]struct{ Token int } `json:"top"`
			} `json:"logit"`
		}
		post(t, s, base+"/lens", fmt.Sprintf(`{"tokens": %s, "k": 3, "tuned": false}`, ids), &ln)
		if len(ln.Logit.Top) == 0 {
			t.Errorf("%s: the lens returned no points", name)
		}

		corrupted := append([]int(nil), seq...)
		corrupted[1] = (corrupted[1] + 1) % 50
		cids, _ := json.Marshal(corrupted)
		var pr struct {
			Grid struct {
				Values [][]float64 `json:"values"`
			} `json:"grid"`
		}
		post(t, s, base+"/patching", fmt.Sprintf(`{"clean": %s, "corrupted": %s, "answer": %d, "wrong": %d, "what": "head_out"}`, ids, cids, seq[2], corrupted[1]), &pr)
		if len(pr.Grid.Values) == 0 {
			t.Errorf("%s: patching returned no grid", name)
		}

		for _, path := range []string{base + "/circuits/", base + "/circuits/heads/1/0/ov?k=3", base + "/circuits/heads/1/0/qk?k=3"} {
			rec := do(t, s, "GET", path, "", nil)
			if rec.Code != 200 || !strings.HasPrefix(strings.TrimSpace(rec.Body.String()), "{") {
				t.Errorf("%s: GET %s: %d %.200s", name, path, rec.Code, rec.Body)
			}
		}
	}
}

func readJSONTest(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
