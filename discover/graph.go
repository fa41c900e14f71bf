package discover

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// Kind is the kind of a node of the computational graph.
type Kind uint8

// The node kinds, in forward order.
const (
	Embed    Kind = iota // the token embedding, hook_embed
	PosEmbed             // the positional embedding, hook_pos_embed (standard positions only)
	Head                 // one attention head's output, its slice of hook_result
	MLP                  // one block's MLP output, hook_mlp_out
	Logits               // the unembedding's input: a receiver only
)

// Node is a node of the graph: a component that writes into the residual
// stream (a sender), or reads from it (a receiver: heads, MLPs, logits).
type Node struct {
	Kind  Kind
	Layer int // Head and MLP
	Head  int // Head
}

// String names the node as the CLI prints it: embed, pos_embed, L{l}H{h},
// MLP{l}, logits.
func (n Node) String() string {
	switch n.Kind {
	case Embed:
		return "embed"
	case PosEmbed:
		return "pos_embed"
	case Head:
		return fmt.Sprintf("L%dH%d", n.Layer, n.Head)
	case MLP:
		return fmt.Sprintf("MLP%d", n.Layer)
	}
	return "logits"
}

// Input is which input of a head a receiver is; the other receivers (MLPs,
// logits) have one input, NoInput.
type Input uint8

// A head reads the residual stream three times: for its queries, keys and
// values.
const (
	NoInput Input = iota
	Q
	K
	V
)

// Receiver is one input of a node: a head's q, k or v (under grouped-query
// attention, k and v belong to a key/value head, shared by its query
// group, and Node.Head counts key/value heads), an MLP's input, or the
// logits' (the final residual stream).
type Receiver struct {
	Node Node
	In   Input
}

// String names the receiver: L{l}H{h}.q|.k|.v, with KV in place of H for
// the key/value heads of a grouped-query model, MLP{l}, logits.
func (r Receiver) String() string { return r.label(false) }

func (r Receiver) label(grouped bool) string {
	if r.Node.Kind != Head {
		return r.Node.String()
	}
	h := "H"
	if grouped && r.In != Q {
		h = "KV"
	}
	return fmt.Sprintf("L%d%s%d.%s", r.Node.Layer, h, r.Node.Head, [...]string{"", "q", "k", "v"}[r.In])
}

// Edge is a sender's output as one receiver reads it.
type Edge struct {
	From Node
	To   Receiver
}

// Graph is the computational graph of a model: its senders, receivers and
// edges. Every sender upstream of a receiver has an edge to it: the
// embeddings into everything, a head into every receiver of later layers,
// its own layer's MLP (unless attention and MLP run in parallel) and the
// logits, an MLP into every receiver of later layers and the logits. The
// residual stream being a sum of the senders' outputs (and constant
// biases), an edge is exactly one term of its receiver's input.
type Graph struct {
	Senders   []Node
	Receivers []Receiver
	// Edges are ordered by receiver, in forward order, then by sender.
	Edges []Edge

	grouped  bool
	group    int // query heads per key/value head
	sender   map[Node]int
	receiver map[Receiver]int
	// into[r] are the indices of the edges into receiver r, from[s] of
	// those out of sender s.
	into, from [][]int
}

// NewGraph returns the graph of a model of config c. Shortformer models,
// whose attention reads W_pos beside the residual stream, and parallel
// blocks without normalization, whose MLP reads the residual stream with no
// point to intercept it apart from the attention, are refused.
func NewGraph(c transformer.Config) (*Graph, error) {
	c = c.WithDefaults()
	if c.PositionalEmbeddingType == transformer.PosShortformer {
		return nil, fmt.Errorf("discover: shortformer positions are not supported: their queries and keys read W_pos outside the residual stream")
	}
	if c.ParallelAttnMLP && !c.HasNorm() {
		return nil, fmt.Errorf("discover: parallel attention and MLP without normalization is not supported")
	}
	g := &Graph{grouped: c.NKeyValueHeads < c.NHeads, group: c.NHeads / c.NKeyValueHeads, sender: map[Node]int{}, receiver: map[Receiver]int{}}
	g.addSender(Node{Kind: Embed})
	if c.PositionalEmbeddingType == transformer.PosStandard {
		g.addSender(Node{Kind: PosEmbed})
	}
	for l := range c.NLayers {
		// Receivers of layer l read what the senders so far wrote.
		upstream := len(g.Senders)
		for _, in := range []Input{Q, K, V} {
			n := c.NHeads
			if in != Q {
				n = c.NKeyValueHeads
			}
			for h := range n {
				g.addReceiver(Receiver{Node: Node{Kind: Head, Layer: l, Head: h}, In: in}, upstream)
			}
		}
		for h := range c.NHeads {
			g.addSender(Node{Kind: Head, Layer: l, Head: h})
		}
		if c.HasMLP() {
			if c.ParallelAttnMLP {
				g.addReceiver(Receiver{Node: Node{Kind: MLP, Layer: l}}, upstream)
			} else {
				g.addReceiver(Receiver{Node: Node{Kind: MLP, Layer: l}}, len(g.Senders))
			}
			g.addSender(Node{Kind: MLP, Layer: l})
		}
	}
	g.addReceiver(Receiver{Node: Node{Kind: Logits}}, len(g.Senders))
	g.from = make([][]int, len(g.Senders))
	for i, e := range g.Edges {
		s := g.sender[e.From]
		g.from[s] = append(g.from[s], i)
	}
	return g, nil
}

func (g *Graph) addSender(n Node) {
	g.sender[n] = len(g.Senders)
	g.Senders = append(g.Senders, n)
}

// addReceiver adds r with an edge from each of the first upstream senders.
func (g *Graph) addReceiver(r Receiver, upstream int) {
	g.receiver[r] = len(g.Receivers)
	g.Receivers = append(g.Receivers, r)
	var into []int
	for _, s := range g.Senders[:upstream] {
		into = append(into, len(g.Edges))
		g.Edges = append(g.Edges, Edge{From: s, To: r})
	}
	g.into = append(g.into, into)
}

// ReceiverName names r as String does, with KV for the key/value heads of
// a grouped-query model.
func (g *Graph) ReceiverName(r Receiver) string { return r.label(g.grouped) }

// EdgeName names edge i "from->to".
func (g *Graph) EdgeName(i int) string {
	e := g.Edges[i]
	return e.From.String() + "->" + g.ReceiverName(e.To)
}

// Index returns the index of the edge named "from->to" (as EdgeName
// writes it), or an error naming the close matches.
func (g *Graph) Index(name string) (int, error) {
	for i := range g.Edges {
		if g.EdgeName(i) == name {
			return i, nil
		}
	}
	from, _, _ := strings.Cut(name, "->")
	var near []string
	for i, e := range g.Edges {
		if e.From.String() == from && len(near) < 5 {
			near = append(near, g.EdgeName(i))
		}
	}
	return 0, fmt.Errorf("discover: no edge %q in this graph (edges are named like %q)", name, strings.Join(near, ", "))
}

// Full returns a circuit holding every edge.
func (g *Graph) Full() []bool {
	keep := make([]bool, len(g.Edges))
	for i := range keep {
		keep[i] = true
	}
	return keep
}

// Top returns the circuit of the k edges of largest |score| (ties broken by
// edge order).
func (g *Graph) Top(scores []float64, k int) []bool {
	order := rankByMagnitude(scores)
	keep := make([]bool, len(g.Edges))
	for _, i := range order[:min(max(k, 0), len(order))] {
		keep[i] = true
	}
	return keep
}

// Ranked returns the edge indices by decreasing |score| (ties in edge
// order).
func Ranked(scores []float64) []int { return rankByMagnitude(scores) }

// rankByMagnitude returns the edge indices by decreasing |score|, stable.
func rankByMagnitude(scores []float64) []int {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := abs(scores[a]), abs(scores[b])
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	return order
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Reachable returns the circuit keep without its dangling edges: an edge
// into a receiver whose node has no kept path to the logits changes nothing
// the metric reads, so it is dropped (ACDC's clean-up).
func (g *Graph) Reachable(keep []bool) []bool {
	out := slices.Clone(keep)
	live := map[Node]bool{{Kind: Logits}: true}
	// From the logits backwards, a node is live once one of its kept edges
	// reaches a live receiver; every edge out of a node comes later in
	// forward order than the edges into it.
	for ri := len(g.Receivers) - 1; ri >= 0; ri-- {
		readerLive := g.readers(g.Receivers[ri], live)
		for _, e := range g.into[ri] {
			if !out[e] {
				continue
			}
			if !readerLive {
				out[e] = false
				continue
			}
			live[g.Edges[e].From] = true
		}
	}
	return out
}

// readers reports whether a node that reads receiver r is live: the node
// itself, or for a key/value head of a grouped model, any query head of its
// group.
func (g *Graph) readers(r Receiver, live map[Node]bool) bool {
	if r.Node.Kind != Head || r.In == Q || g.group == 1 {
		return live[r.Node]
	}
	for h := r.Node.Head * g.group; h < (r.Node.Head+1)*g.group; h++ {
		if live[Node{Kind: Head, Layer: r.Node.Layer, Head: h}] {
			return true
		}
	}
	return false
}
