package checkpoint

import (
	"bytes"
	"unicode/utf8"
)

// sniffLen is how many leading bytes describeContent looks at.
const sniffLen = 64

// describeContent says what a file that is not safetensors looks like,
// from its first bytes head (at most sniffLen of them): "a zip archive
// (PyTorch's torch.save format, .pt/.pth/.bin)", "a Python pickle", "JSON
// text", …, or "" when it recognises nothing. A safetensors file begins
// with an 8-byte little-endian header length and then '{'; the formats
// below are told apart by their own magic numbers.
func describeContent(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive (PyTorch's torch.save format for .pt, .pth and .bin files; save the state dict with safetensors.torch.save_file instead)"
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return "a Python pickle (an old-style torch.save file; save the state dict with safetensors.torch.save_file instead)"
	case bytes.HasPrefix(head, []byte("GGUF")):
		return "a GGUF file (llama.cpp's format)"
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "a NumPy .npy array"
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		return "an HDF5 file (Keras's .h5 format)"
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "a gzip-compressed file"
	case bytes.HasPrefix(head, []byte("version https://git-lfs")):
		return "a Git LFS pointer, not the file it points to (run git lfs pull)"
	}
	text := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(text) > 0 && (text[0] == '{' || text[0] == '[') && isText(head) {
		return "JSON text (a config or a token file? --model wants the weights)"
	}
	if isText(head) {
		return "a text file"
	}
	return ""
}

// isText reports whether b is valid UTF-8 (a character cut at the end
// allowed) without control characters other than whitespace.
func isText(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
		b = b[n:]
	}
	return true
}
