package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// send makes one request over real HTTP with the given Host and Origin
// headers ("" leaves them alone) and returns the status and body.
func send(t *testing.T, method, url, host, origin, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", jsonCT)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestHostAndOrigin sends requests as a DNS-rebinding page and as pages of
// other origins would, over loopback HTTP: only loopback names, the
// allowed hosts and this server's own origin get through.
func TestHostAndOrigin(t *testing.T) {
	s := New(Deps{RunsDir: t.TempDir(), AllowedHosts: []string{"Workbench.LAN"}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	const att = "/api/models/demo/attention"
	const attBody = `{"tokens":[1,2,3]}`
	for _, tc := range []struct {
		name, method, path, host, origin, body string
		want                                   int
	}{
		{"get evil host", "GET", "/api/models/demo", "evil.example", "", "", http.StatusMisdirectedRequest},
		{"get evil host with port", "GET", "/api/models/demo", "evil.example:" + port, "", "", http.StatusMisdirectedRequest},
		{"page evil host", "GET", "/attention", "evil.example:" + port, "", "", http.StatusMisdirectedRequest},
		{"post evil host", "POST", "/api/train", "evil.example:" + port, "", `{"steps":10}`, http.StatusMisdirectedRequest},
		{"post evil host and origin", "POST", "/api/train", "evil.example:" + port, "http://evil.example:" + port, `{"steps":10}`, http.StatusMisdirectedRequest},
		{"get evil host and origin", "GET", "/api/runs", "evil.example:" + port, "http://evil.example:" + port, "", http.StatusMisdirectedRequest},
		{"post evil origin", "POST", "/api/train", "", "http://evil.example", `{"steps":10}`, http.StatusForbidden},
		{"get evil origin", "GET", "/api/models/demo", "", "http://evil.example", "", http.StatusForbidden},
		{"post null origin", "POST", "/api/train", "", "null", `{"steps":10}`, http.StatusForbidden},
		{"get null origin", "GET", "/api/runs", "", "null", "", http.StatusForbidden},
		{"loopback name, other port", "POST", att, "", "http://localhost:1", attBody, http.StatusForbidden},
		{"loopback origin, default port", "POST", att, "", "http://127.0.0.1", attBody, http.StatusForbidden},
		{"https origin", "POST", att, "", "https://127.0.0.1:" + port, attBody, http.StatusForbidden},
		{"origin with a path", "POST", att, "", "http://127.0.0.1:" + port + "/x", attBody, http.StatusForbidden},
		{"suffix of an allowed host", "GET", "/api/models/demo", "evilworkbench.lan:" + port, "", "", http.StatusMisdirectedRequest},
		{"loopback-looking name", "GET", "/api/models/demo", "127.0.0.1.evil.example:" + port, "", "", http.StatusMisdirectedRequest},

		{"same origin", "POST", att, "", "http://127.0.0.1:" + port, attBody, http.StatusOK},
		{"localhost", "POST", att, "localhost:" + port, "http://localhost:" + port, attBody, http.StatusOK},
		{"localhost, default port", "POST", att, "localhost", "http://localhost", attBody, http.StatusOK},
		{"ipv6 loopback", "POST", att, "[::1]:" + port, "http://[::1]:" + port, attBody, http.StatusOK},
		{"ipv6 loopback, no port", "GET", "/api/models/demo", "[::1]", "", "", http.StatusOK},
		{"other loopback address", "GET", "/api/models/demo", "127.0.0.2:" + port, "", "", http.StatusOK},
		{"name that is loopback by rule", "GET", "/api/models/demo", "dash.localhost:" + port, "", "", http.StatusOK},
		{"allowed host", "POST", att, "workbench.lan:" + port, "http://WORKBENCH.lan:" + port, attBody, http.StatusOK},
		{"allowed host, trailing dot", "GET", "/api/models/demo", "workbench.lan.:" + port, "", "", http.StatusOK},
		{"no origin (curl)", "POST", att, "", "", attBody, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, tc.method, srv.URL+tc.path, tc.host, tc.origin, tc.body)
			if code != tc.want {
				t.Fatalf("%s %s Host %q Origin %q: status %d, want %d; %.200s", tc.method, tc.path, tc.host, tc.origin, code, tc.want, body)
			}
			if code >= 400 {
				var e errorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != code || e.Error == "" {
					t.Errorf("error body %q is not JSON {error, status}: %v", body, err)
				}
			}
		})
	}
	if jobs := s.trainer.list(); len(jobs) != 0 {
		t.Errorf("a refused request started %d trainings", len(jobs))
	}
}
