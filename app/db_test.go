package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/refarch/refarch/internal/pgtls"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/migrations"
)

// tlsDatabase starts a TLS Postgres with a migrated database refarch owned
// by the login role app (password p1; CREATEROLE, like the RDS master user
// that runs the migrations), reached only over TLS with SCRAM.
func tlsDatabase(t *testing.T) *pgtls.Server {
	t.Helper()
	srv := pgtls.Start(t)
	ctx := context.Background()
	admin := srv.Admin(t)
	for _, q := range []string{`CREATE ROLE app LOGIN CREATEROLE PASSWORD 'p1'`, `CREATE DATABASE refarch OWNER app`} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	su, err := pgxpool.New(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=refarch sslmode=disable", socketDir(srv), srv.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close()
	if _, err := su.Exec(ctx, `CREATE EXTENSION vector`); err != nil {
		t.Fatalf("create extension vector: %v", err)
	}
	owner, err := pgxpool.New(ctx, fmt.Sprintf("host=%s port=%d user=app dbname=refarch sslmode=disable", socketDir(srv), srv.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if _, err := migrations.Up(ctx, owner); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return srv
}

func socketDir(srv *pgtls.Server) string { return strings.TrimSuffix(srv.CA, "/ca.pem") }

// tlsConfig is testConfig on the TLS server, as the Terraform sets it:
// parts, verify-full and a CA bundle.
func tlsConfig(t *testing.T, srv *pgtls.Server, ca string) Config {
	t.Helper()
	var cfg Config
	cfg.Bind(pflag.NewFlagSet("test", pflag.ContinueOnError))
	cfg.DBHost, cfg.DBPort, cfg.DBName = "localhost", srv.Port, "refarch"
	cfg.DBUser, cfg.DBPassword = "app", "p1"
	cfg.DBSSLMode, cfg.DBSSLRootCert = "verify-full", ca
	cfg.Embedder = "hash"
	cfg.PelicanPollInterval = 50 * time.Millisecond
	cfg.Addr = testkit.FreeAddr(t)
	return cfg
}

// TestVerifyFullChecksTheDatabaseCertificate: with the CA that signed the
// server's certificate the connection opens; with another CA it is refused
// with an error that names the bundle; sslmode=require (the old setting)
// accepts the untrusted certificate, which is why it is no longer used.
func TestVerifyFullChecksTheDatabaseCertificate(t *testing.T) {
	t.Parallel()
	srv := tlsDatabase(t)
	ctx := context.Background()

	pool, err := OpenDB(ctx, tlsConfig(t, srv, srv.CA))
	if err != nil {
		t.Fatalf("verify-full with the right CA: %v", err)
	}
	var ssl bool
	if err := pool.QueryRow(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
		t.Errorf("connection is not encrypted (ssl=%v, err=%v)", ssl, err)
	}
	pool.Close()

	_, err = OpenDB(ctx, tlsConfig(t, srv, srv.OtherCA))
	if err == nil {
		t.Fatal("verify-full with another CA connected")
	}
	if msg := err.Error(); !strings.Contains(msg, "TLS certificate is not trusted by "+srv.OtherCA) || !strings.Contains(msg, "x509") {
		t.Errorf("refusal does not say why: %v", err)
	}

	loose := tlsConfig(t, srv, "")
	loose.DBSSLMode = "require"
	if pool, err := OpenDB(ctx, loose); err != nil {
		t.Errorf("sslmode=require: %v", err)
	} else {
		pool.Close()
	}
}

// TestCredentialRotationWhileRunning rotates the database password the way
// RDS does (the role's password and the secret change, then connections are
// recycled) while serve, pelican and emu run. A process that reads the
// secret for every connection keeps working; one started with the password
// in its environment reports not ready, so a load balancer and ECS replace it.
func TestCredentialRotationWhileRunning(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set, so the Secrets Manager rotation did not run: start moto with `make moto`")
	}
	srv := tlsDatabase(t)
	ctx := context.Background()
	sm := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	var b [6]byte
	rand.Read(b[:])
	name := "refarch-test-db-" + hex.EncodeToString(b[:])
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(`{"username":"app","password":"p1"}`),
	}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	t.Cleanup(func() {
		sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	})

	rotating := tlsConfig(t, srv, srv.CA)
	rotating.DBUser, rotating.DBPassword = "", ""
	rotating.DBPasswordSecret, rotating.SecretsManagerEndpoint = name, endpoint
	stopRotating := start(t, rotating, Roles{Serve: true, Pelican: true, Emu: true})
	defer stopRotating()
	static := tlsConfig(t, srv, srv.CA)
	stopStatic := start(t, static, Roles{Pelican: true})
	defer stopStatic()
	for _, c := range []Config{rotating, static} {
		if code, body := get(c.Addr + "/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz before the rotation = %d %s", code, body)
		}
	}

	admin := srv.Admin(t)
	if _, err := admin.Exec(ctx, `ALTER ROLE app PASSWORD 'p2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), SecretString: aws.String(`{"username":"app","password":"p2"}`),
	}); err != nil {
		t.Fatalf("rotate secret: %v", err)
	}
	// Every open connection ends, as after a failover or the pool's hourly
	// recycling: from here on only new connections exist.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'`); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the static-password process to report not ready", func() bool {
		code, body := get(static.Addr + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "refuses new connections")
	})
	waitFor(t, "the secret-reading process to be ready again", func() bool {
		code, _ := get(rotating.Addr + "/readyz")
		return code == http.StatusOK
	})
	// And it still does its work end to end on new connections.
	var created int
	waitFor(t, "a write after the rotation", func() bool {
		resp, err := http.Post("http://"+rotating.Addr+"/api/products", "application/json", strings.NewReader(
			`{"sku":"ROT-1","name":"Brass lantern","description":"lit after the rotation","price":"12.00","category":"Garden"}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		created = resp.StatusCode
		return created == http.StatusCreated
	})
	waitFor(t, "the new product to be searchable", func() bool {
		code, body := get(rotating.Addr + "/api/search?q=brass+lantern")
		return code == http.StatusOK && strings.Contains(body, "ROT-1")
	})
}

// TestConnectionsRunWithoutJIT: the app's connections turn JIT off (it
// compiled a status read for 3 of its 6 seconds during a bootstrap), unless
// the database URL sets it.
func TestConnectionsRunWithoutJIT(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	for _, c := range []struct{ query, want string }{{"", "off"}, {"jit=on", "on"}} {
		cfg := cfg
		if c.query != "" {
			sep := "?"
			if strings.Contains(cfg.DatabaseURL, "?") {
				sep = "&"
			}
			cfg.DatabaseURL += sep + c.query
		}
		pool, err := OpenDB(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = pool.QueryRow(ctx, `SHOW jit`).Scan(&jit)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		if jit != c.want {
			t.Errorf("URL %q: jit = %s, want %s", c.query, jit, c.want)
		}
	}
}
