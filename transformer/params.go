package transformer

import (
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Params holds every parameter of a model (or, with the same layout, every
// gradient) as views into one allocation. Matrices multiply row vectors on
// the right. Internal layouts are chosen for speed; the TransformerLens
// layouts appear in checkpoints and in the per-head accessors:
//
//	WE    [d_vocab, d_model]       WPos [n_ctx, d_model]
//	WQ/WK/WV [d_model, n_heads·d_head]   (TransformerLens: [n_heads, d_model, d_head];
//	         WK/WV have n_key_value_heads heads, named attn._W_K/_W_V when fewer, as TransformerLens)
//	BQ/BK/BV [n_heads·d_head]            (TransformerLens: [n_heads, d_head])
//	WO    [n_heads·d_head, d_model]       (TransformerLens: [n_heads, d_head, d_model], same memory)
//	WIn [d_model, d_mlp]  WOut [d_mlp, d_model]  WU [d_model, d_vocab_out]
//
// Slices of absent parameters (no LayerNorm, attention-only, tied W_U) are nil.
type Params struct {
	Blocks   []BlockParams
	WE, WPos []float32
	LNFinalW []float32
	LNFinalB []float32
	WU, BU   []float32
	arena    *nn.Params // the one allocation, with TransformerLens names
	data     []float32  // arena.Data()
}

// BlockParams are one block's parameters.
type BlockParams struct {
	LN1W, LN1B []float32
	WQ, BQ     []float32
	WK, BK     []float32
	WV, BV     []float32
	WO, BO     []float32
	LN2W, LN2B []float32
	WIn, BIn   []float32
	WGate      []float32 // gated MLP only, [d_model, d_mlp]
	WOut, BOut []float32
}

// Data returns the single backing slice of all parameters, in layout order.
func (p *Params) Data() []float32 { return p.data }

// layout of a parameter in memory relative to its TransformerLens shape.
type layout int

const (
	plain   layout = iota // same as TransformerLens
	headsIn               // TL [H, d, dh] stored as [d, H·dh]
)

// paramSpec describes one parameter: TransformerLens name and shape, how it
// is stored, how it is initialised, and whether weight decay applies.
type paramSpec struct {
	name   string
	shape  []int // TransformerLens shape
	layout layout
	init   byte // 'n' normal(0, init range), '0' zeros, '1' ones
	decay  bool
	ptr    func(p *Params) *[]float32
}

func (s paramSpec) numel() int { return tensor.Numel(s.shape) }

// paramSpecs lists the model's parameters in storage order, with
// TransformerLens state-dict names.
func (c Config) paramSpecs() []paramSpec {
	d, H, dh, V, Vo := c.DModel, c.NHeads, c.DHead, c.DVocab, c.DVocabOut
	Hkv, kv := H, "attn."
	if c.grouped() {
		Hkv, kv = c.NKeyValueHeads, "attn._"
	}
	var ss []paramSpec
	add := func(name string, shape []int, lay layout, init byte, decay bool, ptr func(p *Params) *[]float32) {
		ss = append(ss, paramSpec{name, shape, lay, init, decay, ptr})
	}
	add("embed.W_E", []int{V, d}, plain, 'n', true, func(p *Params) *[]float32 { return &p.WE })
	add("pos_embed.W_pos", []int{c.NCtx, d}, plain, 'n', true, func(p *Params) *[]float32 { return &p.WPos })
	for l := 0; l < c.NLayers; l++ {
		pre := "blocks." + itoa(l) + "."
		b := func(f func(bp *BlockParams) *[]float32) func(p *Params) *[]float32 {
			return func(p *Params) *[]float32 { return f(&p.Blocks[l]) }
		}
		if c.normHasWeight() {
			add(pre+"ln1.w", []int{d}, plain, '1', false, b(func(bp *BlockParams) *[]float32 { return &bp.LN1W }))
			if c.NormalizationType == NormLN {
				add(pre+"ln1.b", []int{d}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.LN1B }))
			}
		}
		add(pre+"attn.W_Q", []int{H, d, dh}, headsIn, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WQ }))
		add(pre+kv+"W_K", []int{Hkv, d, dh}, headsIn, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WK }))
		add(pre+kv+"W_V", []int{Hkv, d, dh}, headsIn, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WV }))
		add(pre+"attn.W_O", []int{H, dh, d}, plain, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WO }))
		add(pre+"attn.b_Q", []int{H, dh}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BQ }))
		add(pre+kv+"b_K", []int{Hkv, dh}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BK }))
		add(pre+kv+"b_V", []int{Hkv, dh}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BV }))
		add(pre+"attn.b_O", []int{d}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BO }))
		if c.HasMLP() {
			if c.normHasWeight() {
				add(pre+"ln2.w", []int{d}, plain, '1', false, b(func(bp *BlockParams) *[]float32 { return &bp.LN2W }))
				if c.NormalizationType == NormLN {
					add(pre+"ln2.b", []int{d}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.LN2B }))
				}
			}
			add(pre+"mlp.W_in", []int{d, c.DMLP}, plain, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WIn }))
			if c.GatedMLP {
				add(pre+"mlp.W_gate", []int{d, c.DMLP}, plain, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WGate }))
			}
			add(pre+"mlp.b_in", []int{c.DMLP}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BIn }))
			add(pre+"mlp.W_out", []int{c.DMLP, d}, plain, 'n', true, b(func(bp *BlockParams) *[]float32 { return &bp.WOut }))
			add(pre+"mlp.b_out", []int{d}, plain, '0', false, b(func(bp *BlockParams) *[]float32 { return &bp.BOut }))
		}
	}
	if c.normHasWeight() {
		add("ln_final.w", []int{d}, plain, '1', false, func(p *Params) *[]float32 { return &p.LNFinalW })
		if c.NormalizationType == NormLN {
			add("ln_final.b", []int{d}, plain, '0', false, func(p *Params) *[]float32 { return &p.LNFinalB })
		}
	}
	if !c.TiedEmbeddings {
		add("unembed.W_U", []int{d, Vo}, plain, 'n', true, func(p *Params) *[]float32 { return &p.WU })
	}
	add("unembed.b_U", []int{Vo}, plain, '0', false, func(p *Params) *[]float32 { return &p.BU })
	return ss
}

// newParams lays out zeroed parameters for c in one nn.Params arena and
// points the named fields at their views.
func newParams(c Config) *Params {
	specs := c.paramSpecs()
	arena := make([]nn.ParamSpec, len(specs))
	for i, s := range specs {
		arena[i] = s.arenaSpec(c)
	}
	p := &Params{Blocks: make([]BlockParams, c.NLayers), arena: nn.NewParams(arena)}
	p.data = p.arena.Data()
	for i, s := range specs {
		*s.ptr(p) = p.arena.View(i)
	}
	return p
}

// arenaSpec returns s as an nn.ParamSpec: TransformerLens's initialisation
// (weight matrices normal(0, InitRange), biases 0, norm gains 1) and, for
// W_Q, W_K and W_V, the layout conversion.
func (s paramSpec) arenaSpec(c Config) nn.ParamSpec {
	out := nn.ParamSpec{Name: s.name, Shape: s.shape, Decay: s.decay}
	switch s.init {
	case 'n':
		out.Init = nn.Normal(0, c.InitRange)
	case '1':
		out.Init = nn.Ones()
	}
	if s.layout == headsIn {
		out.Layout = headsInLayout{H: s.shape[0], d: s.shape[1], dh: s.shape[2]}
	}
	return out
}

// initParams fills p with TransformerLens's default initialisation, from
// c.Seed.
func initParams(c Config, p *Params) {
	p.arena.Init(rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)))
}

// headsInLayout stores a TransformerLens [H, d, dh] tensor as [d, H·dh].
type headsInLayout struct{ H, d, dh int }

// ToDict copies from the internal layout into TransformerLens's.
func (l headsInLayout) ToDict(dst, src []float32) {
	for h := 0; h < l.H; h++ {
		for i := 0; i < l.d; i++ {
			copy(dst[(h*l.d+i)*l.dh:][:l.dh], src[i*l.H*l.dh+h*l.dh:][:l.dh])
		}
	}
}

// FromDict copies from TransformerLens's layout into the internal one.
func (l headsInLayout) FromDict(dst, src []float32) {
	for h := 0; h < l.H; h++ {
		for i := 0; i < l.d; i++ {
			copy(dst[i*l.H*l.dh+h*l.dh:][:l.dh], src[(h*l.d+i)*l.dh:][:l.dh])
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// ParamView is one parameter and its gradient as flat views in Workbench's
// internal layout, with its TransformerLens name and whether weight decay
// applies (weight matrices and embeddings: yes; biases and norm gains: no).
type ParamView struct {
	Name       string
	Data, Grad []float32
	Decay      bool
}

// ParamViews returns every parameter of m beside its gradient in g.
func (m *Model) ParamViews(g *Params) []ParamView {
	specs := m.Cfg.paramSpecs()
	out := make([]ParamView, len(specs))
	for i, s := range specs {
		out[i] = ParamView{Name: s.name, Data: *s.ptr(m.P), Grad: *s.ptr(g), Decay: s.decay}
	}
	return out
}
