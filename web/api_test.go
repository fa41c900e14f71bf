package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// newTestServer returns a dashboard on a fresh runs directory.
func newTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	return New(Deps{RunsDir: dir}), dir
}

// do sends one request to h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, path, contentType string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.Host = "127.0.0.1" // httptest's default, example.com, is refused (checkHost)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const jsonCT = "application/json"

func TestDemo(t *testing.T) {
	m, err := loadDemo()
	if err != nil {
		t.Fatal(err)
	}
	c := m.m.Cfg
	if c.NLayers != 2 || c.NHeads != 4 || c.DModel != 64 || c.DVocab != 64 || c.NCtx != 40 {
		t.Errorf("demo config %+v, want 2 layers × 4 heads, d_model 64, d_vocab 64, n_ctx 40", c)
	}
	if err := m.task.Validate(); err != nil || m.task.L != 20 || m.task.MinRepeat != 10 || !m.task.Distinct {
		t.Errorf("demo task %+v (err %v), want the training task L 20, repeats 10..20, distinct", m.task, err)
	}
}

// apiCase is one request and what must come back.
type apiCase struct {
	name, method, path, ct, body string
	want                         int
	contains                     string
}

func runAPICases(t *testing.T, h http.Handler, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			ct := tc.ct
			if ct == "" && tc.body != "" {
				ct = jsonCT
			}
			rec := do(t, h, tc.method, tc.path, ct, body)
			got := rec.Body.String()
			if rec.Code != tc.want {
				t.Fatalf("%s %s %s: status %d, want %d; body %.300s", tc.method, tc.path, tc.body, rec.Code, tc.want, got)
			}
			if !strings.Contains(got, tc.contains) {
				t.Errorf("%s %s: body %.300s does not contain %q", tc.method, tc.path, got, tc.contains)
			}
			if strings.HasPrefix(tc.path, "/api/") {
				if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s %s: error with Content-Type %q, want JSON", tc.method, tc.path, ct)
				}
				if rec.Code >= 400 {
					var e errorBody
					if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Status != rec.Code || e.RequestID == "" {
						t.Errorf("%s %s: error body %q is not {error, status, request_id}: %v", tc.method, tc.path, got, err)
					}
				}
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != "default-src 'self'" {
				t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
			}
		})
	}
}

func TestAPIModels(t *testing.T) {
	s, _ := newTestServer(t)
	seq41 := strings.TrimSpace(strings.Repeat("1 ", 41))
	runAPICases(t, s, []apiCase{
		{"list", "GET", "/api/models", "", "", 200, `"name":"demo"`},
		{"detail", "GET", "/api/models/demo", "", "", 200, `"blocks.0.attn.W_Q"`},
		{"detail hook points", "GET", "/api/models/demo", "", "", 200, `"blocks.1.attn.hook_pattern"`},
		{"unknown model", "GET", "/api/models/nosuch", "", "", 404, "no model"},
		{"traversal escaped", "GET", "/api/models/..%2F..%2Fetc%2Fpasswd", "", "", 400, "invalid name"},
		{"traversal dots", "GET", "/api/models/../../etc/passwd", "", "", 400, "invalid name"},
		{"traversal under model", "GET", "/api/models/..%2Fdemo/attention?tokens=1", "", "", 400, "invalid name"},
		{"hidden name", "GET", "/api/models/.git", "", "", 400, "invalid name"},
		{"long name", "GET", "/api/models/" + strings.Repeat("a", 200), "", "", 400, "invalid name"},
		{"tensor", "GET", "/api/models/demo/tensors/embed.W_E", "", "", 200, `"shape":[64,64]`},
		{"unknown tensor", "GET", "/api/models/demo/tensors/nope", "", "", 404, "no tensor"},

		{"repeated", "GET", "/api/models/demo/tokens/repeated?seed=3", "", "", 200, `"tokens":[`},
		{"repeated fixed", "GET", "/api/models/demo/tokens/repeated?repeat=5", "", "", 200, `"repeat":5,"first":0,"second":5`},
		{"repeated too long", "GET", "/api/models/demo/tokens/repeated?repeat=21", "", "", 400, "repeat"},
		{"repeated bad seed", "GET", "/api/models/demo/tokens/repeated?seed=x", "", "", 400, "seed"},
		{"generate", "POST", "/api/models/demo/tokens/generate", "", `{"tokens":[10,11,12,13,14,15,16,17,18,19,10,11,12],"n":3}`, 200, `{"prompt":13,"tokens":[10,11,12,13,14,15,16,17,18,19,10,11,12,`},
		{"generate n 0", "POST", "/api/models/demo/tokens/generate", "", `{"tokens":[1],"n":0}`, 400, "new tokens"},
		{"generate past n_ctx", "POST", "/api/models/demo/tokens/generate", "", `{"tokens":[1,2],"n":39}`, 400, "n_ctx"},

		{"attention get", "GET", "/api/models/demo/attention?tokens=1,2,3", "", "", 200, `"patterns":[[[[1],`},
		{"attention text", "GET", "/api/models/demo/attention?text=1%202%203", "", "", 200, `"n_heads":4`},
		{"attention post", "POST", "/api/models/demo/attention", "", `{"tokens":[5,6,7,5,6]}`, 200, `"predictions":[`},
		{"attention post text", "POST", "/api/models/demo/attention", "", `{"text":"5, 6, 7"}`, 200, `"tokens":[5,6,7]`},
		{"token out of range", "GET", "/api/models/demo/attention?tokens=1,64", "", "", 400, "out of range"},
		{"negative token", "POST", "/api/models/demo/attention", "", `{"tokens":[-1]}`, 400, "out of range"},
		{"too many tokens", "GET", "/api/models/demo/attention?text=" + strings.ReplaceAll(seq41, " ", "+"), "", "", 400, "n_ctx"},
		{"no tokens", "GET", "/api/models/demo/attention", "", "", 400, "no tokens"},
		{"not a token", "GET", "/api/models/demo/attention?text=1+two", "", "", 400, "not a token id"},
		{"tokens and text", "POST", "/api/models/demo/attention", "", `{"tokens":[1],"text":"2"}`, 400, "not both"},
		{"malformed json", "POST", "/api/models/demo/attention", "", `{"tokens":[1,`, 400, "malformed JSON"},
		{"unknown field", "POST", "/api/models/demo/attention", "", `{"tokenz":[1]}`, 400, "unknown field"},
		{"two values", "POST", "/api/models/demo/attention", "", `{"tokens":[1]} {}`, 400, "more than one"},
		{"empty body", "POST", "/api/models/demo/attention", jsonCT, "", 400, "empty request body"},
		{"wrong type", "POST", "/api/models/demo/attention", "", `{"tokens":"x"}`, 400, "malformed JSON"},
		{"not json", "POST", "/api/models/demo/attention", "text/plain", `{"tokens":[1]}`, 415, "Content-Type"},
		{"huge body", "POST", "/api/models/demo/attention", "", `{"text":"` + strings.Repeat("1 ", 1<<20) + `"}`, 413, "larger than"},
		{"unknown model attention", "GET", "/api/models/nosuch/attention?tokens=1", "", "", 404, "no model"},
	})
}

func TestAPIAnalyses(t *testing.T) {
	s, _ := newTestServer(t)
	rec := do(t, s, "GET", "/api/models/demo/patching/example?seed=2", "", nil)
	if rec.Code != 200 {
		t.Fatalf("patching example: %d %s", rec.Code, rec.Body)
	}
	var ex patchExample
	if err := json.Unmarshal(rec.Body.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	exJSON, _ := json.Marshal(map[string]any{"clean": ex.Clean, "corrupted": ex.Corrupted, "answer": ex.Answer, "wrong": ex.Wrong, "what": "resid_pre", "normalize": true})
	short, _ := json.Marshal(map[string]any{"clean": ex.Clean, "corrupted": ex.Corrupted[1:], "answer": ex.Answer, "wrong": ex.Wrong})
	runAPICases(t, s, []apiCase{
		{"circuits report", "GET", "/api/models/demo/circuits", "", "", 200, `"composition":{"Q":`},
		{"circuits named", "GET", "/api/models/demo/circuits", "", "", 200, `"induction_heads":[{`},
		{"full ov", "GET", "/api/models/demo/circuits/heads/1/0/ov", "", "", 200, `"eigenvalues":[[`},
		{"full ov row", "GET", "/api/models/demo/circuits/heads/1/0/ov?token=5&k=3", "", "", 200, `"top":[{"index":5,`},
		{"full qk row", "GET", "/api/models/demo/circuits/heads/0/1/qk?token=63&k=1", "", "", 200, `"bottom":[{`},
		{"pos qk", "GET", "/api/models/demo/circuits/heads/0/0/pos-qk", "", "", 200, `"rows":40,"cols":40`},
		{"layer out of range", "GET", "/api/models/demo/circuits/heads/2/0/ov", "", "", 400, "layer"},
		{"head not a number", "GET", "/api/models/demo/circuits/heads/0/x/ov", "", "", 400, "head"},
		{"head huge", "GET", "/api/models/demo/circuits/heads/0/99999999999999/ov", "", "", 400, "head"},
		{"unknown circuit", "GET", "/api/models/demo/circuits/heads/0/0/zz", "", "", 404, "no circuit"},
		{"token out of range", "GET", "/api/models/demo/circuits/heads/0/0/ov?token=64", "", "", 400, "token"},
		{"k zero", "GET", "/api/models/demo/circuits/heads/0/0/ov?token=1&k=0", "", "", 400, "k="},

		{"logit lens", "POST", "/api/models/demo/lens", "", `{"tokens":[1,2,3,4,1,2,3],"tuned":false}`, 200, `"labels":["embed","blocks.0.hook_resid_post","blocks.1.hook_resid_post"]`},
		{"tuned lens", "POST", "/api/models/demo/lens", "", `{"text":"1 2 3 4 1 2 3","k":2}`, 200, `"tuned":{"loss":`},
		{"lens one token", "POST", "/api/models/demo/lens", "", `{"tokens":[1]}`, 400, "at least 2"},
		{"lens k", "POST", "/api/models/demo/lens", "", `{"tokens":[1,2],"k":1000}`, 400, "k=1000"},
		{"lens bad token", "POST", "/api/models/demo/lens", "", `{"tokens":[1,99]}`, 400, "out of range"},

		{"patching example", "GET", "/api/models/demo/patching/example", "", "", 200, `"metric":"logit-diff"`},
		{"patching sweep", "POST", "/api/models/demo/patching", "", string(exJSON), 200, `"axes":[["L0","L1"],["pos 0",`},
		{"patching strings", "POST", "/api/models/demo/patching", "", `{"clean":"1 2 3 1 2","corrupted":"1 2 4 1 2","answer":3,"wrong":4,"what":"head_out","by_pos":false}`, 200, `"L1H3"`},
		{"patching loss", "POST", "/api/models/demo/patching", "", `{"clean":[1,2,3,1,2],"corrupted":[1,2,4,1,2],"metric":"loss"}`, 200, `"metric":"loss"`},
		{"patching prob", "POST", "/api/models/demo/patching", "", `{"clean":[1,2,3,1,2],"corrupted":[1,2,4,1,2],"metric":"prob","answer":3}`, 200, `"metric":"prob"`},
		{"patching lengths", "POST", "/api/models/demo/patching", "", string(short), 400, "must match"},
		{"patching kind", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3],"answer":1,"wrong":2,"what":"nope"}`, 400, "unknown activation"},
		{"patching mlp on attn-only", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3],"answer":1,"wrong":2,"what":"mlp_out"}`, 400, "mlp"},
		{"patching no answer", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3]}`, 400, "needs"},
		{"patching answer range", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3],"answer":64,"wrong":2}`, 400, "answer"},
		{"patching pos range", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3],"answer":1,"wrong":2,"pos":5}`, 400, "pos"},
		{"patching normalize equal", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,2],"answer":1,"wrong":2,"normalize":true}`, 400, "normalise"},
		{"patching metric", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":[1,3],"metric":"zz"}`, 400, "unknown metric"},
		{"patching bad tokens", "POST", "/api/models/demo/patching", "", `{"clean":[1,2],"corrupted":"1 x"}`, 400, "not a token id"},
	})
}

func TestAPIRunsAndRoutes(t *testing.T) {
	s, _ := newTestServer(t)
	runAPICases(t, s, []apiCase{
		{"runs", "GET", "/api/runs", "", "", 200, `"name":"demo","source":"demo","status":"finished","steps":2000,"phase_change_step":1000`},
		{"run", "GET", "/api/runs/demo", "", "", 200, `"summary":{`},
		{"unknown run", "GET", "/api/runs/nosuch", "", "", 404, "no run"},
		{"run traversal", "GET", "/api/runs/..%2F..", "", "", 400, "invalid name"},
		{"metrics", "GET", "/api/runs/demo/metrics", "", "", 200, `"phase_change":{"before":900,"at":1000}`},
		{"metrics csv", "GET", "/api/runs/demo/metrics?format=csv", "", "", 200, "step,elapsed_s,eval_acc,eval_loss,induction_max,induction_score.L0H0,"},
		{"metrics jsonl", "GET", "/api/runs/demo/metrics?format=jsonl", "", "", 200, `{"elapsed_s":`},
		{"metrics format", "GET", "/api/runs/demo/metrics?format=xml", "", "", 400, "format"},
		{"metrics unknown run", "GET", "/api/runs/nosuch/metrics", "", "", 404, "no run"},

		{"train list", "GET", "/api/train", "", "", 200, "[]"},
		{"train bad steps", "POST", "/api/train", "", `{"steps":0}`, 400, "steps"},
		{"train too many steps", "POST", "/api/train", "", `{"steps":100000000}`, 400, "steps"},
		{"train bad lr", "POST", "/api/train", "", `{"lr":-1}`, 400, "learning rate"},
		{"train malformed", "POST", "/api/train", "", `{"steps":`, 400, "malformed JSON"},
		{"train unknown field", "POST", "/api/train", "", `{"stepz":3}`, 400, "unknown field"},
		{"train unknown", "GET", "/api/train/nosuch", "", "", 404, "no training"},
		{"train stop unknown", "POST", "/api/train/nosuch/stop", "", "", 404, "no training"},
		{"train events unknown", "GET", "/api/train/nosuch/events", "", "", 404, "no training"},
		{"train events traversal", "GET", "/api/train/..%2Fx/events", "", "", 400, "invalid name"},

		{"unknown api route", "GET", "/api/nope", "", "", 404, "no API route"},
		{"unknown api subroute", "GET", "/api/models/demo/nope", "", "", 404, "no API route"},
		{"api root", "GET", "/api", "", "", 404, "no API route"},
		{"method not allowed", "DELETE", "/api/models", "", "", 405, "not allowed"},

		{"root redirects", "GET", "/", "", "", 302, ""},
		{"attention page", "GET", "/attention", "", "", 200, `<script type="module" src="/static/js/attention.js">`},
		{"circuits page", "GET", "/circuits", "", "", 200, "Composition"},
		{"lens page", "GET", "/lens", "", "", 200, "Logit lens"},
		{"patching page", "GET", "/patching", "", "", 200, "Run sweep"},
		{"training page", "GET", "/training", "", "", 200, "Train one now"},
		{"static", "GET", "/static/js/lib.js", "", "", 200, "export"},
		{"css", "GET", "/static/css/site.css", "", "", 200, "--accent"},
		{"favicon", "GET", "/favicon.ico", "", "", 200, "PNG"},
		{"unknown page", "GET", "/nope", "", "", 404, "pages are"},
		{"static traversal", "GET", "/static/../pages.go", "", "", 404, ""},
	})
	rec := do(t, s, "GET", "/api/runs/demo/metrics?format=csv&download=1", "", nil)
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="demo-metrics.csv"` {
		t.Errorf("download: Content-Disposition %q", cd)
	}
	jsonl, _ := demoFS.ReadFile("demo/metrics.jsonl")
	if got, want := strings.Count(rec.Body.String(), "\n"), 1+bytes.Count(jsonl, []byte("\n")); got != want {
		t.Errorf("CSV has %d lines, want %d: a header and one per record", got, want)
	}
}

// TestRunsDir lists and serves a run directory's model, and reports a
// broken one as 422, not 500.
func TestRunsDir(t *testing.T) {
	s, dir := newTestServer(t)
	model, _ := demoFS.ReadFile("demo/model.safetensors")
	metrics, _ := demoFS.ReadFile("demo/metrics.jsonl")
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "good-run", modelFile), model)
	write(filepath.Join(dir, "good-run", metricsFile), append(metrics, []byte(`{"step": 20`)...)) // torn last line
	write(filepath.Join(dir, "broken", modelFile), []byte("not a safetensors file"))
	write(filepath.Join(dir, "only-metrics", metricsFile), metrics[:200])
	write(filepath.Join(dir, "only-metrics", trainFile), []byte("{}"))
	write(filepath.Join(dir, ".hidden", modelFile), model)
	runAPICases(t, s, []apiCase{
		{"listed", "GET", "/api/models", "", "", 200, `"name":"good-run","source":"run"`},
		{"broken listed", "GET", "/api/models", "", "", 200, `"name":"broken"`},
		{"run model", "GET", "/api/models/good-run/attention?tokens=1,2", "", "", 200, `"patterns"`},
		{"broken model", "GET", "/api/models/broken", "", "", 422, "broken"},
		{"hidden", "GET", "/api/models/.hidden", "", "", 400, "invalid name"},
		{"runs", "GET", "/api/runs", "", "", 200, `"name":"only-metrics"`},
		{"run metrics torn", "GET", "/api/runs/good-run/metrics", "", "", 200, `"phase_change":{"before":900,"at":1000}`},
		{"incomplete run", "GET", "/api/runs/only-metrics", "", "", 200, `"status":"incomplete"`},
	})
	rec := do(t, s, "GET", "/api/runs", "", nil)
	if strings.Contains(rec.Body.String(), ".hidden") {
		t.Errorf("hidden directory listed: %s", rec.Body)
	}
}

// externalURL matches any http(s) URL.
var externalURL = regexp.MustCompile(`(?i)https?://`)

// TestNoExternalURLs fails if any embedded file references an http(s)
// URL: the dashboard must load nothing from the network.
func TestNoExternalURLs(t *testing.T) {
	n := 0
	for _, fsys := range []fs.FS{assets, demoFS} {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			n++
			for i, line := range bytes.Split(b, []byte("\n")) {
				if loc := externalURL.FindIndex(line); loc != nil {
					end := min(len(line), loc[1]+40)
					t.Errorf("%s:%d references %q", path, i+1, line[loc[0]:end])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 10 {
		t.Errorf("walked %d embedded files; the embed patterns look wrong", n)
	}
}

func TestAppendFloat(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{{0, "0"}, {1, "1"}, {0.25, "0.25"}, {0.123456, "0.1235"}, {-0.00001, "0"}, {-2.5, "-2.5"}, {12, "12"},
		{0.00005, "0.0001"}, {0.0105, "0.0105"}, {0.99999, "1"}, {-1234.56789, "-1234.5679"}, {math.NaN(), "0"}, {math.Inf(1), "0"}, {2e15, "2e+15"}} {
		if got := string(appendFloat(nil, tt.in)); got != tt.want {
			t.Errorf("appendFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAppendFloats checks the table path against appendFloat.
func TestAppendFloats(t *testing.T) {
	x := []float32{0, 1, 0.5, 0.00004, 0.00005, 0.99996, 0.123456, -0.5, 2, float32(math.NaN())}
	var want []byte
	want = append(want, '[')
	for i, v := range x {
		if i > 0 {
			want = append(want, ',')
		}
		want = appendFloat(want, float64(v))
	}
	want = append(want, ']')
	if got := appendFloats(nil, x); string(got) != string(want) {
		t.Errorf("appendFloats(%v) = %s, want %s", x, got, want)
	}
}

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"demo", true}, {"induction-20260101-120000", true}, {"run_1.v2", true},
		{"", false}, {".", false}, {"..", false}, {".git", false}, {"-x", false}, {"a/b", false}, {`a\b`, false},
		{"a b", false}, {"a\x00", false}, {"é", false}, {strings.Repeat("a", 129), false},
	} {
		if err := checkName(tt.name); (err == nil) != tt.ok {
			t.Errorf("checkName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestRecoverer turns a handler's panic into a JSON 500.
func TestRecoverer(t *testing.T) {
	h := recoverer(slog.New(slog.NewTextHandler(io.Discard, nil)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	rec := do(t, h, "GET", "/api/x", "", nil)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"internal error: the server's log has the details`) {
		t.Errorf("panic: %d %s", rec.Code, rec.Body)
	}
}

// TestFigures renders every figure as PNG and SVG and checks bad input.
func TestFigures(t *testing.T) {
	s, _ := newTestServer(t)
	toks := "tokens=1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10"
	patch := "clean=1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9&corrupted=1,2,3,4,5,6,7,8,9,11,1,2,3,4,5,6,7,8,9&answer=10&wrong=11&normalize=true"
	var cases []apiCase
	for _, f := range []string{
		"attention.%s?" + toks + "&layer=1&head=2", "attention.%s?" + toks + "&head=max",
		"composition-q.%s", "composition-k.%s", "composition-v.%s", "heads.%s",
		"circuit.%s?layer=1&head=0&kind=ov", "circuit.%s?layer=0&head=1&kind=pos-qk",
		"lens.%s?" + toks, "lens.%s?" + toks + "&lens=tuned",
		"patching.%s?" + patch, "patching.%s?" + patch + "&what=head_out&by_pos=false",
	} {
		cases = append(cases,
			apiCase{"png " + f, "GET", "/api/models/demo/figures/" + fmt.Sprintf(f, "png"), "", "", 200, "\x89PNG"},
			apiCase{"svg " + f, "GET", "/api/models/demo/figures/" + fmt.Sprintf(f, "svg"), "", "", 200, "<svg"})
	}
	for _, f := range []string{"loss", "accuracy", "induction", "prev-token", "k-composition"} {
		cases = append(cases,
			apiCase{"run png " + f, "GET", "/api/runs/demo/figures/" + f + ".png", "", "", 200, "\x89PNG"},
			apiCase{"run svg " + f, "GET", "/api/runs/demo/figures/" + f + ".svg?w=400&h=300", "", "", 200, `width="300pt"`})
	}
	cases = append(cases,
		apiCase{"unknown figure", "GET", "/api/models/demo/figures/nope.png", "", "", 404, "no figure"},
		apiCase{"bad extension", "GET", "/api/models/demo/figures/heads.gif", "", "", 404, "NAME.png"},
		apiCase{"no extension", "GET", "/api/models/demo/figures/heads", "", "", 404, "NAME.png"},
		apiCase{"size too small", "GET", "/api/models/demo/figures/heads.png?w=3", "", "", 400, "size"},
		apiCase{"size too large", "GET", "/api/models/demo/figures/heads.png?w=100000", "", "", 400, "w="},
		apiCase{"attention no head", "GET", "/api/models/demo/figures/attention.png?" + toks, "", "", 400, "layer"},
		apiCase{"attention bad token", "GET", "/api/models/demo/figures/attention.png?tokens=99&head=max", "", "", 400, "out of range"},
		apiCase{"circuit kind", "GET", "/api/models/demo/figures/circuit.png?kind=zz", "", "", 400, "kind"},
		apiCase{"lens kind", "GET", "/api/models/demo/figures/lens.png?" + toks + "&lens=zz", "", "", 400, "lens="},
		apiCase{"patching bad", "GET", "/api/models/demo/figures/patching.png?clean=1,2&corrupted=1&answer=1&wrong=2", "", "", 400, "must match"},
		apiCase{"run figure unknown", "GET", "/api/runs/demo/figures/nope.svg", "", "", 404, "no run figure"},
		apiCase{"run figure no run", "GET", "/api/runs/nosuch/figures/loss.svg", "", "", 404, "no run"},
	)
	runAPICases(t, s, cases)
	rec := do(t, s, "GET", "/api/models/demo/figures/heads.png", "", nil)
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="demo-heads.png"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "image/png" {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestErrorsReadable: an error answered to user input says what was wrong
// without the library's package chain ("web: tokens: transformer: …").
func TestErrorsReadable(t *testing.T) {
	s, _ := newTestServer(t)
	for _, target := range []string{
		"/api/models/demo/attention?tokens=1,999",
		"/api/models/demo/circuits/heads/0/0/ov?token=64",
		"/api/models/demo/figures/attention.png?tokens=99&head=max",
	} {
		rec := do(t, s, "GET", target, "", nil)
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		for _, pkg := range []string{"web: ", "transformer: ", "tokens: ", "circuits: "} {
			if strings.Contains(body.Error, pkg) {
				t.Errorf("%s: error %q shows the package chain (%q)", target, body.Error, pkg)
			}
		}
		if !strings.Contains(body.Error, "out of range") && !strings.Contains(body.Error, "token") {
			t.Errorf("%s: error %q does not say what was wrong", target, body.Error)
		}
	}
}

// TestRunFilesHideServerPaths: a run's train.json and summary.json name
// its folder, checkpoint and corpus by absolute path, as the trainer saw
// them; the API answers with paths relative to the run folder, or the
// file's name for paths outside it, and leaves everything else as is.
func TestRunFilesHideServerPaths(t *testing.T) {
	s, dir := newTestServer(t)
	run := filepath.Join(dir, "lm-run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "secret-place", "corpus.txt")
	summary := fmt.Sprintf(`{"steps": 10, "interrupted": false, "dir": %q, "checkpoint": %q, "model": %q, "final_eval_loss": 3.25, "note": "a/b"}`,
		run, filepath.Join(run, "checkpoints", "step-000010.safetensors"), filepath.Join(run, "model.safetensors"))
	config := fmt.Sprintf(`{"task": "lm", "text": %q, "tokenizer": %q, "lr": 0.003}`, corpus, filepath.Join(run, "tokenizer.json"))
	for f, b := range map[string]string{summaryFile: summary, trainFile: config} {
		if err := os.WriteFile(filepath.Join(run, f), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := do(t, s, "GET", "/api/runs/lm-run", "", nil)
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	for _, abs := range []string{dir, corpus, filepath.Dir(corpus)} {
		if strings.Contains(body, abs) {
			t.Errorf("the answer shows the server path %s: %s", abs, body)
		}
	}
	for _, want := range []string{`"checkpoint":"checkpoints/step-000010.safetensors"`, `"model":"model.safetensors"`, `"dir":"."`,
		`"text":"corpus.txt"`, `"tokenizer":"tokenizer.json"`, `"final_eval_loss":3.25`, `"lr":0.003`, `"note":"a/b"`} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s: %s", want, body)
		}
	}
}
