package notify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/shp-dev/shp/internal/redact"
)

func init() { Register("email", newEmail) }

// Ways of securing the SMTP connection (the tls setting).
const (
	emailSTARTTLS = "starttls" // plain connection upgraded with STARTTLS, which is mandatory
	emailTLS      = "tls"      // implicit TLS from the start (SMTPS)
	emailNone     = "none"     // no TLS: only to a loopback host
)

// HeaderNotificationID is the email header carrying Notification.ID, the
// same when a notification is sent again.
const HeaderNotificationID = "X-Shp-Notification-Id"

// HeaderIncidentID is the email header carrying Notification.IncidentID.
const HeaderIncidentID = "X-Shp-Incident-Id"

// email sends notifications by SMTP, as multipart/alternative messages
// with a plain-text and an HTML part.
//
// Settings:
//
//	host                  the SMTP server (required)
//	port                  its port: 587 by default, 465 with tls: tls, 25 with
//	                      tls: none
//	username, password    for SMTP AUTH PLAIN (password is a secret)
//	from                  the sender's address (required)
//	to                    the recipients: a list of addresses, or one string
//	                      of comma-separated addresses (required)
//	tls                   starttls (default, mandatory STARTTLS), tls
//	                      (implicit TLS) or none (only to localhost,
//	                      127.0.0.1 or ::1)
//	insecure_skip_verify  do not verify the server's certificate (default false)
//	title_template        a text/template over the Notification for the title
//	text_template         a text/template over the Notification for the body
//
// The subject is the title after [FIRING] or [RESOLVED] and the severity.
// The Message-ID derives from the notification's ID, and the header
// X-Shp-Notification-Id carries it, so a notification sent again can be
// recognised; References ties an incident's messages into one thread.
type email struct {
	receiver string
	host     string
	port     int
	mode     string
	username string
	password string
	from     *netmail.Address
	to       []*netmail.Address
	tls      *tls.Config
	render   *renderer
	now      func() time.Time
	red      *redact.Redactor
}

// newEmail is the Factory of the email kind.
func newEmail(cfg ReceiverConfig, opts Options) (Notifier, error) {
	s := newSettings(cfg, "host", "port", "username", "password", "from", "to", "tls",
		"insecure_skip_verify", keyTitleTemplate, keyTextTemplate)
	e := &email{receiver: cfg.Name, now: opts.Now}
	e.host = s.required("host")
	if strings.Contains(e.host, ":") && net.ParseIP(e.host) == nil {
		s.errorf("host", "host must be a host name or address without a port (set port), got %q", e.host)
	}
	e.mode = s.str("tls", emailSTARTTLS)
	defPort := 587
	switch e.mode {
	case emailSTARTTLS:
	case emailTLS:
		defPort = 465
	case emailNone:
		defPort = 25
		if e.host != "" && !loopback(e.host) {
			s.errorf("tls", "tls: none sends the password and the messages in clear, and is allowed only to localhost, 127.0.0.1 or ::1; use starttls or tls")
		}
	default:
		s.errorf("tls", "tls must be %q, %q or %q, got %q", emailSTARTTLS, emailTLS, emailNone, e.mode)
	}
	e.port = s.integer("port", "smtp port", defPort, 1, 65535)
	e.username = s.str("username", "")
	e.password = s.str("password", "")
	if e.username != "" && e.password == "" && !s.failed("password") {
		s.errorf("password", "password is required with username")
	}
	if e.username == "" && e.password != "" {
		s.errorf("username", "username is required with password")
	}
	if from := s.required("from"); from != "" {
		addr, err := netmail.ParseAddress(from)
		if err != nil {
			s.errorf("from", "from must be an email address, got %q", from)
		}
		e.from = addr
	}
	e.to = parseRecipients(s)
	e.tls = &tls.Config{
		ServerName:         e.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.boolean("insecure_skip_verify", false), //nolint:gosec // the user's choice, off by default
	}
	e.render = newRenderer(s)
	e.red = redact.New(e.password)
	if err := s.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// parseRecipients reads the to setting: a list of addresses, or one string
// of comma-separated addresses.
func parseRecipients(s *settings) []*netmail.Address {
	list := s.stringList("to")
	if s.failed("to") {
		return nil
	}
	var out []*netmail.Address
	for _, item := range list {
		addrs, err := netmail.ParseAddressList(item)
		if err != nil {
			s.errorf("to", "to must list email addresses, got %q", item)
			return nil
		}
		out = append(out, addrs...)
	}
	if len(out) == 0 {
		s.errorf("to", "to is required")
	}
	return out
}

// Notify sends the message. A cancelled context stops the send, even in
// the middle of the SMTP conversation. A message the server took is
// delivered even if closing the connection then fails.
func (e *email) Notify(ctx context.Context, n Notification) error {
	if err := ctx.Err(); err != nil {
		return e.failure(err, "not sent: %v", err)
	}
	msg, err := e.message(n)
	if err != nil {
		return err
	}
	// The connection closes when ctx is done, which stops whatever the
	// client waits for.
	stop := func() bool { return false }
	defer func() { stop() }()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		stop = context.AfterFunc(ctx, func() { conn.Close() })
		if e.mode != emailTLS {
			return conn, nil
		}
		tc := tls.Client(conn, e.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	opts := []mail.Option{
		mail.WithPort(e.port),
		mail.WithTLSConfig(e.tls),
		mail.WithDialContextFunc(dial),
	}
	switch e.mode {
	case emailTLS:
		opts = append(opts, mail.WithSSL())
	case emailNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain),
			mail.WithUsername(e.username), mail.WithPassword(e.password))
	}
	client, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return &ConfigError{Receiver: e.receiver, Msg: "the SMTP client cannot be set up: " +
			e.red.Text(err.Error()), Err: e.red.Error(err)}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return e.failure(err, "sending by SMTP to %s failed: %v", net.JoinHostPort(e.host, strconv.Itoa(e.port)), err)
}

// failure returns the *SendError of err, masked.
func (e *email) failure(err error, format string, args ...any) *SendError {
	return &SendError{
		Receiver:   e.receiver,
		Kind:       "email",
		StatusCode: smtpCode(err),
		Temporary:  temporary(err),
		Msg:        e.red.Text(fmt.Sprintf(format, args...)),
		Err:        e.red.Error(err),
	}
}

// message builds the email of n.
func (e *email) message(n Notification) (*mail.Msg, error) {
	r, err := e.render.render(n)
	if err != nil {
		return nil, err
	}
	m := mail.NewMsg()
	m.FromMailAddress(e.from)
	m.ToMailAddress(e.to...)
	m.Subject(subject(n, r.Title))
	m.SetDateWithValue(e.now())
	m.SetUserAgent(userAgent)
	m.SetBulk()
	domain := e.from.Address[strings.LastIndexByte(e.from.Address, '@')+1:]
	if n.ID != "" {
		m.SetMessageIDWithValue("shp." + idToken(n.ID) + "@" + domain)
		m.SetGenHeader(HeaderNotificationID, oneLine(n.ID))
	} else {
		m.SetMessageID()
	}
	if n.IncidentID != "" {
		m.SetGenHeader(HeaderIncidentID, oneLine(n.IncidentID))
		m.SetGenHeader(mail.HeaderReferences, "<shp.incident."+idToken(n.IncidentID)+"@"+domain+">")
	}
	m.SetBodyString(mail.TypeTextPlain, r.Text)
	m.AddAlternativeString(mail.TypeTextHTML, "<!DOCTYPE html>\n<html><body>\n"+r.HTML+"</body></html>\n")
	return m, nil
}

// subject is the title after the status and severity: "[FIRING] [critical] TITLE".
func subject(n Notification, title string) string {
	s := "[" + strings.ToUpper(orDefault(n.Status, StatusFiring)) + "]"
	if n.Severity != "" {
		s += " [" + n.Severity + "]"
	}
	return s + " " + oneLine(title)
}

// idChars are what a Message-ID's left part takes of an ID as it is.
var idChars = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// idToken turns an ID into the left part of a Message-ID: itself when it
// is short and plain, else a hash of it.
func idToken(id string) string {
	if idChars.MatchString(id) && !strings.HasPrefix(id, ".") && !strings.HasSuffix(id, ".") &&
		!strings.Contains(id, "..") {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// oneLine joins s's lines, for a header.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
