package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"syscall"
	"testing"
)

func TestRetryable(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"config error", &ConfigError{Receiver: "r", Msg: "bad"}, false},
		{"joined config errors", errors.Join(&ConfigError{Receiver: "r", Msg: "a"}, &ConfigError{Receiver: "r", Msg: "b"}), false},
		{"temporary send error", &SendError{Receiver: "r", Temporary: true}, true},
		{"permanent send error", &SendError{Receiver: "r", StatusCode: 400}, false},
		{"wrapped temporary send error", fmt.Errorf("notify: %w", &SendError{Temporary: true}), true},
		{"network error", opErr, true},
		{"wrapped network error", fmt.Errorf("dial failed: %w", opErr), true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", context.Canceled, false},
		{"cancelled during a network error", fmt.Errorf("%w (%w)", context.Canceled, opErr), false},
		{"connection reset", syscall.ECONNRESET, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"SMTP 421", &textproto.Error{Code: 421, Msg: "service not available"}, true},
		{"SMTP 451", fmt.Errorf("send failed: %w", &textproto.Error{Code: 451, Msg: "try later"}), true},
		{"SMTP 535", fmt.Errorf("SMTP AUTH failed: %w", &textproto.Error{Code: 535, Msg: "bad credentials"}), false},
		{"SMTP 550", &textproto.Error{Code: 550, Msg: "no such user"}, false},
		{"unknown certificate authority", x509.UnknownAuthorityError{}, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorsNameTheReceiver(t *testing.T) {
	inner := errors.New("inner")
	ce := &ConfigError{Receiver: "ops", Key: "url", Msg: "url is required", Err: inner}
	if got, want := ce.Error(), `receiver "ops": url is required`; got != want {
		t.Errorf("ConfigError = %q, want %q", got, want)
	}
	if !errors.Is(ce, inner) {
		t.Error("ConfigError does not unwrap to its cause")
	}
	se := &SendError{Receiver: "ops", Msg: "HTTP 500", Err: inner}
	if got, want := se.Error(), `receiver "ops": HTTP 500`; got != want {
		t.Errorf("SendError = %q, want %q", got, want)
	}
	if !errors.Is(se, inner) {
		t.Error("SendError does not unwrap to its cause")
	}
}
