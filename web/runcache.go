package web

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/gan"
)

// runCache loads the model files of a runs directory with load, keeping
// each until its file changes (modification time or size). It is safe for
// concurrent use; loads are serialised.
type runCache[T any] struct {
	runsDir string
	what    string // "model", "CNN": for error messages
	load    func(name string, f *checkpoint.File) (T, error)
	// file returns the model file of name (nil: the run's model.safetensors).
	file func(name string) string
	// limit bounds the entries kept, the oldest loaded dropped first (0: no bound).
	limit int

	mu      sync.Mutex
	entries map[string]cachedRun[T]
	order   []string // names in the order they were loaded
}

type cachedRun[T any] struct {
	v    T
	mod  time.Time
	size int64
}

func newRunCache[T any](runsDir, what string, load func(name string, f *checkpoint.File) (T, error)) *runCache[T] {
	return &runCache[T]{runsDir: runsDir, what: what, load: load, entries: map[string]cachedRun[T]{}}
}

// get returns the run called name (a name checkName accepted): 404 when it
// has no model file, 422 when load fails on it.
func (c *runCache[T]) get(name string) (T, error) {
	var zero T
	path := filepath.Join(c.runsDir, name, modelFile)
	if c.file != nil {
		path = c.file(name)
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return zero, errorf(http.StatusNotFound, "web: no %s %q (%ss are %q and the runs folder's directories with a %s)", c.what, name, c.what, demoName, modelFile)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[name]; ok && e.mod.Equal(st.ModTime()) && e.size == st.Size() {
		return e.v, nil
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		return zero, errorf(http.StatusUnprocessableEntity, "web: %s %q: %s", c.what, name, relMessage(c.runsDir, err))
	}
	defer f.Close()
	v, err := c.load(name, f)
	if err != nil {
		return zero, errorf(http.StatusUnprocessableEntity, "web: %s %q: %s", c.what, name, relMessage(c.runsDir, err))
	}
	c.entries[name] = cachedRun[T]{v, st.ModTime(), st.Size()}
	c.order = append(slices.DeleteFunc(c.order, func(n string) bool { return n == name }), name)
	for c.limit > 0 && len(c.order) > c.limit {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	return v, nil
}

// readMetadata returns the metadata entry key of the model file at path
// (reading its header alone) and the file's information; ok is false when
// the file is missing, unreadable or has no such entry.
func readMetadata(path, key string) (value string, st os.FileInfo, ok bool) {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return "", nil, false
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	value, ok = f.Metadata[key]
	return value, st, ok
}

// otherModel reports whether the model file at path holds a CNN or a GAN,
// which /api/cnn and /api/gan list, not /api/models.
func otherModel(path string) bool {
	for _, key := range []string{cnn.ConfigMetadataKey, gan.ConfigMetadataKey} {
		if _, _, ok := readMetadata(path, key); ok {
			return true
		}
	}
	return false
}
