package patching

import (
	"context"
	"fmt"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/workers"
)

// Experiment is a clean and a corrupted batch of token sequences run
// through one model, with the activations of both runs cached, ready for
// patching clean activations into the corrupted run ("denoising"). It is
// immutable after New and safe for concurrent use; each patch runs in its
// own model workspace.
type Experiment struct {
	m                *transformer.Model
	metric           Metric
	batch, pos       int
	flatCorrupted    []int32
	clean, corrupted float64
	cleanActs        *hooks.Cache
	corruptActs      *hooks.Cache
}

// New runs m on clean and corrupted (token ids from outside the process:
// both batches must be valid for m and of the same shape, [batch][pos]) and
// caches, for later patches, every activation a Kind names, resid_mid and
// the logits of both runs — among them the residual stream entering every
// layer, which is what the patches reuse. metric is checked against the
// batch and must not change while the Experiment is in use.
func New(ctx context.Context, m *transformer.Model, clean, corrupted [][]int, metric Metric) (*Experiment, error) {
	if metric == nil {
		return nil, fmt.Errorf("patching: no metric")
	}
	flatClean, b, p, err := m.CheckTokens(clean)
	if err != nil {
		return nil, fmt.Errorf("patching: clean tokens: %w", err)
	}
	flatCorr, bc, pc, err := m.CheckTokens(corrupted)
	if err != nil {
		return nil, fmt.Errorf("patching: corrupted tokens: %w", err)
	}
	if b != bc || p != pc {
		return nil, fmt.Errorf("patching: clean tokens are %d sequences × %d positions, corrupted %d × %d (they must match)", b, p, bc, pc)
	}
	if err := metric.Check(b, p, m.Cfg.DVocabOut); err != nil {
		return nil, err
	}
	e := &Experiment{m: m, metric: metric, batch: b, pos: p, flatCorrupted: flatCorr}
	ws := m.NewWorkspace(b, p)
	if e.cleanActs, e.clean, err = e.capture(ctx, ws, flatClean); err != nil {
		return nil, err
	}
	if e.corruptActs, e.corrupted, err = e.capture(ctx, ws, flatCorr); err != nil {
		return nil, err
	}
	return e, nil
}

// capture runs tokens twice on ws: once caching the logits and every
// patchable activation but the attention patterns (the code path of a run
// without hooks; the metric is read from it), once caching the patterns
// (which makes the model compute attention step by step).
func (e *Experiment) capture(ctx context.Context, ws *transformer.Workspace, tokens []int32) (*hooks.Cache, float64, error) {
	c := hooks.NewCache()
	cached := map[string]bool{"hook_resid_mid": true, string(hooks.UnembedOut()): true}
	for _, k := range Kinds() {
		if k != Pattern {
			cached[k.Hook(0).Kind()] = true
		}
	}
	if err := ws.Forward(ctx, tokens, c.Hooks(func(n hooks.Name) bool { return cached[n.Kind()] })); err != nil {
		return nil, 0, err
	}
	v := e.metric.Value(ws.Logits())
	pattern := Pattern.Hook(0).Kind()
	if err := ws.Forward(ctx, tokens, c.Hooks(func(n hooks.Name) bool { return n.Kind() == pattern })); err != nil {
		return nil, 0, err
	}
	return c, v, nil
}

// Clean returns the metric of the clean run.
func (e *Experiment) Clean() float64 { return e.clean }

// Corrupted returns the metric of the corrupted run.
func (e *Experiment) Corrupted() float64 { return e.corrupted }

// Metric returns the experiment's metric.
func (e *Experiment) Metric() Metric { return e.metric }

// Options control a sweep.
type Options struct {
	// ByPos patches one position at a time, adding a position axis to the
	// grid; otherwise each patch covers every position.
	ByPos bool
	// Workers is the number of patches run at once; 0 means 2, the
	// number of cores this project targets.
	Workers int
}

func (o Options) workers() int {
	if o.Workers <= 0 {
		return 2
	}
	return o.Workers
}

// Patch returns the metric of the corrupted run with the clean activation
// written at every site (sites may be in different layers). Everything
// upstream of the earliest site's layer is taken from the cache.
func (e *Experiment) Patch(ctx context.Context, sites ...Site) (float64, error) {
	if len(sites) == 0 {
		return e.corrupted, nil
	}
	start := e.m.Cfg.NLayers
	hs := hooks.NewSet()
	for _, s := range sites {
		if err := s.Check(e.m.Cfg, e.pos); err != nil {
			return 0, err
		}
		start = min(start, s.Layer)
		hs.Add(s.hook(), s.replace(e.act(e.cleanActs, s.hook())))
	}
	return e.run(ctx, e.act(e.corruptActs, hooks.ResidPre(start)), start, hs)
}

// Sweep patches each site of kind in turn (every layer, every head for
// per-head kinds, every position with opt.ByPos) and returns the metric of
// each patched run. The patches run on opt.Workers goroutines; each starts
// from the cached corrupted residual stream entering its layer
// (transformer.Model.RunFromLayer) instead of re-running the layers before
// it. Sites whose clean value only adds to their block's output (mlp_out
// and resid_post, and in attention-only models attn_out and head_out) go
// further: the patched block output is formed from the cache and the run
// starts at the next block (in the last block, only the positions the patch
// changes are decoded). Results equal a full hooked run per patch up to
// float32 rounding (exactly, for patches that change nothing), and do not
// depend on the number of workers.
func (e *Experiment) Sweep(ctx context.Context, kind Kind, opt Options) (*Grid, error) {
	g, err := e.grid(kind, opt.ByPos)
	if err != nil {
		return nil, err
	}
	err = workers.ForErr(ctx, opt.workers(), len(g.Sites), func(ctx context.Context, i int) error {
		v, err := e.patchOne(ctx, g.Sites[i])
		g.Values[i] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// grid lays out the sites of a sweep of kind, with zero values.
func (e *Experiment) grid(kind Kind, byPos bool) (*Grid, error) {
	if _, err := ParseKind(string(kind)); err != nil {
		return nil, err
	}
	c := e.m.Cfg
	if kind == MLPOut && !c.HasMLP() {
		return nil, fmt.Errorf("patching: the model is attention-only: no mlp_out to patch")
	}
	heads := kind.heads(c)
	g := &Grid{What: kind, Metric: e.metric.String(), Clean: e.clean, Corrupted: e.corrupted}
	var rows, cols []string
	var rowSites []Site
	for l := 0; l < c.NLayers; l++ {
		for h := 0; h < heads; h++ {
			s := Site{Kind: kind, Layer: l, Head: h}
			label := fmt.Sprintf("L%d", l)
			if kind.PerHead() {
				label += fmt.Sprintf("H%d", h)
			}
			rows, rowSites = append(rows, label), append(rowSites, s)
		}
	}
	g.Axes = [][]string{rows}
	if !byPos {
		g.Sites = rowSites
	} else {
		for p := 0; p < e.pos; p++ {
			cols = append(cols, fmt.Sprintf("pos %d", p))
		}
		g.Axes = append(g.Axes, cols)
		for _, s := range rowSites {
			for p := 0; p < e.pos; p++ {
				s.Pos = At(p)
				g.Sites = append(g.Sites, s)
			}
		}
	}
	g.Values = make([]float64, len(g.Sites))
	return g, nil
}

// patchOne returns the metric with the clean activation at one site.
func (e *Experiment) patchOne(ctx context.Context, s Site) (float64, error) {
	if resid, ok := e.shortcut(s); ok {
		if s.Layer == e.m.Cfg.NLayers-1 {
			return e.decode(ctx, resid)
		}
		return e.run(ctx, resid, s.Layer+1, nil)
	}
	hs := hooks.NewSet().Add(s.hook(), s.replace(e.act(e.cleanActs, s.hook())))
	return e.run(ctx, e.act(e.corruptActs, hooks.ResidPre(s.Layer)), s.Layer, hs)
}

// run continues the model from resid entering block start and scores it.
func (e *Experiment) run(ctx context.Context, resid *tensor.Tensor, start int, hs *hooks.Set) (float64, error) {
	logits, err := e.m.RunFromLayer(ctx, resid, start, hs)
	if err != nil {
		return 0, err
	}
	return e.metric.Value(logits), nil
}

// decode scores the final residual stream resid, [batch, pos, d_model].
// ln_final and the unembedding act on each position alone, so positions
// whose residual equals the corrupted run's keep the corrupted logits, and
// only the others are decoded, as a batch of one-position sequences.
func (e *Experiment) decode(ctx context.Context, resid *tensor.Tensor) (float64, error) {
	d := e.m.Cfg.DModel
	final := e.act(e.corruptActs, hooks.ResidPost(e.m.Cfg.NLayers-1))
	var rows []int
	for r := 0; r < e.batch*e.pos; r++ {
		if !slices.Equal(resid.Data[r*d:(r+1)*d], final.Data[r*d:(r+1)*d]) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return e.corrupted, nil
	}
	x := tensor.New(len(rows), 1, d)
	for i, r := range rows {
		copy(x.Data[i*d:(i+1)*d], resid.Data[r*d:(r+1)*d])
	}
	out, err := e.m.RunFromLayer(ctx, x, e.m.Cfg.NLayers, nil) // [rows, 1, d_vocab_out]
	if err != nil {
		return 0, err
	}
	logits := e.act(e.corruptActs, hooks.UnembedOut()).Clone()
	V := logits.Shape[2]
	for i, r := range rows {
		copy(logits.Data[r*V:(r+1)*V], out.Data[i*V:(i+1)*V])
	}
	return e.metric.Value(logits), nil
}

// shortcut returns block s.Layer's output, resid_post [batch, pos, d_model],
// with the clean activation at s, for a site whose value reaches the
// residual stream only by being added to the block's output; ok is false
// for other sites. The patched positions are recomputed with the forward
// pass's own addition (resid_mid + mlp_out, resid_pre + attn_out), so a
// patch is exact; a head's output is added to the corrupted attn_out as
// (z_clean − z_corrupted)·W_O[h] first, which rounds differently from the
// fused output projection.
func (e *Experiment) shortcut(s Site) (*tensor.Tensor, bool) {
	l, attnOnly := s.Layer, !e.m.Cfg.HasMLP()
	post := hooks.ResidPost(l)
	var in, out *tensor.Tensor // resid_post = in + out at the patched positions
	switch {
	case s.Kind == ResidPost:
		return e.patched(post, s), true
	case s.Kind == MLPOut && !e.m.Cfg.ParallelAttnMLP: // parallel models have no resid_mid
		in, out = e.act(e.corruptActs, hooks.ResidMid(l)), e.act(e.cleanActs, hooks.MLPOut(l))
	case s.Kind == AttnOut && attnOnly:
		in, out = e.act(e.corruptActs, hooks.ResidPre(l)), e.act(e.cleanActs, hooks.AttnOut(l))
	case s.Kind == HeadOut && attnOnly:
		in, out = e.act(e.corruptActs, hooks.ResidPre(l)), e.headOutput(s)
	default:
		return nil, false
	}
	resid := e.act(e.corruptActs, post).Clone()
	at := Site{Kind: ResidPost, Layer: l, Pos: s.Pos}
	at.each(resid.Shape, func(_, off, n int) {
		tensor.Add(resid.Data[off:off+n], in.Data[off:off+n], out.Data[off:off+n])
	})
	return resid, true
}

// patched returns a copy of the corrupted activation called name with the
// clean one at s (s.Kind must name an activation of that shape).
func (e *Experiment) patched(name hooks.Name, s Site) *tensor.Tensor {
	t := e.act(e.corruptActs, name).Clone()
	s.replace(e.act(e.cleanActs, name))(t, name)
	return t
}

// headOutput returns the corrupted attn_out of s.Layer plus
// (z_clean − z_corrupted)[:, :, s.Head]·W_O[s.Head] at s's positions,
// [batch, pos, d_model].
func (e *Experiment) headOutput(s Site) *tensor.Tensor {
	out := e.act(e.corruptActs, hooks.AttnOut(s.Layer)).Clone()
	e.addHeadDelta(out, Head{s.Layer, s.Head}, s.Pos)
	return out
}

// act returns a cached activation; a missing one is a bug in this package.
func (e *Experiment) act(c *hooks.Cache, name hooks.Name) *tensor.Tensor {
	t, ok := c.Get(name)
	if !ok {
		panic(fmt.Sprintf("patching: activation %q was not cached", name))
	}
	return t
}
