package notify

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/redact"
)

// ReceiverConfig is one receiver of the project's monitoring config.
type ReceiverConfig struct {
	Name     string         // the receiver's name, used in errors and metrics
	Type     string         // a registered kind: teams, email, webhook, alertmanager
	Settings map[string]any // the kind's own keys, as parsed from YAML (strings, numbers, bools, []any, map[string]any); ${VAR} already expanded
}

// Options are what every receiver may use.
type Options struct {
	HTTPClient *http.Client     // nil: a client with a 10 s timeout that follows no redirect
	Now        func() time.Time // nil: time.Now
}

// Factory builds a receiver of one kind from its configuration. It checks
// every setting and returns *ConfigError values (joined when there are
// several) naming the receiver and the key.
type Factory func(cfg ReceiverConfig, opts Options) (Notifier, error)

// DefaultHTTPTimeout is the timeout of the HTTP client receivers use when
// Options.HTTPClient is nil.
const DefaultHTTPTimeout = 10 * time.Second

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register adds a receiver kind. It is called from the init function of the
// kind's file, and panics when kind is empty, f is nil or kind is already
// registered.
func Register(kind string, f Factory) {
	if kind == "" || f == nil {
		panic("notify: Register needs a kind and a factory")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic(fmt.Sprintf("notify: receiver kind %q registered twice", kind))
	}
	registry[kind] = f
}

// Kinds returns the registered receiver kinds, sorted.
func Kinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// New builds the receiver cfg describes. An unknown kind is an error that
// lists the registered kinds; the kind's own checks name the key at fault.
func New(cfg ReceiverConfig, opts Options) (Notifier, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, &ConfigError{Receiver: cfg.Name, Msg: "a receiver needs a name"}
	}
	registryMu.RLock()
	f, ok := registry[cfg.Type]
	registryMu.RUnlock()
	if !ok {
		return nil, &ConfigError{Receiver: cfg.Name, Key: "type", Msg: fmt.Sprintf(
			"unknown receiver type %q; the types are %s", cfg.Type, strings.Join(Kinds(), ", "))}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return f(cfg, opts)
}

// defaultHTTPClient returns the client of receivers given none. It follows
// no redirect: a redirect would carry the receiver's headers (secrets) to
// another address, so a 3xx reply is a failed delivery.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: DefaultHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// settings reads a receiver's Settings, collecting a ConfigError for each
// key that is missing, unknown or of the wrong kind.
type settings struct {
	receiver string
	values   map[string]any
	allowed  []string
	errs     []error
}

// newSettings starts reading cfg's settings, of which the allowed keys are
// the only ones the kind knows.
func newSettings(cfg ReceiverConfig, allowed ...string) *settings {
	s := &settings{receiver: cfg.Name, values: cfg.Settings, allowed: slices.Sorted(slices.Values(allowed))}
	for _, k := range slices.Sorted(maps.Keys(cfg.Settings)) {
		if !slices.Contains(allowed, k) {
			s.errorf(k, "unknown setting %q; the settings of type %s are %s",
				k, cfg.Type, strings.Join(s.allowed, ", "))
		}
	}
	return s
}

// errorf records a ConfigError about key.
func (s *settings) errorf(key, format string, args ...any) {
	s.errs = append(s.errs, &ConfigError{Receiver: s.receiver, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns the errors recorded, joined; nil when there are none.
func (s *settings) err() error { return errors.Join(s.errs...) }

// str returns the string setting key, def when it is not set.
func (s *settings) str(key, def string) string {
	v, ok := s.values[key]
	if !ok || v == nil {
		return def
	}
	str, ok := v.(string)
	if !ok {
		s.errorf(key, "%s must be a string, got %s", key, s.describe(key, v))
		return def
	}
	return str
}

// required returns the string setting key, recording an error when it is
// missing or blank.
func (s *settings) required(key string) string {
	v := s.str(key, "")
	if strings.TrimSpace(v) == "" && !s.failed(key) {
		s.errorf(key, "%s is required", key)
	}
	return strings.TrimSpace(v)
}

// failed reports whether an error about key was recorded.
func (s *settings) failed(key string) bool {
	for _, err := range s.errs {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Key == key {
			return true
		}
	}
	return false
}

// boolean returns the bool setting key, def when it is not set.
func (s *settings) boolean(key string, def bool) bool {
	v, ok := s.values[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		s.errorf(key, "%s must be true or false, got %s", key, s.describe(key, v))
		return def
	}
	return b
}

// integer returns the whole-number setting key, between lo and hi, def
// when it is not set; what names it in errors, e.g. "smtp port".
func (s *settings) integer(key, what string, def, lo, hi int) int {
	v, ok := s.values[key]
	if !ok || v == nil {
		return def
	}
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case int64:
		n, ok = int(x), int64(int(x)) == x
	case uint64:
		n, ok = int(x), x <= uint64(hi)
	case float64:
		n, ok = int(x), x == float64(int(x))
	default:
		ok = false
	}
	if !ok || n < lo || n > hi {
		s.errorf(key, "%s must be a whole number from %d to %d, got %s", what, lo, hi, s.describe(key, v))
		return def
	}
	return n
}

// stringList returns the setting key as a list of strings: a YAML list of
// strings, or one string.
func (s *settings) stringList(key string) []string {
	v, ok := s.values[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return slices.Clone(x)
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			str, ok := e.(string)
			if !ok {
				s.errorf(key, "%s[%d] must be a string, got %s", key, i, s.describe(key, e))
				return nil
			}
			out = append(out, str)
		}
		return out
	}
	s.errorf(key, "%s must be a list of strings or a string, got %s", key, s.describe(key, v))
	return nil
}

// stringMap returns the setting key as a map of strings. Its values may be
// secrets: errors name the entry, never its value.
func (s *settings) stringMap(key string) map[string]string {
	v, ok := s.values[key]
	if !ok || v == nil {
		return nil
	}
	out := map[string]string{}
	switch x := v.(type) {
	case map[string]string:
		maps.Copy(out, x)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			str, ok := x[k].(string)
			if !ok {
				s.errorf(key, "%s.%s must be a string", key, k)
				return nil
			}
			out[k] = str
		}
	default:
		s.errorf(key, "%s must be a map of strings, got %s", key, s.describe(key, v))
		return nil
	}
	return out
}

// describe shows the value of setting key in an error: a string quoted, a
// number or bool as it is, anything else by its kind; the value of a
// secret setting (secretKey) by its kind only.
func (s *settings) describe(key string, v any) string {
	if secretKey(key) {
		switch v.(type) {
		case string:
			return "a string"
		case int, int64, uint64, float64:
			return "a number"
		case bool:
			return "a bool"
		}
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x)
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a map"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}

// secretKey reports whether the setting key holds a secret: a URL (a Teams
// Workflows URL carries its signature, others may carry a password), the
// headers, or any setting whose name says so (password, bearer_token).
func secretKey(key string) bool {
	return key == "url" || key == "headers" || redact.SecretName(key)
}
