package workbench_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Tests never skip silently. A skip (Skip, Skipf or SkipNow on a T, B, F
// or TB, called or taken as a method value) in any file that imports
// "testing" is allowed in exactly these places, and TestSkipsAreChecked
// fails on any other:
//
//   - inside the helpers of skipHelper (internal/testenv): ParityDir for
//     the numerical parity fixtures in ../shared and Installed for the
//     Debian packages .ci/run installs (chromium, dataset-fashion-mnist).
//     Each skips with a message naming what is missing locally, so that
//     `go test ./...` works on a fresh clone with only Go, and fails when
//     CI=true;
//   - in the body of an if statement one of whose &&-conjuncts is a
//     condition of skipConditions, each documented there: the skip then
//     happens only when that condition holds, never in CI's full run;
//
// A test too slow for a quick local run skips only under -short.

// skipHelper holds the only helpers allowed to skip on a missing input:
// file (relative to the module root) and functions.
var skipHelper = struct {
	file string
	fns  []string
}{"internal/testenv/testenv.go", []string{"ParityDir", "SharedDir", "Installed"}}

// skipConditions are the guards under which a skip is allowed, by their
// source text, with the reason each is not a silent skip.
var skipConditions = map[string]string{
	// The caller asked for less with -short. The README's test command
	// and CI's full `go test ./...` never pass it; CI's -race pass does,
	// after the full run has run these tests.
	"testing.Short()": "explicit -short",
	// Hardware: the AVX-512 attention kernels exist only on amd64 CPUs
	// with AVX-512, without -tags purego. TestCIHasAVX512 fails a CI=true
	// run on a machine without them, so CI's main run never takes this
	// skip; its -tags purego run has no fast path to test.
	"!nn.AttnAVX512": "no AVX-512 kernels in this build or on this CPU",
}

// skipSite is one skip found in a file.
type skipSite struct {
	pos   token.Position
	call  string // "t.Skipf"
	fn    string // enclosing top-level function or method name, "" outside one
	allow string // why it is allowed: "helper", a condition, or "" (a violation)
}

func TestSkipsAreChecked(t *testing.T) {
	used := map[string]bool{}
	sites := 0
	err := walkGoFiles(func(path string) error {
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found, err := findSkips(filepath.ToSlash(path), src)
		if err != nil {
			return err
		}
		for _, s := range found {
			sites++
			used[s.allow] = true
			if s.allow == "helper" {
				used["helper:"+s.fn] = true
			}
			if s.allow == "" {
				t.Errorf("%s: %s in %s is a skip outside the allowed places: use testenv.ParityDir for the parity fixtures, "+
					"testenv.Installed for what .ci/run installs, or guard a slow test "+
					"with `if testing.Short() { t.Skip(...) }` (see skips_test.go)", s.pos, s.call, s.fn)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sites == 0 {
		t.Fatal("found no skips at all: the scan is not reading the test files")
	}
	for _, fn := range skipHelper.fns {
		if !used["helper:"+fn] {
			t.Errorf("%s:%s has no skip: the helper is gone or moved; update skipHelper", skipHelper.file, fn)
		}
	}
	for c := range skipConditions {
		if !used[c] {
			t.Errorf("skipConditions[%q] guards no skip: delete the entry", c)
		}
	}
}

// TestSkipHelperFailsUnderCI checks, by reading them, that the helpers
// consult CI and fail before they skip (testenv's own tests run them).
func TestSkipHelperFailsUnderCI(t *testing.T) {
	src, err := os.ReadFile(skipHelper.file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), skipHelper.file, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !slices.Contains(skipHelper.fns, fd.Name.Name) || fd.Recv != nil {
			continue
		}
		seen[fd.Name.Name] = true
		body := string(src[fd.Body.Pos()-1 : fd.Body.End()-1])
		ci, fatal, skip := strings.Index(body, `os.Getenv("CI") == "true"`), strings.LastIndex(body, "t.Fatalf("), strings.Index(body, "t.Skipf(")
		if ci < 0 || skip < 0 || !(ci < fatal && fatal < skip) {
			t.Errorf("%s: %s must test os.Getenv(\"CI\") == \"true\" and fail before it skips", skipHelper.file, fd.Name.Name)
		}
	}
	for _, fn := range skipHelper.fns {
		if !seen[fn] {
			t.Errorf("%s has no function %s", skipHelper.file, fn)
		}
	}
}

// findSkips returns the skips of a Go file that imports "testing", each
// with the reason it is allowed, if any.
func findSkips(path string, src []byte) ([]skipSite, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == strconv.Quote("testing") }) {
		return nil, nil
	}
	var sites []skipSite
	for _, d := range f.Decls {
		fn := ""
		if fd, ok := d.(*ast.FuncDecl); ok {
			fn = fd.Name.Name
		}
		var stack []ast.Node
		ast.Inspect(d, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if sel, ok := n.(*ast.SelectorExpr); ok && isSkipName(sel.Sel.Name) {
				s := skipSite{pos: fset.Position(sel.Pos()), call: exprString(fset, sel), fn: fn}
				s.allow = allowSkip(fset, path, fn, d, append(stack, n))
				sites = append(sites, s)
			}
			stack = append(stack, n)
			return true
		})
	}
	return sites, nil
}

func isSkipName(name string) bool { return name == "Skip" || name == "Skipf" || name == "SkipNow" }

// allowSkip says why the skip at the end of path (the chain of nodes from
// the declaration d down to it) is allowed, or "".
func allowSkip(fset *token.FileSet, file, fn string, d ast.Decl, path []ast.Node) string {
	if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && file == skipHelper.file && slices.Contains(skipHelper.fns, fn) {
		return "helper"
	}
	for i := len(path) - 2; i >= 0; i-- {
		ifs, ok := path[i].(*ast.IfStmt)
		if !ok || path[i+1] != ifs.Body {
			continue
		}
		for _, c := range conjuncts(ifs.Cond) {
			if _, ok := skipConditions[exprString(fset, c)]; ok {
				return exprString(fset, c)
			}
		}
	}
	return ""
}

// conjuncts splits e on && (through parentheses).
func conjuncts(e ast.Expr) []ast.Expr {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return conjuncts(x.X)
	case *ast.BinaryExpr:
		if x.Op == token.LAND {
			return append(conjuncts(x.X), conjuncts(x.Y)...)
		}
	}
	return []ast.Expr{e}
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, e); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return b.String()
}

// TestFindSkips checks the scan itself on small files: what it must flag
// and what it must let through.
func TestFindSkips(t *testing.T) {
	const head = "package p\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nvar _ = os.Getenv\n\n"
	tests := []struct {
		name, file, src string
		want            []string // allow of each skip, in order
	}{
		{"bare skip", "a/x_test.go", `func TestX(t *testing.T) { t.Skip("no") }`, []string{""}},
		{"skipf and skipnow", "a/x_test.go", `func TestX(t *testing.T) { t.Skipf("%d", 1); t.SkipNow() }`, []string{"", ""}},
		{"benchmark", "a/x_test.go", `func BenchmarkX(b *testing.B) { b.Skip() }`, []string{""}},
		{"method value", "a/x_test.go", `func TestX(t *testing.T) { f := t.Skip; f() }`, []string{""}},
		{"short guard", "a/x_test.go", `func TestX(t *testing.T) { if testing.Short() { t.Skip("slow") } }`, []string{"testing.Short()"}},
		{"short conjunct", "a/x_test.go", `func TestX(t *testing.T) { if (testing.Short() && os.Getenv("CI") != "true") { t.Skip() } }`, []string{"testing.Short()"}},
		{"short nested", "a/x_test.go", `func TestX(t *testing.T) { if testing.Short() { if true { t.Skip() } } }`, []string{"testing.Short()"}},
		{"short disjunct", "a/x_test.go", `func TestX(t *testing.T) { if testing.Short() || os.Getenv("X") == "" { t.Skip() } }`, []string{""}},
		{"short in else", "a/x_test.go", `func TestX(t *testing.T) { if testing.Short() { } else { t.Skip() } }`, []string{""}},
		{"negated short", "a/x_test.go", `func TestX(t *testing.T) { if !testing.Short() { t.Skip() } }`, []string{""}},
		{"short in condition only", "a/x_test.go", `func TestX(t *testing.T) { if testing.Short() { }; t.Skip() }`, []string{""}},
		{"ci guard is not enough", "a/x_test.go", `func TestX(t *testing.T) { if os.Getenv("CI") != "true" { t.Skip() } }`, []string{""}},
		{"closure in a helper", "a/x_test.go", `func helper(t *testing.T) { defer func() { t.Skip() }() }`, []string{""}},
		{"package level", "a/x_test.go", `var f = func(t *testing.T) { t.Skip() }`, []string{""}},
		{"hardware", "a/x_test.go", `func TestX(t *testing.T) { if !nn.AttnAVX512 { t.Skip() } }`, []string{"!nn.AttnAVX512"}},
		{"the parity helper", skipHelper.file, `func ParityDir(t testing.TB) string { t.Skipf("absent"); return "" }`, []string{"helper"}},
		{"the package helper", skipHelper.file, `func Installed(t testing.TB, p string, err error) { t.Skipf("absent") }`, []string{"helper"}},
		{"helper name elsewhere", "a/x_test.go", `func ParityDir(t testing.TB) string { t.Skipf("absent"); return "" }`, []string{""}},
		{"helper file, other func", skipHelper.file, `func Other(t testing.TB) { t.Skip() }`, []string{""}},
		{"a web helper", "web/browser_test.go", `func newBrowser(t *testing.T) { t.Skip() }`, []string{""}},
		{"no testing import", "a/x.go", "package p\nfunc f(s S) { s.Skip() }", nil},
	}
	for _, tt := range tests {
		src := tt.src
		if strings.HasPrefix(src, "func") || strings.HasPrefix(src, "var") {
			src = head + src
		}
		found, err := findSkips(tt.file, []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, s := range found {
			got = append(got, s.allow)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: findSkips(%q) allows %q, want %q", tt.name, tt.src, got, tt.want)
		}
	}
}
