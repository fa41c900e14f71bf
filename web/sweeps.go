package web

import (
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/sweep"
)

// sweepsAPI is /api/sweeps: the sweeps (folders holding a plan.json, as
// workbench sweep plan writes them) found in the runs folder, with their
// task states and results.
type sweepsAPI struct {
	dir string
	log *slog.Logger
}

// Routes returns the /api/sweeps router.
func (a *sweepsAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", handle(a.log, a.list))
	r.Get("/{name}", handle(a.log, a.detail))
	return r
}

// Bounds of the sweeps API.
const (
	maxSweeps        = 200      // sweeps listed
	maxPlanBytes     = 64 << 20 // plan.json read
	maxSweepTaskRows = 10_000   // tasks returned by the detail
)

// Names of the runs folder itself when it holds a plan: "." in listings,
// and in URLs also rootSweepAlias, since browsers fold a "." path segment.
// checkName refuses both, so no subfolder can take them.
const (
	rootSweepName  = "."
	rootSweepAlias = "-"
)

// sweepSummary is one sweep in GET /api/sweeps.
type sweepSummary struct {
	Name   string `json:"name"` // relative to the runs folder: "." or a subfolder
	Tasks  int    `json:"tasks"`
	Counts string `json:"counts,omitempty"` // sweep.Counts: "4 done, 0 running, 0 failed, 0 pending"
	Error  string `json:"error,omitempty"`  // a plan that cannot be read
}

// sweepDir returns the folder of the sweep called name, or a 404.
func (a *sweepsAPI) sweepDir(name string) (string, error) {
	dir := a.dir
	if name != rootSweepName && name != rootSweepAlias {
		if err := checkName(name); err != nil {
			return "", err
		}
		dir = filepath.Join(a.dir, name)
	}
	st, err := os.Stat(filepath.Join(dir, sweep.PlanFile))
	if err != nil || !st.Mode().IsRegular() {
		return "", errorf(http.StatusNotFound, "web: no sweep %q: the runs folder has no such folder holding %s (GET /api/sweeps lists them)", name, sweep.PlanFile)
	}
	if st.Size() > maxPlanBytes {
		return "", errorf(http.StatusUnprocessableEntity, "web: sweep %q: %s is %d bytes, more than the %d this server reads", name, sweep.PlanFile, st.Size(), maxPlanBytes)
	}
	return dir, nil
}

// sweepNames lists the runs folder itself, if it holds a plan, and its
// direct subfolders that do, at most maxSweeps.
func (a *sweepsAPI) sweepNames() ([]string, error) {
	var out []string
	if _, err := a.sweepDir(rootSweepName); err == nil {
		out = append(out, rootSweepName)
	}
	dirs, err := runDirs(a.dir)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if len(out) == maxSweeps {
			break
		}
		if st, err := os.Stat(filepath.Join(a.dir, d, sweep.PlanFile)); err == nil && st.Mode().IsRegular() {
			out = append(out, d)
		}
	}
	return out, nil
}

func (a *sweepsAPI) list(w http.ResponseWriter, r *http.Request) error {
	names, err := a.sweepNames()
	if err != nil {
		return err
	}
	out := []sweepSummary{}
	for _, n := range names {
		s := sweepSummary{Name: n}
		dir, err := a.sweepDir(n)
		if err == nil {
			var sts []sweep.TaskStatus
			if _, sts, err = sweep.Status(dir); err == nil {
				s.Tasks, s.Counts = len(sts), sweep.Counts(sts)
			}
		}
		if err != nil {
			s.Error = relMessage(a.dir, err)
		}
		out = append(out, s)
	}
	return writeJSON(w, http.StatusOK, out)
}

// sweepTask is one task in GET /api/sweeps/{name}: its state, axes and,
// when done, its results (null for a threshold never reached).
type sweepTask struct {
	Index   int                 `json:"index"`
	ID      string              `json:"id"`
	State   sweep.State         `json:"state"`
	Error   string              `json:"error,omitempty"`
	Axes    map[string]string   `json:"axes"`
	Metrics map[string]*float64 `json:"metrics,omitempty"`
	Run     string              `json:"run"` // the task's run folder, relative to the sweep's
}

// sweepStats is sweep.Stats with null for the statistics of a metric no
// task reached.
type sweepStats struct {
	Metric string   `json:"metric"`
	N      int      `json:"n"`
	Never  int      `json:"never"`
	Min    *float64 `json:"min"`
	Q1     *float64 `json:"q1"`
	Median *float64 `json:"median"`
	Q3     *float64 `json:"q3"`
	Max    *float64 `json:"max"`
}

// sweepDetail is GET /api/sweeps/{name}.
type sweepDetail struct {
	Name    string       `json:"name"`
	Command string       `json:"command"`
	Counts  string       `json:"counts"`
	Axes    []string     `json:"axes"` // the grid and random axes, in name order
	Stats   []sweepStats `json:"stats"`
	Tasks   []sweepTask  `json:"tasks"`
	// TasksShown is len(Tasks); Total the plan's tasks (more when the
	// list was cut at maxSweepTaskRows).
	Total int `json:"total"`
	// ResultsError says why done tasks' results could not be read (a done
	// task without its summary.json, say); the states are shown anyway.
	ResultsError string `json:"results_error,omitempty"`
}

func (a *sweepsAPI) detail(w http.ResponseWriter, r *http.Request) error {
	name, err := urlParam(r, "name")
	if err != nil {
		return err
	}
	dir, err := a.sweepDir(name)
	if err != nil {
		return err
	}
	plan, sts, err := sweep.Status(dir)
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "web: sweep %q: %s", name, relMessage(a.dir, err))
	}
	if name == rootSweepAlias {
		name = rootSweepName
	}
	out := sweepDetail{Name: name, Command: plan.Spec.Command, Counts: sweep.Counts(sts), Total: len(sts), Axes: []string{}, Stats: []sweepStats{}, Tasks: []sweepTask{}}
	axes := map[string]bool{}
	for _, t := range plan.Tasks {
		for k := range t.Axes {
			axes[k] = true
		}
	}
	for k := range axes {
		out.Axes = append(out.Axes, k)
	}
	slices.Sort(out.Axes)
	_, results, rerr := sweep.Results(dir)
	if rerr != nil {
		out.ResultsError = relMessage(a.dir, rerr)
	}
	byID := map[string]sweep.Result{}
	for _, res := range results {
		byID[res.ID] = res
	}
	for _, st := range sts[:min(len(sts), maxSweepTaskRows)] {
		t := sweepTask{Index: st.Index, ID: st.ID, State: st.State, Error: relMessage(a.dir, errString(st.Error)), Axes: st.Axes,
			Run: filepath.ToSlash(filepath.Join(sweep.RunsDir, st.ID))}
		if t.Axes == nil {
			t.Axes = map[string]string{}
		}
		if res, ok := byID[st.ID]; ok {
			t.Metrics = map[string]*float64{}
			for k, v := range res.Metrics {
				t.Metrics[k] = finite(v)
			}
		}
		out.Tasks = append(out.Tasks, t)
	}
	for _, s := range sweep.Summarize(results) {
		out.Stats = append(out.Stats, sweepStats{Metric: s.Metric, N: s.N, Never: s.Never,
			Min: finite(s.Min), Q1: finite(s.Quartile1), Median: finite(s.Median), Q3: finite(s.Quartile3), Max: finite(s.Max)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// errString is an error holding msg, for relMessage.
type errString string

func (e errString) Error() string { return string(e) }

// finite returns &v, or nil for NaN and infinities, which JSON cannot hold.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
