package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/discover"
	"github.com/mechinterp/workbench/patching"
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

// tokenBatch is a batch of token sequences in a request: [[1, 2], [3, 4]]
// (each row as tokenList reads it), or one sequence ([1, 2, 3] or
// "1 2 3").
type tokenBatch struct{ Rows []tokenList }

// UnmarshalJSON accepts an array of sequences or one sequence.
func (t *tokenBatch) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var rows []json.RawMessage
		if err := json.Unmarshal(b, &rows); err != nil {
			return err
		}
		if len(rows) > 0 {
			if r := bytes.TrimSpace(rows[0]); len(r) > 0 && (r[0] == '[' || r[0] == '"') {
				return json.Unmarshal(b, &t.Rows)
			}
		}
	}
	var one tokenList
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	t.Rows = []tokenList{one}
	return nil
}

// discoverInputs describe an experiment: the clean and corrupted batches
// (ids, or for a model with a tokenizer one prompt each, as the patching
// API takes them), the metric and the ablation.
type discoverInputs struct {
	Clean     tokenBatch `json:"clean"`
	Corrupted tokenBatch `json:"corrupted"`
	// Metric is logit-diff (answer − wrong logit at pos, the last by
	// default), loss (next-token loss of the clean batch) or kl (to the
	// full model's next-token distributions).
	Metric string `json:"metric"`
	Answer *int   `json:"answer,omitempty"`
	Wrong  *int   `json:"wrong,omitempty"`
	Pos    *int   `json:"pos,omitempty"`
	// Weights [batch][pos] select the positions loss and kl count
	// (positive weights); nil counts every position.
	Weights  [][]float32 `json:"weights,omitempty"`
	Ablation string      `json:"ablation,omitempty"` // corrupted (default), mean or zero

	CleanPrompt     string  `json:"clean_prompt,omitempty"`
	CorruptedPrompt string  `json:"corrupted_prompt,omitempty"`
	BOS             string  `json:"bos,omitempty"`
	AnswerText      *string `json:"answer_text,omitempty"`
	WrongText       *string `json:"wrong_text,omitempty"`
}

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
	e, tokens, err := in.experiment(ctx, m)
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
		if work := len(g.Edges) * tokens; work > maxACDCWork {
			return errorf(http.StatusBadRequest, "web: acdc would run %d forward passes of %d tokens, more than the %d edge-tokens this server allows: use fewer or shorter sequences, or eap", len(g.Edges), tokens, maxACDCWork)
		}
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

// ablation is the request's ablation name, corrupted by default.
func (in *discoverInputs) ablation() string {
	if in.Ablation == "" {
		return discover.Corrupted.String()
	}
	return in.Ablation
}

// experiment validates the inputs against m and runs the clean and
// corrupted batches: the experiment, and its batch × positions.
func (in *discoverInputs) experiment(ctx context.Context, m *model) (*discover.Experiment, int, error) {
	abl, err := discover.ParseAblation(in.ablation())
	if err != nil {
		return nil, 0, badRequest(err)
	}
	if err := in.textInputs(m); err != nil {
		return nil, 0, err
	}
	clean, err := in.Clean.resolve("clean", m)
	if err != nil {
		return nil, 0, err
	}
	corrupted, err := in.Corrupted.resolve("corrupted", m)
	if err != nil {
		return nil, 0, err
	}
	if len(clean) != len(corrupted) || len(clean[0]) != len(corrupted[0]) {
		return nil, 0, errorf(http.StatusBadRequest, "web: the clean batch is %d×%d tokens and the corrupted %d×%d: their shapes must match, as an edge carries its corrupted value position by position",
			len(clean), len(clean[0]), len(corrupted), len(corrupted[0]))
	}
	batch, pos := len(clean), len(clean[0])
	g, err := discover.NewGraph(m.m.Cfg)
	if err != nil {
		return nil, 0, errorf(http.StatusUnprocessableEntity, "web: model %q: %v", m.name, err)
	}
	if f := (len(g.Senders) + len(g.Receivers)) * batch * pos * m.m.Cfg.DModel; f > maxDiscoverFloats {
		return nil, 0, errorf(http.StatusBadRequest, "web: %d×%d tokens on this model's %d nodes would hold %d floats, more than the %d this server allows: use fewer or shorter sequences",
			batch, pos, len(g.Senders)+len(g.Receivers), f, maxDiscoverFloats)
	}
	if err := checkPositionWeights(in.Weights, batch, pos); err != nil {
		return nil, 0, err
	}
	var metric patching.Metric
	switch in.Metric {
	case "logit-diff":
		if in.Answer == nil || in.Wrong == nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: metric logit-diff needs \"answer\" and \"wrong\" token ids (or answer_text and wrong_text)")
		}
		if in.Weights != nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: weights apply to the loss and kl metrics; logit-diff reads one position, pos")
		}
		p := patching.Last
		if in.Pos != nil {
			p = *in.Pos
		}
		metric = patching.LogitDiff{Answer: []int{*in.Answer}, Wrong: []int{*in.Wrong}, Pos: p}
	case "loss", "kl":
		if in.Answer != nil || in.Wrong != nil || in.Pos != nil {
			return nil, 0, errorf(http.StatusBadRequest, "web: answer, wrong and pos apply to metric logit-diff only")
		}
		if in.Metric == "loss" {
			metric = discover.LossOn(clean, in.Weights)
		} else if metric, err = discover.NewKL(ctx, m.m, clean, in.Weights); err != nil {
			return nil, 0, inputErr(ctx, err)
		}
	default:
		return nil, 0, errorf(http.StatusBadRequest, "web: unknown metric %q (want logit-diff, loss or kl)", in.Metric)
	}
	e, err := discover.New(ctx, m.m, clean, corrupted, metric, abl)
	if err != nil {
		return nil, 0, inputErr(ctx, err)
	}
	return e, batch * pos, nil
}

// textInputs resolves the prompts and answer strings as the patching API
// does: a prompt stands for a batch of one sequence.
func (in *discoverInputs) textInputs(m *model) error {
	p := patchRequest{CleanPrompt: in.CleanPrompt, CorruptedPrompt: in.CorruptedPrompt, BOS: in.BOS,
		Answer: in.Answer, Wrong: in.Wrong, AnswerText: in.AnswerText, WrongText: in.WrongText}
	for _, b := range []struct {
		what   string
		rows   *tokenBatch
		single *tokenList
	}{{"clean", &in.Clean, &p.Clean}, {"corrupted", &in.Corrupted, &p.Corrupted}} {
		switch len(b.rows.Rows) {
		case 0:
		case 1:
			*b.single = b.rows.Rows[0]
		default:
			if in.CleanPrompt != "" || in.CorruptedPrompt != "" {
				return errorf(http.StatusBadRequest, "web: give %s or %s_prompt, not both", b.what, b.what)
			}
		}
	}
	if err := p.textInputs(m); err != nil {
		return err
	}
	if in.CleanPrompt != "" {
		in.Clean.Rows = []tokenList{p.Clean}
	}
	if in.CorruptedPrompt != "" {
		in.Corrupted.Rows = []tokenList{p.Corrupted}
	}
	in.Answer, in.Wrong = p.Answer, p.Wrong
	return nil
}

// resolve returns the batch's sequences, each checked against m, within
// the bounds of a discovery request.
func (t tokenBatch) resolve(what string, m *model) ([][]int, error) {
	switch n := len(t.Rows); {
	case n == 0:
		return nil, errorf(http.StatusBadRequest, "web: %s: no sequences (give \"%s\": [[ids], ...] or, for a model with a tokenizer, \"%s_prompt\")", what, what, what)
	case n > maxDiscoverSeqs:
		return nil, errorf(http.StatusBadRequest, "web: %s: %d sequences, more than the %d this server runs", what, n, maxDiscoverSeqs)
	}
	out := make([][]int, len(t.Rows))
	total := 0
	for i, row := range t.Rows {
		name := what
		if len(t.Rows) > 1 {
			name = fmt.Sprintf("%s[%d]", what, i)
		}
		toks, _, err := row.resolve(name, m)
		if err != nil {
			return nil, err
		}
		if i > 0 && len(toks) != len(out[0]) {
			return nil, errorf(http.StatusBadRequest, "web: %s has %d tokens and %s[0] %d: the sequences of a batch must have equal lengths", name, len(toks), what, len(out[0]))
		}
		if total += len(toks); total > maxDiscoverTokens {
			return nil, errorf(http.StatusBadRequest, "web: %s: more than %d tokens, the most this server runs", what, maxDiscoverTokens)
		}
		out[i] = toks
	}
	return out, nil
}

// checkPositionWeights checks weights [batch][pos]: finite, non-negative.
func checkPositionWeights(w [][]float32, batch, pos int) error {
	if w == nil {
		return nil
	}
	if len(w) != batch {
		return errorf(http.StatusBadRequest, "web: weights for %d sequences, the batch has %d", len(w), batch)
	}
	for b, row := range w {
		if len(row) != pos {
			return errorf(http.StatusBadRequest, "web: weights[%d] has %d positions, the sequences %d", b, len(row), pos)
		}
		for _, x := range row {
			if x < 0 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return errorf(http.StatusBadRequest, "web: weight %g in weights[%d]: weights are finite and non-negative", x, b)
			}
		}
	}
	return nil
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
	e, _, err := in.experiment(ctx, modelFrom(r))
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
