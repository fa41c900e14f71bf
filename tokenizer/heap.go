package tokenizer

// longWord is the length from which bpe merges with a heap: the plain
// loop rescans the word after every merge (quadratic), the heap pops the
// lowest-rank pair, leftmost first, in O(log n) — the same order, so the
// same tokens.
const longWord = 48

type cand struct {
	rank, pos int32 // the pair starting at node pos
	a, b      int32 // its ids when pushed, to drop stale entries
}

func (x cand) before(y cand) bool { return x.rank < y.rank || x.rank == y.rank && x.pos < y.pos }

// ordered is an element of a heap: before says it pops first.
type ordered[T any] interface{ before(T) bool }

// heapOf is a binary heap whose top is the element before all others.
type heapOf[T ordered[T]] []T

// init orders a heap filled by append.
func (h heapOf[T]) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h heapOf[T]) down(i int) {
	n := len(h)
	for {
		l, m := 2*i+1, i
		if l < n && h[l].before(h[m]) {
			m = l
		}
		if l+1 < n && h[l+1].before(h[m]) {
			m = l + 1
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *heapOf[T]) push(x T) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *heapOf[T]) pop() T {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return top
}

// bpeHeap is bpe for long words.
func (t *Tokenizer) bpeHeap(word string) []int32 {
	id := make([]int32, len(word))
	for i := range len(word) {
		id[i] = t.byteID[word[i]]
	}
	out, _ := mergeHeap(id, t.merges)
	return out
}

// mergeHeap applies merges to the symbols id (which it overwrites),
// lowest rank first and leftmost first among equal ranks, with the
// symbols in a linked list and the candidate pairs in a heap. It returns
// the merged ids and, for each, the index in id of its first symbol.
func mergeHeap(id []int32, merges map[pair]merge) (out, first []int32) {
	n := len(id)
	if n == 0 {
		return nil, nil
	}
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	h := heapOf[cand](make([]cand, 0, n))
	try := func(p int32) {
		if p < 0 || next[p] < 0 {
			return
		}
		if m, ok := merges[pair{id[p], id[next[p]]}]; ok {
			h.push(cand{m.rank, p, id[p], id[next[p]]})
		}
	}
	for i := range int32(n - 1) {
		try(i)
	}
	for len(h) > 0 {
		c := h.pop()
		q := next[c.pos]
		if q < 0 || id[c.pos] != c.a || id[q] != c.b || id[c.pos] < 0 {
			continue
		}
		id[c.pos] = merges[pair{c.a, c.b}].id
		// unlink q
		id[q] = -1
		next[c.pos] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = c.pos
		}
		try(prev[c.pos])
		try(c.pos)
	}
	out = make([]int32, 0, n/3+1)
	first = make([]int32, 0, n/3+1)
	for p := int32(0); p >= 0; p = next[p] {
		out = append(out, id[p])
		first = append(first, p)
	}
	return out, first
}
