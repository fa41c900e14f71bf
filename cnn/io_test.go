package cnn

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
)

func TestSaveLoad(t *testing.T) {
	for name, c := range tinyConfigs() {
		m := mustNew(t, c)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range m.Buffers.Data() {
			m.Buffers.Data()[i] = rng.Float32()
		}
		path := filepath.Join(t.TempDir(), name+".safetensors")
		if err := m.Save(path, map[string]string{"note": "test"}); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got.P.Data(), m.P.Data()) || !slices.Equal(got.Buffers.Data(), m.Buffers.Data()) {
			t.Errorf("%s: round trip changed the tensors", name)
		}
		if !bytes.Equal(got.Cfg.JSON(), m.Cfg.JSON()) {
			t.Errorf("%s: config %s, want %s", name, got.Cfg.JSON(), m.Cfg.JSON())
		}
	}
}

func TestStateDictNames(t *testing.T) {
	m := mustNew(t, Classifier())
	var got []string
	for _, s := range m.StateDict() {
		got = append(got, s.Name+fmtInts(s.Shape))
	}
	want := []string{
		"conv1.weight[16 1 3 3]", "bn1.weight[16]", "bn1.bias[16]",
		"conv2.weight[32 16 3 3]", "bn2.weight[32]", "bn2.bias[32]",
		"fc.weight[10 1568]", "fc.bias[10]",
		"bn1.running_mean[16]", "bn1.running_var[16]", "bn2.running_mean[32]", "bn2.running_var[32]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("state dict\n got %v\nwant %v", got, want)
	}
	r := mustNew(t, ResNet(BlockBottleneck, 1, 1))
	if _, shape, ok := r.P.Get("layer2.0.downsample.0.weight"); !ok || !slices.Equal(shape, []int{128, 64, 1, 1}) {
		t.Errorf("layer2.0.downsample.0.weight: %v %v, want [128 64 1 1]", shape, ok)
	}
	decay := map[string]bool{}
	for _, p := range m.P.List() {
		decay[p.Name] = p.Decay
	}
	if !decay["conv1.weight"] || !decay["fc.weight"] || decay["bn1.weight"] || decay["fc.bias"] {
		t.Errorf("weight decay flags %v", decay)
	}
}

func TestLoadMismatch(t *testing.T) {
	m := mustNew(t, Classifier())
	sd := m.StateDict()
	meta := map[string]string{ConfigMetadataKey: string(m.Cfg.JSON())}
	write := func(ts []checkpoint.Tensor, meta map[string]string) string {
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := checkpoint.WriteFile(path, ts, meta); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// PyTorch's BatchNorm counters and optimizer state are ignored.
	extra := append(slices.Clone(sd), checkpoint.Tensor{Name: "bn1.num_batches_tracked", Shape: []int{}, Data: []float32{3}},
		checkpoint.Tensor{Name: "optim/sgd.momentum/fc.bias", Shape: []int{10}, Data: make([]float32, 10)})
	if _, err := Load(write(extra, meta)); err != nil {
		t.Errorf("extra buffers: %v", err)
	}
	tests := []struct {
		name string
		ts   []checkpoint.Tensor
		meta map[string]string
		want string
	}{
		{"missing", sd[1:], meta, `missing tensor "conv1.weight"`},
		{"reshaped", append([]checkpoint.Tensor{{Name: "conv1.weight", Shape: []int{16, 9}, Data: sd[0].Data}}, sd[1:]...), meta, "want shape [16 1 3 3]"},
		{"unexpected", append(slices.Clone(sd), checkpoint.Tensor{Name: "conv3.weight", Shape: []int{1}, Data: []float32{1}}), meta, `unexpected tensor "conv3.weight"`},
		{"no config", sd, nil, "not a CNN checkpoint"},
		{"bad config", sd, map[string]string{ConfigMetadataKey: `{"arch":"vgg","in_channels":1,"in_height":28,"in_width":28,"n_classes":10}`}, `unknown arch "vgg"`},
	}
	for _, tt := range tests {
		_, err := Load(write(tt.ts, tt.meta))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := []Config{Classifier(), ResNet(BlockBasic, 3, 3, 3), Plain(BlockBottleneck, 1, 1, 1)}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.JSON(), err)
		}
		back, err := ParseConfig(c.JSON())
		if err != nil || !bytes.Equal(back.JSON(), c.JSON()) {
			t.Errorf("ParseConfig(JSON()) = %s, %v", back.JSON(), err)
		}
	}
	mod := func(f func(c *Config)) Config {
		c := Classifier()
		f(&c)
		return c
	}
	res := func(f func(c *Config)) Config {
		c := ResNet(BlockBasic, 1, 1)
		f(&c)
		return c
	}
	bad := map[string]Config{
		"no channels":       mod(func(c *Config) { c.Channels = nil }),
		"zero channel":      mod(func(c *Config) { c.Channels = []int{16, 0} }),
		"too many poolings": mod(func(c *Config) { c.Channels = []int{1, 1, 1, 1, 1} }),
		"dropout 1":         mod(func(c *Config) { c.Dropout = 1 }),
		"no classes":        mod(func(c *Config) { c.NClasses = 0 }),
		"no image":          mod(func(c *Config) { c.InH = 0 }),
		"negative eps":      mod(func(c *Config) { c.BNEps = -1 }),
		"momentum 2":        mod(func(c *Config) { c.BNMomentum = 2 }),
		"unknown arch":      mod(func(c *Config) { c.Arch = "vgg" }),
		"unknown block":     res(func(c *Config) { c.Block = "dense" }),
		"no stages":         res(func(c *Config) { c.Stages = nil }),
		"empty stage":       res(func(c *Config) { c.Stages = []int{2, 0} }),
		"resnet dropout":    res(func(c *Config) { c.Dropout = 0.5 }),
		"too wide":          res(func(c *Config) { c.Width = MaxWidth }),
	}
	for name, c := range bad {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "cnn: config: ") {
			t.Errorf("%s: Validate() = %v, want a cnn: config error", name, err)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := ParseConfig([]byte("{")); err == nil {
		t.Error("ParseConfig accepted broken JSON")
	}
}

func TestRunAndEvaluateErrors(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"])
	if _, err := m.Run(ctx, nil, nil); err == nil {
		t.Error("Run(nil) succeeded")
	}
	x, y := randomBatch(m, rand.New(rand.NewPCG(1, 1)), 5)
	if _, _, err := m.Evaluate(ctx, x[1:], y, 2, 2); err == nil {
		t.Error("Evaluate with short images succeeded")
	}
	if _, _, err := m.Evaluate(ctx, x, y, 0, 2); err == nil {
		t.Error("Evaluate with batch 0 succeeded")
	}
	// Evaluate in chunks agrees with one pass.
	l1, a1, err := m.Evaluate(ctx, x, y, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	l2, a2, err := m.Evaluate(ctx, x, y, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a1 != a2 || relDiff(l1, l2) > 1e-6 {
		t.Errorf("Evaluate in one batch: %v, %v; in batches of 2: %v, %v", l1, a1, l2, a2)
	}
	ws := m.NewWorkspace(5)
	if err := ws.Forward(ctx, x, Pass{Train: true}, nil); err == nil {
		t.Error("a training pass through dropout without an RNG succeeded")
	}
	if err := ws.UpdateRunningStats(); err == nil {
		t.Error("UpdateRunningStats after no training pass succeeded")
	}
}

func relDiff(a, b float64) float64 {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d / max(1, a, -a)
}
