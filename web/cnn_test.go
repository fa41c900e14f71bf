package web

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/transformer"
)

// sampleIndices picks the embedded samples from the Fashion-MNIST test
// set: sample k is the (k/10)-th test image of class k mod 10, so the 32
// samples cover every class three or four times.
func sampleIndices(labels []uint8, n int) []int {
	byClass := make([][]int, data.FashionMNISTClasses)
	for i, l := range labels {
		byClass[l] = append(byClass[l], i)
	}
	out := make([]int, n)
	for k := range out {
		out[k] = byClass[k%data.FashionMNISTClasses][k/data.FashionMNISTClasses]
	}
	return out
}

// TestCNNSamplesFile checks the embedded samples against the Fashion-MNIST
// test set when it is installed. With WORKBENCH_WRITE_SAMPLES=1 it writes
// cnndemo/samples.json from the test set instead:
//
//	WORKBENCH_WRITE_SAMPLES=1 go test ./web -run TestCNNSamplesFile
func TestCNNSamplesFile(t *testing.T) {
	const n = 32
	path := filepath.Join("cnndemo", "samples.json")
	if os.Getenv("WORKBENCH_WRITE_SAMPLES") == "1" {
		_, test := installedTestSet(t)
		sf := samplesFile{Source: "Fashion-MNIST test set (t10k), Debian package " + data.FashionMNISTPackage + "; written by WORKBENCH_WRITE_SAMPLES=1 go test ./web -run TestCNNSamplesFile",
			Height: test.H, Width: test.W}
		for _, i := range sampleIndices(test.Labels, n) {
			sf.Indices = append(sf.Indices, i)
			sf.Labels = append(sf.Labels, int(test.Labels[i]))
			for _, v := range test.Image(i) {
				sf.Pixels = append(sf.Pixels, uint8(math.Round(float64(v)*255)))
			}
		}
		b, _ := json.MarshalIndent(sf, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: test images %v", path, sf.Indices)
	}
	b, err2 := os.ReadFile(path)
	if err2 != nil {
		t.Fatal(err2)
	}
	s, err2 := parseSamples(b)
	if err2 != nil {
		t.Fatal(err2)
	}
	if len(s.Labels) != n || s.H != 28 || s.W != 28 {
		t.Fatalf("%d samples of %d×%d, want %d of 28×28", len(s.Labels), s.H, s.W, n)
	}
	for k, l := range s.Labels {
		if l != k%10 {
			t.Errorf("sample %d has label %d, want %d", k, l, k%10)
		}
	}
	_, test := installedTestSet(t) // the samples must be the test set's images
	per := s.H * s.W
	for k, i := range s.Indices {
		if int(test.Labels[i]) != s.Labels[k] {
			t.Errorf("sample %d: label %d, test image %d has %d", k, s.Labels[k], i, test.Labels[i])
		}
		for j, v := range test.Image(i) {
			if math.Abs(float64(v-s.Images[k*per+j])) > 1e-6 {
				t.Fatalf("sample %d differs from test image %d at pixel %d", k, i, j)
			}
		}
	}
}

func TestCNNDemo(t *testing.T) {
	m, s, err := loadCNNDemo()
	if err != nil {
		t.Fatal(err)
	}
	c := m.m.Cfg
	if c.Arch != cnn.ArchCNN || c.NClasses != 10 || len(c.Channels) != 2 || c.Channels[0] != 16 || c.Channels[1] != 32 {
		t.Errorf("demo config %+v, want the conv16–conv32 Fashion-MNIST classifier", c)
	}
	labels := make([]int32, len(s.Labels))
	for i, l := range s.Labels {
		labels[i] = int32(l)
	}
	loss, acc, err := m.m.Evaluate(t.Context(), s.Images, labels, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo on the 32 samples: accuracy %.3f, loss %.3f", acc, loss)
	// The demo reached 0.88 test accuracy; 32 images leave room for chance.
	if acc < 0.75 {
		t.Errorf("demo accuracy %.3f on the samples, want ≥ 0.75", acc)
	}
}

// cnnTestServer returns a dashboard whose data directory is empty, so
// that tests do not depend on the installed data set.
func cnnTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	return New(Deps{RunsDir: dir, DataDir: t.TempDir()}), dir
}

func TestAPICNN(t *testing.T) {
	s, _ := cnnTestServer(t)
	run := "/api/cnn/models/demo/run"
	long := `{"image":{"pixels":[` + strings.TrimSuffix(strings.Repeat("0,", 783), ",") + `]}}`
	pixels := `{"image":{"pixels":[` + strings.TrimSuffix(strings.Repeat("0.5,", 784), ",") + `]}}`
	runAPICases(t, s, []apiCase{
		{"models", "GET", "/api/cnn/models", "", "", 200, `"name":"demo"`},
		{"detail", "GET", "/api/cnn/models/demo", "", "", 200, `{"name":"conv1.hook_out","shape":[16,28,28]}`},
		{"detail classes", "GET", "/api/cnn/models/demo", "", "", 200, `"Ankle boot"`},
		{"detail batchnorm", "GET", "/api/cnn/models/demo", "", "", 200, `"batchnorm":["bn1","bn2"]`},
		{"unknown model", "GET", "/api/cnn/models/nosuch", "", "", 404, "no CNN"},
		{"traversal", "GET", "/api/cnn/models/..%2F..%2Fetc", "", "", 400, "invalid name"},
		{"samples", "GET", "/api/cnn/samples", "", "", 200, `"test_available":false`},

		{"run sample", "POST", run, "", `{"image":{"sample":1}}`, 200, `"label_name":"Trouser"`},
		{"run point", "POST", run, "", `{"image":{"sample":0},"point":"bn1.hook_normalized"}`, 200, `"shape":[16,28,28]`},
		{"run ablate", "POST", run, "", `{"image":{"sample":0},"ablate":{"conv2.hook_out":[0,1,2]},"mode":"mean"}`, 200, `"edited":true`},
		{"run pixels", "POST", run, "", pixels, 200, `"source":"pixels"`},
		{"run no image", "POST", run, "", `{}`, 400, "exactly one"},
		{"run two images", "POST", run, "", `{"image":{"sample":1,"test":2}}`, 400, "exactly one"},
		{"run sample out of range", "POST", run, "", `{"image":{"sample":32}}`, 400, "sample 32"},
		{"run negative sample", "POST", run, "", `{"image":{"sample":-1}}`, 400, "sample -1"},
		{"run test absent", "POST", run, "", `{"image":{"test":3}}`, 404, data.FashionMNISTPackage},
		{"run short pixels", "POST", run, "", long, 400, "783 pixels"},
		{"run huge pixel", "POST", run, "", `{"image":{"pixels":[1e30]}}`, 400, "pixels"},
		{"run unknown point", "POST", run, "", `{"image":{"sample":0},"point":"conv9.hook_out"}`, 400, "conv9"},
		{"run unknown ablate point", "POST", run, "", `{"image":{"sample":0},"ablate":{"conv1.hook_outt":[1]}}`, 400, "conv1.hook_out"},
		{"run unit out of range", "POST", run, "", `{"image":{"sample":0},"ablate":{"conv1.hook_out":[16]}}`, 400, "unit 16"},
		{"run bad mode", "POST", run, "", `{"image":{"sample":0},"ablate":{"conv1.hook_out":[1]},"mode":"half"}`, 400, "mode"},
		{"run unknown field", "POST", run, "", `{"image":{"sample":0},"pointz":"x"}`, 400, "unknown field"},
		{"run malformed", "POST", run, "", `{"image":`, 400, "malformed JSON"},
		{"run GET", "GET", run, "", "", 405, ""},

		{"attribution", "POST", "/api/cnn/models/demo/attribution", "", `{"image":{"sample":2},"steps":16}`, 200, `"completeness_error":`},
		{"attribution class", "POST", "/api/cnn/models/demo/attribution", "", `{"image":{"sample":2},"class":9,"baseline":"mean"}`, 200, `"class_name":"Ankle boot"`},
		{"attribution bad class", "POST", "/api/cnn/models/demo/attribution", "", `{"image":{"sample":2},"class":10}`, 400, "class 10"},
		{"attribution too many steps", "POST", "/api/cnn/models/demo/attribution", "", `{"image":{"sample":2},"steps":5000}`, 400, "steps"},
		{"attribution bad baseline", "POST", "/api/cnn/models/demo/attribution", "", `{"image":{"sample":2},"baseline":"grey"}`, 400, "baseline"},

		{"batchnorm", "POST", "/api/cnn/models/demo/batchnorm", "", `{}`, 200, `"images":32`},
		{"batchnorm train", "POST", "/api/cnn/models/demo/batchnorm", "", `{"samples":[0,1,2],"train":true}`, 200, `"train":true`},
		{"batchnorm both", "POST", "/api/cnn/models/demo/batchnorm", "", `{"samples":[0],"test":[1]}`, 400, "not both"},
		{"batchnorm bad sample", "POST", "/api/cnn/models/demo/batchnorm", "", `{"samples":[99]}`, 400, "sample 99"},
		{"batchnorm test absent", "POST", "/api/cnn/models/demo/batchnorm", "", `{"test":[1]}`, 404, "test set"},

		{"maximize", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"steps":20}`, 200, `"trace":[`},
		{"maximize unit out of range", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":32}`, 400, "unit 32"},
		{"maximize input", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"hook_input","unit":0}`, 400, "input"},
		{"maximize too many steps", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":1,"steps":20000}`, 400, "steps"},
		{"maximize negative jitter", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":1,"jitter":-1}`, 400, "jitter"},
		{"maximize no point", "POST", "/api/cnn/models/demo/maximize", "", `{"unit":1}`, 400, "hook"},
		{"maximize pixel", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"steps":5,"param":"pixel","tv":0.002}`, 200, `pixel parameterisation`},
		{"maximize bad param", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"param":"wavelet"}`, 400, "wavelet"},
		{"maximize decay pixel", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"param":"pixel","decay":1}`, 400, "decay"},
		{"maximize big rotation", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"rotate":90}`, 400, "rotate"},
		{"maximize big scale", "POST", "/api/cnn/models/demo/maximize", "", `{"point":"conv2.hook_out","unit":3,"scale":0.9}`, 400, "scale"},
		{"gallery input", "POST", "/api/cnn/models/demo/gallery", "", `{"point":"hook_input"}`, 400, "no units"},
		{"gallery bad from", "POST", "/api/cnn/models/demo/gallery", "", `{"point":"fc.hook_out","from":10}`, 400, "from 10"},
		{"gallery unknown field", "POST", "/api/cnn/models/demo/gallery", "", `{"point":"fc.hook_out","units":3}`, 400, "unknown field"},
		{"top", "POST", "/api/cnn/models/demo/top", "", `{"point":"fc.hook_out","unit":9,"k":3}`, 200, `"label_name":"Ankle boot"`},
		{"top bad unit", "POST", "/api/cnn/models/demo/top", "", `{"point":"relu1.hook_out","unit":16}`, 400, "unit 16"},
		{"top bad k", "POST", "/api/cnn/models/demo/top", "", `{"point":"relu1.hook_out","unit":1,"k":99}`, 400, "k 99"},
		{"top gradient", "POST", "/api/cnn/models/demo/top", "", `{"point":"relu1.hook_out_grad","unit":1}`, 400, "relu1"},

		{"figure features", "GET", "/api/cnn/models/demo/figures/features.png?image=sample:3&point=conv1.hook_out&ablate=conv1.hook_out:1,2", "", "", 200, ""},
		{"figure features svg", "GET", "/api/cnn/models/demo/figures/features.svg?image=sample:3&point=fc.hook_out", "", "", 200, "<svg"},
		{"figure attribution", "GET", "/api/cnn/models/demo/figures/attribution.png?image=sample:4&steps=8", "", "", 200, ""},
		{"figure batchnorm", "GET", "/api/cnn/models/demo/figures/batchnorm.svg?layer=bn2&stat=var", "", "", 200, "<svg"},
		{"figure maximize", "GET", "/api/cnn/models/demo/figures/maximize.png?point=relu2.hook_out&unit=4&steps=10", "", "", 200, ""},
		{"figure unknown", "GET", "/api/cnn/models/demo/figures/nope.png", "", "", 404, "no CNN figure"},
		{"figure bad image", "GET", "/api/cnn/models/demo/figures/features.png?image=photo:1&point=conv1.hook_out", "", "", 400, "sample:N"},
		{"figure bad ablate", "GET", "/api/cnn/models/demo/figures/features.png?image=sample:1&point=conv1.hook_out&ablate=conv1.hook_out", "", "", 400, "POINT:U"},
		{"figure no point", "GET", "/api/cnn/models/demo/figures/features.png?image=sample:1", "", "", 400, "point"},
		{"figure bad layer", "GET", "/api/cnn/models/demo/figures/batchnorm.png?layer=bn9", "", "", 400, "bn9"},
		{"figure bad stat", "GET", "/api/cnn/models/demo/figures/batchnorm.png?stat=median", "", "", 400, "stat"},
	})
}

// post sends a JSON body and decodes the 200 response into v.
func post(t *testing.T, s *Server, path, body string, v any) {
	t.Helper()
	rec := do(t, s, "POST", path, jsonCT, strings.NewReader(body))
	if rec.Code != 200 {
		t.Fatalf("POST %s %s: %d %s", path, body, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
}

func TestCNNAblation(t *testing.T) {
	s, _ := cnnTestServer(t)
	var clean, edited, all struct {
		Probs     []float64 `json:"probs"`
		CleanP    []float64 `json:"clean_probs"`
		Pred      int       `json:"pred"`
		CleanPred int       `json:"clean_pred"`
		Edited    bool      `json:"edited"`
		Point     struct {
			Maps [][]float64 `json:"maps"`
		} `json:"point"`
	}
	post(t, s, "/api/cnn/models/demo/run", `{"image":{"sample":5},"point":"conv2.hook_out"}`, &clean)
	if clean.Edited || clean.Pred != clean.CleanPred || !sameFloats(clean.Probs, clean.CleanP) {
		t.Errorf("no edit: edited %v, pred %d vs %d, probs %v vs %v", clean.Edited, clean.Pred, clean.CleanPred, clean.Probs, clean.CleanP)
	}
	var sum float64
	for _, p := range clean.Probs {
		sum += p
	}
	if math.Abs(sum-1) > 1e-3 {
		t.Errorf("probabilities sum to %v", sum)
	}
	post(t, s, "/api/cnn/models/demo/run", `{"image":{"sample":5},"point":"conv2.hook_out","ablate":{"conv2.hook_out":[0,3,7]}}`, &edited)
	for _, u := range []int{0, 3, 7} {
		for _, v := range edited.Point.Maps[u] {
			if v != 0 {
				t.Fatalf("ablated unit %d shows %v", u, v)
			}
		}
	}
	if sameFloats(edited.Probs, clean.Probs) || !sameFloats(edited.CleanP, clean.Probs) {
		t.Errorf("ablating three units left the probabilities at %v (clean %v)", edited.Probs, clean.Probs)
	}
	// Ablating every unit of the last conv block leaves only the head's
	// bias: the same prediction for every image.
	var us []string
	for u := range 32 {
		us = append(us, strconv.Itoa(u))
	}
	units := strings.Join(us, ",")
	var preds []int
	for _, sample := range []string{"1", "7", "9"} {
		post(t, s, "/api/cnn/models/demo/run", `{"image":{"sample":`+sample+`},"ablate":{"relu2.hook_out":[`+units+`]}}`, &all)
		preds = append(preds, all.Pred)
	}
	if preds[0] != preds[1] || preds[1] != preds[2] {
		t.Errorf("with relu2 zeroed, predictions %v differ between images", preds)
	}
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// igDemoTol bounds the completeness error of integrated gradients on the
// demo (256 steps, black baseline) relative to max(1, |Δlogit|): logits of
// order 10 and a few hundred ReLU and max-pool switches along the path;
// up to 7e-4 measured on these samples.
const igDemoTol = 1e-2

func TestCNNAttributionCompleteness(t *testing.T) {
	s, _ := cnnTestServer(t)
	for _, sample := range []string{"0", "11", "27"} {
		var r cnnAttributionResponse
		var raw struct {
			Saliency, IG []float64
		}
		body := `{"image":{"sample":` + sample + `},"steps":256}`
		post(t, s, "/api/cnn/models/demo/attribution", body, &r)
		post(t, s, "/api/cnn/models/demo/attribution", body, &raw)
		diff := r.Logit - r.BaselineLogit
		rel := r.CompletenessError / math.Max(1, math.Abs(diff))
		t.Logf("sample %s (%s): Σ IG %.4f, f(x) − f(0) %.4f, completeness error %.2e (relative %.2e)", sample, r.ClassName, r.IGSum, diff, r.CompletenessError, rel)
		if rel > igDemoTol {
			t.Errorf("sample %s: completeness error %.3g relative to Δlogit %.3g", sample, r.CompletenessError, diff)
		}
		if len(raw.Saliency) != 784 || len(raw.IG) != 784 {
			t.Errorf("maps of %d and %d values", len(raw.Saliency), len(raw.IG))
		}
	}
}

func TestCNNRunsListed(t *testing.T) {
	s, dir := cnnTestServer(t)
	cm, err := cnn.New(cnn.Config{Arch: cnn.ArchResNet, InC: 1, InH: 28, InW: 28, NClasses: 10, Stages: []int{1}, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "resnet"), 0o755)
	if err := cm.Save(filepath.Join(dir, "resnet", modelFile), nil); err != nil {
		t.Fatal(err)
	}
	tm, err := transformer.New(transformer.Config{NLayers: 1, DModel: 16, NHeads: 2, DHead: 8, DVocab: 10, NCtx: 8, AttnOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "tiny"), 0o755)
	if err := tm.Save(filepath.Join(dir, "tiny", modelFile), nil); err != nil {
		t.Fatal(err)
	}
	runAPICases(t, s, []apiCase{
		{"cnn list", "GET", "/api/cnn/models", "", "", 200, `"name":"resnet"`},
		{"cnn run", "POST", "/api/cnn/models/resnet/run", "", `{"image":{"sample":0},"point":"layer1.0.hook_resid_post"}`, 200, `"shape":[4,28,28]`},
		{"transformer as cnn", "GET", "/api/cnn/models/tiny", "", "", 422, "not a CNN"},
		{"cnn as transformer", "GET", "/api/models/resnet", "", "", 422, "resnet"},
	})
	for _, tc := range []struct{ path, has, hasNot string }{
		{"/api/cnn/models", `"name":"resnet"`, `"name":"tiny"`},
		{"/api/models", `"name":"tiny"`, `"name":"resnet"`},
	} {
		body := do(t, s, "GET", tc.path, "", nil).Body.String()
		if !strings.Contains(body, tc.has) || strings.Contains(body, tc.hasNot) {
			t.Errorf("GET %s = %.300s: want %s and not %s", tc.path, body, tc.has, tc.hasNot)
		}
	}
}

func TestCNNTestSet(t *testing.T) {
	dir, _ := installedTestSet(t)
	s := New(Deps{RunsDir: t.TempDir(), DataDir: dir})
	runAPICases(t, s, []apiCase{
		{"samples", "GET", "/api/cnn/samples", "", "", 200, `"test_available":true`},
		{"test image", "POST", "/api/cnn/models/demo/run", "", `{"image":{"test":9999}}`, 200, `"source":"test image 9999"`},
		{"test out of range", "POST", "/api/cnn/models/demo/run", "", `{"image":{"test":10000}}`, 400, "test image 10000"},
		{"batchnorm test", "POST", "/api/cnn/models/demo/batchnorm", "", `{"test":[0,1,2,3]}`, 200, `"images":4`},
	})
}
