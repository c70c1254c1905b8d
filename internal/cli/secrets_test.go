package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// The secrets planted in the sources of TestServeKeepsSourceSecretsOut,
// one of each way a secret reaches a source's requests.
const (
	plantedURLToken = "PLANTED1-access-9f3c" // ?access_token= in the url
	plantedEnvParam = "PLANTED2-param-51ab"  // params: {token: "${SHP_TEST_TOKEN}"}
	plantedHeader   = "PLANTED3-header-c4d2" // headers: {X-Api-Token: ...}
	plantedDSN      = "PLANTED4-dsn-77e0"    // a DSN's password
	plantedSig      = "PLANTED5-sig-0b9a"    // a signed object URL's signature
)

var planted = []string{plantedURLToken, plantedEnvParam, plantedHeader, plantedDSN, plantedSig}

// lockedBuffer is a buffer the serve command's log goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeKeepsSourceSecretsOut: sources of every kind carry planted
// secrets (a token in the URL, a ${VAR} parameter, a header, a DSN
// password, an object URL's signature), and every one of them fails, the
// API servers echoing the request in their answers. After the runs, shp
// serve has shown none of the secrets: not in the REST API's runs, tasks,
// healing actions, pipelines or lineage, not in its log, not in the bytes
// of its metadata store. The failures still say what failed.
func TestServeKeepsSourceSecretsOut(t *testing.T) {
	t.Setenv("SHP_TEST_TOKEN", plantedEnvParam)
	var restCalls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/orders":
			if restCalls.Add(1) == 1 {
				http.Error(w, "temporarily unavailable: "+r.URL.RequestURI(), http.StatusInternalServerError)
				return
			}
			http.Error(w, fmt.Sprintf("invalid credentials for %s with X-Api-Token %s", r.URL.RequestURI(), r.Header.Get("X-Api-Token")),
				http.StatusUnauthorized)
		case "/hangup":
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		case "/graphql":
			var body struct {
				Variables map[string]any `json:"variables"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
				"message": fmt.Sprintf("token %v is not valid for %s", body.Variables["token"], r.URL.RequestURI())}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "shp-test"})

	dir := filepath.Join(t.TempDir(), "proj")
	retry := "retry: {attempts: 2, initial_interval: 10ms, max_interval: 20ms, breaker_failures: -1}"
	files := map[string]string{
		"config.yaml": `project: secrets
pipelines:
  rest: {source: rest}
  hangup: {source: hangup}
  gql: {source: gql}
  pg: {source: pg}
  my: {source: my}
  files: {source: files}
  bucket: {source: bucket, wait_for_data: {timeout: 10ms, poll: 5ms}}
`,
		"sources.yaml": `sources:
  rest:
    type: api
    url: ` + api.URL + `/v1/orders?access_token=` + plantedURLToken + `
    headers: {X-Api-Token: ` + plantedHeader + `}
    params: {token: "${SHP_TEST_TOKEN}", status: open}
    records_path: items
    pagination: {type: page, size_param: per_page, size: 10}
    ` + retry + `
  hangup:
    type: api
    url: ` + api.URL + `/hangup?access_token=` + plantedURLToken + `
    params: {token: "${SHP_TEST_TOKEN}"}
    ` + retry + `
  gql:
    type: graphql
    url: ` + api.URL + `/graphql?access_token=` + plantedURLToken + `
    query: "query($token: String) { orders(token: $token) { id } }"
    variables: {token: "${SHP_TEST_TOKEN}"}
    records_path: data.orders
  pg:
    type: postgres
    dsn: postgres://shp:` + plantedDSN + `@127.0.0.1:1/shop?sslmode=disable
    table: orders
    ` + retry + `
  my:
    type: mysql
    dsn: shp:` + plantedDSN + `@tcp(127.0.0.1:1)/shop
    table: orders
    ` + retry + `
  files:
    type: file
    path: exports/orders.csv?X-Goog-Signature=` + plantedSig + `
    format: csv
  bucket:
    type: gcs
    bucket: shp-test
    path: exports/orders.csv?sig=` + plantedSig + `
    endpoint: ` + gcs.URL() + `
    format: csv
`,
		"self_healing.yaml": "confidence_threshold: 0.9\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := shp(t, "apikey", "create", "--config", dir, "--name", "ci", "--role", "operator", "--format", "json")
	var created struct {
		Key string `json:"key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created.Key == "" {
		t.Fatalf("apikey create: %d %s %s", code, out, stderr)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var logs lockedBuffer
	go func() {
		done <- Main(ctx, []string{"serve", "--verbose", "--config", dir, "--api-listen", addr}, strings.NewReader(""), io.Discard, &logs)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	defer stop()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the API never came up: %v\n%s", err, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	// call returns the status and body of an API request.
	call := func(method, path string) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+created.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	pipelines := []string{"rest", "hangup", "gql", "pg", "my", "files", "bucket"}
	runs := map[string]string{}
	for _, name := range pipelines {
		code, body := call("POST", "/api/v1/pipelines/"+name+"/run")
		var trig struct {
			RunID string `json:"run_id"`
		}
		if code != http.StatusAccepted || json.Unmarshal(body, &trig) != nil || trig.RunID == "" {
			t.Fatalf("trigger %s: %d %s", name, code, body)
		}
		runs[name] = trig.RunID
	}
	// responses are every API answer about the runs, for the scan below.
	var responses []string
	for _, name := range pipelines {
		var run struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		var body []byte
		for i := 0; ; i++ {
			var code int
			code, body = call("GET", "/api/v1/runs/"+runs[name])
			if code == http.StatusOK && json.Unmarshal(body, &run) == nil && run.Status != "running" && run.Status != "queued" {
				break
			}
			if i > 600 {
				t.Fatalf("run of %s: %d %s\n%s", name, code, body, logs.String())
			}
			time.Sleep(25 * time.Millisecond)
		}
		responses = append(responses, string(body))
		if run.Status != "failed" || run.Error == "" {
			t.Errorf("run of %s: %s, want a failure that says why", name, body)
		}
		// The failures still say what failed.
		want := map[string]string{"rest": "401", "hangup": "access_token=REDACTED", "gql": "GraphQL errors", "pg": "127.0.0.1",
			"my": "127.0.0.1", "files": "X-Goog-Signature=REDACTED", "bucket": "sig=REDACTED"}[name]
		if !strings.Contains(run.Error, want) {
			t.Errorf("run of %s: error %q does not say %q", name, run.Error, want)
		}
	}
	for _, path := range []string{"/api/v1/runs?page_size=100", "/api/v1/healing/actions?page_size=100", "/api/v1/pipelines",
		"/api/v1/pipelines/rest", "/api/v1/pipelines/rest/runs", "/api/v1/lineage"} {
		_, body := call("GET", path)
		responses = append(responses, string(body))
	}
	_, actions := call("GET", "/api/v1/healing/actions?page_size=100")
	if !strings.Contains(string(actions), `"issue"`) {
		t.Errorf("no healing action was recorded: %s", actions)
	}
	stop()

	var store []string
	err = filepath.WalkDir(filepath.Join(dir, ".shp"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		store = append(store, p+"\n"+string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(store, ""), "metadata.db") {
		t.Fatal("no metadata store was found to scan")
	}
	for _, secret := range planted {
		for _, r := range responses {
			if strings.Contains(r, secret) {
				t.Errorf("the API shows %s: %s", secret, r)
			}
		}
		if log := logs.String(); strings.Contains(log, secret) {
			t.Errorf("the log shows %s:\n%s", secret, log)
		}
		for _, f := range store {
			if strings.Contains(f, secret) {
				name, _, _ := strings.Cut(f, "\n")
				t.Errorf("%s holds %s", name, secret)
			}
		}
	}
}
