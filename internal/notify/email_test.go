package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Credentials of the test SMTP server.
const (
	smtpUser     = "shp-alerts"
	smtpPassword = "pw-S3cr3t-9d8c7b"
)

// hexMessageID is the Message-ID of a notification whose ID is not plain.
var hexMessageID = regexp.MustCompile(`^<shp\.[0-9a-f]{32}@shp\.example\.com>$`)

// mailReceived is a message the test SMTP server took.
type mailReceived struct {
	from   string
	to     []string
	data   []byte
	tls    bool
	authed bool
}

// smtpBackend is an in-process SMTP server's backend: AUTH PLAIN checking
// smtpUser and smtpPassword (when auth is set), recording each message.
type smtpBackend struct {
	auth    bool          // require AUTH PLAIN
	rcptErr error         // the reply to RCPT TO, nil to take it
	hold    chan struct{} // when set, DATA waits for it to close
	held    chan struct{} // signalled when DATA waits

	mu   sync.Mutex
	msgs []mailReceived
}

// NewSession starts a session of a client (smtp.Backend).
func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, conn: c}, nil
}

// received returns the messages taken.
func (b *smtpBackend) received() []mailReceived {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mailReceived(nil), b.msgs...)
}

// smtpSession is one SMTP session of smtpBackend.
type smtpSession struct {
	b      *smtpBackend
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

// AuthMechanisms offers PLAIN (smtp.AuthSession).
func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth checks PLAIN credentials against smtpUser and smtpPassword.
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != smtpUser || password != smtpPassword {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

// Mail takes MAIL FROM, once authenticated when auth is required.
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.auth && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

// Rcpt takes RCPT TO, or answers rcptErr.
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rcptErr != nil {
		return s.b.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

// Data records the message, after waiting for hold when it is set.
func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.hold != nil {
		s.b.held <- struct{}{}
		<-s.b.hold
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, mailReceived{from: s.from, to: s.to, data: data, tls: isTLS, authed: s.authed})
	s.b.mu.Unlock()
	return nil
}

// Reset forgets the message under way.
func (s *smtpSession) Reset() { s.from, s.to = "", nil }

// Logout ends the session.
func (s *smtpSession) Logout() error { return nil }

// testCert returns a self-signed certificate for 127.0.0.1 and localhost,
// and a pool trusting it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "shp test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startSMTP starts an SMTP server on 127.0.0.1 securing connections as
// mode says (starttls, tls or none), and returns its port and a pool
// trusting its certificate.
func startSMTP(t *testing.T, b *smtpBackend, mode string) (int, *x509.CertPool) {
	t.Helper()
	cert, pool := testCert(t)
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = mode == emailNone
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case emailTLS:
		ln = tls.NewListener(ln, tlsConfig)
	case emailSTARTTLS:
		srv.TLSConfig = tlsConfig
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, pool
}

// newEmailReceiver builds an email receiver for the test server at port,
// trusting pool; extra settings override the defaults.
func newEmailReceiver(t *testing.T, port int, pool *x509.CertPool, mode string, extra map[string]any) Notifier {
	t.Helper()
	settings := map[string]any{
		"host": "127.0.0.1", "port": port, "tls": mode,
		"username": smtpUser, "password": smtpPassword,
		"from": "shp alerts <alerts@shp.example.com>",
		"to":   []any{"oncall@example.com", "Data Team <data@example.com>"},
	}
	for k, v := range extra {
		if v == nil {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	n := mustNew(t, ReceiverConfig{Name: "ops-email", Type: "email", Settings: settings})
	n.(*email).tls.RootCAs = pool
	return n
}

// parsedMail is a received message, parsed as a mail client would.
type parsedMail struct {
	header netmail.Header
	parts  map[string]string // body by media type
}

// parseMail parses a received message's multipart/alternative body.
func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, data)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := parsedMail{header: msg.Header, parts: map[string]string{}}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the parts: %v", err)
		}
		body, err := io.ReadAll(p) // quoted-printable is decoded by NextPart
		if err != nil {
			t.Fatal(err)
		}
		pt, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if !strings.EqualFold(pparams["charset"], "utf-8") {
			t.Errorf("part %s has charset %q", pt, pparams["charset"])
		}
		out.parts[pt] = string(body)
	}
	return out
}

func TestEmailDelivery(t *testing.T) {
	for _, mode := range []string{emailSTARTTLS, emailTLS} {
		t.Run(mode, func(t *testing.T) {
			b := &smtpBackend{auth: true}
			port, pool := startSMTP(t, b, mode)
			n := newEmailReceiver(t, port, pool, mode, nil)
			if err := n.Notify(t.Context(), sample()); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			msgs := b.received()
			if len(msgs) != 1 {
				t.Fatalf("the server got %d messages", len(msgs))
			}
			got := msgs[0]
			if !got.tls || !got.authed {
				t.Errorf("the message came with TLS %v, authenticated %v", got.tls, got.authed)
			}
			if got.from != "alerts@shp.example.com" || strings.Join(got.to, ",") != "oncall@example.com,data@example.com" {
				t.Errorf("MAIL FROM %q RCPT TO %q", got.from, got.to)
			}

			m := parseMail(t, got.data)
			subject, err := new(mime.WordDecoder).DecodeHeader(m.header.Get("Subject"))
			if err != nil || subject != "[FIRING] [critical] orders_daily failed: source orders_db unreachable" {
				t.Errorf("Subject = %q (%v)", subject, err)
			}
			if from := m.header.Get("From"); !strings.Contains(from, "<alerts@shp.example.com>") {
				t.Errorf("From = %q", from)
			}
			to, err := m.header.AddressList("To")
			if err != nil || len(to) != 2 || to[1].Name != "Data Team" {
				t.Errorf("To = %v (%v)", to, err)
			}
			if got := m.header.Get(HeaderNotificationID); got != "ntf-7f3a" {
				t.Errorf("%s = %q", HeaderNotificationID, got)
			}
			if got := m.header.Get("Message-ID"); got != "<shp.ntf-7f3a@shp.example.com>" {
				t.Errorf("Message-ID = %q", got)
			}
			if got := m.header.Get("References"); got != "<shp.incident.inc-42@shp.example.com>" {
				t.Errorf("References = %q", got)
			}
			if date, err := m.header.Date(); err != nil || !date.Equal(testNow) {
				t.Errorf("Date = %v (%v)", date, err)
			}
			text, html := m.parts["text/plain"], m.parts["text/html"]
			for _, want := range []string{"orders_daily", "r-1001", "shp healing approve 42", `source "orders_db" unreachable`, "87%"} {
				if !strings.Contains(text, want) {
					t.Errorf("the text part lacks %q:\n%s", want, text)
				}
			}
			for _, want := range []string{"<td>orders_daily</td>", "<td>r-1001</td>", "shp healing approve 42", "source &#34;orders_db&#34; unreachable"} {
				if !strings.Contains(html, want) {
					t.Errorf("the HTML part lacks %q:\n%s", want, html)
				}
			}
		})
	}
}

// TestEmailResentKeepsMessageID checks that a notification sent again can
// be recognised: it keeps its Message-ID, another notification does not.
func TestEmailResentKeepsMessageID(t *testing.T) {
	b := &smtpBackend{auth: true}
	port, pool := startSMTP(t, b, emailSTARTTLS)
	n := newEmailReceiver(t, port, pool, emailSTARTTLS, nil)
	for _, nt := range []Notification{sample(), sample(), resolved()} {
		if err := n.Notify(t.Context(), nt); err != nil {
			t.Fatal(err)
		}
	}
	msgs := b.received()
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	ids := make([]string, 3)
	for i, m := range msgs {
		ids[i] = parseMail(t, m.data).header.Get("Message-ID")
	}
	if ids[0] != ids[1] || ids[0] == ids[2] {
		t.Errorf("Message-IDs %q: a resent notification must keep its own, another must not", ids)
	}
	resolvedMail := parseMail(t, msgs[2].data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(resolvedMail.header.Get("Subject"))
	if !strings.HasPrefix(subject, "[RESOLVED] [critical] ") {
		t.Errorf("Subject = %q", subject)
	}
	if resolvedMail.header.Get("References") != parseMail(t, msgs[0].data).header.Get("References") {
		t.Error("the resolved message is not in the firing message's thread")
	}
}

func TestEmailOddIDs(t *testing.T) {
	b := &smtpBackend{}
	port, _ := startSMTP(t, b, emailNone)
	n := newEmailReceiver(t, port, nil, emailNone, map[string]any{"username": nil, "password": nil, "to": "oncall@example.com"})
	odd := sample()
	odd.ID = "run 7/step <x>"
	noID := sample()
	noID.ID, noID.IncidentID = "", ""
	for _, nt := range []Notification{odd, noID} {
		if err := n.Notify(t.Context(), nt); err != nil {
			t.Fatal(err)
		}
	}
	msgs := b.received()
	if len(msgs) != 2 || msgs[0].tls || msgs[0].authed {
		t.Fatalf("%d messages; first with TLS %v auth %v", len(msgs), len(msgs) > 0 && msgs[0].tls, len(msgs) > 0 && msgs[0].authed)
	}
	oddMail := parseMail(t, msgs[0].data)
	if id := oddMail.header.Get("Message-ID"); !hexMessageID.MatchString(id) {
		t.Errorf("Message-ID of an ID with odd characters = %q", id)
	}
	if got := oddMail.header.Get(HeaderNotificationID); got != odd.ID {
		t.Errorf("%s = %q, want %q", HeaderNotificationID, got, odd.ID)
	}
	plain := parseMail(t, msgs[1].data)
	if plain.header.Get("Message-ID") == "" || plain.header.Get(HeaderNotificationID) != "" || plain.header.Get("References") != "" {
		t.Errorf("a notification without IDs has headers %v", plain.header)
	}
}

func TestEmailCustomTemplates(t *testing.T) {
	b := &smtpBackend{auth: true}
	port, pool := startSMTP(t, b, emailSTARTTLS)
	n := newEmailReceiver(t, port, pool, emailSTARTTLS, map[string]any{
		"title_template": "{{.IncidentID}} on {{join \", \" .Pipelines}}",
		"text_template":  "Runs: {{join \" \" .Runs}}\nRun: {{index .Commands 0}}",
	})
	if err := n.Notify(t.Context(), sample()); err != nil {
		t.Fatal(err)
	}
	m := parseMail(t, b.received()[0].data)
	if subject, _ := new(mime.WordDecoder).DecodeHeader(m.header.Get("Subject")); subject != "[FIRING] [critical] inc-42 on orders_daily" {
		t.Errorf("Subject = %q", subject)
	}
	if text := strings.TrimRight(m.parts["text/plain"], "\r\n"); text != "Runs: r-1001\r\nRun: shp healing approve 42" &&
		text != "Runs: r-1001\nRun: shp healing approve 42" {
		t.Errorf("text = %q", text)
	}
	if !strings.Contains(m.parts["text/html"], "<pre>Runs: r-1001") {
		t.Errorf("html = %q", m.parts["text/html"])
	}
}

func TestEmailFailures(t *testing.T) {
	tests := []struct {
		name      string
		backend   *smtpBackend
		extra     map[string]any
		trust     bool
		retryable bool
		code      int
		want      string
	}{
		{"wrong password", &smtpBackend{auth: true}, map[string]any{"password": "pw-Wr0ng-1a2b3c"}, true, false, 535, "535"},
		{"mailbox busy (4xx)", &smtpBackend{auth: true, rcptErr: &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"}},
			nil, true, true, 450, "mailbox busy"},
		{"no such user (5xx)", &smtpBackend{auth: true, rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
			nil, true, false, 550, "no such user"},
		{"certificate not trusted", &smtpBackend{auth: true}, nil, false, false, 0, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, pool := startSMTP(t, tt.backend, emailSTARTTLS)
			if !tt.trust {
				pool = nil
			}
			n := newEmailReceiver(t, port, pool, emailSTARTTLS, tt.extra)
			err := n.Notify(t.Context(), sample())
			assertNoSecret(t, err, smtpPassword, "pw-Wr0ng-1a2b3c")
			se := asSendError(t, err)
			if Retryable(err) != tt.retryable || se.StatusCode != tt.code {
				t.Errorf("retryable %v code %d, want %v %d: %v", Retryable(err), se.StatusCode, tt.retryable, tt.code, err)
			}
			if !strings.HasPrefix(err.Error(), `receiver "ops-email": sending by SMTP to 127.0.0.1:`+strconv.Itoa(port)) ||
				!strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to say %q", err, tt.want)
			}
			if got := len(tt.backend.received()); got != 0 {
				t.Errorf("the server took %d messages", got)
			}
		})
	}
}

// TestEmailInsecureSkipVerify checks that insecure_skip_verify takes a
// certificate no one vouches for.
func TestEmailInsecureSkipVerify(t *testing.T) {
	b := &smtpBackend{auth: true}
	port, _ := startSMTP(t, b, emailTLS)
	n := newEmailReceiver(t, port, nil, emailTLS, map[string]any{"insecure_skip_verify": true})
	if err := n.Notify(t.Context(), sample()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if len(b.received()) != 1 {
		t.Error("no message was delivered")
	}
}

// TestEmailServerDown checks that an unreachable server is retryable.
func TestEmailServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := newEmailReceiver(t, port, nil, emailSTARTTLS, nil)
	err = n.Notify(t.Context(), sample())
	if !Retryable(err) {
		t.Errorf("Notify = %v, want a retryable error", err)
	}
	assertNoSecret(t, err, smtpPassword)
}

// TestEmailCancelledContext checks that a cancelled context stops a send:
// before it starts, and in the middle of the SMTP conversation.
func TestEmailCancelledContext(t *testing.T) {
	b := &smtpBackend{auth: true, hold: make(chan struct{}), held: make(chan struct{}, 1)}
	port, pool := startSMTP(t, b, emailSTARTTLS)
	t.Cleanup(func() { close(b.hold) })
	n := newEmailReceiver(t, port, pool, emailSTARTTLS, nil)

	if err := n.Notify(cancelled(), sample()); !errors.Is(err, context.Canceled) || Retryable(err) {
		t.Errorf("Notify with a cancelled context = %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-b.held
		cancel()
	}()
	start := time.Now()
	err := n.Notify(ctx, sample())
	if !errors.Is(err, context.Canceled) || Retryable(err) {
		t.Errorf("Notify cancelled during DATA = %v (retryable %v)", err, Retryable(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Notify took %v after the context was cancelled", d)
	}
	assertNoSecret(t, err, smtpPassword)
}
