package web

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// attentionJSON is the attention endpoint's answer, long-sequence fields
// included.
type attentionJSON struct {
	Tokens     []int
	Patterns   [][][][]float64
	MaxPattern [][]float64 `json:"max_pattern"`
	MaxHead    [][]int     `json:"max_head"`
	Thumbnail  int
	Thumbnails [][][]float64
}

func getAttention(t *testing.T, s *Server, path string) attentionJSON {
	t.Helper()
	rec := do(t, s, "GET", path, "", nil)
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	var a attentionJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAttentionLong checks the fields long sequences use against the full
// patterns of the same sequence: heads leaves the others empty, max is the
// largest weight over heads and its head, thumbnails max-pool blocks.
func TestAttentionLong(t *testing.T) {
	s, _ := namedTestServer(t)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprint((i * 37) % 290)
	}
	q := "/api/models/tiny/attention?tokens=" + strings.Join(ids, ",")
	full := getAttention(t, s, q)
	part := getAttention(t, s, q+"&heads=L1H0,max&thumbnail=8")
	T := len(ids)
	for l := range 2 {
		for h := range 2 {
			if n := len(part.Patterns[l][h]); (l == 1 && h == 0) != (n == T) || n != 0 && n != T {
				t.Errorf("L%dH%d: %d rows with heads=L1H0", l, h, n)
			}
		}
	}
	if len(full.MaxPattern) != 0 || len(full.Thumbnails) != 0 {
		t.Errorf("max or thumbnails without asking")
	}
	const tol = 1e-4
	for qi := range T {
		for k := 0; k <= qi; k++ {
			best, arg := -1.0, 0
			for l := range 2 {
				for h := range 2 {
					if v := full.Patterns[l][h][qi][k]; v > best {
						best, arg = v, l*2+h
					}
				}
			}
			if math.Abs(part.MaxPattern[qi][k]-best) > tol {
				t.Fatalf("max (%d, %d) = %v, want %v", qi, k, part.MaxPattern[qi][k], best)
			}
			if a := part.MaxHead[qi][k]; a != arg && math.Abs(full.Patterns[a/2][a%2][qi][k]-best) > tol {
				t.Fatalf("max head (%d, %d) = %d, want %d", qi, k, a, arg)
			}
		}
	}
	// Thumbnails: 8×8 blocks of rows and columns ⌊i·50/8⌋…, each the
	// largest weight in it (0 above the diagonal).
	if part.Thumbnail != 8 {
		t.Fatalf("thumbnail side %d, want 8", part.Thumbnail)
	}
	lo := func(i int) int { return (i*T + 7) / 8 } // first row r with ⌊r·8/T⌋ = i
	for l := range 2 {
		for h := range 2 {
			th := part.Thumbnails[l][h]
			for i := range 8 {
				for j := range 8 {
					want := 0.0
					for r := lo(i); r < lo(i+1); r++ {
						for c := lo(j); c < lo(j+1) && c <= r; c++ {
							want = math.Max(want, full.Patterns[l][h][r][c])
						}
					}
					if math.Abs(th[i*8+j]-want) > tol {
						t.Fatalf("L%dH%d thumbnail (%d, %d) = %v, want %v", l, h, i, j, th[i*8+j], want)
					}
				}
			}
		}
	}
	// A short sequence's thumbnail is the pattern itself.
	small := getAttention(t, s, "/api/models/tiny/attention?tokens=1,2,3&thumbnail=8")
	if small.Thumbnail != 3 || small.Thumbnails[0][1][3] != small.Patterns[0][1][1][0] || small.Thumbnails[0][1][1] != 0 {
		t.Errorf("3-token thumbnail %v side %d, pattern %v", small.Thumbnails[0][1], small.Thumbnail, small.Patterns[0][1])
	}

	// 16 heads at 1,024 tokens are 8.4 million weights: too many for one
	// answer, unless some heads are asked for.
	wide, err := transformer.New(transformer.Config{NLayers: 1, DModel: 16, NHeads: 16, DHead: 1, DVocab: 20, NCtx: 1024, AttnOnly: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "wide.safetensors")
	if err := wide.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := Open(Deps{RunsDir: dir, Models: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	long := make([]string, 1024)
	for i := range long {
		long[i] = fmt.Sprint(i % 20)
	}
	body := `{"tokens": [` + strings.Join(long, ",") + `]`
	runAPICases(t, sw, []apiCase{
		{"every head", "POST", "/api/models/wide/attention", "", body + `}`, 422, "ask for some"},
		{"one head and thumbnails", "POST", "/api/models/wide/attention", "", body + `, "heads": ["L0H15"], "thumbnail": 64}`, 200, `"thumbnail":64`},
		{"unknown head", "POST", "/api/models/wide/attention", "", body + `, "heads": ["L0H16"]}`, 400, "L0H16"},
		{"padded head", "POST", "/api/models/wide/attention", "", body + `, "heads": ["L00H1"]}`, 400, "want L{layer}H{head}"},
		{"thumbnail too large", "POST", "/api/models/wide/attention", "", body + `, "thumbnail": 257}`, 400, "want 8 to 256"},
	})
}
