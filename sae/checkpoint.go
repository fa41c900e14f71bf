package sae

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/optim"
)

// A training checkpoint holds everything a run needs to continue exactly
// as if it had not stopped: the dictionary's tensors, the optimizer's
// moments ("optim/<name>"), the rows the source holds ("source/in",
// "source/out") and, in the metadata, the steps done ("step"), the
// optimizer's step count, each feature's rows since it last fired, the
// source's random state and model-run count, and the caller's own fields.
// The source's batches must be a pure function of the number of calls
// made (Source.Runs), which the caller restores.

// metadata keys of a training checkpoint
const (
	metaStep       = "step"
	metaOptimSteps = "optim_steps"
	metaSinceFired = "since_fired"
	metaSourceRNG  = "source_rng"
	metaSourceRuns = "source_runs"
	metaSourceRows = "source_rows"
	metaSourceD    = "source_d"
)

// SaveCheckpoint writes the state of t and src after step steps to path
// (atomically), with extra metadata fields.
func (t *Trainer) SaveCheckpoint(path string, src *Source, step int, extra map[string]string) error {
	s := t.S
	c := s.Cfg
	ts := []checkpoint.Tensor{
		{Name: "W_enc", Shape: []int{c.DIn, c.DSAE}, Data: s.WEnc},
		{Name: "b_enc", Shape: []int{c.DSAE}, Data: s.BEnc},
		{Name: "W_dec", Shape: []int{c.DSAE, c.DIn}, Data: s.WDec},
		{Name: "b_dec", Shape: []int{c.DIn}, Data: s.BDec},
	}
	if s.Threshold != nil {
		ts = append(ts, checkpoint.Tensor{Name: "threshold", Shape: []int{c.DSAE}, Data: s.Threshold})
	}
	for _, st := range t.opt.State() {
		ts = append(ts, checkpoint.Tensor{Name: "optim/" + st.Name, Shape: []int{len(st.Data)}, Data: st.Data})
	}
	if src.d > 0 && src.n > 0 {
		ts = append(ts, checkpoint.Tensor{Name: "source/in", Shape: []int{src.n, src.d}, Data: src.bufIn[:src.n*src.d]})
		if src.out != "" {
			ts = append(ts, checkpoint.Tensor{Name: "source/out", Shape: []int{src.n, src.d}, Data: src.bufOut[:src.n*src.d]})
		}
	}
	rng, err := src.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sae: checkpoint: %w", err)
	}
	since, err := json.Marshal(t.sinceFired)
	if err != nil {
		return fmt.Errorf("sae: checkpoint: %w", err)
	}
	meta := map[string]string{}
	for k, v := range extra {
		meta[k] = v
	}
	for k, v := range map[string]string{metaStep: strconv.Itoa(step), metaOptimSteps: strconv.Itoa(t.opt.Steps()),
		metaSinceFired: string(since), metaSourceRNG: base64.StdEncoding.EncodeToString(rng), metaSourceRuns: strconv.Itoa(src.modelRun),
		metaSourceRows: strconv.Itoa(src.n), metaSourceD: strconv.Itoa(src.d)} {
		if _, ok := extra[k]; ok {
			return fmt.Errorf("sae: checkpoint: extra field %q is the checkpoint's own", k)
		}
		meta[k] = v
	}
	return checkpoint.WriteFile(path, ts, meta)
}

// LoadCheckpoint restores t and src from a checkpoint SaveCheckpoint wrote
// for a trainer and source of the same configuration, and returns the
// steps done and the checkpoint's metadata. A checkpoint that does not fit
// is an error, and then t and src may be partly restored: start afresh.
func (t *Trainer) LoadCheckpoint(path string, src *Source) (int, map[string]string, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	s := t.S
	c := s.Cfg
	md := f.Metadata
	num := func(k string) (int, error) {
		v, err := strconv.Atoi(md[k])
		if err != nil || v < 0 {
			return 0, fmt.Errorf("sae: checkpoint %s: metadata %q is %q, not a count", path, k, md[k])
		}
		return v, nil
	}
	var counts [5]int
	for i, k := range []string{metaStep, metaOptimSteps, metaSourceRuns, metaSourceRows, metaSourceD} {
		if counts[i], err = num(k); err != nil {
			return 0, nil, err
		}
	}
	step, optSteps, runs, rows, d := counts[0], counts[1], counts[2], counts[3], counts[4]
	params := []struct {
		name  string
		dst   []float32
		shape []int
	}{{"W_enc", s.WEnc, []int{c.DIn, c.DSAE}}, {"b_enc", s.BEnc, []int{c.DSAE}}, {"W_dec", s.WDec, []int{c.DSAE, c.DIn}}, {"b_dec", s.BDec, []int{c.DIn}}}
	if s.Threshold != nil {
		params = append(params, struct {
			name  string
			dst   []float32
			shape []int
		}{"threshold", s.Threshold, []int{c.DSAE}})
	}
	for _, p := range params {
		if err := f.Float32Into(p.dst, p.name, p.shape); err != nil {
			return 0, nil, err
		}
	}
	var state []optim.StateTensor
	for _, st := range t.opt.State() {
		data, _, err := f.Float32("optim/" + st.Name)
		if err != nil {
			return 0, nil, err
		}
		state = append(state, optim.StateTensor{Name: st.Name, Data: data})
	}
	if err := t.opt.LoadState(optSteps, state); err != nil {
		return 0, nil, fmt.Errorf("sae: checkpoint %s: %w", path, err)
	}
	var since []int
	if err := json.Unmarshal([]byte(md[metaSinceFired]), &since); err != nil || len(since) != len(t.sinceFired) {
		return 0, nil, fmt.Errorf("sae: checkpoint %s: since_fired does not hold %d counts", path, len(t.sinceFired))
	}
	copy(t.sinceFired, since)
	rng, err := base64.StdEncoding.DecodeString(md[metaSourceRNG])
	if err == nil {
		err = src.pcg.UnmarshalBinary(rng)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sae: checkpoint %s: source random state: %w", path, err)
	}
	if rows > src.cap || (rows > 0 && d == 0) {
		return 0, nil, fmt.Errorf("sae: checkpoint %s: %d source rows of width %d for a buffer of %d", path, rows, d, src.cap)
	}
	src.modelRun, src.n, src.d = runs, 0, d
	if d > 0 {
		src.bufIn = make([]float32, src.cap*d)
		if src.out != "" {
			src.bufOut = make([]float32, src.cap*d)
		}
	}
	if rows > 0 {
		if err := f.Float32Into(src.bufIn[:rows*d], "source/in", []int{rows, d}); err != nil {
			return 0, nil, err
		}
		if src.out != "" {
			if err := f.Float32Into(src.bufOut[:rows*d], "source/out", []int{rows, d}); err != nil {
				return 0, nil, err
			}
		}
	}
	src.n = rows
	return step, md, nil
}
