package web

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/discover"
)

// discoverAPI is /api/models/{name}/discover: circuit discovery on the
// model's edge graph (package discover) by EAP, EAP-IG or ACDC, one edge's
// exact patching effect, and an induction example.
type discoverAPI struct{ log *slog.Logger }

// Routes returns the /discover router.
func (a *discoverAPI) Routes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", handle(a.log, a.discover))
	r.Post("/edge", handle(a.log, a.edge))
	r.Get("/example", handle(a.log, a.example))
	return r
}

// Bounds of a discovery request. An experiment keeps every sender's output
// on both batches, and EAP every receiver's input gradient: about (senders
// + receivers) × tokens × d_model floats each, bounded by
// maxDiscoverFloats. ACDC runs one forward pass per edge.
const (
	maxDiscoverSeqs    = 64
	maxDiscoverTokens  = 4096
	maxDiscoverFloats  = 1 << 25
	maxDiscoverSteps   = 50
	maxACDCWork        = 1 << 23 // edges × tokens
	maxDiscoverShown   = 5000    // edges returned, the highest |score| first
	defaultIGSteps     = 10
	defaultACDCTau     = 0.01
	faithfulnessTarget = 0.9
)

// discoverRequest is POST /discover: the inputs and the method.
type discoverRequest struct {
	discoverInputs
	Method string   `json:"method"` // eap, eap-ig or acdc
	Steps  *int     `json:"steps,omitempty"`
	Tau    *float64 `json:"tau,omitempty"`
}

// edgeRequest is POST /discover/edge: the inputs and one edge, named as
// the edges of POST /discover are ("L0H1->L1H2.k").
type edgeRequest struct {
	discoverInputs
	Edge string `json:"edge"`
}

// jsonFloat is a float64 written as null when JSON cannot hold it.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// discoverNode is one node of the graph, for drawing it.
type discoverNode struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // embed, pos_embed, head, mlp, logits
	Layer int    `json:"layer"`
	Head  int    `json:"head"`
}

// discoverEdge is one edge and its score; ToNode is the node the receiver
// belongs to (for a key/value head of a grouped model, the first query
// head of its group) and Input its q, k or v ("" for MLPs and logits).
type discoverEdge struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Score  jsonFloat `json:"score"`
	ToNode string    `json:"to_node"`
	Input  string    `json:"input"`
}

// discoverResponse is POST /discover.
type discoverResponse struct {
	Method   string         `json:"method"`
	Metric   string         `json:"metric"`
	Ablation string         `json:"ablation"`
	Nodes    []discoverNode `json:"nodes"`
	Edges    []discoverEdge `json:"edges"`
	// TotalEdges is the graph's size; Edges holds the maxDiscoverShown of
	// largest |score| when it is larger.
	TotalEdges int `json:"total_edges"`
	// Faithfulness is [edges kept, fraction of the full behaviour
	// recovered] for the top edges by |score|; Area and SizeAt are its
	// summary numbers (discover.Faithfulness).
	Faithfulness [][2]jsonFloat `json:"faithfulness"`
	Area         jsonFloat      `json:"faithfulness_area"`
	SizeAt       int            `json:"size_at"`
	Target       float64        `json:"target"`
	Full         jsonFloat      `json:"full"`
	Empty        jsonFloat      `json:"empty"`
	Kept         *int           `json:"kept,omitempty"` // ACDC: the circuit's edges
	Note         string         `json:"note,omitempty"`
	Tokens       int            `json:"tokens"` // batch × positions
}

func (a *discoverAPI) discover(w http.ResponseWriter, r *http.Request) error {
	var in discoverRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	steps, tau, err := in.methodOptions()
	if err != nil {
		return err
	}
	m := modelFrom(r)
	e, tokens, err := in.experiment(ctx, m, func(g *discover.Graph, tokens int) error {
		if work := len(g.Edges) * tokens; in.Method == "acdc" && work > maxACDCWork {
			return errorf(http.StatusBadRequest, "web: acdc would run %d forward passes of %d tokens, more than the %d edge-tokens this server allows: use fewer or shorter sequences, or eap", len(g.Edges), tokens, maxACDCWork)
		}
		return nil
	})
	if err != nil {
		return err
	}
	g := e.Graph()
	out := discoverResponse{Method: in.Method, Metric: e.Metric(), Ablation: in.ablation(), TotalEdges: len(g.Edges),
		Full: jsonFloat(e.Full()), Empty: jsonFloat(e.Empty()), Target: faithfulnessTarget, Tokens: tokens}
	var scores []float64
	switch in.Method {
	case "eap":
		scores, err = e.EAP(ctx)
		if in.Metric == "kl" {
			out.Note = "KL is at its minimum on the clean run, so its gradient there, and every EAP score, is 0: use loss or logit-diff, or EAP-IG or ACDC"
		}
	case "eap-ig":
		scores, err = e.EAPIG(ctx, steps)
	case "acdc":
		var res *discover.ACDCResult
		if res, err = e.ACDC(ctx, tau, nil); err == nil {
			scores = make([]float64, len(res.Keep))
			kept := 0
			for i, k := range res.Keep {
				if k { // kept edges rank first, by the cost their removal adds
					kept++
					scores[i] = math.Max(res.Delta[i], math.SmallestNonzeroFloat64)
				}
			}
			out.Kept = &kept
		}
	}
	if err != nil {
		return inputErr(ctx, err)
	}
	f, err := e.Faithfulness(ctx, scores, faithfulnessTarget, 0)
	if err != nil {
		return inputErr(ctx, err)
	}
	for _, p := range f.Curve {
		out.Faithfulness = append(out.Faithfulness, [2]jsonFloat{jsonFloat(p.Edges), jsonFloat(p.Fraction)})
	}
	out.Area, out.SizeAt = jsonFloat(f.Area), f.SizeAt
	out.Nodes, out.Edges = graphJSON(m, g, scores)
	return writeJSON(w, http.StatusOK, out)
}

// methodOptions validates the method and its options: steps for eap-ig
// (1 to maxDiscoverSteps), tau for acdc (≥ 0).
func (in *discoverRequest) methodOptions() (int, float64, error) {
	switch in.Method {
	case "eap", "eap-ig", "acdc":
	default:
		return 0, 0, errorf(http.StatusBadRequest, "web: unknown method %q (want eap, eap-ig or acdc)", in.Method)
	}
	if in.Steps != nil && in.Method != "eap-ig" {
		return 0, 0, errorf(http.StatusBadRequest, "web: steps applies to eap-ig only")
	}
	if in.Tau != nil && in.Method != "acdc" {
		return 0, 0, errorf(http.StatusBadRequest, "web: tau applies to acdc only")
	}
	steps, tau := defaultIGSteps, defaultACDCTau
	if in.Steps != nil {
		steps = *in.Steps
		if steps < 1 || steps > maxDiscoverSteps {
			return 0, 0, errorf(http.StatusBadRequest, "web: steps=%d: want 1 to %d", steps, maxDiscoverSteps)
		}
	}
	if in.Tau != nil {
		tau = *in.Tau
		if math.IsNaN(tau) || math.IsInf(tau, 0) || tau < 0 {
			return 0, 0, errorf(http.StatusBadRequest, "web: tau=%g: want a finite τ ≥ 0", tau)
		}
	}
	return steps, tau, nil
}

// graphJSON lists the graph's nodes in forward order and its edges by
// decreasing |score|, at most maxDiscoverShown.
func graphJSON(m *model, g *discover.Graph, scores []float64) ([]discoverNode, []discoverEdge) {
	kinds := [...]string{discover.Embed: "embed", discover.PosEmbed: "pos_embed", discover.Head: "head", discover.MLP: "mlp", discover.Logits: "logits"}
	var nodes []discoverNode
	for _, n := range append(append([]discover.Node(nil), g.Senders...), discover.Node{Kind: discover.Logits}) {
		nodes = append(nodes, discoverNode{Name: n.String(), Kind: kinds[n.Kind], Layer: n.Layer, Head: n.Head})
	}
	c := m.m.Cfg.WithDefaults()
	group := 1
	if c.NKeyValueHeads > 0 && c.NKeyValueHeads < c.NHeads {
		group = c.NHeads / c.NKeyValueHeads
	}
	var edges []discoverEdge
	for _, i := range discover.Ranked(scores) {
		if len(edges) == maxDiscoverShown {
			break
		}
		e := g.Edges[i]
		to := e.To.Node
		if to.Kind == discover.Head && e.To.In != discover.Q {
			to.Head *= group
		}
		edges = append(edges, discoverEdge{From: e.From.String(), To: g.ReceiverName(e.To), Score: jsonFloat(scores[i]),
			ToNode: to.String(), Input: [...]string{"", "q", "k", "v"}[e.To.In]})
	}
	return nodes, edges
}

// edgeResponse is POST /discover/edge: the metric with the edge alone
// ablated, the full model's, and the difference.
type edgeResponse struct {
	Edge   string    `json:"edge"`
	Metric jsonFloat `json:"metric"`
	Full   jsonFloat `json:"full"`
	Effect jsonFloat `json:"effect"`
}

func (a *discoverAPI) edge(w http.ResponseWriter, r *http.Request) error {
	var in edgeRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Edge == "" {
		return errorf(http.StatusBadRequest, "web: give the edge to ablate: \"edge\": \"FROM->TO\", as POST /discover names them")
	}
	ctx := r.Context()
	e, _, err := in.experiment(ctx, modelFrom(r), nil)
	if err != nil {
		return err
	}
	g := e.Graph()
	i, err := g.Index(in.Edge)
	if err != nil {
		return badRequest(err)
	}
	keep := g.Full()
	keep[i] = false
	v, err := e.Evaluate(ctx, keep)
	if err != nil {
		return inputErr(ctx, err)
	}
	return writeJSON(w, http.StatusOK, edgeResponse{Edge: in.Edge, Metric: jsonFloat(v), Full: jsonFloat(e.Full()), Effect: jsonFloat(v - e.Full())})
}

// discoverExample is an induction experiment ready to POST: batch clean
// sequences of the model's task (a random block, then its repeat), the
// corrupted ones other random sequences of the same task, and the loss
// counted on the repeats only, where induction predicts.
type discoverExample struct {
	Clean     [][]int     `json:"clean"`
	Corrupted [][]int     `json:"corrupted"`
	Weights   [][]float32 `json:"weights"`
	Metric    string      `json:"metric"`
	Method    string      `json:"method"`
	Ablation  string      `json:"ablation"`
	Note      string      `json:"note"`
}

// example draws a discovery example from the model's task: ?seed=S
// (the clean batch's; the corrupted batch's is S+1) and ?batch=N.
func (a *discoverAPI) example(w http.ResponseWriter, r *http.Request) error {
	m := modelFrom(r)
	if err := checkTask(m); err != nil {
		return err
	}
	q := r.URL.Query()
	seed, err := intParam(q, "seed", 1, 0, 1<<31)
	if err != nil {
		return err
	}
	n, err := intParam(q, "batch", 8, 1, maxDiscoverSeqs)
	if err != nil {
		return err
	}
	task := m.task
	if task.SeqLen()*n > maxDiscoverTokens {
		return errorf(http.StatusBadRequest, "web: batch=%d: %d sequences of %d tokens is more than %d tokens", n, n, task.SeqLen(), maxDiscoverTokens)
	}
	fill := func(s int) *data.Batch {
		b := data.NewBatch(n, task.SeqLen())
		task.FillFixed(b, rand.New(rand.NewPCG(uint64(s), uint64(s))))
		return b
	}
	clean, corrupted := fill(seed), fill(seed+1)
	weights := make([][]float32, n)
	for i := range weights {
		_, _, wt := clean.Seq(i)
		weights[i] = append([]float32(nil), wt...)
	}
	return writeJSON(w, http.StatusOK, discoverExample{Clean: clean.Rows(), Corrupted: corrupted.Rows(), Weights: weights,
		Metric: "loss", Method: "eap", Ablation: discover.Corrupted.String(),
		Note: fmt.Sprintf("%d sequences of %d random tokens and their repeat; the corrupted batch holds other random sequences; the loss counts the repeated half, which an induction circuit predicts", n, task.L)})
}
