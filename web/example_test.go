package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/mechinterp/workbench/web"
)

// The dashboard is an http.Handler: serve it on a loopback address (it
// answers loopback names and the Deps.AllowedHosts only). Here the API
// lists the models it can show (the embedded text demo, a small language
// model trained on tinyshakespeare, first; then the synthetic demo) and
// returns the synthetic demo's attention patterns on a few tokens.
func Example() {
	runs, _ := os.MkdirTemp("", "runs")
	defer os.RemoveAll(runs)
	srv := httptest.NewServer(web.New(web.Deps{RunsDir: runs}))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/api/models")
	if err != nil {
		fmt.Println(err)
		return
	}
	var models []struct {
		Name   string
		Config struct {
			NLayers int `json:"n_layers"`
			NHeads  int `json:"n_heads"`
		}
	}
	json.NewDecoder(res.Body).Decode(&models)
	res.Body.Close()
	for _, m := range models[:2] {
		fmt.Printf("%s: %d layers × %d heads\n", m.Name, m.Config.NLayers, m.Config.NHeads)
	}

	res, err = http.Get(srv.URL + "/api/models/demo/attention?tokens=7,8,9")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var att struct {
		Patterns [][][][]float64 // [layer][head][dest][src ≤ dest]
	}
	json.NewDecoder(res.Body).Decode(&att)
	fmt.Println(res.StatusCode, res.Header.Get("Content-Security-Policy"))
	fmt.Println("L0H0 row 0:", att.Patterns[0][0][0])
	// Output:
	// shakespeare: 2 layers × 4 heads
	// demo: 2 layers × 4 heads
	// 200 default-src 'self'
	// L0H0 row 0: [1]
}
