package llama2c

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// magic is "ak42" read as a little-endian uint32: the first four bytes of
// versioned checkpoints.
const magic = 0x616b3432

// versionedHeaderLen is the length of a versioned header, padding included.
const versionedHeaderLen = 256

// legacyHeaderLen is the length of the legacy header: seven int32.
const legacyHeaderLen = 7 * 4

// Limits on the header's fields, far above any llama2.c model (Llama 2 70B
// has dim 8192, hidden_dim 28672, 80 layers, vocab 32000), that keep every
// size computation below far from overflowing int64.
const (
	maxWidth  = 1 << 22 // dim, hidden_dim, vocab_size
	maxLayers = 1 << 12 // n_layers
	maxHeads  = 1 << 12 // n_heads, n_kv_heads
	maxSeqLen = 1 << 16 // seq_len: transformer.MaxNCtx
)

// header is a checkpoint's header, decoded.
type header struct {
	version                      int // 0: legacy
	dim, hidden, layers          int
	heads, kvHeads, vocab, seqLn int
	tied                         bool
	groupSize                    int   // version 2 only
	dataOffset                   int64 // where the tensors begin
}

// headSize returns dim / n_heads.
func (h header) headSize() int { return h.dim / h.heads }

// parseHeader decodes the header at the start of b (at least the first
// 256 bytes of the file, or the whole file if shorter) and checks its
// fields. It never reads past len(b).
func parseHeader(b []byte) (header, error) {
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == magic {
		return parseVersioned(b)
	}
	if len(b) < legacyHeaderLen {
		return header{}, fmt.Errorf("llama2c: file of %d bytes is shorter than the legacy header (%d bytes)", len(b), legacyHeaderLen)
	}
	h := header{dataOffset: legacyHeaderLen}
	h.readDims(b)
	h.tied = h.vocab > 0
	if h.vocab < 0 {
		h.vocab = -h.vocab // legacy: a negative vocab_size flags an untied classifier
	}
	return h, h.check()
}

// parseVersioned decodes an "ak42" header.
func parseVersioned(b []byte) (header, error) {
	if len(b) < versionedHeaderLen {
		return header{}, fmt.Errorf("llama2c: file of %d bytes is shorter than the versioned header (%d bytes)", len(b), versionedHeaderLen)
	}
	h := header{version: int(int32(binary.LittleEndian.Uint32(b[4:]))), dataOffset: versionedHeaderLen}
	if h.version != 1 && h.version != 2 {
		return header{}, fmt.Errorf("llama2c: checkpoint version %d is not supported (only the legacy format and versions 1 and 2)", h.version)
	}
	h.readDims(b[8:])
	switch b[36] {
	case 0, 1:
		h.tied = b[36] == 1
	default:
		return header{}, fmt.Errorf("llama2c: version %d header: shared-classifier flag %d is neither 0 nor 1", h.version, b[36])
	}
	if h.vocab < 0 {
		return header{}, fmt.Errorf("llama2c: version %d header: vocab_size %d is negative (only the legacy format flags an untied classifier so)", h.version, h.vocab)
	}
	if h.version == 2 {
		h.groupSize = int(int32(binary.LittleEndian.Uint32(b[37:])))
	}
	return h, h.check()
}

// readDims reads the seven int32 fields from the start of b.
func (h *header) readDims(b []byte) {
	f := func(i int) int { return int(int32(binary.LittleEndian.Uint32(b[4*i:]))) }
	h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLn = f(0), f(1), f(2), f(3), f(4), f(5), f(6)
}

// check reports every field out of range, by llama2.c's name.
func (h header) check() error {
	var errs []error
	within := func(name string, v, max int) {
		if v <= 0 || v > max {
			errs = append(errs, fmt.Errorf("%s %d is not in [1, %d]", name, v, max))
		}
	}
	within("dim", h.dim, maxWidth)
	within("hidden_dim", h.hidden, maxWidth)
	within("n_layers", h.layers, maxLayers)
	within("n_heads", h.heads, maxHeads)
	within("n_kv_heads", h.kvHeads, maxHeads)
	within("vocab_size", h.vocab, maxWidth)
	within("seq_len", h.seqLn, maxSeqLen)
	if len(errs) == 0 {
		if h.dim%h.heads != 0 || h.headSize()%2 != 0 {
			errs = append(errs, fmt.Errorf("dim %d is not n_heads %d times an even head size", h.dim, h.heads))
		}
		if h.heads%h.kvHeads != 0 {
			errs = append(errs, fmt.Errorf("n_kv_heads %d does not divide n_heads %d", h.kvHeads, h.heads))
		}
	}
	if h.version == 2 {
		within("group size", h.groupSize, maxWidth)
		if len(errs) == 0 {
			for _, t := range h.tensors() {
				if t.quantized && t.size()%int64(h.groupSize) != 0 {
					errs = append(errs, fmt.Errorf("group size %d does not divide the %d values of each %s", h.groupSize, t.size(), t.name))
					break
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("llama2c: %s header: %w", h.formatName(), errors.Join(errs...))
	}
	return nil
}

// formatName names the file's format for messages.
func (h header) formatName() string {
	if h.version == 0 {
		return "legacy"
	}
	return fmt.Sprintf("version %d", h.version)
}
