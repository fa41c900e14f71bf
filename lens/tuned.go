package lens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/transformer"
)

// Tuned is a tuned lens (Belrose et al. 2023, "Eliciting Latent Predictions
// from Transformers with the Tuned Lens"): for each point of Points(c) an
// affine translator
//
//	x ↦ x·W[i] + B[i]      W[i] [d_model, d_model], B[i] [d_model]
//
// applied to the residual before the logit lens's decoder (ln_final
// recomputed on the translated residual, then the unembedding). NewTuned
// starts every translator at the identity, where the tuned lens is the logit
// lens. The last point's translator is not trained (the final residual needs
// no translation) and stays the identity.
//
// W and B are views into one allocation. A Tuned is safe for concurrent
// reads; training writes it.
type Tuned struct {
	Labels []string    // Labels(c), one per translator
	W      [][]float32 // [point][d_model·d_model], row-major [d_model, d_model]
	B      [][]float32 // [point][d_model]
	DModel int
}

// MetadataKind is the value of the "lens" metadata entry in a tuned lens's
// safetensors file.
const MetadataKind = "tuned"

// NewTuned returns a tuned lens for models of config c with every
// translator at the identity (W = I, B = 0).
func NewTuned(c transformer.Config) *Tuned {
	labels := Labels(c)
	d := c.DModel
	n := len(labels)
	data := make([]float32, n*(d*d+d))
	t := &Tuned{Labels: labels, W: make([][]float32, n), B: make([][]float32, n), DModel: d}
	for i := range n {
		off := i * (d*d + d)
		t.W[i] = data[off : off+d*d : off+d*d]
		t.B[i] = data[off+d*d : off+d*d+d : off+d*d+d]
		for j := range d {
			t.W[i][j*d+j] = 1
		}
	}
	return t
}

// apply writes dst = x·W[i] + B[i] for rows residuals x [rows, d_model].
func (t *Tuned) apply(dst, x []float32, i, rows int) {
	nn.LinearForward(dst, x, t.W[i], t.B[i], rows, t.DModel, t.DModel)
}

// check reports whether t fits models of config c.
func (t *Tuned) check(c transformer.Config) error {
	if want := Labels(c); !slices.Equal(t.Labels, want) || t.DModel != c.DModel {
		return fmt.Errorf("lens: tuned lens for points %q (d_model %d) does not fit this model's points %q (d_model %d)", t.Labels, t.DModel, want, c.DModel)
	}
	return nil
}

// Evaluate runs the tuned lens on a batch of token sequences and returns one
// Stats per point, like Logit. It returns an error if t was made for another
// architecture or the tokens are invalid.
func (t *Tuned) Evaluate(ctx context.Context, m *transformer.Model, tokens [][]int, o Options) ([]Stats, error) {
	if err := t.check(m.Cfg); err != nil {
		return nil, err
	}
	return evaluate(ctx, m, tokens, t, o)
}

// tensorName returns the safetensors name of translator i's weight ("W")
// or bias ("b").
func tensorName(i int, part string) string { return "translators." + strconv.Itoa(i) + "." + part }

// Save writes t to path as safetensors, atomically: translators.{i}.W
// [d_model, d_model] and translators.{i}.b [d_model] for point i of Labels,
// with metadata "lens" = "tuned" and "labels" = the labels as a JSON array.
// extra metadata entries, if any, are added.
func (t *Tuned) Save(path string, extra map[string]string) error {
	d := t.DModel
	var ts []checkpoint.Tensor
	for i := range t.Labels {
		ts = append(ts,
			checkpoint.Tensor{Name: tensorName(i, "W"), Shape: []int{d, d}, Data: t.W[i]},
			checkpoint.Tensor{Name: tensorName(i, "b"), Shape: []int{d}, Data: t.B[i]})
	}
	labels, _ := json.Marshal(t.Labels)
	meta := map[string]string{}
	for k, v := range extra {
		meta[k] = v
	}
	meta["lens"], meta["labels"] = MetadataKind, string(labels)
	return checkpoint.WriteFile(path, ts, meta)
}

// LoadTuned reads a tuned lens saved by Save for models of config c. A file
// for other points or another d_model, or with missing, extra or mis-shaped
// tensors, is an error naming the problem.
func LoadTuned(path string, c transformer.Config) (*Tuned, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lens: %w", err)
	}
	defer f.Close()
	if f.Metadata["lens"] != MetadataKind {
		return nil, fmt.Errorf("lens: %s is not a tuned lens (metadata \"lens\" is %q, want %q)", path, f.Metadata["lens"], MetadataKind)
	}
	var labels []string
	if err := json.Unmarshal([]byte(f.Metadata["labels"]), &labels); err != nil {
		return nil, fmt.Errorf("lens: %s: metadata \"labels\": %w", path, err)
	}
	t := NewTuned(c)
	if !slices.Equal(labels, t.Labels) {
		return nil, fmt.Errorf("lens: %s holds translators for points %q, this model has %q", path, labels, t.Labels)
	}
	d := t.DModel
	var errs []error
	for i := range t.Labels {
		if err := f.Float32Into(t.W[i], tensorName(i, "W"), []int{d, d}); err != nil {
			errs = append(errs, err)
		}
		if err := f.Float32Into(t.B[i], tensorName(i, "b"), []int{d}); err != nil {
			errs = append(errs, err)
		}
	}
	if n := len(f.Tensors()); n != 2*len(t.Labels) {
		errs = append(errs, fmt.Errorf("%d tensors, want %d", n, 2*len(t.Labels)))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("lens: %s: %w", path, errors.Join(errs...))
	}
	return t, nil
}
