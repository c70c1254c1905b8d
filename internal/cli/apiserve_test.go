package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/service"
)

// TestServeAPITriggersARealRun: shp serve with --api-listen serves the
// REST API beside the scheduler; a key made with shp apikey triggers a
// run through it, the run really loads the quick start's data, and its
// result reads back through the API.
func TestServeAPITriggersARealRun(t *testing.T) {
	dir := initProject(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errOut strings.Builder
	go func() {
		var out strings.Builder
		done <- Main(ctx, []string{"serve", "--config", dir, "--api-listen", addr}, strings.NewReader(""), &out, &errOut)
	}()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the API never came up: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	code, out, stderr := shp(t, "apikey", "create", "--config", dir, "--name", "ci", "--role", "operator", "--format", "json")
	var created struct {
		Key string `json:"key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || !strings.HasPrefix(created.Key, "shp_") {
		t.Fatalf("apikey create: %d %s %s", code, out, stderr)
	}
	call := func(method, path string, v any) int {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+created.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	var trig struct {
		RunID string `json:"run_id"`
	}
	if code := call("POST", "/api/v1/pipelines/sales/run", &trig); code != 202 || trig.RunID == "" {
		t.Fatalf("trigger: %d %+v", code, trig)
	}
	var run struct {
		Status    string `json:"status"`
		RowsIn    int64  `json:"rows_in"`
		Loaded    int64  `json:"rows_loaded"`
		Invariant bool   `json:"invariant_ok"`
		Tasks     []struct {
			Task string `json:"task"`
		} `json:"tasks"`
	}
	for i := 0; ; i++ {
		code := call("GET", "/api/v1/runs/"+trig.RunID, &run)
		if code == 200 && run.Status != "running" && run.Status != "queued" {
			break
		}
		if i > 400 {
			t.Fatalf("run %s: %d %+v\n%s", trig.RunID, code, run, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if run.Status != "succeeded" || run.RowsIn != 3750 || !run.Invariant || len(run.Tasks) < 2 {
		t.Fatalf("run %+v", run)
	}
	var p struct {
		LastRun struct {
			ID               string `json:"id"`
			RecordsProcessed int64  `json:"records_processed"`
		} `json:"last_run"`
		Quality struct {
			Score *float64 `json:"score"`
		} `json:"quality"`
	}
	if code := call("GET", "/api/v1/pipelines/sales", &p); code != 200 || p.LastRun.ID != trig.RunID || p.Quality.Score == nil || p.LastRun.RecordsProcessed == 0 {
		t.Fatalf("pipeline after the run: %d %+v", code, p)
	}
	// The run is counted on /metrics, beside the API's own metrics.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`shp_pipeline_runs_total{pipeline="sales",source_type="file",status="succeeded"} 1`,
		`shp_pipeline_rows_total{outcome="in",pipeline="sales",source_type="file"} 3750`,
		`shp_pipeline_stage_duration_seconds_count{pipeline="sales",stage="commit"} 1`,
		`shp_pipeline_stage_duration_seconds_count{pipeline="sales",stage="validate"} 1`,
		`shp_pipeline_last_run_status{pipeline="sales",status="succeeded"} 1`,
		`shp_pipeline_quality_score{pipeline="sales"}`,
		`shp_api_requests_total{`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, out, _ := shp(t, "audit", "--config", dir); code != 0 || !strings.Contains(out, "POST /api/v1/pipelines/sales/run") || !strings.Contains(out, "key:") {
		t.Fatalf("audit: %d %s", code, out)
	}
	if code, out, _ := shp(t, "apikey", "list", "--config", dir); code != 0 || !strings.Contains(out, "operator") || strings.Contains(out, created.Key) {
		t.Fatalf("apikey list: %d %s", code, out)
	}
	id := strings.SplitN(created.Key, "_", 3)[1]
	if code, out, _ := shp(t, "apikey", "revoke", id, "--config", dir); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("apikey revoke: %d %s", code, out)
	}
	// Revoked by another process, the key stops working once the
	// server's cached copy (a second) is stale.
	for i := 0; call("GET", "/api/v1/pipelines", nil) != 401; i++ {
		if i > 100 {
			t.Fatal("a key revoked with shp apikey revoke still works")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIRevertsThroughTheWarehouse: a revert through the API undoes the
// repair in the real target, as shp healing revert does; a second revert
// is a conflict.
func TestAPIRevertsThroughTheWarehouse(t *testing.T) {
	dir := healingProject(t, "confidence_threshold: 0.8\nauto_approve: [normalize_to_value_set, quarantine_duplicates]\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	id := appliedID(t, dir, "normalize_to_value_set")
	p, err := loadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := openServices(context.Background(), p, what{store: true, warehouse: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.close()
	s := svc.service()
	key, _, err := s.CreateKey(context.Background(), "ops", service.Operator, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Service: s, Config: p.Config.API}).Handler())
	defer srv.Close()
	revert := func() (int, string) {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/healing/actions/%d/revert", srv.URL, id), strings.NewReader(`{"reason": "Apac is a different code"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := revert(); code != 200 || !strings.Contains(body, `"rows":2`) || !strings.Contains(body, `"status":"reverted"`) {
		t.Fatalf("revert: %d %s", code, body)
	}
	var region string
	rows, err := svc.warehouse.RunQuery(context.Background(), "SELECT string_agg(region, ',' ORDER BY id) FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		rows.Scan(&region)
	}
	rows.Close()
	if region != "EMEA, emea ,Apac,AMER,atlantis" {
		t.Fatalf("target after the revert: %s", region)
	}
	if code, body := revert(); code != 409 || !strings.Contains(body, "only an applied action can be reverted") {
		t.Fatalf("second revert: %d %s", code, body)
	}
}

// TestServeAPIOverTLS: with a certificate the API serves HTTPS only.
func TestServeAPIOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	e := &env{stdout: io.Discard, stderr: io.Discard}
	p, err := loadProject(initProject(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config.API
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	stop, bound, err := serveAPI(context.Background(), e, &api.Server{Service: &service.Service{Project: p}, Config: cfg}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + bound + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https: %d %v", resp.StatusCode, resp.TLS)
	}
	if resp, err := http.Get("http://" + bound + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// a pool that trusts it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shp test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
