package web_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/mechinterp/workbench/web"
)

// The dashboard is an http.Handler: serve it, or call it directly. Here the
// API lists the models it can show (the embedded demo first) and returns
// the demo's attention patterns on a few tokens.
func Example() {
	runs, _ := os.MkdirTemp("", "runs")
	defer os.RemoveAll(runs)
	dash := web.New(web.Deps{RunsDir: runs})

	rec := httptest.NewRecorder()
	dash.ServeHTTP(rec, httptest.NewRequest("GET", "/api/models", nil))
	var models []struct {
		Name   string
		Config struct {
			NLayers int `json:"n_layers"`
			NHeads  int `json:"n_heads"`
		}
	}
	json.Unmarshal(rec.Body.Bytes(), &models)
	fmt.Printf("%s: %d layers × %d heads\n", models[0].Name, models[0].Config.NLayers, models[0].Config.NHeads)

	rec = httptest.NewRecorder()
	dash.ServeHTTP(rec, httptest.NewRequest("GET", "/api/models/demo/attention?tokens=7,8,9", nil))
	var att struct {
		Patterns [][][][]float64 // [layer][head][dest][src ≤ dest]
	}
	json.Unmarshal(rec.Body.Bytes(), &att)
	fmt.Println(rec.Code, rec.Header().Get("Content-Security-Policy"))
	fmt.Println("L0H0 row 0:", att.Patterns[0][0][0])
	// Output:
	// demo: 2 layers × 4 heads
	// 200 default-src 'self'
	// L0H0 row 0: [1]
}
