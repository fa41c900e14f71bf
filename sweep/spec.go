package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Spec is a sweep as its author writes it (JSON):
//
//	{"command": "train induction", "flags": {"steps": 400},
//	 "grid": {"seed": [0, 1, 2, 3]},
//	 "random": {"lr": {"log_uniform": [1e-4, 1e-2]}}, "samples": 8,
//	 "analyses": ["analyze"]}
//
// Flags, grid and random axes name flags of Command (without dashes). The
// tasks are every point of the grid (axes crossed) times Samples draws of
// the random axes; draw k is the same at every grid point, so that the
// random axes are crossed with the grid too. RandomSeed seeds the draws.
type Spec struct {
	Command    string                     `json:"command"`
	Flags      map[string]json.RawMessage `json:"flags,omitempty"`
	Grid       map[string]json.RawMessage `json:"grid,omitempty"`
	Random     map[string]Distribution    `json:"random,omitempty"`
	Samples    int                        `json:"samples,omitempty"`
	RandomSeed uint64                     `json:"random_seed,omitempty"`
	Analyses   []string                   `json:"analyses,omitempty"`
}

// Distribution is one random axis: exactly one of its fields is set.
// Uniform and LogUniform are [low, high] (LogUniform: uniform in log,
// both positive); IntUniform is [low, high] with both ends included;
// Choice picks one of its values.
type Distribution struct {
	Uniform    []float64         `json:"uniform,omitempty"`
	LogUniform []float64         `json:"log_uniform,omitempty"`
	IntUniform []int64           `json:"int_uniform,omitempty"`
	Choice     []json.RawMessage `json:"choice,omitempty"`
}

// reserved reports whether a task's command line gets flag name from the
// sweep itself, so that a spec may not set it.
func reserved(name string) bool {
	switch name {
	case "out", "resume", "json", "allow-config-change":
		return true
	}
	return false
}

// ParseSpec decodes a JSON spec, refusing unknown fields (naming them) and
// inconsistent axes. It does not check the flags against the command:
// NewPlan does, by asking the command.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("sweep: spec: %w", err)
	}
	if dec.More() {
		return s, errors.New("sweep: spec: trailing data after the JSON object")
	}
	return s, s.validate()
}

// validate checks what can be checked without the command.
func (s *Spec) validate() error {
	words := strings.Fields(s.Command)
	if len(words) != 2 || words[0] != "train" {
		return fmt.Errorf("sweep: spec: command %q: want a training command such as \"train induction\"", s.Command)
	}
	seen := map[string]string{}
	check := func(kind string, names []string) error {
		for _, n := range names {
			if n == "" || strings.HasPrefix(n, "-") || strings.ContainsAny(n, " =\t\n") {
				return fmt.Errorf("sweep: spec: %s: %q is not a flag name (write it without dashes)", kind, n)
			}
			if reserved(n) {
				return fmt.Errorf("sweep: spec: %s: flag %q is set by the sweep itself", kind, n)
			}
			if prev, ok := seen[n]; ok {
				return fmt.Errorf("sweep: spec: flag %q is both in %s and in %s", n, prev, kind)
			}
			seen[n] = kind
		}
		return nil
	}
	if err := check("flags", sortedKeys(s.Flags)); err != nil {
		return err
	}
	if err := check("grid", sortedKeys(s.Grid)); err != nil {
		return err
	}
	if err := check("random", sortedKeys(s.Random)); err != nil {
		return err
	}
	for _, n := range sortedKeys(s.Random) {
		if err := s.Random[n].validate(); err != nil {
			return fmt.Errorf("sweep: spec: random %q: %w", n, err)
		}
	}
	switch {
	case s.Samples < 0:
		return fmt.Errorf("sweep: spec: samples %d: want a positive count", s.Samples)
	case len(s.Random) > 0 && s.Samples == 0:
		return errors.New("sweep: spec: random axes need samples (how many draws)")
	case len(s.Random) == 0 && s.Samples > 1:
		return fmt.Errorf("sweep: spec: samples %d without random axes would repeat identical tasks", s.Samples)
	}
	for _, a := range s.Analyses {
		if a != "analyze" {
			return fmt.Errorf("sweep: spec: analysis %q: the analyses a sweep runs are: analyze", a)
		}
	}
	return nil
}

func (d Distribution) validate() error {
	set := 0
	for _, n := range []int{len(d.Uniform), len(d.LogUniform), len(d.IntUniform), len(d.Choice)} {
		if n > 0 {
			set++
		}
	}
	if set != 1 {
		return errors.New("want exactly one of uniform, log_uniform, int_uniform, choice")
	}
	switch {
	case d.Uniform != nil:
		if len(d.Uniform) != 2 || !(d.Uniform[0] <= d.Uniform[1]) {
			return fmt.Errorf("uniform %v: want [low, high] with low <= high", d.Uniform)
		}
	case d.LogUniform != nil:
		if len(d.LogUniform) != 2 || !(d.LogUniform[0] > 0 && d.LogUniform[0] <= d.LogUniform[1]) || math.IsInf(d.LogUniform[1], 0) {
			return fmt.Errorf("log_uniform %v: want [low, high] with 0 < low <= high", d.LogUniform)
		}
	case d.IntUniform != nil:
		if len(d.IntUniform) != 2 || d.IntUniform[0] > d.IntUniform[1] || d.IntUniform[0] < -1<<60 || d.IntUniform[1] > 1<<60 {
			return fmt.Errorf("int_uniform %v: want [low, high] with low <= high", d.IntUniform)
		}
	}
	return nil
}

// flagValue renders one JSON scalar as a command-line flag value: numbers
// in their shortest round-tripping form (so 1e-4 and 0.0001 are the same
// value, and the same task), strings as they are, booleans as true/false.
func flagValue(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return "", fmt.Errorf("number %s: %w", v, err)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.FormatInt(int64(f), 10), nil
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("value %s: want a number, a string or a boolean", raw)
}

// gridValues decodes one grid axis: a non-empty JSON array of scalars.
func gridValues(name string, raw json.RawMessage) ([]string, error) {
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil || len(vals) == 0 {
		return nil, fmt.Errorf("sweep: spec: grid %q: want a non-empty array of values", name)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		s, err := flagValue(v)
		if err != nil {
			return nil, fmt.Errorf("sweep: spec: grid %q: %w", name, err)
		}
		out[i] = s
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
