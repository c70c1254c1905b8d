package source

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
)

// Redactor returns what masks the secrets of the source s in messages:
//   - s.Secrets, the values ${VAR} put where credentials travel;
//   - the passwords and secret-looking query parameters of the URLs and
//     DSNs in its settings, path, bucket and endpoint (redact.SecretsIn);
//   - the values of its params, headers, body and variables whose names
//     look secret (redact.SecretName), such as an X-Api-Token header;
//   - the secrets its *_env and *_file settings name (auth.token_env,
//     password_env ...), as the connector reads them;
//   - in URLs, the values of every parameter its params setting adds.
//
// New and NewExtractor pass every error, query and retry of a source
// through it; the pipeline uses it again on what it records of a run.
func Redactor(s Spec) *redact.Redactor {
	secrets := slices.Clone(s.Secrets)
	for _, v := range []string{s.Path, s.Bucket, s.Endpoint} {
		secrets = append(secrets, redact.SecretsIn(v)...)
	}
	var params []string
	for k, v := range s.Settings {
		if m, ok := v.(map[string]any); ok && (k == "params" || k == "headers" || k == "body" || k == "variables") {
			for name, val := range m {
				if k == "params" {
					params = append(params, name)
				}
				if redact.SecretName(name) {
					secrets = append(secrets, secretValues(val)...)
				}
			}
		}
		for _, text := range scalars(v) {
			secrets = append(secrets, redact.SecretsIn(text)...)
		}
	}
	secrets = append(secrets, namedSecrets(s.Settings)...)
	if auth, ok := s.Settings["auth"].(map[string]any); ok {
		secrets = append(secrets, namedSecrets(auth)...)
	}
	return redact.New(secrets...).WithParams(params...)
}

// secretValues returns the text of a secret setting's value, and of each
// word of it ("Bearer abc": also "abc").
func secretValues(v any) []string {
	var out []string
	for _, text := range scalars(v) {
		out = append(out, text)
		if words := strings.Fields(text); len(words) > 1 {
			out = append(out, words...)
		}
	}
	return out
}

// namedSecrets reads the secrets that the *_env and *_file keys of m name,
// when the key looks secret (token_env, password_file); a secret that
// cannot be read is the connector's error to report.
func namedSecrets(m map[string]any) []string {
	var out []string
	for k, v := range m {
		name, _ := v.(string)
		if name == "" || !redact.SecretName(k) {
			continue
		}
		var secret string
		switch {
		case strings.HasSuffix(k, "_env"):
			secret, _ = Secret(k, name, "")
		case strings.HasSuffix(k, "_file"):
			secret, _ = Secret(k, "", name)
		}
		if secret != "" {
			out = append(out, secret)
		}
	}
	return out
}

// scalars returns the text of every scalar in a settings value.
func scalars(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, scalars(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, scalars(e)...)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// redactedObjects is an ObjectSource whose errors are masked.
type redactedObjects struct {
	ObjectSource
	red *redact.Redactor
}

// List implements ObjectSource.
func (o *redactedObjects) List(ctx context.Context) ([]Object, error) {
	objs, err := o.ObjectSource.List(ctx)
	return objs, o.red.Error(err)
}

// Open implements ObjectSource.
func (o *redactedObjects) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := o.ObjectSource.Open(ctx, key)
	return r, o.red.Error(err)
}

// Close implements ObjectSource.
func (o *redactedObjects) Close() error { return o.red.Error(o.ObjectSource.Close()) }

// redactedExtractor is an Extractor whose errors, query, adjustments and
// retried failures are masked.
type redactedExtractor struct {
	Extractor
	red *redact.Redactor
}

var _ RetryLog = (*redactedExtractor)(nil)

// Discover implements Extractor.
func (x *redactedExtractor) Discover(ctx context.Context) (schema.Schema, error) {
	s, err := x.Extractor.Discover(ctx)
	return s, x.red.Error(err)
}

// Extract implements Extractor.
func (x *redactedExtractor) Extract(ctx context.Context, req ExtractRequest, sink Sink) (*Extraction, error) {
	exn, err := x.Extractor.Extract(ctx, req, sink)
	if exn != nil {
		exn.Query = x.red.Text(exn.Query)
		for i, a := range exn.Adjustments {
			exn.Adjustments[i] = x.red.Text(a)
		}
	}
	return exn, x.red.Error(err)
}

// Close implements Extractor.
func (x *redactedExtractor) Close() error { return x.red.Error(x.Extractor.Close()) }

// TakeRetries implements RetryLog: the extractor's retried failures, if
// it keeps them, masked.
func (x *redactedExtractor) TakeRetries() []resilience.Retry {
	rl, ok := x.Extractor.(RetryLog)
	if !ok {
		return nil
	}
	retries := rl.TakeRetries()
	for i := range retries {
		retries[i].Err = x.red.Error(retries[i].Err)
	}
	return retries
}

// UseBatches implements BatchExtractor when the source's extractor does:
// otherwise it writes text.
func (x *redactedExtractor) UseBatches(ctx context.Context) (bool, error) {
	bx, ok := x.Extractor.(BatchExtractor)
	if !ok {
		return false, nil
	}
	on, err := bx.UseBatches(ctx)
	return on, x.red.Error(err)
}
