package sae

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// DashboardOptions say what Dashboards collects for each feature.
type DashboardOptions struct {
	// Features are the features given a full dashboard, each in [0,
	// d_sae); every feature gets a summary.
	Features []int
	Contexts int // top-activating contexts per feature (≥ 1)
	Window   int // tokens shown either side of a context's peak (≥ 0)
	Bins     int // histogram bins (≥ 1)
	Logits   int // promoted and suppressed tokens listed (≥ 1)
	Similar  int // most similar features listed (≥ 1)
	// TokenText, when set, labels tokens (a tokenizer's decoding of one
	// id); contexts then carry their text pieces.
	TokenText func(id int) string
}

// Limits of one Dashboards call: the activations held (non-zero entries of
// the feature matrix) and the features given a full dashboard.
const (
	MaxDashboardEntries  = 1 << 24
	MaxDashboardFeatures = 4096
	maxDashboardList     = 1024 // contexts, bins, logits or similar features per feature
)

// Dashboards are the feature dashboards of one dictionary on one input.
type Dashboards struct {
	Hook      string           `json:"hook"`
	Sequences int              `json:"sequences"`
	Positions int              `json:"positions"` // activation rows seen: sequences × their positions
	Summaries []FeatureSummary `json:"summaries"` // one per feature, by id
	Features  []Feature        `json:"features"`  // the requested features, in request order
}

// FeatureSummary is what the feature list shows of every feature.
type FeatureSummary struct {
	ID      int     `json:"id"`
	Density float64 `json:"density"` // fraction of positions where it fires
	MaxAct  float64 `json:"max_act"`
	// TopTokens are the tokens at its three strongest activations (empty
	// for a feature that never fired); TopLogits the tokens its decoder
	// direction promotes most (empty without logit effects).
	TopTokens []int `json:"top_tokens"`
	TopLogits []int `json:"top_logits"`
}

// Feature is one feature's dashboard.
type Feature struct {
	FeatureSummary
	MeanAct    float64        `json:"mean_act"` // over the positions where it fires
	Contexts   []Context      `json:"contexts"`
	Histogram  Histogram      `json:"histogram"`
	Promoted   []TokenEffect  `json:"promoted"`   // largest direct logit effects, decreasing
	Suppressed []TokenEffect  `json:"suppressed"` // most negative, increasing
	Similar    []SimilarEntry `json:"similar"`    // decreasing cosine
}

// Context is a window of a sequence around one of a feature's strongest
// activations, with the feature's activation at each of its tokens.
type Context struct {
	Seq    int       `json:"seq"`   // sequence index in the input
	Pos    int       `json:"pos"`   // position of the peak
	Act    float64   `json:"act"`   // the activation at the peak
	Start  int       `json:"start"` // position of Tokens[0]
	Tokens []int     `json:"tokens"`
	Acts   []float64 `json:"acts"`           // the feature's activation per token
	Text   []string  `json:"text,omitempty"` // the tokens' text, with TokenText
}

// Histogram counts a feature's non-zero activations in Bins equal bins
// over [0, MaxAct].
type Histogram struct {
	Edges  []float64 `json:"edges"` // bins + 1 edges
	Counts []int     `json:"counts"`
}

// TokenEffect is a token and the direct effect of a unit of the feature on
// its logit.
type TokenEffect struct {
	Token  int     `json:"token"`
	Effect float64 `json:"effect"`
	Text   string  `json:"text,omitempty"`
}

// SimilarEntry is another feature and the cosine between their decoder
// rows.
type SimilarEntry struct {
	Feature int     `json:"feature"`
	Cosine  float64 `json:"cosine"`
}

func (o DashboardOptions) validate(dSAE int) error {
	if o.Contexts < 1 || o.Window < 0 || o.Bins < 1 || o.Logits < 1 || o.Similar < 1 ||
		max(o.Contexts, o.Window, o.Bins, o.Logits, o.Similar) > maxDashboardList {
		return fmt.Errorf("sae: dashboards of %d contexts (window %d), %d bins, %d logits, %d similar: each must be in [1, %d] (window ≥ 0)",
			o.Contexts, o.Window, o.Bins, o.Logits, o.Similar, maxDashboardList)
	}
	if len(o.Features) > MaxDashboardFeatures {
		return fmt.Errorf("sae: %d dashboards requested, at most %d", len(o.Features), MaxDashboardFeatures)
	}
	for _, f := range o.Features {
		if f < 0 || f >= dSAE {
			return fmt.Errorf("sae: feature %d outside [0, d_sae %d)", f, dSAE)
		}
	}
	return nil
}

// activations are a dictionary's non-zero feature activations on an
// input, by feature: feature j fired at rows rows[j] (increasing) with
// values vals[j]; a row is seq·T + pos.
type activations struct {
	rows  [][]int32
	vals  [][]float32
	T     int
	scale float64 // mean ln_final scale over the input (1 without norm)
}

// collect runs m on tokens (sequences of one length) and encodes the
// dictionary's input hook at every position, keeping non-zero entries.
func (s *SAE) collect(ctx context.Context, m *transformer.Model, tokens [][]int) (*activations, error) {
	c := s.Cfg
	if len(tokens) == 0 {
		return nil, fmt.Errorf("sae: no sequences to collect activations on")
	}
	in, err := m.ParseHook(c.HookName)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	T := len(tokens[0])
	for i, t := range tokens {
		if len(t) != T {
			return nil, fmt.Errorf("sae: sequence %d has %d tokens, sequence 0 %d: give sequences of one length", i, len(t), T)
		}
	}
	a := &activations{rows: make([][]int32, c.DSAE), vals: make([][]float32, c.DSAE), T: T, scale: 1}
	names := []hooks.Name{in}
	if m.Cfg.HasNorm() {
		names = append(names, hooks.LNFinalScale())
	}
	var scaleSum float64
	total := 0
	const chunk = 16 // sequences per model run
	for b0 := 0; b0 < len(tokens); b0 += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := tokens[b0:min(b0+chunk, len(tokens))]
		set, cache := hooks.Capture(hooks.Names(names...))
		if _, err := m.Run(ctx, batch, set); err != nil {
			return nil, fmt.Errorf("sae: %w", err)
		}
		x, _ := cache.Get(in)
		if x.Dim(-1) != c.DIn || len(x.Shape) != 3 {
			return nil, fmt.Errorf("sae: hook %s has shape %v: the dictionary reads width %d", in, x.Shape, c.DIn)
		}
		if sc, ok := cache.Get(hooks.LNFinalScale()); ok {
			scaleSum += tensor.Sum(sc.Data)
		}
		rows := len(batch) * T
		f := s.Encode(x.Data, rows)
		for r := range rows {
			for j, v := range f[r*c.DSAE : (r+1)*c.DSAE] {
				if v == 0 {
					continue
				}
				if total++; total > MaxDashboardEntries {
					return nil, fmt.Errorf("sae: more than %d non-zero activations: give fewer tokens", MaxDashboardEntries)
				}
				a.rows[j] = append(a.rows[j], int32(b0*T+r))
				a.vals[j] = append(a.vals[j], v)
			}
		}
	}
	if m.Cfg.HasNorm() {
		a.scale = scaleSum / float64(len(tokens)*T)
	}
	return a, nil
}

// at returns feature j's activation at row r (0 where it did not fire).
func (a *activations) at(j int, r int32) float64 {
	if i, ok := slices.BinarySearch(a.rows[j], r); ok {
		return float64(a.vals[j][i])
	}
	return 0
}

// Dashboards runs m on tokens (sequences of one length; the dictionary's
// model) and returns every feature's summary and the dashboards of
// opt.Features: top-activating contexts, a histogram of the non-zero
// activations, density, the direct logit effect of the decoder direction
// and the most similar features by decoder cosine.
//
// The logit effect of a direction v [d_model] is v through ln_final,
// linearised at the input's mean final scale σ as in direct logit
// attribution (centred for LayerNorm, ⊙ ln_final.w, ÷ σ), then W_U; it is
// left out (empty lists) when the dictionary's width is not d_model.
func (s *SAE) Dashboards(ctx context.Context, m *transformer.Model, tokens [][]int, opt DashboardOptions) (*Dashboards, error) {
	c := s.Cfg
	if err := opt.validate(c.DSAE); err != nil {
		return nil, err
	}
	a, err := s.collect(ctx, m, tokens)
	if err != nil {
		return nil, err
	}
	T := a.T
	db := &Dashboards{Hook: c.HookName, Sequences: len(tokens), Positions: len(tokens) * T, Summaries: make([]FeatureSummary, c.DSAE)}
	logits := c.DIn == m.Cfg.DModel
	var wu *tensor.Tensor
	if logits {
		wu = m.Unembed()
	}
	effect := func(j int) []float64 {
		return logitEffect(normDirection(m, s.WDec[j*c.DIn:(j+1)*c.DIn], a.scale), wu)
	}
	for j := range c.DSAE {
		sm := FeatureSummary{ID: j, Density: float64(len(a.rows[j])) / float64(db.Positions), TopTokens: []int{}, TopLogits: []int{}}
		for _, i := range topIndices(a.vals[j], 3) {
			r := int(a.rows[j][i])
			sm.TopTokens = append(sm.TopTokens, tokens[r/T][r%T])
			sm.MaxAct = max(sm.MaxAct, float64(a.vals[j][i]))
		}
		db.Summaries[j] = sm
	}
	// Every feature's top logits, when that costs at most ~2^30
	// multiply-adds.
	if logits && c.DSAE*c.DIn*wu.Shape[1] <= 1<<30 {
		for j := range c.DSAE {
			db.Summaries[j].TopLogits = topIndices(effect(j), 3)
		}
	}
	text := func(id int) string {
		if opt.TokenText == nil {
			return ""
		}
		return opt.TokenText(id)
	}
	for _, j := range opt.Features {
		ft := Feature{FeatureSummary: db.Summaries[j], Promoted: []TokenEffect{}, Suppressed: []TokenEffect{}}
		var sum float64
		for _, v := range a.vals[j] {
			sum += float64(v)
		}
		if n := len(a.vals[j]); n > 0 {
			ft.MeanAct = sum / float64(n)
		}
		for _, i := range topIndices(a.vals[j], opt.Contexts) {
			r := int(a.rows[j][i])
			seq, pos := r/T, r%T
			cx := Context{Seq: seq, Pos: pos, Act: float64(a.vals[j][i]), Start: max(0, pos-opt.Window)}
			for p := cx.Start; p < min(T, pos+opt.Window+1); p++ {
				cx.Tokens = append(cx.Tokens, tokens[seq][p])
				cx.Acts = append(cx.Acts, a.at(j, int32(seq*T+p)))
				if opt.TokenText != nil {
					cx.Text = append(cx.Text, opt.TokenText(tokens[seq][p]))
				}
			}
			ft.Contexts = append(ft.Contexts, cx)
		}
		if ft.Contexts == nil {
			ft.Contexts = []Context{}
		}
		ft.Histogram = histogram(a.vals[j], ft.MaxAct, opt.Bins)
		if logits {
			e := effect(j)
			for _, t := range topIndices(e, opt.Logits) {
				ft.Promoted = append(ft.Promoted, TokenEffect{Token: t, Effect: e[t], Text: text(t)})
			}
			neg := make([]float64, len(e))
			for i, v := range e {
				neg[i] = -v
			}
			for _, t := range topIndices(neg, opt.Logits) {
				ft.Suppressed = append(ft.Suppressed, TokenEffect{Token: t, Effect: e[t], Text: text(t)})
			}
		}
		ft.Similar = s.similar(j, opt.Similar)
		db.Features = append(db.Features, ft)
	}
	if db.Features == nil {
		db.Features = []Feature{}
	}
	return db, nil
}

// Densest returns the ids of the n densest features that fired, densest
// first (ties to the lower id).
func (db *Dashboards) Densest(n int) []int {
	var ids []int
	for _, s := range db.Summaries {
		if s.Density > 0 {
			ids = append(ids, s.ID)
		}
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(db.Summaries[b].Density, db.Summaries[a].Density) })
	return ids[:min(n, len(ids))]
}

// LogitEffect returns the direct effect on every logit [d_vocab_out] of
// adding direction v [d_model] to the final residual stream, through
// ln_final linearised at scale σ (centred for LayerNorm and LNPre, ⊙
// ln_final.w where the model has it, ÷ σ; nothing for a model without
// normalisation) and the unembedding, without b_U — the treatment of
// direct logit attribution (lens.ApplyLN).
func LogitEffect(m *transformer.Model, v []float32, scale float64) []float64 {
	return logitEffect(normDirection(m, v, scale), m.Unembed())
}

// logitEffect returns u·W_U for u [d_model] and wu [d_model, d_vocab_out].
func logitEffect(u []float64, wu *tensor.Tensor) []float64 {
	V := wu.Shape[1]
	out := make([]float64, V)
	for i, ui := range u {
		if ui == 0 {
			continue
		}
		row := wu.Data[i*V : (i+1)*V]
		for t, w := range row {
			out[t] += ui * float64(w)
		}
	}
	return out
}

// normDirection is v through ln_final linearised at scale (see
// LogitEffect), in float64.
func normDirection(m *transformer.Model, v []float32, scale float64) []float64 {
	return linearNorm(m.Cfg, m.P.LNFinalW, v, scale)
}

// linearNorm is v through a normalisation of the model's type with gain w
// (nil: none) linearised at scale: centred for LayerNorm and LNPre, ÷
// scale, ⊙ w; v itself for a model without normalisation.
func linearNorm(c transformer.Config, w []float32, v []float32, scale float64) []float64 {
	u := make([]float64, len(v))
	for i, x := range v {
		u[i] = float64(x)
	}
	if !c.HasNorm() {
		return u
	}
	if c.NormalizationType == transformer.NormLN || c.NormalizationType == transformer.NormLNPre {
		mean := 0.0
		for _, x := range u {
			mean += x
		}
		mean /= float64(len(u))
		for i := range u {
			u[i] -= mean
		}
	}
	for i := range u {
		u[i] /= scale
		if w != nil {
			u[i] *= float64(w[i])
		}
	}
	return u
}

// similar returns the n features (other than j) whose decoder rows have
// the largest cosine with j's.
func (s *SAE) similar(j, n int) []SimilarEntry {
	d := s.Cfg.DIn
	row := s.WDec[j*d : (j+1)*d]
	nj := math.Sqrt(tensor.Dot(row, row))
	cos := make([]float64, s.Cfg.DSAE)
	for i := range cos {
		cos[i] = math.Inf(-1)
		if i == j {
			continue
		}
		o := s.WDec[i*d : (i+1)*d]
		if ni := math.Sqrt(tensor.Dot(o, o)); ni > 0 && nj > 0 {
			cos[i] = tensor.Dot(row, o) / (ni * nj)
		}
	}
	out := []SimilarEntry{}
	for _, i := range topIndices(cos, n) {
		if !math.IsInf(cos[i], -1) {
			out = append(out, SimilarEntry{Feature: i, Cosine: cos[i]})
		}
	}
	return out
}

// histogram counts vals in bins equal bins over [0, hi].
func histogram(vals []float32, hi float64, bins int) Histogram {
	h := Histogram{Edges: make([]float64, bins+1), Counts: make([]int, bins)}
	if hi <= 0 {
		hi = 1
	}
	for i := range h.Edges {
		h.Edges[i] = hi * float64(i) / float64(bins)
	}
	for _, v := range vals {
		b := min(bins-1, max(0, int(float64(v)/hi*float64(bins))))
		h.Counts[b]++
	}
	return h
}

// topIndices returns the indices of the n largest values of v, largest
// first (ties to the lower index).
func topIndices[T cmp.Ordered](v []T, n int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(v[b], v[a]) })
	return idx[:min(n, len(idx))]
}
