package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Secrets of the HTTP receivers under test.
const (
	secretPath   = "wf7d1e0c2b9a4f3e8d6c"
	secretSig    = "Zk3PqS1gnaTuRe0v"
	secretHeader = "hdr-8f2a9c4e71"
	secretToken  = "tok-5b6c7d8e9f"
)

// httpKinds are the settings of each HTTP receiver kind posting to base,
// with a secret in the URL's path and query, and in the headers and token
// where the kind takes them.
func httpKinds(base string) map[string]map[string]any {
	u := base + "/workflows/" + secretPath + "/invoke?api-version=1&sig=" + secretSig
	return map[string]map[string]any{
		"teams":   {"url": u},
		"webhook": {"url": u, "bearer_token": secretToken, "headers": map[string]any{"X-Api-Key": secretHeader}},
		"alertmanager": {"url": base + "/" + secretPath + "?sig=" + secretSig, "bearer_token": secretToken,
			"headers": map[string]any{"X-Scope-OrgID": secretHeader}},
	}
}

// TestHTTPErrorsHideSecrets checks that no error of an HTTP receiver shows
// its URL, token or header values: not when the server is down, not when
// it times out, and not when it echoes the request in a failed reply.
func TestHTTPErrorsHideSecrets(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad request to "+r.URL.String()+" workflows "+strings.ReplaceAll(r.URL.Path, "/", " ")+" with X-Api-Key: "+r.Header.Get("X-Api-Key")+
			" X-Scope-OrgID: "+r.Header.Get("X-Scope-OrgID")+" Authorization: "+r.Header.Get("Authorization")+
			" token="+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	t.Cleanup(echo.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server sees the client go only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)

	servers := []struct {
		name      string
		base      string
		client    *http.Client
		retryable bool
	}{
		{"server down", down.URL, nil, true},
		{"reply echoing the request", echo.URL, nil, false},
		{"timeout", slow.URL, &http.Client{Timeout: 100 * time.Millisecond}, true},
	}
	for _, srv := range servers {
		for kind, settings := range httpKinds(srv.base) {
			t.Run(srv.name+"/"+kind, func(t *testing.T) {
				n, err := New(ReceiverConfig{Name: "ops", Type: kind, Settings: settings}, Options{HTTPClient: srv.client})
				if err != nil {
					t.Fatal(err)
				}
				err = n.Notify(t.Context(), sample())
				assertNoSecret(t, err, secretPath, secretSig, secretHeader, secretToken)
				if !strings.HasPrefix(err.Error(), `receiver "ops": `) {
					t.Errorf("the error does not name the receiver: %v", err)
				}
				if got := Retryable(err); got != srv.retryable {
					t.Errorf("Retryable = %v, want %v: %v", got, srv.retryable, err)
				}
				// What the error wraps hides them too.
				if inner := errors.Unwrap(err); inner != nil {
					assertNoSecret(t, inner, secretPath, secretSig, secretHeader, secretToken)
				}
			})
		}
	}
}

// TestHTTPCancelledContext checks that a cancelled context stops a send:
// before it starts, and while the receiver has not answered.
func TestHTTPCancelledContext(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, "")
	for kind, settings := range httpKinds(srv.URL) {
		t.Run("before/"+kind, func(t *testing.T) {
			n := mustNew(t, ReceiverConfig{Name: "ops", Type: kind, Settings: settings})
			err := n.Notify(cancelled(), sample())
			if !errors.Is(err, context.Canceled) || Retryable(err) {
				t.Errorf("Notify = %v (retryable %v), want a cancelled, not retryable error", err, Retryable(err))
			}
		})
	}
	if got := len(srv.got()); got != 0 {
		t.Errorf("the server got %d requests", got)
	}

	arrived := make(chan struct{}, 3)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	for kind, settings := range httpKinds(hang.URL) {
		t.Run("during/"+kind, func(t *testing.T) {
			n := mustNew(t, ReceiverConfig{Name: "ops", Type: kind, Settings: settings})
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-arrived
				cancel()
			}()
			start := time.Now()
			err := n.Notify(ctx, sample())
			if !errors.Is(err, context.Canceled) || Retryable(err) {
				t.Errorf("Notify = %v (retryable %v)", err, Retryable(err))
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Notify took %v after the context was cancelled", d)
			}
			assertNoSecret(t, err, secretPath, secretSig)
		})
	}
}

// TestHTTPDeadline checks that a context deadline is a retryable failure.
func TestHTTPDeadline(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	n := mustNew(t, ReceiverConfig{Name: "ops", Type: "webhook", Settings: map[string]any{"url": hang.URL}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := n.Notify(ctx, sample())
	if !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
		t.Errorf("Notify = %v (retryable %v), want a retryable deadline error", err, Retryable(err))
	}
}

// TestHTTPRedirectNotFollowed checks that the default client does not
// carry a receiver's headers to where a redirect points.
func TestHTTPRedirectNotFollowed(t *testing.T) {
	elsewhere := newRecorder(t, http.StatusOK, "")
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	n, err := New(ReceiverConfig{Name: "ops", Type: "webhook", Settings: map[string]any{
		"url": redirect.URL, "headers": map[string]any{"X-Api-Key": secretHeader},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(t.Context(), sample())
	if err == nil || Retryable(err) || asSendError(t, err).StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Notify = %v, want a permanent HTTP 307 failure", err)
	}
	if got := len(elsewhere.got()); got != 0 {
		t.Errorf("the redirect was followed: %d requests elsewhere", got)
	}
}

func TestErrorSnippet(t *testing.T) {
	long := strings.Repeat("é", 300)
	got := errorSnippet([]byte("  line one\n\tline two  " + long))
	if !strings.HasPrefix(got, "line one line two éé") || !strings.HasSuffix(got, "…") || len(got) > maxErrorBody+len("…") {
		t.Errorf("errorSnippet = %q", got)
	}
	if !strings.Contains(errorSnippet([]byte{'a', 0xff, 'b'}), "a?b") {
		t.Error("errorSnippet keeps invalid UTF-8")
	}
}
