package checkpoint

import "testing"

// Readers gives the external tests (package checkpoint_test) readers: the
// same file parsed, read and opened.
func Readers(t *testing.T, b []byte) map[string]*File { return readers(t, b) }
