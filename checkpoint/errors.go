package checkpoint

import (
	"errors"
	"fmt"
)

// ErrFormat is matched (with errors.Is) by every error that reports a
// malformed safetensors file or invalid tensors given to Write: a bad header
// length, invalid JSON, an ill-formed entry, an unknown dtype, a shape that
// disagrees with its byte range, overlapping or non-contiguous data, and so on.
// The error's own message names the tensor and the problem.
var ErrFormat = errors.New("checkpoint: invalid safetensors data")

// ErrNotFound is matched (with errors.Is) by the error returned when a file
// holds no tensor of the requested name.
var ErrNotFound = errors.New("checkpoint: tensor not found")

// kindError is an error with its own message that also matches a sentinel
// (ErrFormat or ErrNotFound) under errors.Is, so that messages stay specific
// ("checkpoint: tensor "x": negative dimension -1") while callers can still
// classify them.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// formatErr returns an error matching ErrFormat whose message is
// "checkpoint: " followed by the formatted text.
func formatErr(format string, args ...any) error {
	return &kindError{kind: ErrFormat, msg: "checkpoint: " + fmt.Sprintf(format, args...)}
}

// tensorErr is formatErr for a problem with one named tensor.
func tensorErr(name, format string, args ...any) error {
	return &kindError{kind: ErrFormat, msg: fmt.Sprintf("checkpoint: tensor %q: ", name) + fmt.Sprintf(format, args...)}
}

func notFound(name string) error {
	return &kindError{kind: ErrNotFound, msg: fmt.Sprintf("checkpoint: tensor %q not found", name)}
}

// ShapeError reports that a tensor's shape differs from the one a caller
// required (see File.Float32Into). Its message has the form
//
//	checkpoint: tensor "blocks.0.attn.W_Q": want shape [4 64 16], got [4 64 8]
type ShapeError struct {
	Name string // tensor name
	Want []int  // shape the caller asked for
	Got  []int  // shape stored in the file
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("checkpoint: tensor %q: want shape %v, got %v", e.Name, e.Want, e.Got)
}
