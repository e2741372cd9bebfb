package dbauth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/internal/dbauth"
)

// TestIAMTokenIsSignedForEachConnection: the password of every new
// connection is a fresh RDS connect token for that host, port and user,
// signed with the task's credentials (RDS checks the signature; no local
// server can, so this checks what is signed).
func TestIAMTokenIsSignedForEachConnection(t *testing.T) {
	t.Parallel()
	src := dbauth.IAMToken{User: "refarch_serve", Region: "eu-west-1",
		AWS: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	hook := dbauth.BeforeConnect(src)
	cc, err := pgx.ParseConfig("postgres://ignored@db.example.internal:5432/refarch")
	if err != nil {
		t.Fatal(err)
	}
	if err := hook(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	if cc.User != "refarch_serve" {
		t.Errorf("user = %q, want refarch_serve", cc.User)
	}
	u, err := url.Parse("https://" + cc.Password)
	if err != nil {
		t.Fatalf("token %q is not a presigned URL: %v", cc.Password, err)
	}
	q := u.Query()
	if u.Host != "db.example.internal:5432" || q.Get("Action") != "connect" || q.Get("DBUser") != "refarch_serve" {
		t.Errorf("token signs %s %v, want connect as refarch_serve to db.example.internal:5432", u.Host, q)
	}
	if cred := q.Get("X-Amz-Credential"); !strings.HasPrefix(cred, "AKIDEXAMPLE/") || !strings.Contains(cred, "/eu-west-1/rds-db/") {
		t.Errorf("token credential scope %q", cred)
	}
	if q.Get("X-Amz-Signature") == "" {
		t.Error("token is not signed")
	}
}
