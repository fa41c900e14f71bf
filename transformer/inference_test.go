package transformer

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/workers"
)

// parConfig is large enough that every part of Forward is split: products
// above tensor's split threshold, LayerNorm and GELU above parMinElems.
func parConfig(norm, act string) Config {
	return Config{NLayers: 3, DModel: 128, NHeads: 4, DHead: 32, DMLP: 512, DVocab: 700, NCtx: 64,
		NormalizationType: norm, ActFn: act, Seed: 5}
}

// TestInferenceWorkspaceMatches checks that a workspace with a two-worker
// runner and shared block activations gives the logits, and the cached
// activations, of a plain workspace bit for bit, with and without hooks,
// on LayerNorm and RMSNorm models (d_head 32 and 16: both attention
// paths). go test -race runs the split parts concurrently.
func TestInferenceWorkspaceMatches(t *testing.T) {
	const batch, pos = 4, 64
	pool := workers.New(2)
	defer pool.Close()
	ctx := context.Background()
	rms16 := parConfig(NormRMS, ActReLU)
	rms16.NHeads, rms16.DHead = 8, 16
	for name, cfg := range map[string]Config{"ln_gelu_new": parConfig(NormLN, ActGELUNew), "rms_relu_dhead16": rms16} {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		toks := toyBatch(batch, pos, cfg.DVocab)
		cached := []hooks.Name{hooks.Pattern(0), hooks.MLPPost(1), hooks.ResidPost(2), hooks.LN1Normalized(2)}
		want := m.NewWorkspace(batch, pos)
		hsW, cacheW := hooks.Capture(hooks.Names(cached...))
		if err := want.Forward(ctx, toks, hsW); err != nil {
			t.Fatal(err)
		}
		for _, o := range []WorkspaceOptions{{Runner: pool}, {Inference: true}, {Runner: pool, Inference: true}} {
			got := m.NewWorkspaceWith(batch, pos, o)
			for _, withHooks := range []bool{false, true} {
				clear(got.act.logits.Data)
				var hs *hooks.Set
				var cache *hooks.Cache
				if withHooks {
					hs, cache = hooks.Capture(hooks.Names(cached...))
				}
				if err := got.Forward(ctx, toks, hs); err != nil {
					t.Fatal(err)
				}
				where := name + ", " + optionsString(o)
				if withHooks {
					where += ", caching"
					if cache.Len() != len(cached) {
						t.Errorf("%s: cache holds %d activations, want %d", where, cache.Len(), len(cached))
					}
					for _, n := range cached {
						a, _ := cache.Get(n)
						b, _ := cacheW.Get(n)
						sameBits(t, where+" "+string(n), a.Data, b.Data)
					}
				}
				sameBits(t, where+" logits", got.Logits().Data, want.Logits().Data)
			}
		}
	}
}

func optionsString(o WorkspaceOptions) string {
	s := "runner=none"
	if o.Runner != nil {
		s = "runner=2 workers"
	}
	if o.Inference {
		s += ", inference"
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: [%d] = %v, single-threaded per-block workspace %v", what, i, got[i], want[i])
			return
		}
	}
}

// TestInferenceWorkspaceRefusesBackward checks that an inference workspace
// returns an error from Backward and BackwardFrom (its block activations
// are overwritten by later blocks), hides earlier blocks' activations from
// Act and Pattern, and still computes a loss.
func TestInferenceWorkspaceRefusesBackward(t *testing.T) {
	cfg := variants()["ln_gelu"]
	m, _ := New(cfg)
	rng := rand.New(rand.NewPCG(2, 2))
	const batch, pos = 2, 5
	flat, _, _, err := m.CheckTokens(randTokens(rng, batch, pos, cfg.DVocab))
	if err != nil {
		t.Fatal(err)
	}
	ws := m.NewWorkspaceWith(batch, pos, WorkspaceOptions{Inference: true})
	if err := ws.Forward(context.Background(), flat, nil); err != nil {
		t.Fatal(err)
	}
	targets, weights := NextTokenTargets(flat, batch, pos)
	if loss := ws.Loss(targets, weights); !(loss > 0) {
		t.Errorf("loss %v, want > 0", loss)
	}
	g := m.NewGrads()
	if err := ws.Backward(g, nil); !errors.Is(err, errInference) {
		t.Errorf("Backward: got error %v, want %v", err, errInference)
	}
	if err := ws.BackwardFrom(make([]float32, len(ws.Logits().Data)), g, nil); !errors.Is(err, errInference) {
		t.Errorf("BackwardFrom: got error %v, want %v", err, errInference)
	}
	if _, ok := ws.Act(hooks.Pattern(0)); ok {
		t.Errorf("Act(%s) on an inference workspace: found, want hidden (overwritten by block 1)", hooks.Pattern(0))
	}
	if _, ok := ws.Act(hooks.ResidPost(0)); !ok {
		t.Errorf("Act(%s) on an inference workspace: hidden, want found (the residual stream is kept)", hooks.ResidPost(0))
	}
	if _, ok := ws.Act(hooks.Pattern(1)); !ok {
		t.Errorf("Act(%s) on an inference workspace: hidden, want found (the last block)", hooks.Pattern(1))
	}
	if ws.Pattern(0) != nil || ws.Pattern(1) == nil {
		t.Errorf("Pattern(0), Pattern(1) = %v, %v: want nil, the last block's", ws.Pattern(0) != nil, ws.Pattern(1) != nil)
	}
}

// TestParallelForwardAllocatesNothing checks that a forward pass on a
// workspace with a runner allocates nothing once laid out, and that the
// runner got work.
func TestParallelForwardAllocatesNothing(t *testing.T) {
	const batch, pos = 4, 64
	m, _ := New(parConfig(NormLN, ActGELUNew))
	pool := workers.New(2)
	defer pool.Close()
	cr := &countingRunner{r: pool}
	ws := m.NewWorkspaceWith(batch, pos, WorkspaceOptions{Runner: cr, Inference: true})
	toks := toyBatch(batch, pos, m.Cfg.DVocab)
	ctx := context.Background()
	fwd := func() {
		if err := ws.Forward(ctx, toks, nil); err != nil {
			t.Fatal(err)
		}
	}
	fwd()
	if a := testing.AllocsPerRun(5, fwd); a != 0 {
		t.Errorf("a forward pass with a runner allocates %v times", a)
	}
	// Per block: q, k, v, attention, W_O, ln1, ln2, W_in, activation, W_out;
	// then ln_final and the unembedding.
	if want := 6 * (10*m.Cfg.NLayers + 2); cr.runs < want {
		t.Errorf("6 forward passes handed the runner %d calls, want at least %d", cr.runs, want)
	}
}

// countingRunner counts the calls to Run of the runner it wraps.
type countingRunner struct {
	r    *workers.Pool
	runs int
}

func (c *countingRunner) Workers() int { return c.r.Workers() }

func (c *countingRunner) Run(n int, task func(worker, i int)) {
	c.runs++
	c.r.Run(n, task)
}

// TestRunParallel checks that Model.Run and Model.Loss on a pass large
// enough for a pool (runParallelWork) give a plain workspace's logits and
// loss bit for bit, and that their helpers are gone when they return.
func TestRunParallel(t *testing.T) {
	cfg := parConfig(NormLN, ActGELUNew)
	cfg.DVocab = 2000
	m, _ := New(cfg)
	const batch, pos = 16, 64
	if work := batch * pos * len(m.P.Data()); work < runParallelWork {
		t.Fatalf("test pass of %d token-parameters is below runParallelWork %d", work, runParallelWork)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	toks := randTokens(rng, batch, pos, cfg.DVocab)
	flat, _, _, err := m.CheckTokens(toks)
	if err != nil {
		t.Fatal(err)
	}
	ws := m.NewWorkspace(batch, pos)
	if err := ws.Forward(context.Background(), flat, nil); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	got, err := m.Run(context.Background(), toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "Run logits", got.Data, ws.Logits().Data)
	loss, err := m.Loss(context.Background(), toks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := ws.Loss(NextTokenTargets(flat, batch, pos)); loss != want {
		t.Errorf("Loss = %v, per-block workspace %v", loss, want)
	}
	for range 100 { // an exiting goroutine may take a moment to be counted out
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Run, %d before", n, before)
	}
}

// TestBackwardSplitMatches: a workspace whose products run on a pool
// gives the serial workspace's gradients bit for bit — parameters and
// activations — on every variant and on a GPT-2-sized unembedding split by
// columns (the splitter only cuts products it finds large enough).
func TestBackwardSplitMatches(t *testing.T) {
	pool := workers.New(2)
	defer pool.Close()
	cfgs := variants()
	cfgs["wide"] = Config{NLayers: 1, DModel: 64, NHeads: 2, DHead: 32, DMLP: 256, DVocab: 4000, NCtx: 64, NormalizationType: NormLN, Seed: 1}
	cfgs["wide_tied"] = Config{NLayers: 1, DModel: 64, NHeads: 2, DHead: 32, DMLP: 256, DVocab: 4000, NCtx: 64, NormalizationType: NormLN, TiedEmbeddings: true, Seed: 1}
	for name, c := range cfgs {
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 3)
		const B, T = 4, 48
		pos := min(T, m.Cfg.NCtx)
		rng := rand.New(rand.NewPCG(1, 2))
		toks := make([]int32, B*pos)
		for i := range toks {
			toks[i] = int32(rng.IntN(min(m.Cfg.DVocab, m.Cfg.DVocabOut)))
		}
		dl := make([]float32, B*pos*m.Cfg.DVocabOut)
		for i := range dl {
			dl[i] = float32(rng.NormFloat64())
		}
		run := func(ws *Workspace) *Params {
			g := m.NewGrads()
			if err := ws.Forward(context.Background(), slices.Clone(toks), nil); err != nil {
				t.Fatal(err)
			}
			if err := ws.BackwardFrom(dl, g, nil); err != nil {
				t.Fatal(err)
			}
			return g
		}
		serial, split := m.NewWorkspace(B, pos), m.NewWorkspaceWith(B, pos, WorkspaceOptions{Runner: pool})
		gs, gp := run(serial), run(split)
		if !slices.Equal(gs.Data(), gp.Data()) {
			t.Errorf("%s: parameter gradients differ between the serial and the split backward pass", name)
		}
		for _, n := range []hooks.Name{hooks.ResidPre(0), hooks.Q(0)} {
			a, _ := serial.Grad(n)
			b, _ := split.Grad(n)
			if a == nil || b == nil || !slices.Equal(a.Data, b.Data) {
				t.Errorf("%s: %s gradients differ", name, n)
			}
		}
	}
}
