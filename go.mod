module github.com/mechinterp/workbench

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	golang.org/x/sys v0.50.0
	gonum.org/v1/gonum v0.17.0
)
