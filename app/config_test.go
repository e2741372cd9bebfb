package app

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Config, *pflag.FlagSet) {
	t.Helper()
	cfg := &Config{}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cfg.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg.ApplyEnv(fs, func(k string) string { return env[k] })
	return cfg, fs
}

func TestPrecedenceDefaultsEnvFlags(t *testing.T) {
	cfg, _ := parse(t, nil)
	if cfg.Addr != "127.0.0.1:8080" || cfg.EmuConcurrency != 2 {
		t.Fatalf("defaults: addr %q concurrency %d", cfg.Addr, cfg.EmuConcurrency)
	}
	cfg, _ = parse(t, map[string]string{"REFARCH_ADDR": ":9000", "REFARCH_CONCURRENCY": "7"})
	if cfg.Addr != ":9000" || cfg.EmuConcurrency != 7 {
		t.Fatalf("env: addr %q concurrency %d", cfg.Addr, cfg.EmuConcurrency)
	}
	cfg, _ = parse(t, map[string]string{"REFARCH_ADDR": ":9000"}, "--addr", ":9100")
	if cfg.Addr != ":9100" {
		t.Fatalf("flag should beat env: addr %q", cfg.Addr)
	}
}

func TestDatabaseURLHonoured(t *testing.T) {
	cfg, _ := parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db"})
	if cfg.DSN() != "postgres://a@h/db" {
		t.Fatalf("DSN = %q", cfg.DSN())
	}
	cfg, _ = parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db", "REFARCH_DATABASE_URL": "postgres://b@h/db"})
	if cfg.DSN() != "postgres://b@h/db" {
		t.Fatalf("REFARCH_DATABASE_URL should beat DATABASE_URL: %q", cfg.DSN())
	}
	cfg, _ = parse(t, map[string]string{"REFARCH_DB_HOST": "db.internal", "REFARCH_DB_USER": "app", "REFARCH_DB_PASSWORD": "p@ss/word"})
	if got := cfg.DSN(); !strings.HasPrefix(got, "postgres://app:p%40ss%2Fword@db.internal:5432/refarch?sslmode=require") {
		t.Fatalf("DSN from parts = %q", got)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg, _ := parse(t, map[string]string{"REFARCH_CONCURRENCY": "many", "REFARCH_QUEUE": "kafka"},
		"--vector-store", "pinecone", "--log-level", "loud")
	err := cfg.Validate(Roles{Serve: true, Pelican: true, Emu: true})
	if err == nil {
		t.Fatal("Validate accepted a broken configuration")
	}
	for _, want := range []string{"no database", `REFARCH_CONCURRENCY="many": not a valid int`, "queue \"kafka\"", "REFARCH_PINECONE_API_KEY", "log level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	// The bad value is reported once, not again as the zero it parsed to.
	if strings.Contains(err.Error(), "concurrency 0") || cfg.EmuConcurrency != 2 {
		t.Errorf("a bad REFARCH_CONCURRENCY left concurrency %d:\n%v", cfg.EmuConcurrency, err)
	}
}

func TestValidateOnlyWhatTheRolesNeed(t *testing.T) {
	cfg, _ := parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db", "REFARCH_QUEUE": "sqs"})
	if err := cfg.Validate(Roles{}); err != nil {
		t.Errorf("migrate needs no queue, got %v", err)
	}
	if err := cfg.Validate(Roles{Pelican: true}); err == nil || !strings.Contains(err.Error(), "REFARCH_SQS_QUEUE_URL") {
		t.Errorf("pelican on sqs without a URL: %v", err)
	}
	// Pelican opens the embedder for its model id, so a bad one is reported
	// before it starts; migrate does not care.
	cfg, _ = parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db", "REFARCH_EMBEDDER": "nope"})
	if err := cfg.Validate(Roles{}); err != nil {
		t.Errorf("migrate needs no embedder, got %v", err)
	}
	if err := cfg.Validate(Roles{Pelican: true}); err == nil || !strings.Contains(err.Error(), `embedder "nope"`) {
		t.Errorf("pelican with an unknown embedder: %v", err)
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	_, fs := parse(t, map[string]string{
		"DATABASE_URL":             "postgres://app:hunter2@h/db",
		"REFARCH_PINECONE_API_KEY": "pk-secret",
		"REFARCH_ADMIN_TOKEN":      "tok-secret",
		"REFARCH_DB_PASSWORD":      "pw-secret",
	})
	out := strings.Join(Print(fs), "\n")
	for _, secret := range []string{"hunter2", "pk-secret", "tok-secret", "pw-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("printed configuration shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "REFARCH_PINECONE_API_KEY=[redacted]") || !strings.Contains(out, "REFARCH_ADDR=127.0.0.1:8080") {
		t.Errorf("printed configuration:\n%s", out)
	}
}

func TestValidateSecuritySettings(t *testing.T) {
	cfg, _ := parse(t, map[string]string{
		"REFARCH_DB_HOST": "db.internal", "REFARCH_DB_SSLMODE": "verify-everything",
		"REFARCH_DB_SSLROOTCERT": "/nonexistent/rds.pem", "REFARCH_DB_IAM_AUTH": "true",
		"REFARCH_METRICS_ADDR": "127.0.0.1:8080", "REFARCH_RATE_LIMIT": "-1",
	})
	err := cfg.Validate(Roles{Serve: true})
	if err == nil {
		t.Fatal("Validate accepted broken security settings")
	}
	for _, want := range []string{`sslmode "verify-everything"`, "CA bundle /nonexistent/rds.pem", "--db-iam-auth needs REFARCH_DB_USER and REFARCH_AWS_REGION",
		"metrics address 127.0.0.1:8080 is the HTTP address", "rate limit -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	// The CA bundle reaches the URL whether it is built from parts or given whole.
	cfg, _ = parse(t, map[string]string{"REFARCH_DB_HOST": "db.internal", "REFARCH_DB_SSLMODE": "verify-full", "REFARCH_DB_SSLROOTCERT": "/etc/rds.pem"})
	if dsn := cfg.DSN(); !strings.Contains(dsn, "sslmode=verify-full") || !strings.Contains(dsn, "sslrootcert=%2Fetc%2Frds.pem") {
		t.Errorf("DSN from parts = %s", dsn)
	}
	cfg, _ = parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db?sslmode=verify-full", "REFARCH_DB_SSLROOTCERT": "/etc/rds.pem"})
	if dsn := cfg.DSN(); !strings.Contains(dsn, "sslrootcert=%2Fetc%2Frds.pem") {
		t.Errorf("DSN from a URL = %s", dsn)
	}
}

func TestValidateHNSWEfSearch(t *testing.T) {
	for _, tc := range []struct {
		v   string
		bad bool
	}{{"0", false}, {"400", false}, {"1000", false}, {"-1", true}, {"1001", true}} {
		cfg, _ := parse(t, map[string]string{"DATABASE_URL": "postgres://a@h/db", "REFARCH_HNSW_EF_SEARCH": tc.v}, "--embedder", "hash")
		err := cfg.Validate(Roles{Serve: true})
		if got := err != nil && strings.Contains(err.Error(), "hnsw ef_search"); got != tc.bad {
			t.Errorf("REFARCH_HNSW_EF_SEARCH=%s: error %v, want rejected %v", tc.v, err, tc.bad)
		}
	}
}
