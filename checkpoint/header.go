package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header Read accepts (and Write
// produces), in bytes. It bounds the memory a hostile file can make the parser
// allocate; the official implementation uses the same limit.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the string→string metadata.
const metadataKey = "__metadata__"

// parseHeader decodes and validates the JSON header hdr of a file whose data
// section has dataSize bytes. It returns the tensors sorted by name and the
// metadata (nil when the header has no "__metadata__" entry).
func parseHeader(hdr []byte, dataSize int64) ([]Info, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, formatErr("header is not valid UTF-8")
	}
	p := headerParser{dec: json.NewDecoder(bytes.NewReader(hdr))}
	p.dec.UseNumber()
	infos, meta, err := p.object()
	if err != nil {
		return nil, nil, err
	}
	for i := range infos {
		if err := checkEntry(&infos[i], dataSize); err != nil {
			return nil, nil, err
		}
	}
	if err := checkLayout(infos, dataSize); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return infos, meta, nil
}

// headerParser walks the header token by token, so that it sees duplicate
// keys (which encoding/json.Unmarshal would silently merge), rejects unexpected
// structure at once instead of skipping it, and never recurses on input.
type headerParser struct {
	dec *json.Decoder
}

// syntaxErr turns a decoder error into a format error.
func syntaxErr(err error) error {
	if errors.Is(err, io.EOF) {
		return formatErr("header: unexpected end of JSON")
	}
	return formatErr("header: invalid JSON: %v", err)
}

// token returns the next JSON token; a clean end of input is an error here.
func (p *headerParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, syntaxErr(err)
	}
	return t, nil
}

// delim consumes the delimiter want ('{' or '[') or fails with what.
func (p *headerParser) delim(want json.Delim, what string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return formatErr("%s: want %s, got %s", what, describeWant(want), describe(t))
	}
	return nil
}

// object parses the whole header: one JSON object followed only by whitespace.
func (p *headerParser) object() ([]Info, map[string]string, error) {
	if err := p.delim('{', "header"); err != nil {
		return nil, nil, err
	}
	var (
		infos []Info
		meta  map[string]string
		seen  = make(map[string]bool)
	)
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, nil, err
		}
		name := t.(string) // object keys are always strings
		if seen[name] {
			if name == metadataKey {
				return nil, nil, formatErr("header: duplicate %q", metadataKey)
			}
			return nil, nil, tensorErr(name, "duplicate name")
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		info, err := p.entry(name)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	if _, err := p.token(); err != nil { // the closing '}'
		return nil, nil, err
	}
	if t, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, syntaxErr(err)
		}
		return nil, nil, formatErr("header: trailing data after the object: %s", describe(t))
	}
	return infos, meta, nil
}

// metadata parses the "__metadata__" object, whose values must be strings.
func (p *headerParser) metadata() (map[string]string, error) {
	if err := p.delim('{', metadataKey); err != nil {
		return nil, err
	}
	meta := make(map[string]string)
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		key := t.(string)
		if _, dup := meta[key]; dup {
			return nil, formatErr("%s: duplicate key %q", metadataKey, key)
		}
		if t, err = p.token(); err != nil {
			return nil, err
		}
		v, ok := t.(string)
		if !ok {
			return nil, formatErr("%s: value of %q: want a string, got %s", metadataKey, key, describe(t))
		}
		meta[key] = v
	}
	_, err := p.token() // '}'
	return meta, err
}

// entry parses one tensor's {"dtype", "shape", "data_offsets"} object. It
// checks syntax and types only; checkEntry checks the values.
func (p *headerParser) entry(name string) (Info, error) {
	info := Info{Name: name}
	if err := p.delim('{', "tensor "+strconv.Quote(name)); err != nil {
		return info, err
	}
	var haveDType, haveShape, haveOffsets bool
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return info, err
		}
		field := t.(string)
		var dup bool
		switch field {
		case "dtype":
			dup, haveDType = haveDType, true
			if t, err = p.token(); err != nil {
				return info, err
			}
			s, ok := t.(string)
			if !ok {
				return info, tensorErr(name, "dtype: want a string, got %s", describe(t))
			}
			info.DType = DType(s)
		case "shape":
			dup, haveShape = haveShape, true
			if info.Shape, err = p.ints(name, "shape"); err != nil {
				return info, err
			}
			if info.Shape == nil {
				info.Shape = []int{} // a scalar: shape [] and one element
			}
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
			offs, err := p.ints(name, "data_offsets")
			if err != nil {
				return info, err
			}
			if len(offs) != 2 {
				return info, tensorErr(name, "data_offsets: want [begin, end], got %d numbers", len(offs))
			}
			info.Begin, info.End = int64(offs[0]), int64(offs[1])
		default:
			return info, tensorErr(name, "unknown field %q", field)
		}
		if dup {
			return info, tensorErr(name, "duplicate field %q", field)
		}
	}
	if _, err := p.token(); err != nil { // '}'
		return info, err
	}
	switch {
	case !haveDType:
		return info, tensorErr(name, "missing dtype")
	case !haveShape:
		return info, tensorErr(name, "missing shape")
	case !haveOffsets:
		return info, tensorErr(name, "missing data_offsets")
	}
	return info, nil
}

// ints parses a JSON array of non-negative integers (what names the field in
// errors). Each value must fit in an int (and so in an int64).
func (p *headerParser) ints(name, what string) ([]int, error) {
	if err := p.delim('[', "tensor "+strconv.Quote(name)+": "+what); err != nil {
		return nil, err
	}
	var out []int
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, tensorErr(name, "%s: want integers, got %s", what, describe(t))
		}
		s := string(num)
		if strings.HasPrefix(s, "-") {
			if what == "shape" {
				return nil, tensorErr(name, "shape: negative dimension %s", s)
			}
			return nil, tensorErr(name, "%s: negative offset %s", what, s)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v > math.MaxInt {
			if strings.ContainsAny(s, ".eE") {
				return nil, tensorErr(name, "%s: %s is not an integer", what, s)
			}
			return nil, tensorErr(name, "%s: %s is out of range", what, s)
		}
		out = append(out, int(v))
	}
	_, err := p.token() // ']'
	return out, err
}

// describe names a JSON token for error messages.
func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return strconv.Quote(v.String())
	case string:
		return "string " + strconv.Quote(v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return "unexpected token"
}

func describeWant(d json.Delim) string {
	if d == '{' {
		return "an object"
	}
	return "an array"
}

// checkEntry validates one tensor's values against a data section of
// dataSize bytes: a known dtype, offsets in order and in range, and a shape
// whose byte size (computed without overflow) equals the offsets' span.
func checkEntry(t *Info, dataSize int64) error {
	size := t.DType.Size()
	if size == 0 {
		return tensorErr(t.Name, "unknown dtype %q", string(t.DType))
	}
	if t.Begin > t.End {
		return tensorErr(t.Name, "data_offsets [%d %d]: begin after end", t.Begin, t.End)
	}
	if t.End > dataSize {
		return tensorErr(t.Name, "data_offsets [%d %d]: out of range of the %d-byte data section", t.Begin, t.End, dataSize)
	}
	n, ok := numel(t.Shape)
	if !ok {
		return tensorErr(t.Name, "shape %v: element count overflows", t.Shape)
	}
	hi, nbytes := bits.Mul64(n, uint64(size))
	if hi != 0 || nbytes != uint64(t.End-t.Begin) {
		return tensorErr(t.Name, "shape %v of %s needs %d×%d bytes, data_offsets [%d %d] hold %d",
			t.Shape, t.DType, n, size, t.Begin, t.End, t.End-t.Begin)
	}
	return nil
}

// numel returns the number of elements of shape (1 for a scalar) and false if
// that count overflows uint64 or int. Dimensions must be non-negative.
func numel(shape []int) (uint64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// checkLayout checks that the tensors tile the data section exactly, as the
// specification requires: sorted by offset, each begins where the previous one
// ended, the first at 0 and the last ending at dataSize. It reports overlaps,
// gaps and trailing bytes naming the tensors involved. infos is reordered.
func checkLayout(infos []Info, dataSize int64) error {
	slices.SortFunc(infos, func(a, b Info) int {
		if a.Begin != b.Begin {
			return cmp.Compare(a.Begin, b.Begin)
		}
		if a.End != b.End {
			return cmp.Compare(a.End, b.End)
		}
		return strings.Compare(a.Name, b.Name)
	})
	var end int64
	for i, t := range infos {
		switch {
		case t.Begin < end:
			return tensorErr(t.Name, "data_offsets [%d %d] overlap tensor %q [%d %d]",
				t.Begin, t.End, infos[i-1].Name, infos[i-1].Begin, infos[i-1].End)
		case t.Begin > end && i == 0:
			return tensorErr(t.Name, "data_offsets [%d %d]: gap of %d bytes at the start of the data section", t.Begin, t.End, t.Begin)
		case t.Begin > end:
			return tensorErr(t.Name, "data_offsets [%d %d]: gap of %d bytes after tensor %q",
				t.Begin, t.End, t.Begin-end, infos[i-1].Name)
		}
		end = t.End
	}
	if end != dataSize {
		return formatErr("data section has %d bytes, tensors cover only %d (%d trailing bytes)", dataSize, end, dataSize-end)
	}
	return nil
}
