package web

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
)

// The text demo is the dashboard's first view: a small language model
// trained by `workbench train lm` on tinyshakespeare, with the tokenizer it
// was trained with. textdemo/ holds that run's model.safetensors,
// tokenizer.json, train.json, metrics.jsonl and summary.json, copied
// unchanged (textdemo/README.md gives the command); summary.json may be
// missing from a draft run's copy, and then the checkpoint's step counts.
// The run is shown as the model and the run called "shakespeare", beside
// the synthetic demo.
//
//go:embed textdemo
var textDemoFS embed.FS

// textDemoName is the text demo's model and run name.
const textDemoName = "shakespeare"

// textDemoExamples returns the Attention page's example lines for the text
// demo, the first prefilled: lines in Shakespeare's manner (written for
// Workbench) in which a name occurs twice, so that an induction head has a
// first occurrence to copy from.
func textDemoExamples() []string {
	return []string{
		"Go tell Mercutio the prince is come; Mercutio will know what to do.",
		"Good morrow, Petruchio. Is Petruchio within, or gone to Padua?",
		"Where is Benvolio? I saw Benvolio walking by the sycamore.",
		"My lord Bassanio, your friend Antonio is here; Antonio asks for Bassanio.",
	}
}

// Olsson et al. (2022)'s head-activation inputs, as circuits.OlssonTokens
// draws them: a block of olssonBlock random tokens repeated olssonRepeats
// times, here over the tokens of text (see bestInductionHead).
const (
	olssonBlock   = 25
	olssonRepeats = 4
	inductionSeqs = 16 // sequences the best induction head is chosen on
	inductionSeed = 16 // their seed
)

// headScore is a head and its score.
type headScore struct {
	Layer int     `json:"layer"`
	Head  int     `json:"head"`
	Label string  `json:"label"` // L{layer}H{head}
	Score float64 `json:"prefix_matching"`
}

// loadTextDemo parses the embedded text demo, attaches its tokenizer,
// describes its run and finds its best induction head. The files are part
// of the build, so failure is a programming error (TestTextDemo guards it).
func loadTextDemo(ctx context.Context) (*model, error) {
	dir, err := fs.Sub(textDemoFS, "textdemo")
	if err != nil {
		return nil, err
	}
	m, f, err := embeddedModel(dir, modelFile, textDemoName)
	if err != nil {
		return nil, err
	}
	tok, err := embeddedTokenizer(dir)
	if err != nil {
		return nil, fmt.Errorf("web: text demo: %w", err)
	}
	if n := tok.VocabSize(); n > m.m.Cfg.DVocab {
		return nil, fmt.Errorf("web: text demo: the tokenizer has %d tokens, more than the model's d_vocab %d", n, m.m.Cfg.DVocab)
	}
	m.tok, m.tokFiles = tok, tokenizerJSON
	if m.about, err = describeTextRun(dir, m.m.Cfg, tok, f.Metadata["step"]); err != nil {
		return nil, fmt.Errorf("web: text demo: %w", err)
	}
	m.examples = textDemoExamples()
	pool, err := textTokens(tok, m.examples)
	if err != nil {
		return nil, fmt.Errorf("web: text demo: %w", err)
	}
	best, err := bestInductionHead(ctx, m.m, pool)
	if err != nil {
		return nil, fmt.Errorf("web: text demo: %w", err)
	}
	m.inductionHead = &best
	return m, nil
}

// embeddedTokenizer loads dir's tokenizer.json.
func embeddedTokenizer(dir fs.FS) (*tokenizer.Tokenizer, error) {
	b, err := fs.ReadFile(dir, tokenizerJSON)
	if err != nil {
		return nil, err
	}
	return tokenizer.ParseJSON(b)
}

// describeTextRun says in a line what a train lm run's model is, from its
// train.json and summary.json (or, without one, the checkpoint's step):
// "2-layer attention-only byte-level model trained 8,000 steps on
// tinyshakespeare".
func describeTextRun(dir fs.FS, c transformer.Config, tok *tokenizer.Tokenizer, step string) (string, error) {
	b, err := fs.ReadFile(dir, trainFile)
	if err != nil {
		return "", err
	}
	var tc struct {
		Text      string `json:"text"`
		Tokenizer string `json:"tokenizer"`
		MLP       bool   `json:"mlp"`
	}
	if err := json.Unmarshal(b, &tc); err != nil {
		return "", fmt.Errorf("%s: %w", trainFile, err)
	}
	steps, err := strconv.Atoi(step)
	if err != nil {
		steps = 0
	}
	if b, err := fs.ReadFile(dir, summaryFile); err == nil {
		var s struct {
			Steps int `json:"steps"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return "", fmt.Errorf("%s: %w", summaryFile, err)
		}
		steps = s.Steps
	}
	if steps <= 0 {
		return "", fmt.Errorf("neither %s nor the checkpoint says how many steps it trained", summaryFile)
	}
	kind := "attention-only"
	if tc.MLP || !c.AttnOnly {
		kind = "transformer"
	}
	vocab := "byte-level"
	if tc.Tokenizer != "bytes" {
		vocab = fmt.Sprintf("BPE (%d tokens)", tok.VocabSize())
	}
	corpus := strings.TrimSuffix(filepath.Base(tc.Text), filepath.Ext(tc.Text))
	return fmt.Sprintf("%d-layer %s %s model trained %s steps on %s", c.NLayers, kind, vocab, thousands(steps), corpus), nil
}

// thousands writes n with a comma every three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// textTokens returns the distinct tokens of lines, in order of first
// occurrence: tokens that occur in text, to draw random sequences from.
func textTokens(tok *tokenizer.Tokenizer, lines []string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, l := range lines {
		enc, err := tok.Encode(l, tokenizer.Options{BOS: tokenizer.BOSNever})
		if err != nil {
			return nil, err
		}
		for _, id := range enc.IDs {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// bestInductionHead returns the head with the highest prefix-matching
// score (circuits.Patterns.PrefixMatching) on Olsson et al.'s inputs:
// inductionSeqs sequences of a block of random distinct tokens of pool
// (olssonBlock of them, fewer when pool or n_ctx is short) repeated
// olssonRepeats times. Tokens from text rather than the whole vocabulary:
// a byte-level model has never seen most bytes.
func bestInductionHead(ctx context.Context, m *transformer.Model, pool []int) (headScore, error) {
	length := min(olssonBlock, len(pool), m.Cfg.NCtx/olssonRepeats)
	rng := rand.New(rand.NewPCG(inductionSeed, inductionSeed))
	seqs, err := circuits.RepeatedTokens(rng, inductionSeqs, length, olssonRepeats, len(pool), nil)
	if err != nil {
		return headScore{}, err
	}
	for _, s := range seqs {
		for i, k := range s {
			s[i] = pool[k]
		}
	}
	p, err := circuits.RunPatterns(ctx, m, seqs)
	if err != nil {
		return headScore{}, err
	}
	pm, err := p.PrefixMatching()
	if err != nil {
		return headScore{}, err
	}
	best := headScore{Score: -1}
	for l, row := range pm {
		for h, v := range row {
			if v > best.Score {
				best = headScore{Layer: l, Head: h, Label: "L" + strconv.Itoa(l) + "H" + strconv.Itoa(h), Score: v}
			}
		}
	}
	return best, nil
}
