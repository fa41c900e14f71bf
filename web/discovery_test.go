package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mechinterp/workbench/transformer"
)

// discoverExampleBody returns the demo's discovery example as a request
// body map, with method set.
func discoverExampleBody(t *testing.T, h http.Handler, query, method string) map[string]any {
	t.Helper()
	rec := do(t, h, "GET", "/api/models/demo/discover/example"+query, "", nil)
	if rec.Code != 200 {
		t.Fatalf("example: %d %s", rec.Code, rec.Body)
	}
	var ex map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	delete(ex, "note")
	ex["method"] = method
	return ex
}

func postJSON(t *testing.T, h http.Handler, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, h, "POST", path, jsonCT, strings.NewReader(string(b)))
}

type discoverResult struct {
	Method, Metric, Ablation string
	Nodes                    []discoverNode
	Edges                    []struct {
		From, To, Input string
		ToNode          string `json:"to_node"`
		Score           float64
	}
	TotalEdges   int          `json:"total_edges"`
	Faithfulness [][2]float64 `json:"faithfulness"`
	Full, Empty  float64
	Kept         *int
}

// TestDiscoverAPI runs EAP, EAP-IG and ACDC on the demo's induction example
// and checks the answer's shape against the demo's graph counted by hand
// (2 layers of 4 attention-only heads: 11 nodes, 106 edges), the ranking,
// the faithfulness curve's ends (nothing kept ≈ 0, everything kept = 1),
// that the induction circuit's output shows (an L1 head into the logits
// among the top edges), and that ablating that edge alone raises the loss,
// by the effect /discover/edge reports.
func TestDiscoverAPI(t *testing.T) {
	s, _ := newTestServer(t)
	for _, method := range []string{"eap", "eap-ig", "acdc"} {
		body := discoverExampleBody(t, s, "?batch=6", method)
		if method == "acdc" {
			body["metric"], body["tau"] = "kl", 0.02
		}
		rec := postJSON(t, s, "/api/models/demo/discover", body)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", method, rec.Code, rec.Body)
		}
		var r discoverResult
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Nodes) != 11 || r.Nodes[0].Name != "embed" || r.Nodes[1].Name != "pos_embed" || r.Nodes[10].Name != "logits" || r.Nodes[2].Name != "L0H0" {
			t.Errorf("%s: nodes %+v", method, r.Nodes)
		}
		if r.TotalEdges != 106 || len(r.Edges) != 106 {
			t.Fatalf("%s: %d edges of %d, want 106", method, len(r.Edges), r.TotalEdges)
		}
		for i := 1; i < len(r.Edges); i++ {
			if math.Abs(r.Edges[i].Score) > math.Abs(r.Edges[i-1].Score) {
				t.Fatalf("%s: edge %d (%v) outscores edge %d (%v)", method, i, r.Edges[i].Score, i-1, r.Edges[i-1].Score)
			}
		}
		for _, e := range r.Edges {
			if want := e.ToNode; !strings.HasPrefix(e.To, want) || (e.Input != "" && e.To != want+"."+e.Input) {
				t.Errorf("%s: edge %+v: to_node and input do not name its receiver", method, e)
			}
		}
		f := r.Faithfulness
		if len(f) < 3 || f[0][0] != 0 || f[len(f)-1][0] != 106 || math.Abs(f[0][1]) > 0.1 || f[len(f)-1][1] != 1 {
			t.Errorf("%s: faithfulness %v, want from (0, ≈0) to (106, 1)", method, f)
		}
		top := ""
		for _, e := range r.Edges[:8] {
			if strings.HasPrefix(e.From, "L1H") && e.To == "logits" {
				top = e.From + "->" + e.To
				break
			}
		}
		if top == "" {
			t.Errorf("%s: no L1 head into the logits among the top 8 edges %+v", method, r.Edges[:8])
			continue
		}
		if method == "acdc" && (r.Kept == nil || *r.Kept == 0 || *r.Kept == 106) {
			t.Errorf("acdc kept %v edges", r.Kept)
		}
		t.Logf("%s: top edges %s %v, %s %v; faithfulness %v", method, r.Edges[0].From+"->"+r.Edges[0].To, r.Edges[0].Score, r.Edges[1].From+"->"+r.Edges[1].To, r.Edges[1].Score, f)
		if method != "eap" {
			continue
		}
		delete(body, "method")
		body["edge"] = top
		rec = postJSON(t, s, "/api/models/demo/discover/edge", body)
		var er struct {
			Edge                 string
			Metric, Full, Effect float64
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &er) != nil {
			t.Fatalf("edge %s: %d %s", top, rec.Code, rec.Body)
		}
		if er.Edge != top || er.Effect <= 0 || math.Abs(er.Metric-er.Full-er.Effect) > 1e-9 || math.Abs(er.Full-r.Full) > 1e-9 {
			t.Errorf("edge %s: %+v (full %v): want the loss to rise when the induction head's output is ablated", top, er, r.Full)
		}
	}
}

// TestDiscoverBadInput: every malformed or out-of-bounds request is a 4xx
// naming the problem, never a 500.
func TestDiscoverBadInput(t *testing.T) {
	s, _ := newTestServer(t)
	ex := discoverExampleBody(t, s, "?batch=2", "eap")
	with := func(kv ...any) map[string]any {
		b := map[string]any{}
		for k, v := range ex {
			b[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(b, kv[i].(string))
			} else {
				b[kv[i].(string)] = kv[i+1]
			}
		}
		return b
	}
	seq := ex["clean"].([]any)[0]
	many := make([]any, 65)
	for i := range many {
		many[i] = seq
	}
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
		msg        string
	}{
		{"unknown method", "", with("method", "magic"), 400, "unknown method"},
		{"no method", "", with("method", nil), 400, "unknown method"},
		{"steps too many", "", with("method", "eap-ig", "steps", 51), 400, "steps=51"},
		{"steps zero", "", with("method", "eap-ig", "steps", 0), 400, "steps=0"},
		{"steps for eap", "", with("steps", 5), 400, "steps applies to eap-ig"},
		{"negative tau", "", with("method", "acdc", "tau", -1), 400, "tau=-1"},
		{"tau for eap", "", with("tau", 0.1), 400, "tau applies to acdc"},
		{"unknown metric", "", with("metric", "accuracy"), 400, "unknown metric"},
		{"logit-diff without answer", "", with("metric", "logit-diff", "weights", nil), 400, "logit-diff needs"},
		{"answer for loss", "", with("answer", 3), 400, "logit-diff only"},
		{"bad ablation", "", with("ablation", "resample"), 400, "unknown ablation"},
		{"unknown field", "", with("top", 5), 400, "unknown field"},
		{"shape mismatch", "", with("corrupted", []any{seq}), 400, "shapes must match"},
		{"ragged batch", "", with("clean", []any{seq, []any{1, 2}}), 400, "equal lengths"},
		{"token out of range", "", with("clean", []any{[]any{1, 99999}, []any{1, 2}}, "weights", nil), 400, "out of range"},
		{"longer than n_ctx", "", with("clean", []any{make([]int, 41)}, "corrupted", []any{make([]int, 41)}, "weights", nil), 400, "n_ctx"},
		{"too many sequences", "", with("clean", many, "corrupted", many, "weights", nil), 400, "more than the 64"},
		{"no clean", "", with("clean", nil), 400, "clean: no sequences"},
		{"empty clean", "", with("clean", []any{}), 400, "no tokens"},
		{"weights shape", "", with("weights", []any{[]any{1, 1}}), 400, "weights for 1 sequences"},
		{"prompt without tokenizer", "", with("clean", nil, "corrupted", nil, "weights", nil, "clean_prompt", "a b", "corrupted_prompt", "c d"), 400, "cannot take a prompt"},
		{"prompt and ids", "", with("clean_prompt", "a b"), 400, "not both"},
		{"edge missing", "/edge", with("method", nil), 400, "give the edge"},
		{"edge unknown", "/edge", with("method", nil, "edge", "L9H9->logits"), 400, "no edge"},
		{"edge with method", "/edge", with("edge", "L1H0->logits"), 400, "unknown field"},
		{"not json", "", "[1, 2]", 400, "cannot unmarshal"},
	} {
		rec := postJSON(t, s, "/api/models/demo/discover"+tc.path, tc.body)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, rec.Code, rec.Body, tc.want, tc.msg)
		}
	}
	neg := with("weights", []any{[]any{-1, 1}}, "clean", []any{[]any{1, 2}}, "corrupted", []any{[]any{3, 4}})
	if rec := postJSON(t, s, "/api/models/demo/discover", neg); rec.Code != 400 || !strings.Contains(rec.Body.String(), "non-negative") {
		t.Errorf("negative weight: %d %s", rec.Code, rec.Body)
	}
	for _, q := range []string{"?batch=0", "?batch=65", "?seed=-1", "?batch=x"} {
		if rec := do(t, s, "GET", "/api/models/demo/discover/example"+q, "", nil); rec.Code != 400 {
			t.Errorf("example%s: %d %s", q, rec.Code, rec.Body)
		}
	}
}

// TestDiscoverCancel: a request whose context ends stops ACDC between
// evaluations and answers 504 at once, not after the whole search.
func TestDiscoverCancel(t *testing.T) {
	s, _ := newTestServer(t)
	body := discoverExampleBody(t, s, "?batch=24", "acdc")
	body["metric"] = "kl"
	b, _ := json.Marshal(body)
	start := time.Now()
	full := postJSON(t, s, "/api/models/demo/discover", body)
	whole := time.Since(start)
	if full.Code != 200 {
		t.Fatalf("acdc: %d %s", full.Code, full.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), whole/10)
	defer cancel()
	req := httptest.NewRequest("POST", "/api/models/demo/discover", strings.NewReader(string(b))).WithContext(ctx)
	req.Host = "127.0.0.1"
	req.Header.Set("Content-Type", jsonCT)
	rec := httptest.NewRecorder()
	start = time.Now()
	s.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != http.StatusGatewayTimeout || took > whole/2 {
		t.Errorf("cancelled after %v: %d %s after %v (the whole search takes %v)", whole/10, rec.Code, rec.Body, took, whole)
	}
	t.Logf("acdc on 24 sequences: %v; cancelled at %v, answered after %v", whole, whole/10, took)
}

// TestBrowserDiscovery opens the Discovery page on the demo, runs EAP on
// the induction example, checks that edges are drawn, that raising the
// threshold hides some, and that clicking an edge shows its patching
// effect.
func TestBrowserDiscovery(t *testing.T) {
	b := newBrowser(t)
	b.open("discovery")
	b.waitFor("edges", `document.querySelectorAll('[data-testid=circuit] line.edge:not(.hidden)').length > 0 && !!document.querySelector('[data-testid=faith] path.series')`, 30*time.Second)
	before := eval[int](b, `document.querySelectorAll('[data-testid=circuit] line.edge:not(.hidden)').length`)
	b.do("raise the threshold", chromedp.SetValue(chromedp.CSS("#threshold"), "0.5"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#threshold').dispatchEvent(new Event('input'))`))
	b.waitFor("fewer edges", `document.querySelectorAll('[data-testid=circuit] line.edge:not(.hidden)').length < `+itoa(before), 5*time.Second)
	after := eval[int](b, `document.querySelectorAll('[data-testid=circuit] line.edge:not(.hidden)').length`)
	if after == 0 {
		t.Errorf("threshold 0.5 of the largest |score| hides every edge")
	}
	if got := eval[string](b, `document.querySelector('#edge-count').textContent`); !strings.Contains(got, itoa(after)+" of ") {
		t.Errorf("edge count %q, want %d shown", got, after)
	}
	name := eval[string](b, `document.querySelector('[data-testid=circuit] line.edge:not(.hidden)').dataset.edge`)
	b.do("click an edge", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=circuit] line.edge:not(.hidden)').dispatchEvent(new MouseEvent('click', {bubbles: true}))`))
	b.waitFor("edge effect", `document.querySelector('#edge-effect').dataset.edge === `+jsString(name), 30*time.Second)
	if got := eval[string](b, `document.querySelector('#edge-effect').textContent`); !strings.Contains(got, name) || !strings.Contains(got, "effect") {
		t.Errorf("edge read-out %q", got)
	}
	t.Logf("%d edges shown, %d above the threshold; clicked %s; screenshot: %s", before, after, name, b.screenshot("discovery"))
	b.noErrors()
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestDiscoverText runs discovery on prompts through the tiny Hugging Face
// model's tokenizer, as the patching API takes them (a full model: MLP
// nodes, layer norms), and one edge's effect on the same text.
func TestDiscoverText(t *testing.T) {
	s, _ := namedTestServer(t)
	body := map[string]any{"clean_prompt": ioiClean, "corrupted_prompt": ioiCorrupted, "answer_text": " Mary", "wrong_text": " John",
		"metric": "logit-diff", "method": "eap"}
	rec := postJSON(t, s, "/api/models/tiny/discover", body)
	var r discoverResult
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
		t.Fatalf("discover on text: %d %s", rec.Code, rec.Body)
	}
	mlp := false
	for _, n := range r.Nodes {
		mlp = mlp || n.Kind == "mlp"
	}
	f := r.Faithfulness
	if !mlp || len(r.Edges) != r.TotalEdges || r.TotalEdges == 0 || r.Metric != "logit-diff" || f[len(f)-1][1] != 1 {
		t.Errorf("discover on text: %d of %d edges, metric %s, MLP nodes %v, faithfulness %v", len(r.Edges), r.TotalEdges, r.Metric, mlp, f)
	}
	delete(body, "method")
	body["edge"] = r.Edges[0].From + "->" + r.Edges[0].To
	rec = postJSON(t, s, "/api/models/tiny/discover/edge", body)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"effect"`) {
		t.Errorf("edge on text: %d %s", rec.Code, rec.Body)
	}
	// A prompt whose answer is not one token is the patching API's 400.
	body["answer_text"] = "Mary"
	if rec := postJSON(t, s, "/api/models/tiny/discover/edge", body); rec.Code != 400 || !strings.Contains(rec.Body.String(), "not one") {
		t.Errorf("answer of two tokens: %d %s", rec.Code, rec.Body)
	}
}

// TestBrowserDiscoveryText runs discovery from the page on two prompts of
// the tiny Hugging Face model (a tokenizer, MLPs): the graph draws MLP
// nodes and edges.
func TestBrowserDiscoveryText(t *testing.T) {
	b := promptBrowser(t)
	b.openModel("discovery", "tiny")
	b.do("fill the text form",
		chromedp.SetValue(chromedp.CSS("#clean-prompt"), ioiClean), chromedp.SetValue(chromedp.CSS("#corrupted-prompt"), ioiCorrupted),
		chromedp.SetValue(chromedp.CSS("#answer-text"), " Mary"), chromedp.SetValue(chromedp.CSS("#wrong-text"), " John"),
		chromedp.Click(chromedp.CSS("#prompt-run")))
	b.waitFor("edges", `document.querySelectorAll('[data-testid=circuit] line.edge:not(.hidden)').length > 0 && !!document.querySelector('[data-testid=circuit] [data-node=MLP1]')`, 30*time.Second)
	if got := eval[string](b, `document.querySelector('#summary').textContent`); !strings.Contains(got, "logit-diff") {
		t.Errorf("summary %q", got)
	}
	b.screenshot("discovery-text")
	b.noErrors()
}

// TestDiscoverBounds: on a model of 4 layers of 16 heads (5,058 edges,
// counted by hand: 48 head inputs per layer from 2 + 16·l senders, and 66
// senders into the logits) the answer lists the 5,000 edges of largest
// |score| and says how many there are; ACDC on 4,096 tokens (one forward
// pass per edge) and a batch whose activations would not fit the float
// budget are refused with a 400 naming the bound.
func TestDiscoverBounds(t *testing.T) {
	s, dir := newTestServer(t)
	writeRun(t, dir, "many", transformer.Config{NLayers: 4, DModel: 16, NHeads: 16, DHead: 4, DVocab: 20, NCtx: 64, AttnOnly: true, Seed: 5})
	writeRun(t, dir, "wide", transformer.Config{NLayers: 4, DModel: 512, NHeads: 8, DHead: 64, DVocab: 20, NCtx: 64, AttnOnly: true, Seed: 6})
	batch := func(n, pos, tok int) [][]int {
		out := make([][]int, n)
		for i := range out {
			out[i] = make([]int, pos)
			for p := range out[i] {
				out[i][p] = (tok + i + p) % 20
			}
		}
		return out
	}
	rec := postJSON(t, s, "/api/models/many/discover", map[string]any{"clean": batch(2, 8, 1), "corrupted": batch(2, 8, 2), "metric": "loss", "method": "eap"})
	var r discoverResult
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
		t.Fatalf("eap on many edges: %d %s", rec.Code, rec.Body)
	}
	if r.TotalEdges != 5058 || len(r.Edges) != maxDiscoverShown {
		t.Errorf("%d edges listed of %d, want %d of 5058", len(r.Edges), r.TotalEdges, maxDiscoverShown)
	}
	for _, tc := range []struct {
		model string
		body  map[string]any
		msg   string
	}{
		{"many", map[string]any{"clean": batch(64, 64, 1), "corrupted": batch(64, 64, 2), "metric": "kl", "method": "acdc"}, "edge-tokens"},
		{"wide", map[string]any{"clean": batch(60, 60, 1), "corrupted": batch(60, 60, 2), "metric": "loss", "method": "eap"}, "floats"},
	} {
		rec := postJSON(t, s, "/api/models/"+tc.model+"/discover", tc.body)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s %s: %d %s, want 400 with %q", tc.model, tc.body["method"], rec.Code, rec.Body, tc.msg)
		}
	}
}
