package sae

import (
	"context"
	"fmt"
	"math"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Steering adds Alpha × Direction to the activation at Hook, at every
// position: the intervention of activation steering (Turner et al. 2023)
// with a dictionary feature's decoder direction (Templeton et al. 2024),
// or any direction.
type Steering struct {
	Hook      string    `json:"hook"`
	Direction []float32 `json:"direction"` // [width of the hook's last axis]
	Alpha     float64   `json:"alpha"`
}

// MaxSteerNew bounds the tokens Steer generates.
const MaxSteerNew = 256

// FeatureSteering returns the steering along feature j's decoder row at
// the hook the dictionary writes to (its hook, or a transcoder's output
// hook). The row is copied.
func (s *SAE) FeatureSteering(j int, alpha float64) (Steering, error) {
	c := s.Cfg
	if j < 0 || j >= c.DSAE {
		return Steering{}, fmt.Errorf("sae: feature %d outside [0, d_sae %d)", j, c.DSAE)
	}
	hook := c.HookName
	if c.Transcoder {
		hook = c.HookNameOut
	}
	return Steering{Hook: hook, Direction: append([]float32(nil), s.WDec[j*c.DIn:(j+1)*c.DIn]...), Alpha: alpha}, nil
}

// Set returns the hook set that applies st on m. An unknown hook, one
// that is not a [batch, pos, width] activation, a direction whose length
// is not that width, and non-finite values are errors.
func (st Steering) Set(m *transformer.Model) (*hooks.Set, error) {
	name, err := m.ParseHook(st.Hook)
	if err != nil {
		return nil, fmt.Errorf("sae: steering: %w", err)
	}
	if math.IsNaN(st.Alpha) || math.IsInf(st.Alpha, 0) {
		return nil, fmt.Errorf("sae: steering: alpha %g is not finite", st.Alpha)
	}
	for _, v := range st.Direction {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("sae: steering: the direction holds %g", v)
		}
	}
	if !residualWidth(name.Kind()) {
		return nil, fmt.Errorf("sae: steering: %s is not a [batch, pos, width] activation", name)
	}
	want := m.Cfg.DModel
	switch name.Kind() {
	case "mlp.hook_pre", "mlp.hook_post", "mlp.hook_pre_linear":
		want = m.Cfg.DMLP
	}
	if len(st.Direction) != want || want == 0 {
		return nil, fmt.Errorf("sae: steering: a direction of %d values for %s, whose width is %d", len(st.Direction), name, want)
	}
	a := float32(st.Alpha)
	return hooks.NewSet().Add(name, func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		d := act.Dim(-1)
		for r := range act.Size() / d {
			tensor.Axpy(a, st.Direction, act.Data[r*d:(r+1)*d])
		}
		return nil
	}), nil
}

// residualWidth reports whether hooks of kind are [batch, pos, width]
// activations that a direction can be added to.
func residualWidth(kind string) bool {
	switch kind {
	case "hook_embed", "hook_pos_embed", "hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out",
		"mlp.hook_pre", "mlp.hook_post", "mlp.hook_pre_linear", "ln1.hook_normalized", "ln2.hook_normalized", "ln_final.hook_normalized":
		return true
	}
	return false
}

// SteerOptions control Steer.
type SteerOptions struct {
	TopK   int // predictions listed before and after (≥ 1)
	MaxNew int // greedy tokens generated after the prompt, clean and steered (0: none)
}

// Prediction is a next token and its probability and logit.
type Prediction struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
	Logit float64 `json:"logit"`
	Text  string  `json:"text,omitempty"` // the token's text, when the caller labels it
}

// SteerResult is what steering changes after a prompt.
type SteerResult struct {
	Clean   []Prediction `json:"clean"`   // the TopK next tokens without steering
	Steered []Prediction `json:"steered"` // with it
	// Raised and Lowered are the tokens whose next-token logits steering
	// changes most, up and down.
	Raised  []TokenEffect `json:"raised"`
	Lowered []TokenEffect `json:"lowered"`
	KL      float64       `json:"kl"` // KL(clean ‖ steered) of the next-token distributions, nats
	// CleanNew and SteeredNew are greedy continuations (MaxNew tokens, or
	// fewer when n_ctx ends them).
	CleanNew   []int `json:"clean_new"`
	SteeredNew []int `json:"steered_new"`
}

// Steer runs m on prompt with and without st and reports the next-token
// predictions after it, the logits steering moves most and greedy
// continuations (Model.Generate takes no hooks, so each new token reruns
// the whole sequence: MaxNew ≤ MaxSteerNew and the prompt plus it within
// n_ctx).
func Steer(ctx context.Context, m *transformer.Model, prompt []int, st Steering, opt SteerOptions) (*SteerResult, error) {
	if opt.TopK < 1 || opt.TopK > maxDashboardList || opt.MaxNew < 0 || opt.MaxNew > MaxSteerNew {
		return nil, fmt.Errorf("sae: steer: top %d outside [1, %d] or %d new tokens outside [0, %d]", opt.TopK, maxDashboardList, opt.MaxNew, MaxSteerNew)
	}
	if len(prompt) == 0 {
		return nil, fmt.Errorf("sae: steer: an empty prompt")
	}
	set, err := st.Set(m)
	if err != nil {
		return nil, err
	}
	clean, err := lastLogits(ctx, m, prompt, nil)
	if err != nil {
		return nil, err
	}
	steered, err := lastLogits(ctx, m, prompt, set)
	if err != nil {
		return nil, err
	}
	res := &SteerResult{Clean: predictions(clean, opt.TopK), Steered: predictions(steered, opt.TopK)}
	pc, ps := softmax(clean), softmax(steered)
	delta := make([]float64, len(clean))
	neg := make([]float64, len(clean))
	for i := range clean {
		delta[i], neg[i] = steered[i]-clean[i], clean[i]-steered[i]
		if pc[i] > 0 {
			res.KL += pc[i] * (math.Log(pc[i]) - math.Log(max(ps[i], math.SmallestNonzeroFloat64)))
		}
	}
	for _, t := range topIndices(delta, opt.TopK) {
		res.Raised = append(res.Raised, TokenEffect{Token: t, Effect: delta[t]})
	}
	for _, t := range topIndices(neg, opt.TopK) {
		res.Lowered = append(res.Lowered, TokenEffect{Token: t, Effect: delta[t]})
	}
	room := min(opt.MaxNew, m.Cfg.NCtx-len(prompt))
	if res.CleanNew, err = greedy(ctx, m, prompt, room, nil); err != nil {
		return nil, err
	}
	if res.SteeredNew, err = greedy(ctx, m, prompt, room, set); err != nil {
		return nil, err
	}
	return res, nil
}

// SteerLoss returns m's next-token loss on tokens without and with st.
func SteerLoss(ctx context.Context, m *transformer.Model, tokens [][]int, st Steering) (clean, steered float64, err error) {
	set, err := st.Set(m)
	if err != nil {
		return 0, 0, err
	}
	if clean, err = m.Loss(ctx, tokens, nil, nil); err != nil {
		return 0, 0, fmt.Errorf("sae: %w", err)
	}
	if steered, err = m.Loss(ctx, tokens, nil, set); err != nil {
		return 0, 0, fmt.Errorf("sae: %w", err)
	}
	return clean, steered, nil
}

// lastLogits returns the logits [d_vocab_out] at prompt's last position.
func lastLogits(ctx context.Context, m *transformer.Model, prompt []int, set *hooks.Set) ([]float64, error) {
	out, err := m.Run(ctx, [][]int{prompt}, set)
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	V := out.Dim(-1)
	row := out.Data[(len(prompt)-1)*V : len(prompt)*V]
	l := make([]float64, V)
	for i, v := range row {
		l[i] = float64(v)
	}
	return l, nil
}

// greedy continues prompt by n argmax tokens under set.
func greedy(ctx context.Context, m *transformer.Model, prompt []int, n int, set *hooks.Set) ([]int, error) {
	seq := append([]int(nil), prompt...)
	out := []int{}
	for range n {
		l, err := lastLogits(ctx, m, seq, set)
		if err != nil {
			return nil, err
		}
		best := 0
		for i, v := range l {
			if v > l[best] {
				best = i
			}
		}
		if best >= m.Cfg.DVocab { // an output-only id cannot be fed back
			break
		}
		seq, out = append(seq, best), append(out, best)
	}
	return out, nil
}

// predictions returns the k most likely tokens of logits.
func predictions(logits []float64, k int) []Prediction {
	p := softmax(logits)
	var out []Prediction
	for _, t := range topIndices(logits, k) {
		out = append(out, Prediction{Token: t, Prob: p[t], Logit: logits[t]})
	}
	return out
}

// softmax returns the probabilities of logits.
func softmax(logits []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, v)
	}
	p := make([]float64, len(logits))
	var z float64
	for i, v := range logits {
		p[i] = math.Exp(v - mx)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}
