package metadata

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"url", "postgres://shp:s3cret@db:5432/meta?sslmode=disable", "postgres://shp:xxxxx@db:5432/meta?sslmode=disable"},
		{"url without password", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
		{"url with empty password", "postgres://u:@h/db", "postgres://u:@h/db"},
		{"url with escaped password", "postgresql://u:p%40ss%2Fw@h/db", "postgresql://u:xxxxx@h/db"},
		{"url with raw @ and / in password", "postgres://u:p@ss/w@h/db", "postgres://u:xxxxx@h/db"},
		{"url with ? in password", "postgres://u:p?ss@h/db", "postgres://u:xxxxx@h/db"},
		{"url password parameter", "postgres://u@h/db?sslmode=require&password=s3cret&x=1", "postgres://u@h/db?sslmode=require&password=xxxxx&x=1"},
		{"url sslpassword parameter", "postgres://u@h/db?SSLPassword=s3cret#frag", "postgres://u@h/db?SSLPassword=xxxxx#frag"},
		{"url escaped parameter name", "postgres://u@h/db?pass%77ord=s3cret", "postgres://u@h/db?pass%77ord=xxxxx"},
		{"url both", "postgres://u:a@h/db?password=b", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"url @ in the query only", "postgres://h/db?application_name=a@b", "postgres://h/db?application_name=a@b"},
		{"url no user info", "postgres://h:5432/db", "postgres://h:5432/db"},
		{"key value", "host=h user=u password=s3cret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"key value first", "password=s3cret host=h", "password=xxxxx host=h"},
		{"key value spaces", "host=h password = s3cret", "host=h password = xxxxx"},
		{"key value quoted", `host=h password='s3 \' cret' user=u`, "host=h password=xxxxx user=u"},
		{"key value unterminated quote", `host=h password='s3 cret user=u`, "host=h password=xxxxx"},
		{"key value upper case", "host=h PASSWORD=s3cret", "host=h PASSWORD=xxxxx"},
		{"key value sslpassword", "host=h sslpassword=s3cret", "host=h sslpassword=xxxxx"},
		{"key value no password", "host=h user=u", "host=h user=u"},
		{"key value @ in a value", "host=h user=a@b", "host=h user=a@b"},
		{"mysql", "root:s3cret@tcp(127.0.0.1:3306)/test", "root:xxxxx@tcp(127.0.0.1:3306)/test"},
		{"mysql @ in password", "root:s3@cret@tcp(h:3306)/test", "root:xxxxx@tcp(h:3306)/test"},
		{"mysql without password", "root@tcp(127.0.0.1:3306)/test", "root@tcp(127.0.0.1:3306)/test"},
		{"file path", "/var/lib/shp/metadata.db", "/var/lib/shp/metadata.db"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactDSN(tc.dsn)
			if got != tc.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("RedactDSN(%q) = %q shows the password", tc.dsn, got)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	base := errors.New("dial as u:p@ss/w (p@ss/w) with 's3 ' cret'")
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"no secret", "postgres://u@h/db", base.Error()},
		{"url", "postgres://u:p%40ss%2Fw@h/db", "dial as u:xxxxx (xxxxx) with 's3 ' cret'"},
		{"quoted", `host=h password='s3 \' cret'`, "dial as u:p@ss/w (p@ss/w) with 'xxxxx'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := redactError(base, tc.dsn)
			if err.Error() != tc.want {
				t.Errorf("redactError = %q, want %q", err, tc.want)
			}
			if !errors.Is(err, base) {
				t.Error("the redacted error does not unwrap to the original")
			}
		})
	}
	if redactError(nil, "postgres://u:p@h/db") != nil {
		t.Error("redactError(nil) is not nil")
	}
}
