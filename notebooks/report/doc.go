// Package report is the framework of Workbench's notebooks: runnable Go
// programs (notebooks/NN-topic/main.go) that each write a self-contained
// HTML lesson — prose in lesson order, the code that produced each result,
// tables, figures — and a results.json of the key numbers that tests check.
//
// A notebook is a function
//
//	func run(ctx context.Context, o report.Options) error
//
// and a main that hands it to Main:
//
//	//go:embed main.go
//	var source []byte
//
//	func main() {
//		if err := report.Main(context.Background(), "01-induction-heads", os.Args[1:], run); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//	}
//
// Main parses the flags every notebook shares (-out DIR, -quick, -seed N),
// cancels the context on SIGINT, and calls run. A test in the notebook's
// directory calls run directly in quick mode through reporttest.Run.
//
// Inside run, a notebook builds a Report and writes it:
//
//	r := report.New("Induction heads from scratch", source, o)
//	r.Section("Training")
//	r.P("We train a two-layer attention-only transformer on `repeated random tokens` ...")
//	r.Code("train")                        // the region "train" of main.go
//	r.Figure(fig, "The loss curve.")       // a *figures.Figure, inline SVG
//	r.Headline("induction_acc", "induction accuracy", acc, "%.3f")
//	return r.Write()                        // o.Out/index.html and o.Out/results.json
//
// Code regions are marked in the notebook's source with line comments
//
//	// region: train
//	...
//	// endregion
//
// and Code shows the lines between them, dedented and highlighted, so the
// report shows the code that actually ran, never a copy that can drift.
//
// Prose: P and Note take plain text in which `backticks` set code,
// **double stars** bold and *single stars* emphasis; everything else is
// escaped. HTML is never
// passed through, so any number or token string is safe to print.
//
// Output: index.html loads nothing from the network (inline CSS, figures
// inline as SVG or as PNG files beside index.html) and opens offline in
// any browser. results.json is
//
//	{"notebook": "01-induction-heads", "quick": false, "seed": 1,
//	 "results": {"induction_acc": 0.97, ...}}
//
// with non-finite numbers written as null.
//
// Support for the notebooks' models: DemoModel loads the repository's
// trained induction model (the dashboard's demo, found from the working
// directory by RepoFile), and Rows turns a data.Batch into the [batch][pos]
// token lists the analysis packages take.
//
// Tests: reporttest.Run calls a notebook's run in quick mode into a
// temporary directory and checks the page and results.json.
//
// Concurrency: a Report is not safe for concurrent use; build it from one
// goroutine.
package report
