//go:build !unix

package train

import "os"

// flock is a no-op where flock(2) does not exist: there, run folders are
// not protected against a second writer.
func flock(f *os.File) (held bool, err error) { return false, nil }
