package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// byteLevel returns the byte-level alphabet of GPT-2: byte b is shown as
// the rune at index b, printable bytes as themselves and the others as
// 256, 257, … in byte order.
func byteLevel() (enc [256]rune, dec map[rune]byte) {
	dec = make(map[rune]byte, 256)
	n := rune(256)
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			enc[b] = rune(b)
		} else {
			enc[b] = n
			n++
		}
		dec[enc[b]] = byte(b)
	}
	return enc, dec
}

// fromByteLevel maps a vocabulary string back to raw bytes.
func fromByteLevel(s string, dec map[rune]byte) (string, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := dec[r]
		if !ok {
			return "", fmt.Errorf("rune %U is not in the byte-level alphabet", r)
		}
		out = append(out, b)
	}
	return string(out), nil
}

// Load reads a tokenizer from a folder holding tokenizer.json or
// vocab.json + merges.txt, or from a tokenizer.json file itself.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !st.IsDir() {
		return LoadJSON(path)
	}
	tj := filepath.Join(path, "tokenizer.json")
	if _, err := os.Stat(tj); err == nil {
		return LoadJSON(tj)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return LoadGPT2(filepath.Join(path, "vocab.json"), filepath.Join(path, "merges.txt"))
}

// LoadGPT2 reads GPT-2's vocab.json and merges.txt. "<|endoftext|>" is
// its special token; GPT-2 has no BOS of its own (BOSAlways uses
// <|endoftext|>, as GPT-2's training separated documents with it; BOSAuto
// adds none).
func LoadGPT2(vocabPath, mergesPath string) (*Tokenizer, error) {
	vb, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(vb, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	mb, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var merges [][2]string
	sc := bufio.NewScanner(bytes.NewReader(mb))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" || line == 1 && strings.HasPrefix(l, "#version") {
			continue
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenizer: %s:%d: want two symbols separated by one space, got %q", mergesPath, line, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesPath, err)
	}
	t, err := build(vocab, merges, nil)
	if err != nil {
		return nil, err
	}
	t.split, t.pattern = splitGPT2, gpt2Pattern
	if id, ok := vocab["<|endoftext|>"]; ok {
		t.added = []added{{content: "<|endoftext|>", id: id, special: true}}
		t.firstByte['<'] = true
		t.bos = id
	}
	return t, nil
}

// build makes a tokenizer from a byte-level vocabulary and merges.
func build(vocab map[string]int, merges [][2]string, extra []added) (*Tokenizer, error) {
	_, dec := byteLevel()
	n := 0
	for _, id := range vocab {
		if id < 0 || id >= 1<<24 {
			return nil, fmt.Errorf("tokenizer: vocabulary id %d out of range", id)
		}
		n = max(n, id+1)
	}
	for _, a := range extra {
		if a.id < 0 || a.id >= 1<<24 {
			return nil, fmt.Errorf("tokenizer: added token id %d out of range", a.id)
		}
		n = max(n, a.id+1)
	}
	t := &Tokenizer{pieces: make([]string, n), ids: make(map[string]int, len(vocab)), bos: -1}
	seen := make([]bool, n)
	for s, id := range vocab {
		raw, err := fromByteLevel(s, dec)
		if err != nil {
			if isAdded(s, extra) {
				raw = s
			} else {
				return nil, fmt.Errorf("tokenizer: vocabulary token %q: %w", s, err)
			}
		}
		if seen[id] {
			return nil, fmt.Errorf("tokenizer: vocabulary id %d used twice", id)
		}
		seen[id] = true
		t.pieces[id] = raw
		t.ids[raw] = id
	}
	for _, a := range extra {
		if seen[a.id] && t.pieces[a.id] != a.content {
			return nil, fmt.Errorf("tokenizer: added token %q has id %d, already %q", a.content, a.id, t.pieces[a.id])
		}
		seen[a.id] = true
		t.pieces[a.id] = a.content
	}
	for id, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("tokenizer: no token has id %d", id)
		}
	}
	for b := 0; b < 256; b++ {
		id, ok := t.ids[string([]byte{byte(b)})]
		if !ok {
			return nil, fmt.Errorf("tokenizer: the vocabulary lacks the token of byte 0x%02x", b)
		}
		t.byteID[b] = int32(id)
	}
	t.merges = make(map[pair]merge, len(merges))
	for rank, m := range merges {
		var ids [2]int32
		for k, s := range m {
			raw, err := fromByteLevel(s, dec)
			if err != nil {
				return nil, fmt.Errorf("tokenizer: merge %d: %w", rank+1, err)
			}
			id, ok := t.ids[raw]
			if !ok {
				return nil, fmt.Errorf("tokenizer: merge %d: %q is not in the vocabulary", rank+1, s)
			}
			ids[k] = int32(id)
		}
		raw := t.pieces[ids[0]] + t.pieces[ids[1]]
		id, ok := t.ids[raw]
		if !ok {
			return nil, fmt.Errorf("tokenizer: merge %d: %q %q makes a token not in the vocabulary", rank+1, m[0], m[1])
		}
		p := pair{ids[0], ids[1]}
		if _, dup := t.merges[p]; !dup {
			t.merges[p] = merge{int32(rank), int32(id)}
		}
	}
	t.added = append(t.added, extra...)
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	for _, a := range t.added {
		if a.content == "" {
			return nil, fmt.Errorf("tokenizer: added token %d is empty", a.id)
		}
		t.firstByte[a.content[0]] = true
	}
	return t, nil
}

func isAdded(s string, extra []added) bool {
	for _, a := range extra {
		if a.content == s {
			return true
		}
	}
	return false
}
