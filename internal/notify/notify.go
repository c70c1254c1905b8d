// Package notify delivers shp's incident notifications to receivers:
// Microsoft Teams, email, a generic webhook in Alertmanager's format, and an
// Alertmanager. Every receiver kind sits behind the Notifier interface and is
// built from its configuration by New, through a registry each kind's file
// adds itself to (Register). Route is Alertmanager's routing tree, which
// picks the receivers of an incident from its labels.
//
// Receivers that people read (teams, email) render a notification with
// default templates (Render), or with their own title_template and
// text_template settings: Go text/template over the Notification, which
// may call join SEP LIST, upper, lower, percent CONFIDENCE ("87%") and
// time T ("2006-01-02 15:04:05 UTC"). A template that does not parse is a
// ConfigError from New; one that fails on a notification is a ConfigError
// from Notify.
//
// The receiver kinds and their settings (unknown settings are errors):
//
//	teams         url (https; http only to a loopback host), format
//	              (adaptive, the default, for Teams Workflows; or
//	              messagecard for a legacy Office 365 connector),
//	              title_template, text_template
//	email         host, port (587; 465 with tls: tls; 25 with tls: none),
//	              username and password (AUTH PLAIN), from, to (a list or
//	              one comma-separated string), tls (starttls, the default
//	              and mandatory; tls; or none, only to a loopback host),
//	              insecure_skip_verify, title_template, text_template
//	webhook       url, headers, bearer_token, max_alerts: posts
//	              Alertmanager's webhook message, version 4
//	alertmanager  url (the base URL), bearer_token, headers: posts the
//	              alerts to Alertmanager's /api/v2/alerts
//
// Receivers' URLs, tokens, passwords and header values are secrets: a Teams
// Workflows URL carries its signature. They never appear in an error this
// package returns: the message of a SendError, and of the error it wraps,
// is masked, and the URL of a *url.Error is left out.
package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"syscall"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Status values of alerts and notifications.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Severity values of alerts and notifications.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Alert is one alert of an incident.
type Alert struct {
	Fingerprint string            // stable id of the alert (hex)
	Rule        string            // the alert rule's name, e.g. "run_failed"
	Pipeline    string            // the pipeline the alert is about
	Severity    string            // "critical", "warning" or "info"
	Status      string            // "firing" or "resolved"
	Summary     string            // one line
	Description string            // longer text, may be empty
	Labels      map[string]string // includes pipeline, severity, rule
	StartsAt    time.Time         // when the alert started firing
	EndsAt      time.Time         // zero while firing
}

// Notification is one message about one incident, firing or resolved.
type Notification struct {
	ID         string            // idempotency key: the same notification retried keeps its ID
	IncidentID string            // the incident the notification is about
	Status     string            // "firing" or "resolved"
	Severity   string            // the incident's highest severity
	Title      string            // one line
	Summary    string            // what happened, to which pipeline(s) and run(s)
	Cause      string            // the correlated cause, e.g. `source "orders_db" unreachable`
	Pipelines  []string          // the pipelines the incident touches
	Runs       []string          // the runs the incident touches
	Diagnosis  string            // healing's diagnosis category, may be empty
	Confidence float64           // 0..1, 0 when unknown
	Healing    string            // what self-healing did or proposes, may be empty
	Commands   []string          // exact shp commands to act, e.g. "shp healing approve 42"
	Link       string            // URL to a dashboard page, may be empty
	Labels     map[string]string // the incident's common labels
	Alerts     []Alert           // the incident's alerts
	StartsAt   time.Time         // when the incident started
	EndsAt     time.Time         // when it was resolved; zero while firing
	Suppressed int               // raw alerts folded into this incident
}

// Notifier delivers a notification to one receiver.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// ConfigError is a receiver's configuration that cannot work: a missing,
// unknown or malformed setting, or a template that fails. Retrying does not
// help, so Retryable reports false for it.
type ConfigError struct {
	Receiver string // the receiver's name
	Key      string // the setting at fault; empty when it is not one setting
	Msg      string // what is wrong; never holds a secret
	Err      error  // the underlying error, if any; its text is not shown
}

// Error returns `receiver "NAME": MSG`.
func (e *ConfigError) Error() string { return fmt.Sprintf("receiver %q: %s", e.Receiver, e.Msg) }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// SendError is a failed delivery to a receiver.
type SendError struct {
	Receiver   string        // the receiver's name
	Kind       string        // the receiver's kind, e.g. "teams"
	StatusCode int           // the HTTP status or SMTP reply code; 0 when there was none
	Temporary  bool          // whether sending again later may succeed
	RetryAfter time.Duration // the wait a receiver asked for (HTTP Retry-After); 0 when none
	Msg        string        // what happened, with every secret masked
	Err        error         // the underlying error
}

// Error returns `receiver "NAME": MSG`.
func (e *SendError) Error() string { return fmt.Sprintf("receiver %q: %s", e.Receiver, e.Msg) }

// Unwrap returns the underlying error, for errors.Is and errors.As. Its
// own text is not masked: show the SendError, not what it unwraps to.
func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether sending the notification again may succeed
// after err: true for network errors, timeouts, HTTP 408, 429 and 5xx
// replies, and SMTP 4xx (transient) replies; false for other HTTP 4xx
// replies, SMTP 5xx replies, certificate errors, a cancelled context and
// configuration errors.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return temporary(err)
}

// temporary classifies an error that came from a transport.
func temporary(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// A certificate that does not verify stays so.
	var (
		cve    *tls.CertificateVerificationError
		unkCA  x509.UnknownAuthorityError
		hostE  x509.HostnameError
		certE  x509.CertificateInvalidError
		alertE tls.AlertError
		recE   tls.RecordHeaderError
	)
	if errors.As(err, &cve) || errors.As(err, &unkCA) || errors.As(err, &hostE) ||
		errors.As(err, &certE) || errors.As(err, &alertE) || errors.As(err, &recE) {
		return false
	}
	if code := smtpCode(err); code != 0 {
		return code >= 400 && code < 500
	}
	var me *mail.SendError
	if errors.As(err, &me) {
		// A SendError without a reply code lost its connection mid-way.
		switch me.Reason {
		case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose,
			mail.ErrWriteContent, mail.ErrConnCheck, mail.ErrSMTPReset:
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// smtpCode returns the SMTP reply code of err, 0 when it has none.
func smtpCode(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	var me *mail.SendError
	if errors.As(err, &me) {
		return me.ErrorCode()
	}
	return 0
}
