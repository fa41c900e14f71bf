package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestStartsGoroutines(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       bool
	}{
		{"go statement", "func f() { go g() }", true},
		{"go closure", "func f() { go func() {}() }", true},
		{"WaitGroup.Go", "func f(wg *sync.WaitGroup) { wg.Go(g) }", true},
		{"nested in a literal", "var v = func() { go g() }", true},
		{"comment", "// go to the next step\nfunc f() {}", false},
		{"doc comment", "// f makes the go statement unnecessary.\nfunc f() {}", false},
		{"string", "var s = \"go g()\"", false},
		{"identifier", "func f() { goAhead() }", false},
		{"Go as a function", "func f() { Go() }", false},
		{"none", "func f() { g() }", false},
	} {
		src := "package p\n\n" + tt.body + "\n"
		got, err := startsGoroutines("x.go", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: startsGoroutines(%q) = %v, want %v", tt.name, tt.body, got, tt.want)
		}
	}
	if _, err := startsGoroutines("x.go", []byte("package p\nfunc {")); err == nil || !strings.HasPrefix(err.Error(), "racepkgs: ") {
		t.Errorf("a syntax error gives %v, want a racepkgs error", err)
	}
}

// TestRun lists this module's packages: the ones known to start
// goroutines are in, and so is transformer, which runs its training step
// on the workers pool; a serial one is not, and racepkgs itself (which
// only runs go list) is not.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, []string{"../../..."}); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(out.String())
	const mod = "github.com/mechinterp/workbench/"
	for _, want := range []string{"workers", "transformer", "web", "cmd/workbench"} {
		if !slices.Contains(got, mod+want) {
			t.Errorf("racepkgs omits %s; got %v", want, got)
		}
	}
	for _, not := range []string{"checkpoint", "internal/racepkgs", "internal/testenv"} {
		if slices.Contains(got, mod+not) {
			t.Errorf("racepkgs lists %s, which starts no goroutine; got %v", not, got)
		}
	}
	if err := run(&out, nil); err == nil {
		t.Error("no patterns: want a usage error")
	}
}
