package main

import (
	"math"
	"math/rand/v2"
)

// chain is a first-order Markov chain over V tokens: sequences start with a
// uniform token and each next token is drawn from row P[a] of the transition
// matrix. Its successor map σ is a single cycle through all V tokens, so
// a → σ(a) is likely while σ(a) → a (which would need σ(σ(a)) = a, a
// 2-cycle) is not: the bigram statistics are asymmetric by construction.
type chain struct {
	V     int
	Next  []int       // σ: the likely successor of each token
	P     [][]float64 // [V][V] transition probabilities, rows sum to 1
	rows  [][]float64 // cumulative rows, for sampling
	logP  [][]float64
	Alpha float64 // probability mass on the successor σ(a), before the noise
}

// newChain builds a chain over V ≥ 3 tokens: P[a] = α·δ_σ(a) + (1−α)·q_a with
// q_a the softmax of Gaussian logits of standard deviation spread.
func newChain(rng *rand.Rand, V int, alpha, spread float64) *chain {
	perm := rng.Perm(V)
	c := &chain{V: V, Next: make([]int, V), P: make([][]float64, V), rows: make([][]float64, V),
		logP: make([][]float64, V), Alpha: alpha}
	for i := range V {
		c.Next[perm[i]] = perm[(i+1)%V] // one cycle through every token
	}
	for a := range V {
		q := make([]float64, V)
		var sum float64
		for b := range q {
			q[b] = math.Exp(spread * rng.NormFloat64())
			sum += q[b]
		}
		c.P[a] = make([]float64, V)
		c.rows[a] = make([]float64, V)
		c.logP[a] = make([]float64, V)
		var cum float64
		for b := range V {
			c.P[a][b] = (1 - alpha) * q[b] / sum
			if b == c.Next[a] {
				c.P[a][b] += alpha
			}
		}
		for b := range V {
			cum += c.P[a][b]
			c.rows[a][b] = cum
			c.logP[a][b] = math.Log(c.P[a][b])
		}
		c.rows[a][V-1] = math.Inf(1)
	}
	return c
}

// fill writes batch sequences of length T into tokens [batch·T].
func (c *chain) fill(tokens []int32, batch, T int, rng *rand.Rand) {
	for s := range batch {
		a := rng.IntN(c.V)
		tokens[s*T] = int32(a)
		for t := 1; t < T; t++ {
			u := rng.Float64()
			row := c.rows[a]
			b := 0
			for u >= row[b] {
				b++
			}
			tokens[s*T+t] = int32(b)
			a = b
		}
	}
}

// pairWeights returns w[a][b], the probability that a scored position (one
// of the T−1 positions with a next token) holds a followed by b, for
// sequences of length T starting uniformly.
func (c *chain) pairWeights(T int) [][]float64 {
	mu := make([]float64, c.V)
	for a := range mu {
		mu[a] = 1 / float64(c.V)
	}
	w := make([][]float64, c.V)
	for a := range w {
		w[a] = make([]float64, c.V)
	}
	for range T - 1 {
		next := make([]float64, c.V)
		for a := range c.V {
			for b := range c.V {
				p := mu[a] * c.P[a][b]
				w[a][b] += p / float64(T-1)
				next[b] += p
			}
		}
		mu = next
	}
	return w
}

// entropyRate returns the exact mean next-token entropy, in nats, over the
// scored positions of sequences of length T: the loss of the true
// transition matrix, the floor no model can beat.
func (c *chain) entropyRate(T int) float64 {
	var h float64
	for a, row := range c.pairWeights(T) {
		for b, w := range row {
			h -= w * c.logP[a][b]
		}
	}
	return h
}

// region: symmetric

// bestSymmetric fits the best bigram table whose token-pair interaction is
// symmetric, logits L[a][b] = S[a][b] + c[b] with S = Sᵀ (c is the output
// bias b_U, which any model has), by gradient descent on the exact expected
// cross-entropy Σ w[a][b]·(−log softmax(L[a])[b]). Its loss is the floor for
// a tied model's direct path W_E·W_Eᵀ (which is moreover positive
// semi-definite and of rank ≤ d_model, so it may do worse still).
func bestSymmetric(w [][]float64, steps int, lr float64) (loss float64, L [][]float64) {
	V := len(w)
	S, c := newMatrix(V), make([]float64, V)
	G := newMatrix(V)
	for range steps {
		L = addBias(S, c)
		loss = 0
		for a := range V {
			var rho float64 // Σ_b w[a][b]: how often a is the current token
			for b := range V {
				rho += w[a][b]
			}
			p := softmaxRow(L[a])
			for b := range V {
				loss -= w[a][b] * math.Log(p[b])
				G[a][b] = rho*p[b] - w[a][b] // ∂loss/∂L[a][b]
			}
		}
		for a := range V {
			for b := range V {
				S[a][b] -= lr * (G[a][b] + G[b][a]) / 2 // symmetric gradient keeps S symmetric
				c[b] -= lr * G[a][b]
			}
		}
	}
	return loss, addBias(S, c)
}

// endregion

func newMatrix(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

func addBias(S [][]float64, c []float64) [][]float64 {
	L := newMatrix(len(S))
	for a := range S {
		for b := range S[a] {
			L[a][b] = S[a][b] + c[b]
		}
	}
	return L
}

func softmaxRow(z []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	p := make([]float64, len(z))
	var sum float64
	for i, v := range z {
		p[i] = math.Exp(v - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// tableLoss returns the expected cross-entropy of a logit table L under the
// pair weights w.
func tableLoss(w, L [][]float64) float64 {
	var loss float64
	for a := range w {
		p := softmaxRow(L[a])
		for b := range w[a] {
			loss -= w[a][b] * math.Log(p[b])
		}
	}
	return loss
}

// region: parts

// doubleCentre returns M with its row and column means removed: the part of
// a logit table that is an interaction between the current and the next
// token. Row constants do not change a softmax, and column constants are
// what the output bias b_U supplies.
func doubleCentre(M [][]float64) [][]float64 {
	n := len(M)
	row, col := make([]float64, n), make([]float64, n)
	var all float64
	for i := range n {
		for j := range n {
			row[i] += M[i][j] / float64(n)
			col[j] += M[i][j] / float64(n)
			all += M[i][j] / float64(n*n)
		}
	}
	out := newMatrix(n)
	for i := range n {
		for j := range n {
			out[i][j] = M[i][j] - row[i] - col[j] + all
		}
	}
	return out
}

// antisymmetricShare splits M into its symmetric part (M + Mᵀ)/2 and its
// antisymmetric part (M − Mᵀ)/2, which are orthogonal, and returns
// ‖antisymmetric‖²_F / ‖M‖²_F: 0 for a symmetric matrix, 1 for an
// antisymmetric one.
func antisymmetricShare(M [][]float64) float64 {
	var anti, all float64
	for i := range M {
		for j := range M {
			a := (M[i][j] - M[j][i]) / 2
			anti += a * a
			all += M[i][j] * M[i][j]
		}
	}
	return anti / all
}

// endregion

// maxAsymmetry returns max |M[i][j] − M[j][i]|.
func maxAsymmetry(M [][]float64) float64 {
	var m float64
	for i := range M {
		for j := range M {
			m = math.Max(m, math.Abs(M[i][j]-M[j][i]))
		}
	}
	return m
}
