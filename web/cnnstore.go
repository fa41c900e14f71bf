package web

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// The CNN demo is the Fashion-MNIST classifier (conv16–BN–ReLU–pool–
// conv32–BN–ReLU–pool–FC10) trained by Workbench itself for one epoch with
//
//	go run ./cmd/workbench train cnn --out /tmp/cnn --epochs 1
//
// (test accuracy 0.8821), and the samples are 32 images of the Fashion-MNIST
// test set, written by TestCNNSamplesFile (see cnndemo/README.md). The page
// needs no data set at run time; the full test set is offered when Debian's
// dataset-fashion-mnist is installed.
//
//go:embed cnndemo/model.safetensors cnndemo/samples.json
var cnnDemoFS embed.FS

// cnnModel is a loaded CNN and what is computed from it once.
type cnnModel struct {
	name   string
	source string // "demo" or "run"
	m      *cnn.Model
	means  memo[map[hooks.Name][]float32] // per-unit mean activation over the samples, for mean-ablation
	// gallery holds the unit galleries, ranking the data set's images per
	// unit of a point (for the top-activating examples).
	gallery keyedMemo[galleryKey, []*cnn.Maximized]
	ranking keyedMemo[hooks.Name, *unitRanking]
}

// cnnStore finds and caches CNN models: the embedded demo and the runs
// directory's CNN checkpoints. Its methods are safe for concurrent use.
type cnnStore struct {
	runsDir string
	demo    *cnnModel
	samples *cnnSamples
	testDir string
	test    memo[*data.ImageSet]
	runs    *runCache[*cnnModel]
}

// cnnSamples are the embedded images: [n, 28, 28] in [0, 1], their labels
// and their indices in the Fashion-MNIST test set.
type cnnSamples struct {
	H, W    int
	Images  []float32
	Labels  []int
	Indices []int
}

// samplesFile is the JSON of cnndemo/samples.json.
type samplesFile struct {
	Source  string `json:"source"`
	Height  int    `json:"height"`
	Width   int    `json:"width"`
	Indices []int  `json:"indices"`
	Labels  []int  `json:"labels"`
	Pixels  []byte `json:"pixels"` // base64 of [n, height, width] bytes
}

// loadCNNDemo parses the embedded CNN demo and samples; failure is a build
// error that the tests catch.
func loadCNNDemo() (*cnnModel, *cnnSamples, error) {
	b, err := cnnDemoFS.ReadFile("cnndemo/model.safetensors")
	if err != nil {
		return nil, nil, err
	}
	f, err := checkpoint.Parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("web: cnn demo: %w", err)
	}
	m, err := newCNNModel(demoName, "demo", f)
	if err != nil {
		return nil, nil, fmt.Errorf("web: cnn demo: %w", err)
	}
	js, err := cnnDemoFS.ReadFile("cnndemo/samples.json")
	if err != nil {
		return nil, nil, err
	}
	s, err := parseSamples(js)
	if err != nil {
		return nil, nil, err
	}
	return m, s, nil
}

func parseSamples(js []byte) (*cnnSamples, error) {
	var sf samplesFile
	if err := json.Unmarshal(js, &sf); err != nil {
		return nil, fmt.Errorf("web: cnn samples: %w", err)
	}
	n := len(sf.Labels)
	if n == 0 || len(sf.Indices) != n || len(sf.Pixels) != n*sf.Height*sf.Width {
		return nil, fmt.Errorf("web: cnn samples: %d labels, %d indices and %d pixels of %d×%d", n, len(sf.Indices), len(sf.Pixels), sf.Height, sf.Width)
	}
	s := &cnnSamples{H: sf.Height, W: sf.Width, Labels: sf.Labels, Indices: sf.Indices, Images: make([]float32, len(sf.Pixels))}
	for i, p := range sf.Pixels {
		s.Images[i] = float32(p) / 255
	}
	return s, nil
}

func newCNNStore(runsDir, testDir string, demo *cnnModel, samples *cnnSamples) *cnnStore {
	load := func(name string, f *checkpoint.File) (*cnnModel, error) { return newCNNModel(name, "run", f) }
	return &cnnStore{runsDir: runsDir, testDir: testDir, demo: demo, samples: samples, runs: newRunCache(runsDir, "CNN", load)}
}

// newCNNModel loads a CNN from an open checkpoint with its config in the
// metadata.
func newCNNModel(name, source string, f *checkpoint.File) (*cnnModel, error) {
	js := f.Metadata[cnn.ConfigMetadataKey]
	if js == "" {
		return nil, fmt.Errorf("not a CNN checkpoint: no %q metadata", cnn.ConfigMetadataKey)
	}
	cfg, err := cnn.ParseConfig([]byte(js))
	if err != nil {
		return nil, err
	}
	m, err := cnn.FromCheckpoint(f, cfg)
	if err != nil {
		return nil, err
	}
	return &cnnModel{name: name, source: source, m: m}, nil
}

// get returns the CNN called name: 400 for an invalid name, 404 for an
// unknown one, 422 for a file that is not a loadable CNN.
func (s *cnnStore) get(name string) (*cnnModel, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if name == demoName {
		return s.demo, nil
	}
	return s.runs.get(name)
}

// cnnSummary is one entry of GET /api/cnn/models.
type cnnSummary struct {
	Name    string     `json:"name"`
	Source  string     `json:"source"`
	Config  cnn.Config `json:"config"`
	Params  int        `json:"params"`
	Updated *time.Time `json:"updated,omitempty"`
}

// list returns the demo and every run whose model is a CNN, newest first
// after the demo. Only headers are read; other models are skipped.
func (s *cnnStore) list() ([]cnnSummary, error) {
	out := []cnnSummary{{Name: demoName, Source: "demo", Config: s.demo.m.Cfg, Params: len(s.demo.m.P.Data())}}
	dirs, err := runDirs(s.runsDir)
	if err != nil {
		return nil, err
	}
	var runs []cnnSummary
	for _, d := range dirs {
		js, st, ok := readMetadata(filepath.Join(s.runsDir, d, modelFile), cnn.ConfigMetadataKey)
		if !ok {
			continue
		}
		cfg, err := cnn.ParseConfig([]byte(js))
		if err != nil {
			continue
		}
		mod := st.ModTime()
		params := 0
		if m, err := cnn.New(cfg); err == nil {
			params = len(m.P.Data())
		}
		runs = append(runs, cnnSummary{Name: d, Source: "run", Config: cfg, Params: params, Updated: &mod})
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Updated.After(*runs[j].Updated) })
	return append(out, runs...), nil
}

// testPaths returns the test set's image and label files in the store's
// directory (each plain or gzip, as Debian ships them), or false.
func (s *cnnStore) testPaths() ([2]string, bool) {
	var paths [2]string
	for i, base := range []string{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		for _, name := range []string{base + ".gz", base} {
			if st, err := os.Stat(filepath.Join(s.testDir, name)); err == nil && st.Mode().IsRegular() {
				paths[i] = filepath.Join(s.testDir, name)
				break
			}
		}
		if paths[i] == "" {
			return paths, false
		}
	}
	return paths, true
}

// testSet returns Fashion-MNIST's test set from the store's directory,
// loaded once; a missing data set is a 404 naming the Debian package.
func (s *cnnStore) testSet() (*data.ImageSet, error) {
	return s.test.get(func() (*data.ImageSet, error) {
		paths, ok := s.testPaths()
		if !ok {
			return nil, errorf(http.StatusNotFound, "web: the Fashion-MNIST test set is not in %s (apt install %s); use the embedded samples", s.testDir, data.FashionMNISTPackage)
		}
		set, err := data.ReadImageSet(paths[0], paths[1])
		if err != nil {
			return nil, errorf(http.StatusNotFound, "web: Fashion-MNIST test set: %v", err)
		}
		return set, nil
	})
}

// unitMeans returns every point's per-unit mean activation over the
// embedded samples (evaluation mode), computed once per model, for
// mean-ablation. A model whose images are not the samples' size gets a
// 400.
func (s *cnnStore) unitMeans(ctx context.Context, m *cnnModel) (map[hooks.Name][]float32, error) {
	return m.means.get(func() (map[hooks.Name][]float32, error) {
		c := m.m.Cfg
		sm := s.samples
		if c.InC != 1 || c.InH != sm.H || c.InW != sm.W {
			return nil, errorf(http.StatusBadRequest, "web: CNN %q takes %d×%d×%d images; the reference samples are 1×%d×%d", m.name, c.InC, c.InH, c.InW, sm.H, sm.W)
		}
		capture, cache := hooks.Capture(nil)
		n := len(sm.Labels)
		if _, err := m.m.Run(ctx, tensor.FromSlice(sm.Images, n, 1, sm.H, sm.W), capture); err != nil {
			return nil, err
		}
		out := map[hooks.Name][]float32{}
		for _, name := range cache.Names() {
			t, _ := cache.Get(name)
			out[name] = cnn.Means(t, false)
		}
		return out, nil
	})
}
