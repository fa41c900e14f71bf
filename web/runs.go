package web

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/figures"
	"github.com/mechinterp/workbench/train"
)

// Files of a run directory (train/induction's layout). The training
// configuration is trainFile; runs written before it had that name hold
// it as legacyTrainFile, which is read when trainFile is absent.
const (
	metricsFile     = "metrics.jsonl"
	summaryFile     = "summary.json"
	trainFile       = train.TrainConfigFile
	legacyTrainFile = train.LegacyConfigFile
)

// maxMetricsBytes bounds the metrics file a request reads.
const maxMetricsBytes = 64 << 20

// phaseMinRise is the rise of the induction score that counts as a phase
// change, as train/induction uses.
const phaseMinRise = 0.2

// runsAPI is /api/runs: training runs on disk, the embedded ones (the
// text demo's and the demo's), and live ones.
type runsAPI struct {
	dir     string
	trainer *trainer
	log     *slog.Logger
}

// Routes returns the /api/runs router.
func (a *runsAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, a.list))
	r.Get("/{run}", handle(a.log, a.detail))
	r.Get("/{run}/metrics", handle(a.log, a.metrics))
	r.Get("/{run}/checkpoints", handle(a.log, a.checkpoints))
	r.Get("/{run}/figures/{figure}", handle(a.log, a.figure))
	return r
}

// runSummary is one run in GET /api/runs.
type runSummary struct {
	Name            string     `json:"name"`
	Source          string     `json:"source"` // demo or run
	Status          string     `json:"status"` // running, finished, interrupted, failed, incomplete or invalid
	Steps           int        `json:"steps"`
	PhaseChangeStep *int       `json:"phase_change_step"`
	FinalEvalAcc    *float64   `json:"final_eval_acc,omitempty"`
	HasModel        bool       `json:"has_model"`
	Updated         *time.Time `json:"updated,omitempty"`
	Error           string     `json:"error,omitempty"` // a run file that cannot be read
}

// runDetail is GET /api/runs/{run}: the summary, the run's training
// configuration and summary.json as written, and the live training's
// state if it runs.
type runDetail struct {
	runSummary
	Config  json.RawMessage `json:"config,omitempty"`
	Summary json.RawMessage `json:"summary,omitempty"`
	Live    *jobStatus      `json:"live,omitempty"`
}

// readRunFile reads one of a run's files: the embedded runs' from their
// embedded copies, others from the runs directory. A missing file is (nil, nil).
func (a *runsAPI) readRunFile(name, file string) ([]byte, error) {
	var b []byte
	var err error
	if dir, ok := embeddedRun(name); ok {
		b, err = fs.ReadFile(dir, file)
	} else {
		path := filepath.Join(a.dir, name, file)
		if st, serr := os.Stat(path); serr == nil && st.Size() > maxMetricsBytes {
			return nil, errorf(http.StatusUnprocessableEntity, "web: run %q: %s is %d bytes, more than the %d this server reads", name, file, st.Size(), maxMetricsBytes)
		}
		b, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf(http.StatusUnprocessableEntity, "web: run %q: %s", name, relMessage(a.dir, err))
	}
	return b, nil
}

// readJSONFile reads one of a run's JSON files (the first of files that
// exists): a missing file is (nil, nil), a file that is not JSON a 422
// naming it, since the API returns these files as they are.
func (a *runsAPI) readJSONFile(name string, files ...string) (json.RawMessage, error) {
	for _, file := range files {
		b, err := a.readRunFile(name, file)
		if err != nil || b == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		if !json.Valid(b) {
			var v any
			err := json.Unmarshal(b, &v)
			return nil, errorf(http.StatusUnprocessableEntity, "web: run %q: %s is not valid JSON (%v); it may have been written by an interrupted or other program", name, file, err)
		}
		return scrubPaths(b, filepath.Join(a.dir, name)), nil
	}
	return nil, nil
}

// scrubPaths rewrites every absolute file path among the string values of
// the JSON document b (a run folder's config or summary names its folder,
// checkpoint and corpus as the trainer saw them): a path inside the run
// folder dir becomes relative to it, any other its last element, so that
// answers never show where files live on the server. b must be valid JSON;
// numbers keep their text.
func scrubPaths(b []byte, dir string) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return b
	}
	absDir, _ := filepath.Abs(dir)
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if !filepath.IsAbs(x) {
				return x
			}
			changed = true
			if rel, err := filepath.Rel(absDir, x); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				return rel
			}
			return filepath.Base(x)
		}
		return v
	}
	v = walk(v)
	if !changed {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// summarize describes run name, or returns a 404 if it does not exist.
func (a *runsAPI) summarize(name string) (runDetail, error) {
	var d runDetail
	d.Name, d.Source = name, "run"
	if isEmbeddedRun(name) {
		d.Source, d.HasModel = "demo", true
	} else {
		st, err := os.Stat(filepath.Join(a.dir, name))
		if err != nil || !st.IsDir() {
			if a.trainer.status(name) == nil {
				return d, errorf(http.StatusNotFound, "web: no run %q in the runs folder", name)
			}
		} else {
			mod := st.ModTime()
			d.Updated = &mod
		}
		if st, err := os.Stat(filepath.Join(a.dir, name, modelFile)); err == nil && st.Mode().IsRegular() {
			d.HasModel = true
		}
	}
	var err error
	if d.Config, err = a.readJSONFile(name, trainFile, legacyTrainFile); err != nil {
		return d, err
	}
	if d.Summary, err = a.readJSONFile(name, summaryFile); err != nil {
		return d, err
	}
	d.Status = "incomplete"
	if d.Summary != nil {
		// the fields every trainer's summary shares (train induction's, train
		// lm's, whose other fields differ: "induction_score" is a number there)
		var res struct {
			Steps           int      `json:"steps"`
			Interrupted     bool     `json:"interrupted"`
			FinalEvalAcc    *float64 `json:"final_eval_acc"`
			PhaseChangeStep *int     `json:"phase_change_step"`
		}
		if err := json.Unmarshal(d.Summary, &res); err != nil {
			return d, errorf(http.StatusUnprocessableEntity, "web: run %q: %s is not a training summary: %v", name, summaryFile, err)
		}
		d.Status, d.Steps, d.PhaseChangeStep, d.FinalEvalAcc = "finished", res.Steps, res.PhaseChangeStep, res.FinalEvalAcc
		if res.Interrupted {
			d.Status = "interrupted"
		}
	}
	if j := a.trainer.get(name); j != nil {
		js := j.status()
		d.Status, d.Steps = js.State, js.Step
		if !j.finished() {
			d.Live = &js // the page follows its events; a finished run is read from disk
		}
	}
	return d, nil
}

func (a *runsAPI) list(w http.ResponseWriter, r *http.Request) error {
	names, err := runDirs(a.dir)
	if err != nil {
		return err
	}
	for _, js := range a.trainer.list() {
		if !slices.Contains(names, js.ID) {
			names = append(names, js.ID)
		}
	}
	out := []runSummary{}
	var runs []runSummary
	for _, n := range append(embeddedRuns(), names...) {
		d, err := a.summarize(n)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity:
			d.Status, d.Error = "invalid", ae.msg // listed, so that the user sees why
		case err != nil:
			continue // removed meanwhile
		case !isEmbeddedRun(n) && d.Config == nil && d.Live == nil && !d.HasModel && a.trainer.get(n) == nil:
			continue // not a run directory
		}
		if isEmbeddedRun(n) {
			out = append(out, d.runSummary)
		} else {
			runs = append(runs, d.runSummary)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		ti, tj := runs[i].Updated, runs[j].Updated
		return ti != nil && (tj == nil || ti.After(*tj))
	})
	return writeJSON(w, http.StatusOK, append(out, runs...))
}

// run resolves {run}: 400 for an invalid name, 404 for an unknown run.
func (a *runsAPI) run(r *http.Request) (runDetail, error) {
	name, err := urlParam(r, "run")
	if err != nil {
		return runDetail{}, err
	}
	if err := checkName(name); err != nil {
		return runDetail{}, err
	}
	return a.summarize(name)
}

func (a *runsAPI) detail(w http.ResponseWriter, r *http.Request) error {
	d, err := a.run(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// phase is a detected phase change: the evaluation step before the jump
// of the induction score and the step at which it passed halfway.
type phase struct {
	Before int `json:"before"`
	At     int `json:"at"`
}

// detectPhase runs train.PhaseChange on the records' induction_max.
func detectPhase(records []map[string]any) *phase {
	var series []train.Point
	for _, rec := range records {
		v, ok := rec["induction_max"].(float64)
		step, ok2 := rec["step"].(float64)
		if ok && ok2 {
			series = append(series, train.Point{Step: int(step), Value: v})
		}
	}
	if before, at, ok := train.PhaseChange(series, phaseMinRise); ok {
		return &phase{before, at}
	}
	return nil
}

// runPhase is a run's phase change: the "phase_change" event of its
// metrics (train lm writes one when it detects the change) from the last
// evaluation before it; else the rise of induction_max (detectPhase, as
// for train induction's runs); else summary.json's phase_change_step.
func runPhase(records []map[string]any, summary json.RawMessage) *phase {
	at := -1
	for _, rec := range records {
		step, ok := rec["step"].(float64)
		if ev, _ := rec["event"].(string); ev == "phase_change" && ok {
			at = int(step)
			break
		}
	}
	if at < 0 {
		if p := detectPhase(records); p != nil {
			return p
		}
		var s struct {
			PhaseChangeStep *int `json:"phase_change_step"`
		}
		if summary == nil || json.Unmarshal(summary, &s) != nil || s.PhaseChangeStep == nil {
			return nil
		}
		at = *s.PhaseChangeStep
	}
	p := &phase{Before: at, At: at}
	for _, rec := range records {
		step, ok := rec["step"].(float64)
		_, eval := rec["eval_loss"]
		if ok && eval && int(step) < at {
			p.Before = int(step)
		}
	}
	return p
}

// parseMetrics parses metrics.jsonl, skipping a torn last line (the file
// of a live run is being appended to).
func parseMetrics(b []byte) []map[string]any {
	out := []map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxMetricsBytes)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// metrics answers GET /api/runs/{run}/metrics?format=json|jsonl|csv, with
// download=1 for an attachment. JSON is {"name", "records", "phase_change"}.
func (a *runsAPI) metrics(w http.ResponseWriter, r *http.Request) error {
	d, err := a.run(r)
	if err != nil {
		return err
	}
	name := d.Name
	b, err := a.readRunFile(name, metricsFile)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format := q.Get("format")
	if q.Get("download") != "" {
		ext := map[string]string{"": "json", "json": "json", "jsonl": "jsonl", "csv": "csv"}[format]
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"-metrics."+ext))
	}
	records := parseMetrics(b)
	switch format {
	case "", "json":
		return writeJSON(w, http.StatusOK, map[string]any{"name": name, "records": records, "phase_change": runPhase(records, d.Summary)})
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Write(b)
		return nil
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return writeCSV(w, records)
	}
	return errorf(http.StatusBadRequest, "web: format=%q: want json, jsonl or csv", format)
}

// figure renders a run's curves: {figure} is loss, accuracy, induction,
// prev-token, k-composition, icl or prefix-matching, .png or .svg.
func (a *runsAPI) figure(w http.ResponseWriter, r *http.Request) error {
	d, err := a.run(r)
	if err != nil {
		return err
	}
	return serveFigure(w, r, d.Name, func(name string, _ url.Values) (*figures.Figure, error) {
		build, ok := runFigures[name]
		if !ok {
			return nil, errorf(http.StatusNotFound, "web: no run figure %q (want loss, accuracy, induction, prev-token, k-composition, icl or prefix-matching)", name)
		}
		b, err := a.readRunFile(d.Name, metricsFile)
		if err != nil {
			return nil, err
		}
		records := parseMetrics(b)
		return build(records, runPhase(records, d.Summary))
	})
}

// writeCSV writes records as CSV, one row per record: step first, then
// every scalar column, then per-head arrays flattened as name.L{l}H{h}.
func writeCSV(w http.ResponseWriter, records []map[string]any) error {
	rows := make([]map[string]string, len(records))
	cols := map[string]bool{}
	for i, rec := range records {
		rows[i] = map[string]string{}
		for k, v := range rec {
			flatten(rows[i], k, v)
		}
		for k := range rows[i] {
			cols[k] = true
		}
	}
	names := make([]string, 0, len(cols))
	for k := range cols {
		if k != "step" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	names = append([]string{"step"}, names...)
	cw := csv.NewWriter(w)
	cw.Write(names)
	line := make([]string, len(names))
	for _, row := range rows {
		for i, k := range names {
			line[i] = row[k]
		}
		cw.Write(line)
	}
	cw.Flush()
	return cw.Error()
}

// flatten writes v under key: scalars as they are, [l][h] arrays as
// key.L{l}H{h}, other arrays as key.{i}.
func flatten(dst map[string]string, key string, v any) {
	switch x := v.(type) {
	case float64:
		dst[key] = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		dst[key] = x
	case bool:
		dst[key] = strconv.FormatBool(x)
	case []any:
		for i, e := range x {
			if inner, ok := e.([]any); ok {
				for j, f := range inner {
					flatten(dst, fmt.Sprintf("%s.L%dH%d", key, i, j), f)
				}
				continue
			}
			flatten(dst, fmt.Sprintf("%s.%d", key, i), e)
		}
	case nil:
	default:
		b, _ := json.Marshal(x)
		dst[key] = string(b)
	}
}

// embeddedRuns returns the names of the embedded runs, in the order the
// lists show them: the text demo first.
func embeddedRuns() []string { return []string{textDemoName, demoName} }

// isEmbeddedRun reports whether name is an embedded run's (a folder of that
// name in the runs directory is shadowed).
func isEmbeddedRun(name string) bool { return name == textDemoName || name == demoName }

// embeddedRun returns the files of the embedded run called name.
func embeddedRun(name string) (fs.FS, bool) {
	var dir fs.FS
	var err error
	switch name {
	case textDemoName:
		dir, err = fs.Sub(textDemoFS, "textdemo")
	case demoName:
		dir, err = fs.Sub(demoFS, "demo")
	default:
		return nil, false
	}
	return dir, err == nil // fs.Sub fails only on an invalid path
}
