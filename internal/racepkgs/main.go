// Command racepkgs prints, one a line, the import paths of the packages
// that start goroutines or share state between them, for .ci/run to test
// under the race detector:
//
//	go run ./internal/racepkgs ./...
//
// A package qualifies when one of its non-test Go files, as `go list`
// selects them for this build, has a go statement or calls a method named
// Go (sync.WaitGroup.Go, errgroup.Group.Go), or when the package imports
// sync or sync/atomic, or when it imports a listed package that qualifies:
// a package whose code runs on another package's workers (transformer's
// training step on the workers pool) is tested under the race detector as
// well. The files are parsed, so a comment or a string that mentions "go "
// does not count.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// listed is the part of `go list -json` that racepkgs reads.
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

func run(w io.Writer, patterns []string) error {
	if len(patterns) == 0 {
		return errors.New("racepkgs: usage: racepkgs PACKAGES (e.g. ./...)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Dir,GoFiles,Imports", "--"}, patterns...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("racepkgs: go list: %w: %s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []listed
	qualifies := map[string]bool{}
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("racepkgs: reading go list's output: %w", err)
		}
		ok, err := concurrent(p)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, p)
		qualifies[p.ImportPath] = ok
	}
	// Importers of a qualifying package qualify, to a fixed point.
	for changed := true; changed; {
		changed = false
		for _, p := range pkgs {
			if !qualifies[p.ImportPath] && slices.ContainsFunc(p.Imports, func(i string) bool { return qualifies[i] }) {
				qualifies[p.ImportPath], changed = true, true
			}
		}
	}
	for _, p := range pkgs {
		if qualifies[p.ImportPath] {
			fmt.Fprintln(w, p.ImportPath)
		}
	}
	return nil
}

// concurrent reports whether package p starts goroutines or shares state
// between them.
func concurrent(p listed) (bool, error) {
	if slices.Contains(p.Imports, "sync") || slices.Contains(p.Imports, "sync/atomic") {
		return true, nil
	}
	for _, name := range p.GoFiles {
		path := filepath.Join(p.Dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("racepkgs: %w", err)
		}
		ok, err := startsGoroutines(path, src)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// startsGoroutines reports whether the Go file src has a go statement or a
// call of a method named Go.
func startsGoroutines(path string, src []byte) (bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		return false, fmt.Errorf("racepkgs: %w", err)
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GoStmt:
			found = true
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" {
				found = true
			}
		}
		return !found
	})
	return found, nil
}
