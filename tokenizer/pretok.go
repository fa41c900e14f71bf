package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// A splitter cuts text into pre-tokens: it returns the end of the piece
// that starts at i (i < len(s), result > i). Each is a hand-written
// scanner equivalent to one regular expression, alternatives tried in
// order at i as a backtracking engine would (leftmost-first).
type splitter func(s string, i int) int

// class of a rune for the GPT-2 and Qwen patterns.
const (
	clsLetter = iota
	clsNumber
	clsSpace
	clsOther
)

func classOf(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return clsLetter
		case r >= '0' && r <= '9':
			return clsNumber
		case r == ' ' || r >= '\t' && r <= '\r':
			return clsSpace
		}
		return clsOther
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// at returns the rune at i, its class and width; i == len(s) gives width 0.
func at(s string, i int) (rune, int, int) {
	if i >= len(s) {
		return 0, -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), classOf(rune(c)), 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w <= 1 {
		return r, clsOther, 1
	}
	return r, classOf(r), w
}

// run returns the end of the run of runes of class cls starting at i.
func run(s string, i, cls int) int {
	for {
		_, c, w := at(s, i)
		if w == 0 || c != cls {
			return i
		}
		i += w
	}
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at i (case-insensitively
// when fold), returning its end or -1.
func contraction(s string, i int, fold bool) int {
	if s[i] != '\'' || i+1 >= len(s) {
		return -1
	}
	low := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch low(s[i+1]) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if i+2 < len(s) && low(s[i+2]) == 'e' {
			return i + 3
		}
	case 'l':
		if i+2 < len(s) && low(s[i+2]) == 'l' {
			return i + 3
		}
	}
	return -1
}

// spaceTail handles \s+(?!\S)|\s+ at i, where s[i] is whitespace: the
// whole run when it reaches the end or when stepping back one rune would
// leave nothing; otherwise the run minus its last rune (which then
// precedes the next word).
func spaceTail(s string, i int) int {
	j := run(s, i, clsSpace)
	if j == len(s) {
		return j
	}
	_, w := utf8.DecodeLastRuneInString(s[:j])
	if j-w > i {
		return j - w
	}
	return j
}

// splitGPT2 is GPT-2's pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(s string, i int) int {
	if e := contraction(s, i, false); e > 0 {
		return e
	}
	_, c, w := at(s, i)
	if s[i] == ' ' {
		if _, c2, w2 := at(s, i+1); w2 > 0 && c2 != clsSpace {
			return run(s, i+1+w2, c2)
		}
	}
	if c != clsSpace {
		return run(s, i+w, c)
	}
	return spaceTail(s, i)
}

// splitQwen is Qwen's (and cl100k's) pattern
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitQwen(s string, i int) int { return splitCL(s, i, 1) }

// splitLlama3 is Llama 3's pattern, Qwen's with \p{N}{1,3} for \p{N}.
func splitLlama3(s string, i int) int { return splitCL(s, i, 3) }

// splitCL is Qwen's pattern with numbers in runs of up to maxDigits.
func splitCL(s string, i, maxDigits int) int {
	if e := contraction(s, i, true); e > 0 {
		return e
	}
	r, c, w := at(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsLetter {
		return run(s, i+w, clsLetter)
	}
	if c != clsNumber && r != '\r' && r != '\n' {
		if _, c2, w2 := at(s, i+w); c2 == clsLetter {
			return run(s, i+w+w2, clsLetter)
		}
	}
	if c == clsNumber {
		j := i + w
		for n := 1; n < maxDigits; n++ {
			_, c2, w2 := at(s, j)
			if c2 != clsNumber {
				break
			}
			j += w2
		}
		return j
	}
	// ?[^\s\p{L}\p{N}]+[\r\n]*
	j := i
	if s[i] == ' ' {
		if _, c2, _ := at(s, i+1); c2 == clsOther {
			j = i + 1
		}
	}
	if _, cj, _ := at(s, j); cj == clsOther {
		j = run(s, j, clsOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+ : up to just after the run's last \r or \n
	end := run(s, i, clsSpace)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return spaceTail(s, i)
}
