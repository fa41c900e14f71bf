package hooks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Name is a hook point name, such as "blocks.0.attn.hook_pattern".
type Name string

// GradSuffix marks the gradient of an activation in a Cache.
const GradSuffix = "_grad"

// Grad returns the name under which a Cache stores the gradient of n.
func (n Name) Grad() Name { return n + GradSuffix }

// IsGrad reports whether n names a gradient (ends in "_grad").
func (n Name) IsGrad() bool { return strings.HasSuffix(string(n), GradSuffix) }

// Layer returns the block index of a "blocks.{l}." name, or -1.
func (n Name) Layer() int {
	rest, ok := strings.CutPrefix(string(n), "blocks.")
	if !ok {
		return -1
	}
	i := strings.IndexByte(rest, '.')
	if i < 0 {
		return -1
	}
	l, err := strconv.Atoi(rest[:i])
	if err != nil {
		return -1
	}
	return l
}

// Kind returns the name with any "blocks.{l}." prefix removed, for example
// "attn.hook_pattern" for "blocks.1.attn.hook_pattern".
func (n Name) Kind() string {
	if n.Layer() < 0 {
		return string(n)
	}
	s := strings.TrimPrefix(string(n), "blocks.")
	return s[strings.IndexByte(s, '.')+1:]
}

func block(l int, s string) Name { return Name("blocks." + strconv.Itoa(l) + "." + s) }

// Transformer hook points. Each documents its shape; see the package comment.

// Embed is the token embedding W_E[tokens], [batch, pos, d_model].
func Embed() Name { return "hook_embed" }

// PosEmbed is the positional embedding W_pos[:pos] broadcast over the batch, [batch, pos, d_model].
func PosEmbed() Name { return "hook_pos_embed" }

// ResidPre is block l's input residual stream, [batch, pos, d_model].
func ResidPre(l int) Name { return block(l, "hook_resid_pre") }

// ResidMid is block l's residual after attention, before the MLP (models with MLPs only), [batch, pos, d_model].
func ResidMid(l int) Name { return block(l, "hook_resid_mid") }

// ResidPost is block l's output residual stream, [batch, pos, d_model].
func ResidPost(l int) Name { return block(l, "hook_resid_post") }

// LN1Scale is the scale of block l's first LayerNorm, [batch, pos, 1].
func LN1Scale(l int) Name { return block(l, "ln1.hook_scale") }

// LN1Normalized is the output of block l's first LayerNorm, [batch, pos, d_model].
func LN1Normalized(l int) Name { return block(l, "ln1.hook_normalized") }

// LN2Scale is the scale of block l's second LayerNorm, [batch, pos, 1].
func LN2Scale(l int) Name { return block(l, "ln2.hook_scale") }

// LN2Normalized is the output of block l's second LayerNorm, [batch, pos, d_model].
func LN2Normalized(l int) Name { return block(l, "ln2.hook_normalized") }

// Q is block l's queries, [batch, pos, head, d_head].
func Q(l int) Name { return block(l, "attn.hook_q") }

// K is block l's keys, [batch, pos, kv_head, d_head] (kv_head = n_key_value_heads, n_heads unless grouped-query).
func K(l int) Name { return block(l, "attn.hook_k") }

// V is block l's values, [batch, pos, kv_head, d_head].
func V(l int) Name { return block(l, "attn.hook_v") }

// RotQ is block l's queries after the rotary position rotation (rotary models), [batch, pos, head, d_head].
func RotQ(l int) Name { return block(l, "attn.hook_rot_q") }

// RotK is block l's keys after the rotary position rotation (rotary models), [batch, pos, kv_head, d_head].
func RotK(l int) Name { return block(l, "attn.hook_rot_k") }

// Z is block l's attention-weighted values, [batch, pos, head, d_head].
func Z(l int) Name { return block(l, "attn.hook_z") }

// AttnScores is block l's scaled, masked attention scores (−Inf above the diagonal), [batch, head, query_pos, key_pos].
func AttnScores(l int) Name { return block(l, "attn.hook_attn_scores") }

// Pattern is block l's attention pattern (softmax of the scores), [batch, head, query_pos, key_pos].
func Pattern(l int) Name { return block(l, "attn.hook_pattern") }

// Result is each head's output z_h·W_O[h] without b_O, [batch, pos, head, d_model].
func Result(l int) Name { return block(l, "attn.hook_result") }

// AttnOut is block l's attention output (Σ_h result + b_O), [batch, pos, d_model].
func AttnOut(l int) Name { return block(l, "hook_attn_out") }

// MLPPre is block l's MLP pre-activation, [batch, pos, d_mlp].
func MLPPre(l int) Name { return block(l, "mlp.hook_pre") }

// MLPPreLinear is block l's gated-MLP linear branch x·W_in (gated MLPs; MLPPre is then x·W_gate), [batch, pos, d_mlp].
func MLPPreLinear(l int) Name { return block(l, "mlp.hook_pre_linear") }

// MLPPost is block l's MLP activation output, [batch, pos, d_mlp].
func MLPPost(l int) Name { return block(l, "mlp.hook_post") }

// MLPOut is block l's MLP output, [batch, pos, d_model].
func MLPOut(l int) Name { return block(l, "hook_mlp_out") }

// LNFinalScale is the final LayerNorm's scale, [batch, pos, 1].
func LNFinalScale() Name { return "ln_final.hook_scale" }

// LNFinalNormalized is the final LayerNorm's output, [batch, pos, d_model].
func LNFinalNormalized() Name { return "ln_final.hook_normalized" }

// UnembedOut is the logits, [batch, pos, d_vocab_out].
func UnembedOut() Name { return "unembed.hook_out" }

// Parse checks a hook name typed by a user against the points a model has
// (known). An unknown name is an error that lists the closest known names.
// A trailing "_grad" is accepted when the base name is known.
func Parse(s string, known []Name) (Name, error) {
	s = strings.TrimSpace(s)
	base := strings.TrimSuffix(s, GradSuffix)
	if slices.Contains(known, Name(base)) {
		return Name(s), nil
	}
	close := Closest(base, known, 3)
	if len(close) == 0 {
		return "", fmt.Errorf("hooks: unknown hook point %q", s)
	}
	q := make([]string, len(close))
	for i, c := range close {
		q[i] = strconv.Quote(string(c))
	}
	return "", fmt.Errorf("hooks: unknown hook point %q; did you mean %s?", s, strings.Join(q, ", "))
}

// Closest returns up to k names from known nearest to s by edit distance,
// nearest first, leaving out any farther than half of s's length.
func Closest(s string, known []Name, k int) []Name {
	type cand struct {
		n Name
		d int
	}
	var cs []cand
	for _, n := range known {
		if d := editDistance(s, string(n)); d <= max(3, len(s)/2) {
			cs = append(cs, cand{n, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	var out []Name
	for i := 0; i < len(cs) && i < k; i++ {
		out = append(out, cs[i].n)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
