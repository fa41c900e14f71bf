package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
)

// Files of a run folder.
const (
	// TrainConfigFile holds the training configuration (Options.Config).
	TrainConfigFile = "train.json"
	// LegacyConfigFile is where run folders written before TrainConfigFile
	// kept the training configuration; it is still read, never written.
	LegacyConfigFile = "config.json"
	// MetricsFile holds one JSON object per logged step.
	MetricsFile = "metrics.jsonl"
	// SummaryFile is what the experiment writes when the run ends.
	SummaryFile = "summary.json"
	// LockFile is the file Lock holds locked for the run's life.
	LockFile = ".lock"
)

// Lock is an exclusive lock on a run folder: while one is held, no other
// Lock on the same folder can be taken, by this process or another (flock
// on DIR/.lock; on systems without flock it locks nothing). The operating
// system releases it when the process dies, so kill -9 leaves no stale
// lock.
type Lock struct {
	dir string
	f   *os.File
}

// ErrLocked is wrapped by LockDir's error when another writer holds the
// folder.
var ErrLocked = errors.New("run folder is in use by another training")

// LockDir creates dir if needed and locks it, or returns an error wrapping
// ErrLocked that names the folder when another writer holds it.
func LockDir(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	held, err := flock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("train: lock %s: %w", dir, err)
	}
	if held {
		f.Close()
		return nil, fmt.Errorf("train: %s: %w (wait for it to finish or stop it first)", dir, ErrLocked)
	}
	return &Lock{dir: dir, f: f}, nil
}

// Dir returns the locked folder.
func (l *Lock) Dir() string { return l.dir }

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// sameDir reports whether a and b name the same folder.
func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(sa, sb)
}

// removeTemps removes the temporary files a killed writer left in dir (see
// checkpoint.IsTemp) and returns their names. Call it only while holding
// dir's Lock: otherwise the files may be a live writer's.
func removeTemps(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var removed []string
	for _, e := range ents {
		if e.Type().IsRegular() && checkpoint.IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, fmt.Errorf("train: %w", err)
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// WriteJSON writes v as indented JSON to path atomically (temporary file
// and rename), so that readers never see a torn file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("train: %s: %w", filepath.Base(path), err)
	}
	b = append(b, '\n')
	return checkpoint.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ReadTrainConfig returns the training configuration recorded in dir:
// train.json, or config.json in folders written before it (nil, "" when
// neither exists), and the name of the file it came from.
func ReadTrainConfig(dir string) ([]byte, string, error) {
	for _, name := range []string{TrainConfigFile, LegacyConfigFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("train: %w", err)
		}
		return b, name, nil
	}
	return nil, "", nil
}

// maxMetricsLine bounds one line of metrics.jsonl as ScanMetrics reads it.
const maxMetricsLine = 16 << 20

// ScanMetrics calls fn with each line of dir's metrics.jsonl in order,
// reading one line at a time (lines longer than 16 MiB are an error). A
// missing file calls fn never.
func ScanMetrics(dir string, fn func(line []byte) error) error {
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxMetricsLine)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("train: %s: %w", MetricsFile, err)
	}
	return nil
}

// ConfigChange is one top-level field of the training configuration that
// differs between the run folder and a resume.
type ConfigChange struct {
	Field string          `json:"field"`
	Old   json.RawMessage `json:"old"` // absent fields are null
	New   json.RawMessage `json:"new"`
}

// ConfigChangeError is Run's error when a resume asks for a configuration
// other than the run's and Options.AllowConfigChange is not set.
type ConfigChangeError struct {
	File    string // the run's config file (train.json or config.json)
	Changes []ConfigChange
}

func (e *ConfigChangeError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = fmt.Sprintf("%s %s → %s", c.Field, c.Old, c.New)
	}
	return fmt.Sprintf("train: resume: the config differs from the run's %s: %s (the run folder is unchanged)", e.File, strings.Join(parts, ", "))
}

// diffConfig compares two JSON objects field by field, skipping the fields
// in mayChange, and returns the differences sorted by field.
func diffConfig(old, cur []byte, mayChange []string) ([]ConfigChange, error) {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(old, &a); err != nil {
		return nil, fmt.Errorf("train: the run's recorded config: %w", err)
	}
	if err := json.Unmarshal(cur, &b); err != nil {
		return nil, fmt.Errorf("train: Options.Config: %w", err)
	}
	fields := map[string]bool{}
	for k := range a {
		fields[k] = true
	}
	for k := range b {
		fields[k] = true
	}
	var out []ConfigChange
	for k := range fields {
		if slices.Contains(mayChange, k) {
			continue
		}
		va, vb := compactJSON(a[k]), compactJSON(b[k])
		if !bytes.Equal(va, vb) {
			out = append(out, ConfigChange{Field: k, Old: va, New: vb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}

// compactJSON returns v without insignificant space; absent values are null.
func compactJSON(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return v
	}
	return buf.Bytes()
}
