package gan

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mechinterp/workbench/data"
)

// ParseMixture returns the named 2-D mixture: "ring" (data.Ring8: 8 modes,
// σ 0.02) or "grid" (data.Grid25: 25 modes, σ 0.05), case-insensitively.
func ParseMixture(name string) (data.Mixture, error) {
	switch strings.ToLower(name) {
	case "ring":
		return data.Ring8(), nil
	case "grid":
		return data.Grid25(), nil
	}
	return data.Mixture{}, fmt.Errorf("gan: unknown mixture %q (want ring or grid)", name)
}

// MixtureRun is an MLP GAN training run on a 2-D Gaussian mixture
// (`workbench train gan2d`).
type MixtureRun struct {
	Mixture string       // "ring" or "grid" (ParseMixture)
	Train   TrainOptions // start from DefaultMixtureOptions; Train.Seed also seeds the model and the metrics
	// Vanishing adds the vanishing-gradient experiment on the untrained
	// generator (VanishingGradients with DefaultVanishingOptions).
	Vanishing bool
}

// MixtureResult is a mixture run's summary: the VEEGAN metrics of the
// trained generator and the run's facts.
type MixtureResult struct {
	MixtureMetrics
	Mixture     string          `json:"mixture"`
	Loss        string          `json:"loss"`
	Steps       int             `json:"steps"`
	Interrupted bool            `json:"interrupted"`
	Checkpoint  string          `json:"checkpoint"`
	Model       string          `json:"model"`
	Dir         string          `json:"dir"`
	Vanishing   []GradientPoint `json:"vanishing_gradient,omitempty"`
	// AlreadyFinished: a resume found the run complete, nothing was
	// trained or written.
	AlreadyFinished bool `json:"-"`
}

// RunMixture trains an MLP GAN (MLP(), seeded by o.Train.Seed) on the
// mixture through Train, logging the mode metrics every EvalEvery steps,
// and returns the VEEGAN metrics on VEEGANSamples samples. It writes the
// run folder o.Train.Dir (Train's files and model.safetensors). An
// interrupted run (ctx cancelled) returns with Interrupted set and no error.
func RunMixture(ctx context.Context, o MixtureRun) (MixtureResult, error) {
	mix, err := ParseMixture(o.Mixture)
	if err != nil {
		return MixtureResult{}, err
	}
	t := o.Train
	if err := t.Validate(); err != nil {
		return MixtureResult{}, err
	}
	cfg := MLP()
	cfg.Seed = t.Seed
	m, err := New(cfg)
	if err != nil {
		return MixtureResult{}, err
	}
	res := MixtureResult{Mixture: strings.ToLower(o.Mixture), Loss: t.Loss, Dir: t.Dir}
	if o.Vanishing {
		res.Vanishing, err = VanishingGradients(ctx, m, MixtureSource{Mixture: mix}, DefaultVanishingOptions(t.Seed))
		if err != nil {
			return MixtureResult{}, err
		}
	}
	t.LogEvery, t.EvalEvery = min(100, t.Steps), min(500, t.Steps)
	t.Eval = func(ctx context.Context, step int) (map[string]any, error) {
		mm, err := m.EvaluateMixture(ctx, mix, t.Seed)
		return map[string]any{"modes_captured": mm.ModesCaptured, "high_quality_fraction": mm.HighQualityFraction}, err
	}
	sum, err := Train(ctx, m, MixtureSource{Mixture: mix}, t)
	if err != nil && !sum.Interrupted {
		return MixtureResult{}, err
	}
	if sum.AlreadyFinished {
		res.Steps, res.Checkpoint, res.AlreadyFinished = sum.Steps, sum.Checkpoint, true
		return res, nil
	}
	if res.MixtureMetrics, err = m.EvaluateMixture(context.WithoutCancel(ctx), mix, t.Seed); err != nil {
		return MixtureResult{}, err
	}
	res.Steps, res.Interrupted, res.Checkpoint = sum.Steps, sum.Interrupted, sum.Checkpoint
	res.Model = filepath.Join(t.Dir, "model.safetensors")
	if err := m.Save(res.Model, map[string]string{"loss": t.Loss, "mixture": res.Mixture}); err != nil {
		return MixtureResult{}, err
	}
	return res, nil
}
