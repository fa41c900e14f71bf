package web

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/lens"
	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
)

// modelFile is the file that makes a run directory a model.
const modelFile = "model.safetensors"

// maxNameLen bounds model and run names.
const maxNameLen = 128

// checkName validates a model or run name from a URL: 1–128 letters,
// digits, '.', '_' or '-', not starting with '.' or '-'. This rules out
// separators, "..", and hidden directories, so a valid name joined to the
// runs directory stays inside it.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return errorf(http.StatusBadRequest, "web: invalid name %q: want 1 to %d characters", name, maxNameLen)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return errorf(http.StatusBadRequest, "web: invalid name %q: use letters, digits, '.', '_' and '-' (not first), no path separators", name)
		}
	}
	return nil
}

// model is a loaded model and what has been computed from its weights.
// Everything in it is immutable once set; the memos compute once.
type model struct {
	name   string
	source string // "demo", "run" or "model" (serve --model)
	file   string // a --model path's base name
	m      *transformer.Model
	task   data.Induction // the repeated-token task its analyses sample from
	// trainedOn describes the task it was trained on, when its checkpoint
	// says (train/induction's metadata); else "".
	trainedOn string

	tok      *tokenizer.Tokenizer // nil: the model takes token ids
	tokFiles string               // the files tok was read from
	tokNote  string               // why there is no tokenizer

	// The text demo's (textdemo.go): what it is in a line, example lines
	// for the pages, and its best induction head.
	about         string
	examples      []string
	inductionHead *headScore

	wsMu sync.Mutex
	ws   map[int]*sync.Pool // idle single-sequence workspaces by length
	bufs sync.Pool          // *[]byte response buffers of the attention endpoint

	report     memo[*circuits.Report]
	reportJSON memo[[]byte]
	weights    memo[*circuits.Weights]
	tuned      memo[*lens.Tuned]
	logitEval  memo[lensStats] // the logit lens on the held-out sequences
	tunedEval  memo[lensStats] // the tuned lens on them
}

// workspace returns a workspace for one sequence of pos tokens (pos in
// [1, n_ctx], checked by the caller), recycled from earlier requests when
// one is idle: a request then allocates no activations. Give it back with
// release.
func (m *model) workspace(pos int) *transformer.Workspace {
	m.wsMu.Lock()
	if m.ws == nil {
		m.ws = map[int]*sync.Pool{}
	}
	p := m.ws[pos]
	if p == nil {
		p = &sync.Pool{New: func() any { return m.m.NewWorkspace(1, pos) }}
		m.ws[pos] = p
	}
	m.wsMu.Unlock()
	return p.Get().(*transformer.Workspace)
}

// release returns a workspace from workspace.
func (m *model) release(ws *transformer.Workspace) {
	m.wsMu.Lock()
	p := m.ws[ws.Pos()]
	m.wsMu.Unlock()
	p.Put(ws)
}

// store finds and caches models: the embedded ones (the text demo, then
// the synthetic demo), the models serve loaded at start (named) and the
// runs directory's.
type store struct {
	runsDir string
	demos   []*model
	named   []*model
	runs    *runCache[*model]
	ckpts   *runCache[*model] // runs' checkpoints (checkpoints.go)
}

func newStore(runsDir string, demos []*model, named []*model) *store {
	load := func(name string, f *checkpoint.File) (*model, error) {
		m, err := newModel(name, "run", f)
		if err != nil {
			return nil, err
		}
		return m, runTokenizer(m, filepath.Join(runsDir, name))
	}
	return &store{runsDir: runsDir, demos: demos, named: named, runs: newRunCache(runsDir, "model", load), ckpts: newCheckpointCache(runsDir)}
}

// namedModel returns the --model model called name, or nil.
func (s *store) namedModel(name string) *model {
	for _, m := range s.named {
		if m.name == name {
			return m
		}
	}
	return nil
}

// get returns the model called name: 400 for an invalid name, 404 for an
// unknown one, 422 for a file that is not a loadable model.
func (s *store) get(name string) (*model, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	for _, m := range s.demos {
		if m.name == name {
			return m, nil
		}
	}
	if m := s.namedModel(name); m != nil {
		return m, nil
	}
	if run, step, ok := parseCheckpointName(name); ok && !exists(filepath.Join(s.runsDir, name)) {
		return s.checkpointModel(name, run, step)
	}
	return s.runs.get(name)
}

// newModel loads a model from an open checkpoint: its config from the
// metadata and, if it was trained by train/induction, that run's task (the
// "induction" metadata entry), which the analyses then sample from.
func newModel(name, source string, f *checkpoint.File) (*model, error) {
	js := f.Metadata[transformer.ConfigMetadataKey]
	if js == "" {
		return nil, fmt.Errorf("checkpoint has no config in its metadata")
	}
	cfg, err := transformer.ParseConfig([]byte(js))
	if err != nil {
		return nil, err
	}
	m, err := transformer.FromCheckpoint(f, cfg)
	if err != nil {
		return nil, err
	}
	md := &model{name: name, source: source, m: m, task: taskFor(m.Cfg, f.Metadata["induction"])}
	if t, ok := trainedTask(m.Cfg, f.Metadata["induction"]); ok {
		md.trainedOn = describeTask(t)
	}
	md.bufs.New = func() any { return new([]byte) }
	return md, nil
}

// modelSummary is one entry of GET /api/models.
type modelSummary struct {
	Name    string             `json:"name"`
	Source  string             `json:"source"`
	Config  transformer.Config `json:"config"`
	Params  int                `json:"params"`
	Updated *time.Time         `json:"updated,omitempty"`
	Error   string             `json:"error,omitempty"`
	// Arch summarises the architecture; File is a --model's base name;
	// Tokenizer says which tokenizer the prompt box uses, or why there is
	// none (runs: only whether the folder holds tokenizer files).
	Arch      *archSummary       `json:"arch,omitempty"`
	File      string             `json:"file,omitempty"`
	Tokenizer *tokenizerJSONInfo `json:"tokenizer,omitempty"`
	// TrainedOn says what the model was trained on, when known (the demo,
	// train/induction's checkpoints once loaded).
	TrainedOn string `json:"trained_on,omitempty"`
	// About says what the text demo is in a line; Examples are lines to
	// try on it, the first the pages' default; InductionHead is its head of
	// highest prefix-matching score on repeated random tokens.
	About         string     `json:"about,omitempty"`
	Examples      []string   `json:"examples,omitempty"`
	InductionHead *headScore `json:"induction_head,omitempty"`
}

// summary is m's entry in the model list.
func (m *model) summary() modelSummary {
	c := m.m.Cfg
	return modelSummary{Name: m.name, Source: m.source, Config: c, Params: c.NumParams(), Arch: summarize(c), File: m.file, Tokenizer: m.tokenizerInfo(), TrainedOn: m.trainedOn,
		About: m.about, Examples: m.examples, InductionHead: m.inductionHead}
}

// list returns the embedded models, the --model models and every run with a model
// file, newest first after them; a run shadowed by a --model of the same
// name is left out. Runs are read afresh on every call (a checkpoint that
// a training has just written appears at once), headers only; unreadable
// files are listed with their error.
func (s *store) list() ([]modelSummary, error) {
	var out []modelSummary
	for _, m := range s.demos {
		out = append(out, m.summary())
	}
	for _, m := range s.named {
		out = append(out, m.summary())
	}
	dirs, err := runDirs(s.runsDir)
	if err != nil {
		return nil, err
	}
	var runs []modelSummary
	for _, d := range dirs {
		path := filepath.Join(s.runsDir, d, modelFile)
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if otherModel(path) || s.namedModel(d) != nil {
			continue // listed by /api/cnn/models or /api/gan/models, or shadowed
		}
		mod := st.ModTime()
		ms := modelSummary{Name: d, Source: "run", Updated: &mod}
		if cfg, err := readConfig(path); err != nil {
			ms.Error = relMessage(s.runsDir, err)
		} else {
			ms.Config, ms.Params, ms.Arch = cfg, cfg.NumParams(), summarize(cfg)
		}
		if files := tokenizerFiles(filepath.Join(s.runsDir, d)); files != "" {
			ms.Tokenizer = &tokenizerJSONInfo{Files: files}
		}
		runs = append(runs, ms)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Updated.After(*runs[j].Updated) })
	return append(out, runs...), nil
}

// readConfig reads a checkpoint's config from its header alone.
func readConfig(path string) (transformer.Config, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return transformer.Config{}, err
	}
	defer f.Close()
	js := f.Metadata[transformer.ConfigMetadataKey]
	if js == "" {
		return transformer.Config{}, fmt.Errorf("web: %s has no config in its metadata", filepath.Base(path))
	}
	return transformer.ParseConfig([]byte(js))
}

// relMessage returns err's message with the paths inside the runs folder
// dir made relative to it, so that answers name a run's files without
// revealing where the server keeps them.
func relMessage(dir string, err error) string {
	msg := err.Error()
	prefixes := []string{dir}
	if abs, aerr := filepath.Abs(dir); aerr == nil {
		prefixes = append(prefixes, abs)
	}
	for _, p := range prefixes {
		msg = strings.ReplaceAll(msg, filepath.Clean(p)+string(filepath.Separator), "")
		if filepath.IsAbs(p) {
			msg = strings.ReplaceAll(msg, filepath.Clean(p), "the runs folder")
		}
	}
	return msg
}

// runDirs lists the subdirectories of dir with valid names other than the
// embedded runs'; a missing dir has none.
func runDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: runs folder: %s", relMessage(dir, err))
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && checkName(e.Name()) == nil && !isEmbeddedRun(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// memo holds a value computed once; a failed computation (a cancelled
// request, say) is not kept, so the next caller tries again. Callers wait
// for a computation in progress.
type memo[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

func (m *memo[T]) get(f func() (T, error)) (T, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return m.v, nil
	}
	v, err := f()
	if err != nil {
		return v, err
	}
	m.v, m.done = v, true
	return v, nil
}
