//go:build linux && !race

// The race detector multiplies memory use: peak RSS is measured in
// ordinary builds only.

package transformer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/workers"
)

// rssChildEnv makes TestInferencePeakRSS, run as a child process, measure
// one forward pass (the value names the workspace kind) instead of
// spawning children.
const rssChildEnv = "WORKBENCH_RSS_CHILD"

// rssBarFactor is issue 13's memory bar scaled to any shape: GPT-2 small's
// forward at 8×128 tokens may peak at 1.5 GB, 1.75 times its float32
// weights (652 MB) plus logits (206 MB), the two buffers every forward
// must hold.
const rssBarFactor = 1.75

// rssConfig is GPT-2 small's depth with layers a third as wide and a
// third of its vocabulary: the activations of all 12 blocks at 8×128
// tokens (21 MB a block) weigh about what the weights and logits do
// (138 MB), as at full size (60 MB a block against 858 MB).
func rssConfig() Config {
	return Config{NLayers: 12, DModel: 256, NHeads: 4, DHead: 64, DMLP: 1024, DVocab: 16384, NCtx: 128,
		NormalizationType: NormLN, ActFn: ActGELUNew, Seed: 1}
}

// TestInferencePeakRSS measures, in child processes (peak RSS is per
// process), the memory a forward pass adds to a fresh process: an
// inference workspace on two workers, running once without hooks and once
// caching one activation (the cache holds only what it matches), stays
// under rssBarFactor × (weights + logits); a per-block workspace, which
// keeps every block's activations for Backward, does not (the bar is not
// vacuous).
func TestInferencePeakRSS(t *testing.T) {
	if kind := os.Getenv(rssChildEnv); kind != "" {
		rssChild(t, kind)
		return
	}
	cfg := rssConfig().WithDefaults()
	const batch, pos = 8, 128
	weights := int64(len(newParams(cfg).Data())) * 4
	logits := int64(batch*pos*cfg.DVocabOut) * 4
	bar := int64(rssBarFactor * float64(weights+logits))
	for _, kind := range []string{"inference", "per-block"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestInferencePeakRSS$", "-test.count", "1")
		cmd.Env = append(os.Environ(), rssChildEnv+"="+kind)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", kind, err, out)
		}
		var base, peak int64
		if _, err := fmt.Sscanf(string(out[strings.Index(string(out), "rss "):]), "rss %d %d", &base, &peak); err != nil {
			t.Fatalf("%s child: no measurement in its output: %v\n%s", kind, err, out)
		}
		added := peak - base
		t.Logf("%s: forward added %.1f MB of peak RSS (weights %.1f MB, logits %.1f MB, bar %.1f MB)", kind, mb(added), mb(weights), mb(logits), mb(bar))
		switch {
		case kind == "inference" && added > bar:
			t.Errorf("inference forward added %.1f MB of peak RSS, over the bar of %.1f MB", mb(added), mb(bar))
		case kind == "per-block" && added <= bar:
			t.Errorf("per-block forward added %.1f MB of peak RSS, under the bar of %.1f MB: the bar does not measure what it should", mb(added), mb(bar))
		}
	}
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// rssChild runs the measured forward passes and prints "rss BASE PEAK" in
// bytes: the resident set before the model was made and the peak after.
func rssChild(t *testing.T, kind string) {
	base := procStatusBytes(t, "VmRSS")
	m, err := New(rssConfig())
	if err != nil {
		t.Fatal(err)
	}
	const batch, pos = 8, 128
	pool := workers.New(2)
	defer pool.Close()
	var ws *Workspace // only one is made: a discarded one could be reused, and touched, by the allocator
	if kind == "inference" {
		ws = m.NewWorkspaceWith(batch, pos, WorkspaceOptions{Runner: pool, Inference: true})
	} else {
		ws = m.NewWorkspace(batch, pos)
	}
	toks := toyBatch(batch, pos, m.Cfg.DVocab)
	ctx := context.Background()
	if err := ws.Forward(ctx, toks, nil); err != nil {
		t.Fatal(err)
	}
	hs, cache := hooks.Capture(hooks.Names(hooks.Pattern(5)))
	if err := ws.Forward(ctx, toks, hs); err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d activations, want 1", cache.Len())
	}
	fmt.Printf("rss %d %d\n", base, procStatusBytes(t, "VmHWM"))
}

// procStatusBytes reads a "kB" field of /proc/self/status in bytes.
func procStatusBytes(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/self/status %s: %v", field, err)
		}
		return kb * 1024
	}
	t.Fatalf("/proc/self/status has no %s", field)
	return 0
}
