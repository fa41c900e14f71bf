package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
		{"discover evil origin", "POST", "/api/models/demo/discover", "", "http://evil.example", `{"method":"eap"}`, http.StatusForbidden},
		{"discover evil host", "POST", "/api/models/demo/discover/edge", "evil.example:" + port, "", `{"edge":"embed->logits"}`, http.StatusMisdirectedRequest},
		{"sweeps evil host", "GET", "/api/sweeps", "evil.example:" + port, "", "", http.StatusMisdirectedRequest},
		{"sweeps evil origin", "GET", "/api/sweeps", "", "http://evil.example", "", http.StatusForbidden},
		{"sweeps page evil host", "GET", "/sweeps", "evil.example:" + port, "", "", http.StatusMisdirectedRequest},

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

// TestSlowBody sends a request body slower than the body deadline over a
// raw loopback connection: the server answers 408 instead of waiting.
func TestSlowBody(t *testing.T) {
	const deadline = 300 * time.Millisecond
	srv := httptest.NewServer(New(Deps{RunsDir: t.TempDir(), BodyTimeout: deadline}))
	defer srv.Close()
	for _, path := range []string{"/api/models/demo/attention", "/api/train", "/attention"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tokens\":", path)
		conn.SetDeadline(time.Now().Add(10 * deadline)) // the test's own bound: without the fix, nothing comes back
		began := time.Now()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		took := time.Since(began)
		conn.Close()
		if err != nil {
			t.Errorf("POST %s with a stalled body: no response within %v: %v", path, 10*deadline, err)
			continue
		}
		res.Body.Close()
		if strings.HasPrefix(path, "/api/") && res.StatusCode != http.StatusRequestTimeout {
			t.Errorf("POST %s with a stalled body: status %d, want 408", path, res.StatusCode)
		}
		t.Logf("POST %s: %d after %v", path, res.StatusCode, took)
	}
}

// TestBodyDeadlineLifted checks that the body deadline does not cut a
// response that takes longer than it once the body has arrived.
func TestBodyDeadlineLifted(t *testing.T) {
	const deadline = 100 * time.Millisecond
	h := bodyDeadline(deadline)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("reading the body: %v", err)
		}
		select {
		case <-time.After(3 * deadline):
			io.WriteString(w, "done")
		case <-r.Context().Done():
			t.Errorf("request cancelled after its body arrived: %v", r.Context().Err())
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Post(srv.URL, jsonCT, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "done" {
		t.Errorf("response %q, want done", b)
	}
}
