package app

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/embedding/use"
)

// Config is every setting of every role. Each is a flag and a REFARCH_*
// environment variable; precedence is defaults < environment < flags.
type Config struct {
	DatabaseURL string
	DBHost      string
	DBPort      int
	DBUser      string
	DBPassword  string
	DBName      string
	DBSSLMode   string
	// DBSSLRootCert is the CA bundle verify-full checks the server with.
	DBSSLRootCert string
	// DBPasswordSecret names a Secrets Manager secret (JSON with username
	// and password, as RDS keeps its managed master secret) read again for
	// every new connection, so a rotation never strands a running task.
	DBPasswordSecret string
	// DBIAMAuth signs an RDS IAM token as the password of every new
	// connection, for per-service database users that have no password.
	DBIAMAuth              bool
	SecretsManagerEndpoint string

	Addr       string
	LogLevel   string
	LogFormat  string
	AdminToken string
	DrainDelay time.Duration

	// MetricsEMF writes the pipeline's own figures as CloudWatch Embedded Metric Format lines.
	MetricsEMF bool

	MetricsAddr       string
	RateLimit         float64
	RateBurst         int
	TrustForwardedFor bool

	Queue            string
	QueueMaxReceives int
	SQSQueueURL      string
	SQSDLQURL        string
	// SQSBackfillQueueURL and SQSBackfillDLQURL are the backfill lane's
	// queue pair (queue.Lanes); without them both lanes share the queue.
	SQSBackfillQueueURL string
	SQSBackfillDLQURL   string
	SQSEndpoint         string
	AWSRegion           string

	VectorStore         string
	PineconeAPIKey      string
	PineconeIndex       string
	PineconeNamespace   string
	PineconeCloud       string
	PineconeRegion      string
	PineconeControlHost string
	PineconeIndexHost   string
	HNSWEfSearch        int // pgvector: 0 sizes hnsw.ef_search by the table

	Embedder    string
	ModelDir    string
	OllamaHost  string
	OllamaModel string
	HashDim     int

	PelicanBatchSize    int
	PelicanPollInterval time.Duration
	EmuConcurrency      int
	EmuPipeline         int
	EmuBatchSize        int
	EmuBackfillBatch    int
	EmuVisibility       time.Duration
	// SendConcurrency and ReceiveConcurrency bound the queue calls pelican
	// and each emu worker have in flight (SQS takes 10 messages a call).
	SendConcurrency    int
	ReceiveConcurrency int

	// Search index bounds (pgvector): a build is cancelled only after
	// showing no progress for IndexBuildStallTimeout; a search gets
	// SearchTimeout.
	IndexBuildStallTimeout time.Duration
	SearchTimeout          time.Duration
	// SearchBatchWait is the longest a search query waits to share the
	// embedder's forward pass with concurrent searches; 0 turns batching off.
	SearchBatchWait time.Duration

	// envErrs holds environment values that did not parse, so that Validate
	// reports them with every other problem.
	envErrs []string
	// sqsKeys, set only by tests, signs SQS calls as one IAM user (access
	// key ID and secret), for a local server that enforces IAM.
	sqsKeys [2]string
}

// Bind registers every setting as a flag on fs, with its default.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", "", "Postgres URL (also DATABASE_URL); overrides --db-* parts")
	fs.StringVar(&c.DBHost, "db-host", "", "Postgres host, when no database URL is given")
	fs.IntVar(&c.DBPort, "db-port", 5432, "Postgres port")
	fs.StringVar(&c.DBUser, "db-user", "", "Postgres user")
	fs.StringVar(&c.DBPassword, "db-password", "", "Postgres password")
	fs.StringVar(&c.DBName, "db-name", "refarch", "Postgres database")
	fs.StringVar(&c.DBSSLMode, "db-sslmode", "require", "Postgres sslmode when built from --db-* parts")
	fs.StringVar(&c.DBSSLRootCert, "db-sslrootcert", "", "CA bundle that verify-ca/verify-full check the database's certificate against")
	fs.StringVar(&c.DBPasswordSecret, "db-password-secret", "", "Secrets Manager secret (JSON username/password) read for every new database connection; overrides --db-user/--db-password")
	fs.BoolVar(&c.DBIAMAuth, "db-iam-auth", false, "authenticate as --db-user with an RDS IAM token signed for every new connection (needs --aws-region)")
	fs.StringVar(&c.SecretsManagerEndpoint, "secretsmanager-endpoint", "", "Secrets Manager endpoint override (local servers)")

	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "HTTP listen address: serve's UI and API, or /healthz, /readyz and /metrics of pelican and emu")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.AdminToken, "admin-token", "", "when set, writes need this token (reads stay open)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "after SIGTERM, answer /readyz with 503 this long before closing the listener (the load balancer's health-check interval times its threshold)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address instead of --addr (keep it off a public listener)")
	fs.Float64Var(&c.RateLimit, "rate-limit", 0, "searches and writes per second per client, 0 = no limit")
	fs.IntVar(&c.RateBurst, "rate-burst", 20, "requests a client may make at once before --rate-limit applies")
	fs.BoolVar(&c.TrustForwardedFor, "trust-forwarded-for", false, "count rate limits against the right-most X-Forwarded-For address (only behind a proxy that sets it)")

	fs.StringVar(&c.Queue, "queue", "postgres", "queue backend: postgres or sqs")
	fs.IntVar(&c.QueueMaxReceives, "queue-max-receives", 5, "receives before a message is dead-lettered")
	fs.StringVar(&c.SQSQueueURL, "sqs-queue-url", "", "SQS FIFO queue URL")
	fs.StringVar(&c.SQSDLQURL, "sqs-dlq-url", "", "SQS dead-letter queue URL")
	fs.StringVar(&c.SQSBackfillQueueURL, "sqs-backfill-queue-url", "", "SQS FIFO queue URL of the backfill lane (catch-up, repair); without it backfill shares --sqs-queue-url and live changes wait behind it")
	fs.StringVar(&c.SQSBackfillDLQURL, "sqs-backfill-dlq-url", "", "SQS dead-letter queue URL of the backfill lane")
	fs.StringVar(&c.SQSEndpoint, "sqs-endpoint", "", "SQS endpoint override (local servers)")
	fs.StringVar(&c.AWSRegion, "aws-region", "", "AWS region (default from the AWS environment)")
	fs.BoolVar(&c.MetricsEMF, "metrics-emf", false, "print freshness and backlog metrics as CloudWatch EMF lines on stdout every minute (set in AWS)")

	fs.StringVar(&c.VectorStore, "vector-store", "pgvector", "vector store: pgvector or pinecone")
	fs.StringVar(&c.PineconeAPIKey, "pinecone-api-key", "", "Pinecone API key")
	fs.StringVar(&c.PineconeIndex, "pinecone-index", "refarch", "Pinecone index name")
	fs.StringVar(&c.PineconeNamespace, "pinecone-namespace", "", "Pinecone namespace (default: the model id)")
	fs.StringVar(&c.PineconeCloud, "pinecone-cloud", "aws", "Pinecone serverless cloud")
	fs.StringVar(&c.PineconeRegion, "pinecone-region", "us-east-1", "Pinecone serverless region")
	fs.StringVar(&c.PineconeControlHost, "pinecone-control-host", "", "Pinecone control plane URL override")
	fs.StringVar(&c.PineconeIndexHost, "pinecone-index-host", "", "Pinecone index host override")
	fs.IntVar(&c.HNSWEfSearch, "hnsw-ef-search", 0, "pgvector search candidate list (hnsw.ef_search) for every query, trading recall for latency; 0 sizes it by the table (400 up to 10,000 rows, see docs/architecture.md)")

	fs.StringVar(&c.Embedder, "embedder", "use", "embedder: "+strings.Join(embedding.Names(), ", "))
	fs.StringVar(&c.ModelDir, "model-dir", use.DefaultDir(), "folder of the use model (make model)")
	fs.StringVar(&c.OllamaHost, "ollama-host", embedding.DefaultOllamaHost, "Ollama server URL")
	fs.StringVar(&c.OllamaModel, "ollama-model", "nomic-embed-text", "Ollama embedding model")
	fs.IntVar(&c.HashDim, "hash-dim", 64, "dimension of the non-semantic hash test embedder")

	fs.IntVar(&c.PelicanBatchSize, "pelican-batch-size", 500, "outbox rows / products per pelican batch")
	fs.DurationVar(&c.PelicanPollInterval, "pelican-poll-interval", 2*time.Second, "outbox poll interval when no NOTIFY arrives")
	fs.IntVar(&c.EmuConcurrency, "concurrency", 2, "emu workers")
	fs.IntVar(&c.EmuPipeline, "emu-pipeline", 4, "batches each emu worker has in hand at once: while one is embedded, the others are written and acknowledged")
	fs.IntVar(&c.EmuBatchSize, "emu-batch-size", 64, "messages per emu batch")
	fs.IntVar(&c.EmuBackfillBatch, "emu-backfill-batch-size", 64, "products per emu batch of a catch-up's range of products")
	fs.DurationVar(&c.EmuVisibility, "emu-visibility", 60*time.Second, "visibility timeout of received messages")
	fs.DurationVar(&c.IndexBuildStallTimeout, "index-build-stall-timeout", 10*time.Minute,
		"cancel a pgvector search index build that shows no progress for this long (a progressing build has no deadline)")
	fs.DurationVar(&c.SearchTimeout, "search-timeout", 2*time.Second, "statement timeout of a search's pgvector and full-text queries")
	fs.DurationVar(&c.SearchBatchWait, "search-batch-wait", embedding.DefaultBatchWait,
		"longest a search waits to share one embedder pass with concurrent searches (micro-batching); 0 embeds each query alone (the hash embedder never batches)")
	fs.IntVar(&c.SendConcurrency, "pelican-send-concurrency", 32, "queue send calls pelican has in flight (different products only)")
	fs.IntVar(&c.ReceiveConcurrency, "emu-receive-concurrency", 8, "queue receive calls an emu worker has in flight to fill a batch")
}

// secretFlags are redacted whenever the configuration is printed.
var secretFlags = map[string]bool{"db-password": true, "admin-token": true, "pinecone-api-key": true}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return "REFARCH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyEnv sets every flag the command line did not set from its REFARCH_*
// variable (DATABASE_URL too), so that flags beat the environment. Values
// that do not parse are kept for Validate to report.
func (c *Config) ApplyEnv(fs *pflag.FlagSet, getenv func(string) string) {
	c.envErrs = nil
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		v := getenv(EnvName(f.Name))
		if v == "" && f.Name == "database-url" {
			v = getenv("DATABASE_URL")
		}
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			// Some flag types zero themselves on a bad value: keep the
			// default, so that Validate reports only the real problem.
			f.Value.Set(f.DefValue) //nolint:errcheck // the default parsed once already
			c.envErrs = append(c.envErrs, fmt.Sprintf("%s=%q: not a valid %s", EnvName(f.Name), v, f.Value.Type()))
		}
	})
}

// Print writes the effective configuration, one flag per line, with
// secrets and URL passwords redacted.
func Print(fs *pflag.FlagSet) []string {
	var lines []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		v := f.Value.String()
		if secretFlags[f.Name] && v != "" {
			v = "[redacted]"
		}
		if f.Name == "database-url" {
			v = RedactURL(v)
		}
		lines = append(lines, fmt.Sprintf("%s=%s", EnvName(f.Name), v))
	})
	sort.Strings(lines)
	return lines
}

// RedactURL hides the password of a URL.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// Roles selects what a process runs.
type Roles struct{ Serve, Pelican, Emu bool }

// DSN is the Postgres connection string: the URL, or one built from parts.
func (c Config) DSN() string {
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if c.DBSSLRootCert == "" || err != nil || u.Query().Has("sslrootcert") {
			return c.DatabaseURL
		}
		q := u.Query()
		q.Set("sslrootcert", c.DBSSLRootCert)
		u.RawQuery = q.Encode()
		return u.String()
	}
	if c.DBHost == "" {
		return ""
	}
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", c.DBHost, c.DBPort), Path: "/" + c.DBName}
	if c.DBPassword != "" {
		u.User = url.UserPassword(c.DBUser, c.DBPassword)
	} else if c.DBUser != "" {
		u.User = url.User(c.DBUser)
	}
	q := url.Values{"sslmode": {c.DBSSLMode}}
	if c.DBSSLRootCert != "" {
		q.Set("sslrootcert", c.DBSSLRootCert)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Validate reports every problem that matters for the selected roles at
// once, before any network call.
func (c Config) Validate(r Roles) error {
	errs := append([]string(nil), c.envErrs...)
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.DSN() == "" {
		bad("no database: set DATABASE_URL (or --database-url, or REFARCH_DB_HOST and friends)")
	} else if _, err := url.Parse(c.DSN()); err != nil || !strings.HasPrefix(c.DSN(), "postgres") {
		bad("database URL %q is not a postgres:// URL", RedactURL(c.DSN()))
	}
	if c.DBSSLRootCert != "" {
		if _, err := os.Stat(c.DBSSLRootCert); err != nil {
			bad("database CA bundle %s: %v", c.DBSSLRootCert, err)
		}
	}
	if c.DBIAMAuth && c.DBPasswordSecret != "" {
		bad("--db-iam-auth and --db-password-secret both set: choose one way to authenticate")
	}
	if c.DBIAMAuth && (c.DBUser == "" || c.AWSRegion == "") {
		bad("--db-iam-auth needs REFARCH_DB_USER and REFARCH_AWS_REGION")
	}
	switch c.DBSSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		bad("database sslmode %q: want disable, allow, prefer, require, verify-ca or verify-full", c.DBSSLMode)
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr {
		bad("metrics address %s is the HTTP address: give /metrics its own port or leave --metrics-addr empty", c.MetricsAddr)
	}
	if c.RateLimit < 0 || c.RateBurst < 1 {
		bad("rate limit %g per second with burst %d: want a limit of 0 (off) or more and a burst of 1 or more", c.RateLimit, c.RateBurst)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log format %q: want text or json", c.LogFormat)
	}
	// Every role uses the queue and the embedder (pelican for its model id,
	// which names what the index holds); serve and emu use the vector store.
	anyRole := r.Serve || r.Pelican || r.Emu
	if anyRole {
		switch c.Queue {
		case "postgres":
		case "sqs":
			if c.SQSQueueURL == "" {
				bad("queue sqs needs REFARCH_SQS_QUEUE_URL")
			}
			if c.SQSDLQURL == "" {
				bad("queue sqs needs REFARCH_SQS_DLQ_URL (dead letters must be visible)")
			}
			if c.SQSBackfillQueueURL != "" && c.SQSBackfillDLQURL == "" {
				bad("REFARCH_SQS_BACKFILL_QUEUE_URL needs REFARCH_SQS_BACKFILL_DLQ_URL (dead letters must be visible)")
			}
			if c.SQSBackfillQueueURL != "" && c.SQSBackfillQueueURL == c.SQSQueueURL {
				bad("REFARCH_SQS_BACKFILL_QUEUE_URL is the live queue: the backfill lane needs a queue of its own")
			}
		default:
			bad("queue %q: want postgres or sqs", c.Queue)
		}
		if c.QueueMaxReceives < 1 || c.QueueMaxReceives > 1000 {
			bad("queue max receives %d: want 1 to 1000", c.QueueMaxReceives)
		}
		if !slices.Contains(embedding.Names(), c.Embedder) {
			bad("embedder %q: want one of %s", c.Embedder, strings.Join(embedding.Names(), ", "))
		}
		if c.Embedder == "use" && c.ModelDir == "" {
			bad("embedder use needs REFARCH_MODEL_DIR (run `make model`)")
		}
		if c.Embedder == "hash" && (c.HashDim < 2 || c.HashDim > 4096) {
			bad("hash dimension %d: want 2 to 4096", c.HashDim)
		}
		if c.Addr == "" {
			bad("every role needs an HTTP address for health and metrics (--addr)")
		}
	}
	if r.Serve || r.Emu {
		switch c.VectorStore {
		case "pgvector":
			if c.HNSWEfSearch < 0 || c.HNSWEfSearch > 1000 {
				bad("hnsw ef_search %d: want 1 to 1000, or 0 to size it by the table", c.HNSWEfSearch)
			}
		case "pinecone":
			if c.PineconeAPIKey == "" {
				bad("vector store pinecone needs REFARCH_PINECONE_API_KEY")
			}
			if c.PineconeIndex == "" {
				bad("vector store pinecone needs REFARCH_PINECONE_INDEX")
			}
		default:
			bad("vector store %q: want pgvector or pinecone", c.VectorStore)
		}
	}
	if r.Pelican {
		if c.PelicanBatchSize < 1 || c.PelicanBatchSize > 10000 {
			bad("pelican batch size %d: want 1 to 10000", c.PelicanBatchSize)
		}
		if c.PelicanPollInterval < 10*time.Millisecond {
			bad("pelican poll interval %s: want at least 10ms", c.PelicanPollInterval)
		}
		if c.SendConcurrency < 1 || c.SendConcurrency > 256 {
			bad("pelican send concurrency %d: want 1 to 256", c.SendConcurrency)
		}
	}
	if r.Emu {
		if c.EmuConcurrency < 1 || c.EmuConcurrency > 256 {
			bad("concurrency %d: want 1 to 256", c.EmuConcurrency)
		}
		if c.EmuPipeline < 1 || c.EmuPipeline > 16 {
			bad("emu pipeline %d: want 1 to 16", c.EmuPipeline)
		}
		if c.EmuBatchSize < 1 || c.EmuBatchSize > 1000 {
			bad("emu batch size %d: want 1 to 1000", c.EmuBatchSize)
		}
		if c.EmuBackfillBatch < 1 || c.EmuBackfillBatch > 1000 {
			bad("emu backfill batch size %d: want 1 to 1000", c.EmuBackfillBatch)
		}
		if c.EmuVisibility < time.Second {
			bad("emu visibility %s: want at least 1s", c.EmuVisibility)
		}
		if c.ReceiveConcurrency < 1 || c.ReceiveConcurrency > 64 {
			bad("emu receive concurrency %d: want 1 to 64", c.ReceiveConcurrency)
		}
	}
	if c.IndexBuildStallTimeout != 0 && c.IndexBuildStallTimeout < time.Second {
		bad("index build stall timeout %s: want at least 1s", c.IndexBuildStallTimeout)
	}
	if c.SearchTimeout != 0 && c.SearchTimeout < time.Millisecond {
		bad("search timeout %s: want at least 1ms", c.SearchTimeout)
	}
	if c.SearchBatchWait < 0 || c.SearchBatchWait > time.Second {
		bad("search batch wait %s: want 0 (off) to 1s", c.SearchBatchWait)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n  - %s", strings.Join(errs, "\n  - "))
}
