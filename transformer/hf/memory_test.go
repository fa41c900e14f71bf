//go:build !race

// The race detector multiplies memory several times over: the peak-RSS
// bound is measured without it.

package hf

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// memChildEnv names the environment variable that makes the test binary
// load the folder it names and print its peak RSS instead of running tests
// (TestMain), so that the measurement sees one load in a fresh process.
const memChildEnv = "WORKBENCH_HF_PEAK_RSS_CHILD"

// maxLoadRSSRatio is the bound of issue 13: peak RSS while loading at most
// 1.5× the float32 weights (the whole process, runtime included).
const maxLoadRSSRatio = 1.5

func TestMain(m *testing.M) {
	if dir := os.Getenv(memChildEnv); dir != "" {
		os.Exit(peakRSSChild(dir))
	}
	os.Exit(m.Run())
}

// peakRSSChild loads dir and prints "params N vmhwm_kb K".
func peakRSSChild(dir string) int {
	m, err := Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("params %d vmhwm_kb %s\n", m.Cfg.NumParams(), strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "no VmHWM in /proc/self/status")
	return 1
}

// writeRandomGPT2Folder writes a GPT-2-shaped folder (d_model 768, 12
// heads, vocabulary 50,257, 1,024 positions, tied embeddings, nLayers
// blocks) of random F32 weights, streaming them to disk, and returns the
// number of parameters.
func writeRandomGPT2Folder(t *testing.T, dir string, nLayers int) int {
	t.Helper()
	const d, V, P = 768, 50257, 1024
	cfg := fmt.Sprintf(`{"model_type": "gpt2", "n_layer": %d, "n_embd": %d, "n_head": 12, "vocab_size": %d, "n_positions": %d, "activation_function": "gelu_new"}`, nLayers, d, V, P)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		name  string
		shape []int
	}
	entries := []entry{{"transformer.wte.weight", []int{V, d}}, {"transformer.wpe.weight", []int{P, d}}}
	for l := range nLayers {
		p := "transformer.h." + strconv.Itoa(l) + "."
		entries = append(entries,
			entry{p + "ln_1.weight", []int{d}}, entry{p + "ln_1.bias", []int{d}},
			entry{p + "attn.c_attn.weight", []int{d, 3 * d}}, entry{p + "attn.c_attn.bias", []int{3 * d}},
			entry{p + "attn.c_proj.weight", []int{d, d}}, entry{p + "attn.c_proj.bias", []int{d}},
			entry{p + "ln_2.weight", []int{d}}, entry{p + "ln_2.bias", []int{d}},
			entry{p + "mlp.c_fc.weight", []int{d, 4 * d}}, entry{p + "mlp.c_fc.bias", []int{4 * d}},
			entry{p + "mlp.c_proj.weight", []int{4 * d, d}}, entry{p + "mlp.c_proj.bias", []int{d}})
	}
	entries = append(entries, entry{"transformer.ln_f.weight", []int{d}}, entry{"transformer.ln_f.bias", []int{d}})
	header, off, total := map[string]any{}, 0, 0
	for _, e := range entries {
		n := 1
		for _, s := range e.shape {
			n *= s
		}
		header[e.name] = map[string]any{"dtype": "F32", "shape": e.shape, "data_offsets": []int{off, off + 4*n}}
		off += 4 * n
		total += n
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	binary.Write(w, binary.LittleEndian, uint64(len(h)))
	w.Write(h)
	rng := rand.New(rand.NewPCG(1, 2))
	var b [4]byte
	for range total {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(rng.NormFloat64()*0.02)))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return total
}

// TestLoadPeakRSS loads a ~214 MB GPT-2-shaped folder (2 blocks, whose
// embedding is most of the weights) in a fresh process and checks that its
// peak resident memory (VmHWM) stays within maxLoadRSSRatio of the float32
// weights: the loader streams each tensor into the model's parameters
// instead of holding a second copy.
func TestLoadPeakRSS(t *testing.T) {
	dir := t.TempDir()
	params := writeRandomGPT2Folder(t, dir, 2)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), memChildEnv+"="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var gotParams, kb int
	if _, err := fmt.Sscanf(string(out), "params %d vmhwm_kb %d", &gotParams, &kb); err != nil {
		t.Fatalf("child printed %q: %v", out, err)
	}
	if gotParams != params+50257 { // and unembed.b_U, zero
		t.Fatalf("child loaded %d parameters, the folder holds %d", gotParams, params)
	}
	weights := 4 * float64(params)
	ratio := float64(kb) * 1024 / weights
	t.Logf("float32 weights %.1f MB, peak RSS while loading %.1f MB: %.2f×", weights/1e6, float64(kb)*1024/1e6, ratio)
	if ratio > maxLoadRSSRatio {
		t.Errorf("peak RSS %.2f× the float32 weights, want at most %.1f×", ratio, maxLoadRSSRatio)
	}
}
