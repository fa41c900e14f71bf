package web

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/sae"
)

// TestEmbeddedDictionary checks the embedded dictionary: under 1 MB, it
// loads, fits the demo's hook, and still reconstructs the demo's residual
// stream (FVU on the task's sequences well below 1, L0 = k).
func TestEmbeddedDictionary(t *testing.T) {
	w, err := saeDemoFS.ReadFile("saedemo/sae_weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) >= 1<<20 {
		t.Errorf("embedded dictionary weights are %d bytes", len(w))
	}
	s, _ := newTestServer(t)
	d := s.feats.dicts[0]
	m, err := s.models.get(d.model)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := corpus(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.s.Evaluate(t.Context(), m.m, seqs)
	if err != nil {
		t.Fatal(err)
	}
	if f.FVU > 0.3 || f.L0 != 4 {
		t.Errorf("embedded dictionary on the demo: FVU %.3f, L0 %.2f", f.FVU, f.L0)
	}
}

func TestAPIFeatures(t *testing.T) {
	s, _ := newTestServer(t)
	runAPICases(t, s, []apiCase{
		{"list", "GET", "/api/features", "", "", 200, `"name":"demo-sae"`},
		{"list of a model", "GET", "/api/features?model=other", "", "", 200, `[]`},
		{"unknown dictionary", "GET", "/api/features/nosuch/features", "", "", 404, "no dictionary"},
		{"bad by", "GET", "/api/features/demo-sae/features?by=x&q=1", "", "", 400, "want id or token"},
		{"bad id search", "GET", "/api/features/demo-sae/features?by=id&q=x", "", "", 400, "not a feature id"},
		{"feature out of range", "GET", "/api/features/demo-sae/features/256", "", "", 400, "[0, 256)"},
		{"steer without alpha", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "tokens": [1, 2]}`, 400, "give feature and alpha"},
		{"steer huge alpha", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "alpha": 1e9, "tokens": [1, 2]}`, 400, "alpha"},
		{"steer unknown field", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "alpha": 1, "tokens": [1], "hook": "x"}`, 400, "unknown field"},
		{"steer bad feature", "POST", "/api/features/demo-sae/steer", "", `{"feature": 300, "alpha": 1, "tokens": [1]}`, 400, "feature 300"},
		{"steer too many new", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "alpha": 1, "tokens": [1], "max_new": 1000}`, 400, "max_new"},
		{"steer bad token", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "alpha": 1, "tokens": [99]}`, 400, "token"},
		{"steer a prompt without tokenizer", "POST", "/api/features/demo-sae/steer", "", `{"feature": 1, "alpha": 1, "prompt": "hi"}`, 400, "tokenizer"},
	})

	type row struct {
		ID        int     `json:"id"`
		Density   float64 `json:"density"`
		TopTokens []struct {
			Token int `json:"token"`
		} `json:"top_tokens"`
		TopLogits []struct {
			Token int `json:"token"`
		} `json:"top_logits"`
	}
	var list struct {
		Total    int   `json:"total"`
		Features []row `json:"features"`
	}
	get := func(path string, v any) {
		t.Helper()
		rec := do(t, s, "GET", path, "", nil)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
	get("/api/features/demo-sae/features", &list)
	if list.Total != 256 || len(list.Features) != featureListMax {
		t.Fatalf("%d features, %d listed", list.Total, len(list.Features))
	}
	for i := 1; i < len(list.Features); i++ {
		if list.Features[i].Density > list.Features[i-1].Density {
			t.Fatalf("row %d denser than row %d", i, i-1)
		}
	}
	top := list.Features[0]
	get("/api/features/demo-sae/features?by=id&q="+strconv.Itoa(top.ID), &list)
	if list.Total != 1 || list.Features[0].ID != top.ID {
		t.Errorf("search by id %d: %+v", top.ID, list)
	}
	tok := top.TopTokens[0].Token
	get("/api/features/demo-sae/features?by=token&q="+strconv.Itoa(tok), &list)
	found := false
	for _, f := range list.Features {
		found = found || f.ID == top.ID
		ok := false
		for _, t := range append(f.TopTokens, f.TopLogits...) {
			ok = ok || t.Token == tok
		}
		if !ok {
			t.Errorf("search by token %d lists feature %d, which neither fires most on it nor promotes it: %+v", tok, f.ID, f)
		}
	}
	if !found {
		t.Errorf("search by token %d does not list feature %d, which fires most on it", tok, top.ID)
	}

	// The dashboard's top context peaks at the feature's largest activation
	// and holds it.
	var f sae.Feature
	get("/api/features/demo-sae/features/"+strconv.Itoa(top.ID), &f)
	if len(f.Contexts) == 0 || len(f.Promoted) != 10 || len(f.Similar) != 8 {
		t.Fatalf("dashboard: %d contexts, %d promoted, %d similar", len(f.Contexts), len(f.Promoted), len(f.Similar))
	}
	c := f.Contexts[0]
	if c.Act != f.MaxAct || c.Acts[c.Pos-c.Start] != c.Act {
		t.Errorf("top context act %g at %d, max %g, acts %v", c.Act, c.Pos, f.MaxAct, c.Acts)
	}

	// Steering with α = 0 changes nothing; with a large α the steered
	// next-token logits move by the feature's direct logit effect's sign
	// for its most promoted token.
	var st struct {
		KL     float64 `json:"kl"`
		Raised []struct {
			Token  int     `json:"token"`
			Effect float64 `json:"effect"`
		} `json:"raised"`
		SteeredNew []int `json:"steered_new"`
	}
	post := func(body string, v any) {
		t.Helper()
		rec := do(t, s, "POST", "/api/features/demo-sae/steer", jsonCT, strings.NewReader(body))
		if rec.Code != 200 {
			t.Fatalf("steer %s: %d %s", body, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
	post(`{"feature": `+strconv.Itoa(top.ID)+`, "alpha": 0, "tokens": [1, 2, 3, 1, 2], "max_new": 3}`, &st)
	if st.KL != 0 || st.Raised[0].Effect != 0 || len(st.SteeredNew) != 3 {
		t.Errorf("α = 0: %+v", st)
	}
	post(`{"feature": `+strconv.Itoa(top.ID)+`, "alpha": 200, "tokens": [1, 2, 3, 1, 2]}`, &st)
	if st.KL <= 0 || math.IsNaN(st.KL) {
		t.Errorf("α = 200: KL %g", st.KL)
	}
}

// TestServeSAE binds a dictionary folder to the demo as serve --sae does,
// and refuses one whose width does not fit the hook.
func TestServeSAE(t *testing.T) {
	dir := t.TempDir()
	good, err := sae.New(sae.Config{DIn: 64, DSAE: 32, Activation: sae.TopK, K: 2, HookName: "blocks.0.hook_resid_post"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Save(filepath.Join(dir, "mine"), nil); err != nil {
		t.Fatal(err)
	}
	bad, _ := sae.New(sae.Config{DIn: 32, DSAE: 32, Activation: sae.TopK, K: 2, HookName: "blocks.0.hook_resid_post"}, 1)
	if err := bad.Save(filepath.Join(dir, "narrow"), nil); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Deps{RunsDir: t.TempDir(), SAEs: []string{"demo=" + filepath.Join(dir, "mine")}})
	if err != nil {
		t.Fatal(err)
	}
	runAPICases(t, s, []apiCase{
		{"listed", "GET", "/api/features?model=demo", "", "", 200, `"name":"mine","model":"demo","hook":"blocks.0.hook_resid_post"`},
		{"its features", "GET", "/api/features/mine/features?by=id&q=3", "", "", 200, `"total":1`},
	})
	for _, spec := range []string{filepath.Join(dir, "narrow"), "nosuch=" + filepath.Join(dir, "mine"), filepath.Join(dir, "absent")} {
		if _, err := Open(Deps{RunsDir: t.TempDir(), SAEs: []string{spec}}); err == nil || !strings.Contains(err.Error(), "--sae") {
			t.Errorf("--sae %s: error %v", spec, err)
		}
	}
}
