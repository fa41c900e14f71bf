package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mechinterp/workbench/tensor"
)

// Attention variants of the forward pass, with TransformerLens's config
// fields:
//
//   - attn_scale: scores are q·k / attn_scale (default √d_head);
//     use_attn_scale false makes the divisor 1 (GPT-Neo has no scaling);
//   - scale_attn_by_inverse_layer_idx: block l's divisor is further
//     multiplied by l+1 (Hugging Face GPT-2's option);
//   - use_local_attn with attn_types (one "global" or "local" per block)
//     and window_size: in a local block query position i reads only keys
//     i − window_size < j ≤ i (GPT-Neo alternates global and local blocks).
//
// A block with any of these computes its scores here (customScores: one
// product, the mask, −Inf outside the window, as TransformerLens hooks
// them in hook_attn_scores) and runs the softmax and the mix step by step;
// other blocks keep the fused causal kernel. The backward pass does not
// implement them (Config.checkTrainable refuses by name).

// Attention types of a block (TransformerLens's attn_types entries).
const (
	AttnGlobal = "global" // causal: query i reads keys j ≤ i
	AttnLocal  = "local"  // causal within window_size: i − window_size < j ≤ i
)

// AttnTypes is the attention type of each block, AttnGlobal or AttnLocal, in
// block order: in JSON a list of strings, as TransformerLens writes
// attn_types. It is a comparable value so that Config stays comparable with
// ==; build one with NewAttnTypes. The zero value is the empty list.
type AttnTypes string

// NewAttnTypes returns the list types, or an error naming an entry that is
// neither AttnGlobal nor AttnLocal.
func NewAttnTypes(types ...string) (AttnTypes, error) {
	for i, t := range types {
		if t != AttnGlobal && t != AttnLocal {
			return "", fmt.Errorf("transformer: attn_types[%d] is %q, not %q or %q", i, t, AttnGlobal, AttnLocal)
		}
	}
	return AttnTypes(strings.Join(types, ",")), nil
}

// List returns the entries in block order (nil for the empty list).
func (a AttnTypes) List() []string {
	if a == "" {
		return nil
	}
	return strings.Split(string(a), ",")
}

// Local reports whether block l's entry is AttnLocal (false when l is out
// of range).
func (a AttnTypes) Local(l int) bool {
	rest := string(a)
	for i := 0; rest != ""; i++ { // without allocating: the forward pass asks per block
		var t string
		t, rest, _ = strings.Cut(rest, ",")
		if i == l {
			return t == AttnLocal
		}
	}
	return false
}

// MarshalJSON writes the list as a JSON array of strings.
func (a AttnTypes) MarshalJSON() ([]byte, error) {
	list := a.List()
	if list == nil {
		list = []string{}
	}
	return json.Marshal(list)
}

// UnmarshalJSON reads a JSON array of "global"/"local" strings; null leaves
// a unchanged.
func (a *AttnTypes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("attn_types: want a list of %q and %q: %w", AttnGlobal, AttnLocal, err)
	}
	t, err := NewAttnTypes(list...)
	if err != nil {
		return err
	}
	*a = t
	return nil
}

// readUseAttnScale applies TransformerLens's use_attn_scale of the JSON
// object b to c: false means no scaling (divisor 1, whatever attn_scale
// says); true or absent leaves attn_scale as read. It refuses an
// attn_scale that is neither positive nor TransformerLens's -1 (the
// default, √d_head).
func readUseAttnScale(b []byte, c *Config) error {
	var f struct {
		Use   *bool    `json:"use_attn_scale"`
		Scale *float64 `json:"attn_scale"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("field \"use_attn_scale\": %w", err)
	}
	if f.Scale != nil && *f.Scale <= 0 && *f.Scale != -1 {
		return fmt.Errorf("field \"attn_scale\": %g is not positive (-1 means the default, sqrt(d_head))", *f.Scale)
	}
	if f.Use != nil && !*f.Use {
		c.AttnScale = 1
	}
	return nil
}

// anyBool accepts a boolean.
func anyBool(v any, _ Config) error {
	if _, ok := v.(bool); !ok {
		return fmt.Errorf("want a boolean, got %s", jsonText(v))
	}
	return nil
}

// scaledOtherwise reports whether attention scores are divided by
// something other than √d_head (attn_scale set to another value; 0 means
// the default).
func (c Config) scaledOtherwise() bool {
	return c.AttnScale > 0 && c.AttnScale != math.Sqrt(float64(c.DHead))
}

// customAttn reports whether block l's attention differs from the causal
// softmax(q·k/√d_head) of the fused kernel.
func (c Config) customAttn(l int) bool {
	return c.scaledOtherwise() || (c.ScaleAttnByInverseLayerIdx && l > 0) || c.localAttn(l)
}

// localAttn reports whether block l has local attention.
func (c Config) localAttn(l int) bool { return c.UseLocalAttn && c.AttnTypes.Local(l) }

// attnDivisor returns what block l divides q·k by.
func (c Config) attnDivisor(l int) float64 {
	s := c.AttnScale
	if s <= 0 {
		s = math.Sqrt(float64(c.DHead))
	}
	if c.ScaleAttnByInverseLayerIdx {
		s *= float64(l + 1)
	}
	return s
}

// attnFeatures lists the attention variants of c that only the forward
// pass implements, by config field name.
func (c Config) attnFeatures() []string {
	var f []string
	if c.scaledOtherwise() {
		f = append(f, fmt.Sprintf("attn_scale %g (use_attn_scale false is 1)", c.AttnScale))
	}
	if c.ScaleAttnByInverseLayerIdx {
		f = append(f, "scale_attn_by_inverse_layer_idx")
	}
	if c.UseLocalAttn {
		f = append(f, "use_local_attn")
	}
	return f
}

// attnErrors reports the problems with c's attention variant fields.
func (c Config) attnErrors() []error {
	var errs []error
	if math.IsNaN(c.AttnScale) || math.IsInf(c.AttnScale, 0) {
		errs = append(errs, fmt.Errorf("attn_scale must be finite, got %g", c.AttnScale))
	}
	n := len(c.AttnTypes.List())
	switch {
	case c.UseLocalAttn && n != c.NLayers:
		errs = append(errs, fmt.Errorf("use_local_attn needs attn_types with one entry per layer (%d), got %d", c.NLayers, n))
	case !c.UseLocalAttn && n > 0:
		errs = append(errs, errors.New("attn_types needs use_local_attn true"))
	case !c.UseLocalAttn && c.WindowSize != 0:
		errs = append(errs, fmt.Errorf("window_size %d needs use_local_attn true", c.WindowSize))
	case c.UseLocalAttn && c.WindowSize < 1 && strings.Contains(string(c.AttnTypes), AttnLocal):
		errs = append(errs, fmt.Errorf("window_size must be positive for local attention, got %d", c.WindowSize))
	}
	return errs
}

// customScores writes block l's attention scores [batch, heads, pos, pos]
// from q and k [batch, pos, heads, d_head]: q·k / attnDivisor(l) where key
// j is visible to query i (j ≤ i, and i − window_size < j in a local
// block), −Inf elsewhere, as TransformerLens's hook_attn_scores.
func (w *Workspace) customScores(scores, q, k []float32, l int) {
	c := w.m.Cfg
	H, dh, T := c.NHeads, c.DHead, w.pos
	alpha := float32(1 / c.attnDivisor(l))
	window := T // every earlier key
	if c.localAttn(l) {
		window = c.WindowSize
	}
	ninf := float32(math.Inf(-1))
	for b := range w.batch {
		for h := range H {
			off, so := (b*T*H+h)*dh, (b*H+h)*T*T
			s := scores[so : so+T*T]
			tensor.Gemm(false, true, T, T, dh, alpha, q[off:], H*dh, k[off:], H*dh, 0, s, T)
			for i := range T {
				row := s[i*T : (i+1)*T]
				for j := range T {
					if j > i || j <= i-window {
						row[j] = ninf
					}
				}
			}
		}
	}
}
