package tokenizer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxTrainVocab is the largest vocabulary TrainBPE learns.
const MaxTrainVocab = 1 << 20

// TrainOptions are TrainBPE's options. The zero value reports nothing.
type TrainOptions struct {
	// Progress, when not nil, is called on the calling goroutine after
	// pre-tokenization and then every ProgressEvery merges and at the end.
	Progress func(TrainProgress)
	// ProgressEvery is the number of merges between Progress calls
	// (0: one call per percent of the merges).
	ProgressEvery int
	// AtMost lets the vocabulary stop short of vocabSize when the text has
	// no pair left to merge, instead of an error.
	AtMost bool
}

// TrainProgress says how far TrainBPE is.
type TrainProgress struct {
	Merges, Total int   // merges learned so far, merges to learn
	Words         int   // distinct pre-tokens in the text
	Count         int64 // occurrences of the last merged pair (0 before the first)
	// Tokens is the length of the text in tokens with the merges so far
	// (the text's bytes at first): what Encode gives with them.
	Tokens int64
}

// TrainBPE learns a byte-level BPE of exactly vocabSize tokens from text,
// as GPT-2's was learned (Sennrich et al. 2016; Radford et al. 2019): the
// text is cut by GPT-2's pre-tokenizer, the 256 bytes are tokens 0–255
// (id = byte value), and each merge joins the adjacent pair of tokens
// that occurs most often inside the pre-tokens, counted over the whole
// text; it becomes token 256 + its rank. Ties go to the pair with the
// smallest first id, then the smallest second id. A pair whose bytes are
// already a token (a string reachable by two merge orders) is never
// merged, so no token is made twice and encoding any pre-token of the
// text with the result gives exactly the training's segmentation of it.
//
// Pair counts are updated incrementally: each merge visits only the
// occurrences of the merged pair (kept per pair) and the heap of counts
// is corrected lazily. TrainBPE checks ctx between merges. It returns an
// error when vocabSize is below 256 or above MaxTrainVocab, or when the
// text has too few distinct pairs to reach vocabSize (unless opt.AtMost).
func TrainBPE(ctx context.Context, text []byte, vocabSize int, opt TrainOptions) (*Tokenizer, error) {
	if vocabSize < 256 || vocabSize > MaxTrainVocab {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d out of range [256, %d] (256 byte tokens plus the merges)", vocabSize, MaxTrainVocab)
	}
	if opt.ProgressEvery < 0 {
		return nil, fmt.Errorf("tokenizer: progress interval %d is negative", opt.ProgressEvery)
	}
	words, err := countWords(ctx, string(text))
	if err != nil {
		return nil, err
	}
	tr := newTrainer(words)
	total := vocabSize - 256
	every := opt.ProgressEvery
	if every == 0 {
		every = max(1, total/100)
	}
	report := func(n int, c int64) {
		if opt.Progress != nil {
			opt.Progress(TrainProgress{Merges: n, Total: total, Words: len(words), Count: c, Tokens: tr.tokens})
		}
	}
	report(0, 0)
	for len(tr.merges) < total {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("tokenizer: training stopped after %d of %d merges: %w", len(tr.merges), total, err)
		}
		p, c, ok := tr.best()
		if !ok && opt.AtMost {
			report(len(tr.merges), 0)
			break
		}
		if !ok {
			return nil, fmt.Errorf("tokenizer: the text has only %d mergeable pairs: a vocabulary of at most %d tokens, not %d", len(tr.merges), 256+len(tr.merges), vocabSize)
		}
		tr.merge(p)
		if n := len(tr.merges); n%every == 0 || n == total {
			report(n, c)
		}
	}
	return tr.tokenizer()
}

// wordCount is a distinct pre-token and how often it occurs.
type wordCount struct {
	word  string
	count int64
}

// countWords pre-tokenizes text with GPT-2's pattern and counts the
// pre-tokens, in a fixed (sorted) order.
func countWords(ctx context.Context, text string) ([]wordCount, error) {
	counts := map[string]int64{}
	next := 1 << 20 // check ctx every MiB
	for i := 0; i < len(text); {
		if i >= next {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("tokenizer: training stopped while pre-tokenizing: %w", err)
			}
			next += 1 << 20
		}
		j := splitGPT2(text, i)
		counts[text[i:j]]++
		i = j
	}
	words := make([]wordCount, 0, len(counts))
	for w, c := range counts {
		words = append(words, wordCount{w, c})
	}
	slices.SortFunc(words, func(a, b wordCount) int { return strings.Compare(a.word, b.word) })
	return words, nil
}

// trainer holds every distinct pre-token's symbols in one array, each word
// a doubly linked list of its live symbols, with the pair counts weighted
// by word counts and, per pair, the positions where it starts.
type trainer struct {
	sym        []int32 // symbol at each position; -1 once merged into its left neighbour
	next, prev []int32 // neighbours within the word, -1 at its ends
	wordOf     []int32 // word index of each position
	wordCount  []int64
	count      map[pair]int64
	where      map[pair][]int32 // positions where the pair may start (stale entries are skipped)
	heap       heapOf[pairCount]
	pieces     []string // id -> bytes
	known      map[string]bool
	merges     [][2]int32
	tokens     int64 // Σ word count × live symbols
}

func newTrainer(words []wordCount) *trainer {
	n := 0
	for _, w := range words {
		n += len(w.word)
	}
	tr := &trainer{
		sym: make([]int32, 0, n), next: make([]int32, 0, n), prev: make([]int32, 0, n), wordOf: make([]int32, 0, n),
		wordCount: make([]int64, len(words)),
		count:     map[pair]int64{}, where: map[pair][]int32{},
		pieces: make([]string, 256), known: make(map[string]bool, 256),
	}
	for b := range 256 {
		tr.pieces[b] = string([]byte{byte(b)})
		tr.known[tr.pieces[b]] = true
	}
	for k, w := range words {
		tr.wordCount[k] = w.count
		tr.tokens += w.count * int64(len(w.word))
		start := int32(len(tr.sym))
		for i := 0; i < len(w.word); i++ {
			p := start + int32(i)
			tr.sym = append(tr.sym, int32(w.word[i]))
			tr.wordOf = append(tr.wordOf, int32(k))
			tr.prev = append(tr.prev, p-1)
			tr.next = append(tr.next, p+1)
			if i > 0 {
				tr.add(pair{tr.sym[p-1], tr.sym[p]}, p-1, w.count)
			}
		}
		if len(w.word) > 0 {
			tr.prev[start] = -1
			tr.next[len(tr.next)-1] = -1
		}
	}
	tr.heap = make(heapOf[pairCount], 0, len(tr.count))
	for p, c := range tr.count {
		tr.heap = append(tr.heap, pairCount{p, c})
	}
	tr.heap.init()
	return tr
}

// add counts c occurrences of p starting at position at.
func (tr *trainer) add(p pair, at int32, c int64) {
	tr.count[p] += c
	tr.where[p] = append(tr.where[p], at)
}

// sub uncounts c occurrences of q, unless q is the pair being merged
// (whose count is gone).
func (tr *trainer) sub(q, merging pair, c int64) {
	if q != merging {
		tr.count[q] -= c
	}
}

// best pops the most frequent pair that may be merged.
func (tr *trainer) best() (pair, int64, bool) {
	for len(tr.heap) > 0 {
		top := tr.heap.pop()
		c := tr.count[top.p]
		switch {
		case c <= 0:
			delete(tr.count, top.p)
			delete(tr.where, top.p)
		case c != top.c: // stale: counts only fall between pushes
			tr.heap.push(pairCount{top.p, c})
		case tr.known[tr.pieces[top.p.a]+tr.pieces[top.p.b]]:
			// already a token by another merge order: never merged
			delete(tr.count, top.p)
			delete(tr.where, top.p)
		default:
			return top.p, c, true
		}
	}
	return pair{}, 0, false
}

// merge joins every occurrence of p, left to right within each word, into
// a new token, and updates the counts of the pairs around them.
func (tr *trainer) merge(p pair) {
	id := int32(len(tr.pieces))
	piece := tr.pieces[p.a] + tr.pieces[p.b]
	tr.pieces = append(tr.pieces, piece)
	tr.known[piece] = true
	tr.merges = append(tr.merges, [2]int32{p.a, p.b})
	at := tr.where[p]
	delete(tr.where, p)
	delete(tr.count, p)
	slices.Sort(at) // left to right, so that "aaa" becomes "(aa)a"
	at = slices.Compact(at)
	grown := map[pair]bool{}
	for _, i := range at {
		j := tr.next[i]
		if tr.sym[i] != p.a || j < 0 || tr.sym[j] != p.b {
			continue // stale, or already consumed by the merge to its left
		}
		c := tr.wordCount[tr.wordOf[i]]
		tr.tokens -= c
		if h := tr.prev[i]; h >= 0 {
			tr.sub(pair{tr.sym[h], p.a}, p, c)
			q := pair{tr.sym[h], id}
			tr.add(q, h, c)
			grown[q] = true
		}
		if k := tr.next[j]; k >= 0 {
			tr.sub(pair{p.b, tr.sym[k]}, p, c)
			q := pair{id, tr.sym[k]}
			tr.add(q, i, c)
			grown[q] = true
			tr.prev[k] = i
		}
		tr.sym[i] = id
		tr.next[i] = tr.next[j]
		tr.sym[j] = -1
	}
	// the new pairs hold the new token, so their counts only grew: push
	// them once each, in a fixed order
	qs := make([]pair, 0, len(grown))
	for q := range grown {
		qs = append(qs, q)
	}
	slices.SortFunc(qs, cmpPair)
	for _, q := range qs {
		if c := tr.count[q]; c > 0 {
			tr.heap.push(pairCount{q, c})
		}
	}
}

func cmpPair(x, y pair) int {
	if c := cmp.Compare(x.a, y.a); c != 0 {
		return c
	}
	return cmp.Compare(x.b, y.b)
}

// tokenizer builds the learned tokenizer.
func (tr *trainer) tokenizer() (*Tokenizer, error) {
	enc, _ := byteLevel()
	vocab := make(map[string]int, len(tr.pieces))
	for id, s := range tr.pieces {
		vocab[toByteLevel(s, &enc)] = id
	}
	merges := make([][2]string, len(tr.merges))
	for k, m := range tr.merges {
		merges[k] = [2]string{toByteLevel(tr.pieces[m[0]], &enc), toByteLevel(tr.pieces[m[1]], &enc)}
	}
	t, err := build(vocab, merges, nil)
	if err != nil {
		return nil, err
	}
	if len(t.pieces) != len(tr.pieces) {
		return nil, errors.New("tokenizer: internal error: the learned vocabulary has duplicate tokens")
	}
	t.split, t.pattern = splitGPT2, gpt2Pattern
	return t, nil
}

// toByteLevel writes raw bytes in GPT-2's byte-level alphabet.
func toByteLevel(s string, enc *[256]rune) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(enc[s[i]])
	}
	return b.String()
}

// pairCount is a heap entry: a pair and its count when pushed.
type pairCount struct {
	p pair
	c int64
}

// before orders the heap: higher count first, then the smaller pair.
func (x pairCount) before(y pairCount) bool {
	if x.c != y.c {
		return x.c > y.c
	}
	return cmpPair(x.p, y.p) < 0
}
