package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	want := []string{"alertmanager", "email", "teams", "webhook"}
	if got := Kinds(); !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
}

func TestRegisterPanics(t *testing.T) {
	f := func(ReceiverConfig, Options) (Notifier, error) { return nil, nil }
	tests := []struct {
		name string
		kind string
		f    Factory
	}{
		{"duplicate kind", "teams", f},
		{"no kind", "", f},
		{"no factory", "pager", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tt.kind)
				}
			}()
			Register(tt.kind, tt.f)
		})
	}
	if slices.Contains(Kinds(), "pager") {
		t.Error("a kind without a factory was registered")
	}
}

// TestRegisterAddsAKind registers a kind the way a kind's file does, and
// builds a receiver of it.
func TestRegisterAddsAKind(t *testing.T) {
	var got ReceiverConfig
	var gotOpts Options
	Register("test-kind", func(cfg ReceiverConfig, opts Options) (Notifier, error) {
		got, gotOpts = cfg, opts
		return notifierFunc(func(context.Context, Notification) error { return nil }), nil
	})
	t.Cleanup(func() {
		registryMu.Lock()
		delete(registry, "test-kind")
		registryMu.Unlock()
	})
	if !slices.Contains(Kinds(), "test-kind") {
		t.Fatalf("Kinds() = %v, without test-kind", Kinds())
	}
	cfg := ReceiverConfig{Name: "mine", Type: "test-kind", Settings: map[string]any{"a": 1}}
	if _, err := New(cfg, Options{}); err != nil {
		t.Fatalf("New: %v", err)
	}
	if got.Name != "mine" || got.Settings["a"] != 1 {
		t.Errorf("the factory got %+v", got)
	}
	if gotOpts.HTTPClient == nil || gotOpts.HTTPClient.Timeout != DefaultHTTPTimeout || gotOpts.Now == nil {
		t.Errorf("New did not fill the default options: %+v", gotOpts)
	}
}

// notifierFunc adapts a function to Notifier.
type notifierFunc func(context.Context, Notification) error

// Notify calls f.
func (f notifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

func TestNewRejectsUnknownKindAndNoName(t *testing.T) {
	_, err := New(ReceiverConfig{Name: "ops", Type: "pagerduty"}, Options{})
	if err == nil {
		t.Fatal("New accepted an unknown kind")
	}
	for _, want := range []string{`receiver "ops"`, `"pagerduty"`, "alertmanager, email, teams, webhook"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if Retryable(err) {
		t.Error("an unknown kind is retryable")
	}
	if _, err := New(ReceiverConfig{Type: "teams", Settings: map[string]any{"url": "https://x.example"}}, Options{}); err == nil {
		t.Error("New accepted a receiver without a name")
	}
}

// TestSettingsErrors checks that every setting is checked, and that each
// error names the receiver and the key, and never a secret.
func TestSettingsErrors(t *testing.T) {
	emailOK := func(extra map[string]any) map[string]any {
		m := map[string]any{"host": "smtp.example.com", "from": "shp@example.com", "to": "ops@example.com"}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name     string
		kind     string
		settings map[string]any
		key      string   // the ConfigError's key
		want     []string // in the message
		secrets  []string // never in it
	}{
		{"smtp port not a number", "email", emailOK(map[string]any{"port": "x"}), "port",
			[]string{`receiver "ops-email": smtp port must be a whole number from 1 to 65535, got "x"`}, nil},
		{"smtp port too big", "email", emailOK(map[string]any{"port": 70000}), "port",
			[]string{"from 1 to 65535, got 70000"}, nil},
		{"smtp port not whole", "email", emailOK(map[string]any{"port": 25.5}), "port", []string{"got 25.5"}, nil},
		{"unknown key", "email", emailOK(map[string]any{"hostname": "x"}), "hostname",
			[]string{`unknown setting "hostname"; the settings of type email are from, host, insecure_skip_verify, password, port, text_template, title_template, tls, to, username`}, nil},
		{"no host", "email", emailOK(map[string]any{"host": nil}), "host", []string{"host is required"}, nil},
		{"host with port", "email", emailOK(map[string]any{"host": "smtp.example.com:587"}), "host", []string{"without a port"}, nil},
		{"tls none to a remote host", "email", emailOK(map[string]any{"tls": "none"}), "tls", []string{"only to localhost"}, nil},
		{"bad tls", "email", emailOK(map[string]any{"tls": "ssl"}), "tls", []string{`got "ssl"`}, nil},
		{"bad from", "email", emailOK(map[string]any{"from": "shp at example"}), "from", []string{`from must be an email address, got "shp at example"`}, nil},
		{"no to", "email", emailOK(map[string]any{"to": nil}), "to", []string{"to is required"}, nil},
		{"bad to", "email", emailOK(map[string]any{"to": []any{"ops@example.com", "nobody"}}), "to", []string{`got "nobody"`}, nil},
		{"to of numbers", "email", emailOK(map[string]any{"to": []any{42}}), "to", []string{"to[0] must be a string, got 42"}, nil},
		{"to a map", "email", emailOK(map[string]any{"to": map[string]any{}}), "to", []string{"got a map"}, nil},
		{"password without username", "email", emailOK(map[string]any{"password": "hunter2secret"}), "username",
			[]string{"username is required with password"}, []string{"hunter2secret"}},
		{"username without password", "email", emailOK(map[string]any{"username": "shp"}), "password", []string{"password is required"}, nil},
		{"password a number", "email", emailOK(map[string]any{"username": "shp", "password": 73125409}), "password",
			[]string{"password must be a string, got a number"}, []string{"73125409"}},
		{"insecure_skip_verify not a bool", "email", emailOK(map[string]any{"insecure_skip_verify": "yes"}), "insecure_skip_verify",
			[]string{`must be true or false, got "yes"`}, nil},
		{"bad title template", "email", emailOK(map[string]any{"title_template": "{{.Title"}), "title_template",
			[]string{`receiver "ops-email": title_template does not parse`}, nil},
		{"bad text template", "teams", map[string]any{"url": "https://x.example/hook", "text_template": "{{if}}"}, "text_template",
			[]string{"text_template does not parse"}, nil},
		{"teams without url", "teams", map[string]any{}, "url", []string{"url is required"}, nil},
		{"teams over http", "teams", map[string]any{"url": "http://teams.example.com/workflows/SIGPATH?sig=SIGVALUE"}, "url",
			[]string{"url must use https"}, []string{"SIGPATH", "SIGVALUE"}},
		{"teams url not a URL", "teams", map[string]any{"url": "https://bad host/x?sig=SIGVALUE"}, "url",
			[]string{"url is not a valid URL"}, []string{"SIGVALUE", "bad host"}},
		{"teams url relative", "teams", map[string]any{"url": "/hooks/SIGPATH"}, "url",
			[]string{"absolute http:// or https:// URL"}, []string{"SIGPATH"}},
		{"teams url a number", "teams", map[string]any{"url": 12345678}, "url",
			[]string{"url must be a string, got a number"}, []string{"12345678"}},
		{"teams format", "teams", map[string]any{"url": "https://x.example/hook", "format": "hero"}, "format",
			[]string{`format must be "adaptive" or "messagecard", got "hero"`}, nil},
		{"teams takes no headers", "teams", map[string]any{"url": "https://x.example/hook", "headers": map[string]any{}}, "headers",
			[]string{`unknown setting "headers"`, "format, text_template, title_template, url"}, nil},
		{"webhook max_alerts negative", "webhook", map[string]any{"url": "https://x.example/hook", "max_alerts": -1}, "max_alerts",
			[]string{"max_alerts must be a whole number from 0 to"}, nil},
		{"webhook bad header name", "webhook", map[string]any{"url": "https://x.example/hook", "headers": map[string]any{"X Key": "HDRSECRET"}}, "headers",
			[]string{`"X Key" is not a valid header name`}, []string{"HDRSECRET"}},
		{"webhook header not a string", "webhook", map[string]any{"url": "https://x.example/hook", "headers": map[string]any{"X-Key": 5}}, "headers",
			[]string{"headers.X-Key must be a string"}, nil},
		{"webhook headers not a map", "webhook", map[string]any{"url": "https://x.example/hook", "headers": []any{"a"}}, "headers",
			[]string{"headers must be a map of strings, got a list"}, nil},
		{"webhook header of two lines", "webhook", map[string]any{"url": "https://x.example/hook", "headers": map[string]any{"X-Key": "HDR\nSECRET"}}, "headers",
			[]string{"the value of X-Key must be one line"}, []string{"SECRET"}},
		{"webhook reserved header", "webhook", map[string]any{"url": "https://x.example/hook", "headers": map[string]any{"content-type": "text/plain"}}, "headers",
			[]string{"content-type is set by shp"}, nil},
		{"webhook token and Authorization", "webhook", map[string]any{"url": "https://x.example/hook", "bearer_token": "TOKSECRET",
			"headers": map[string]any{"Authorization": "Basic HDRSECRET"}}, "headers",
			[]string{"Authorization cannot be given with bearer_token"}, []string{"TOKSECRET", "HDRSECRET"}},
		{"webhook takes no templates", "webhook", map[string]any{"url": "https://x.example/hook", "title_template": "x"}, "title_template",
			[]string{`unknown setting "title_template"`}, nil},
		{"alertmanager ftp", "alertmanager", map[string]any{"url": "ftp://am.example/"}, "url", []string{"absolute http:// or https:// URL"}, nil},
		{"alertmanager blank url", "alertmanager", map[string]any{"url": "  "}, "url", []string{"url is required"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "ops-" + tt.kind
			_, err := New(ReceiverConfig{Name: name, Type: tt.kind, Settings: tt.settings}, Options{})
			if err == nil {
				t.Fatal("New accepted the settings")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %T: %v", err, err)
			}
			if ce.Key != tt.key || ce.Receiver != name {
				t.Errorf("the error is about receiver %q key %q, want %q key %q: %v", ce.Receiver, ce.Key, name, tt.key, err)
			}
			for _, want := range append([]string{`receiver "` + name + `"`}, tt.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows the secret %q", err, s)
				}
			}
			if Retryable(err) {
				t.Error("a configuration error is retryable")
			}
		})
	}
}

// TestSettingsErrorsAreAllReported checks that one New reports every
// setting at fault, not only the first.
func TestSettingsErrorsAreAllReported(t *testing.T) {
	_, err := New(ReceiverConfig{Name: "ops", Type: "email", Settings: map[string]any{
		"port": "x", "tls": "ssl", "colour": "red",
	}}, Options{})
	if err == nil {
		t.Fatal("New accepted the settings")
	}
	for _, want := range []string{"colour", "smtp port", "tls must be", "host is required", "from is required", "to is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestValidSettings checks settings as YAML parses them are taken.
func TestValidSettings(t *testing.T) {
	tests := []struct {
		kind     string
		settings map[string]any
	}{
		{"email", map[string]any{"host": "smtp.example.com", "port": uint64(2525), "from": "Shp <shp@example.com>",
			"to": []any{"a@example.com", "B <b@example.com>"}, "username": "shp", "password": "pw", "tls": "starttls",
			"insecure_skip_verify": false, "title_template": "{{.Title}}", "text_template": "{{.Summary}}"}},
		{"email", map[string]any{"host": "::1", "tls": "none", "port": int64(25), "from": "shp@localhost", "to": "a@example.com, b@example.com"}},
		{"email", map[string]any{"host": "smtp.example.com", "tls": "tls", "from": "shp@example.com", "to": []string{"a@example.com"}}},
		{"teams", map[string]any{"url": "https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=x", "format": "messagecard"}},
		{"teams", map[string]any{"url": "http://localhost:8080/hook"}},
		{"webhook", map[string]any{"url": "http://hooks.internal/shp", "max_alerts": 10, "bearer_token": "t",
			"headers": map[string]string{"X-Api-Key": "k"}}},
		{"alertmanager", map[string]any{"url": "http://alertmanager:9093", "headers": map[string]any{"X-Scope-OrgID": "data"}}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			if _, err := New(ReceiverConfig{Name: "r", Type: tt.kind, Settings: tt.settings}, Options{}); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}
