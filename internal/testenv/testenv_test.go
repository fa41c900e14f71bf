package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test
// instead of ending it: Fatal* and Skip* record and stop the goroutine.
type recorder struct {
	testing.TB
	ended string // "fatal", "skip" or ""
	msg   string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatal(args ...any)                 { r.end("fatal", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) { r.end("fatal", fmt.Sprintf(format, args...)) }
func (r *recorder) FailNow()                          { r.end("fatal", "FailNow") }
func (r *recorder) Skip(args ...any)                  { r.end("skip", fmt.Sprint(args...)) }
func (r *recorder) Skipf(format string, args ...any)  { r.end("skip", fmt.Sprintf(format, args...)) }
func (r *recorder) SkipNow()                          { r.end("skip", "SkipNow") }
func (r *recorder) end(how string, msg string)        { r.ended, r.msg = how, msg; runtime.Goexit() }

// call runs f(r) on its own goroutine (Fatal and Skip end it) and returns
// what f returned, "" when it did not return.
func call(t *testing.T, f func(testing.TB) string) (*recorder, string) {
	r := &recorder{TB: t}
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = f(r)
	}()
	<-done
	return r, got
}

// TestDirCI checks the rule the whole suite relies on: with the fixtures
// absent Dir skips locally and fails under CI=true; present, it returns
// them from any depth below the module root.
func TestDirCI(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	sub := filepath.Join(repo, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	for _, tt := range []struct {
		ci, want string
	}{
		{"true", "fatal"},
		{"", "skip"},
		{"false", "skip"},
		{"1", "skip"}, // only "true" means CI, as in .ci/run
	} {
		t.Setenv("CI", tt.ci)
		r, got := call(t, ParityDir)
		if r.ended != tt.want || got != "" {
			t.Errorf("CI=%q, fixtures absent: Dir ended %q (%s) and returned %q, want %q", tt.ci, r.ended, r.msg, got, tt.want)
		}
	}

	fixtures := filepath.Join(root, "shared", "testdata", "parity")
	if err := os.MkdirAll(filepath.Join(fixtures, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI", "true")
	if r, got := call(t, ParityDir); r.ended != "" || got != filepath.Join(repo, "..", "shared", "testdata", "parity") {
		t.Errorf("fixtures present: Dir ended %q (%s), returned %q", r.ended, r.msg, got)
	}
	model := func(name string) func(testing.TB) string {
		return func(tb testing.TB) string { return ParityModel(tb, name) }
	}
	if r, got := call(t, model("m")); r.ended != "" || filepath.Base(got) != "m" {
		t.Errorf("Model(m): ended %q (%s), returned %q", r.ended, r.msg, got)
	}
	t.Setenv("CI", "")
	if r, _ := call(t, model("absent")); r.ended != "fatal" {
		t.Errorf("Model(absent) with the fixtures present ended %q, want fatal even outside CI", r.ended)
	}
}

// TestSharedDirCI checks that SharedDir follows ParityDir's rule: absent,
// it skips locally and fails under CI=true; present, it returns the named
// folder of ../shared/testdata.
func TestSharedDirCI(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	sub := filepath.Join(repo, "a")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	shared := func(tb testing.TB) string { return SharedDir(tb, "tokenizers") }
	for _, tt := range []struct{ ci, want string }{{"true", "fatal"}, {"", "skip"}} {
		t.Setenv("CI", tt.ci)
		if r, got := call(t, shared); r.ended != tt.want || got != "" {
			t.Errorf("CI=%q, absent: SharedDir ended %q (%s) and returned %q, want %q", tt.ci, r.ended, r.msg, got, tt.want)
		}
	}
	want := filepath.Join(repo, "..", "shared", "testdata", "tokenizers")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI", "true")
	if r, got := call(t, shared); r.ended != "" || got != want {
		t.Errorf("present: SharedDir ended %q (%s), returned %q, want %q", r.ended, r.msg, got, want)
	}
}

// TestInstalled checks Installed's rule: a package that is there lets the
// test go on, a missing one skips locally and fails under CI=true, and an
// unusable one fails everywhere.
func TestInstalled(t *testing.T) {
	missing := fmt.Errorf("looked: %w", fs.ErrNotExist)
	broken := errors.New("corrupt file")
	for _, tt := range []struct {
		err       error
		ci, ended string
	}{
		{nil, "", ""},
		{nil, "true", ""},
		{missing, "", "skip"},
		{missing, "true", "fatal"},
		{broken, "", "fatal"},
		{broken, "true", "fatal"},
	} {
		t.Setenv("CI", tt.ci)
		r, got := call(t, func(tb testing.TB) string { Installed(tb, "pkg", tt.err); return "went on" })
		if r.ended != tt.ended || (tt.ended == "" && got != "went on") {
			t.Errorf("Installed(%v) with CI=%q ended %q (%s), want %q", tt.err, tt.ci, r.ended, r.msg, tt.ended)
		}
	}
}
