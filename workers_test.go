package workbench_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneWorkerPool checks that the library below web starts goroutines
// only through package workers, its one worker pool: no go statement and no
// sync.WaitGroup.Go elsewhere. cmd and web own their servers' and signals'
// goroutines; notebooks are programs.
func TestOneWorkerPool(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path == ".":
				return nil
			case strings.HasPrefix(name, ".") || name == "testdata" || path == "cmd" || path == "web" || path == "notebooks" || path == "workers":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == "." {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement: run parallel work on a workers.Pool (workers.For, workers.ForErr)", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if n.Sel.Name == "Go" {
					t.Errorf("%s: %s.Go starts a goroutine: use package workers", fset.Position(n.Pos()), exprName(n.X))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// exprName names the expression a selector applies to, for messages.
func exprName(x ast.Expr) string {
	if id, ok := x.(*ast.Ident); ok {
		return id.Name
	}
	return "expression"
}
