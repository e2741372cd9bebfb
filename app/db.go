package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/internal/dbauth"
)

// credentialSource is where each new connection takes its credentials
// from, or nil when the URL's own user and password serve.
func credentialSource(ctx context.Context, cfg Config) (dbauth.Source, error) {
	switch {
	case cfg.DBPasswordSecret != "":
		var load []func(*config.LoadOptions) error
		region := cfg.AWSRegion
		if region == "" && cfg.SecretsManagerEndpoint != "" {
			region = "us-east-1"
		}
		if region != "" {
			load = append(load, config.WithRegion(region))
		}
		if cfg.SecretsManagerEndpoint != "" {
			// A local server accepts any signature; this keeps the SDK from
			// searching for real credentials.
			load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, load...)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration for the database secret: %w", err)
		}
		client := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
			if cfg.SecretsManagerEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.SecretsManagerEndpoint)
			}
		})
		return dbauth.Secret{Client: client, ID: cfg.DBPasswordSecret}, nil
	case cfg.DBIAMAuth:
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.AWSRegion))
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration for IAM database authentication: %w", err)
		}
		return dbauth.IAMToken{User: cfg.DBUser, Region: cfg.AWSRegion, AWS: awsCfg.Credentials}, nil
	}
	return nil, nil
}

// poolConfig parses the database URL and attaches the credential source.
func poolConfig(ctx context.Context, cfg Config) (*pgxpool.Config, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN())
	if err != nil {
		return nil, fmt.Errorf("parse database URL %s: %w", RedactURL(cfg.DSN()), err)
	}
	// The app's statements are short, index-probing ones whose plans can
	// still be costed high (a status read probes three tables per changed
	// product): with JIT on (the server's default), Postgres compiled such a
	// statement for 3 of its 6 seconds during a bootstrap. A jit in the URL
	// still wins.
	if _, set := pcfg.ConnConfig.RuntimeParams["jit"]; !set {
		pcfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	src, err := credentialSource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if src != nil {
		pcfg.BeforeConnect = dbauth.BeforeConnect(src)
	}
	return pcfg, nil
}

// connectErr explains a failed first connection: a refused certificate
// names the CA bundle to check, anything else hints at a missing server.
func connectErr(cfg Config, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") {
		ca := cfg.DBSSLRootCert
		if ca == "" {
			ca = "the system's trust store (set REFARCH_DB_SSLROOTCERT)"
		}
		return fmt.Errorf("connect to database %s: its TLS certificate is not trusted by %s: %w", RedactURL(cfg.DSN()), ca, err)
	}
	return fmt.Errorf("connect to database %s (is it running? `make db` starts a local one): %w", RedactURL(cfg.DSN()), err)
}

// newConnectionCheck opens and closes a brand-new connection the way the
// pool would, credentials included. Readiness uses it because a ping on a
// pooled connection stays green while the database refuses new ones (a
// rotated password), which would leave a broken task in service.
func newConnectionCheck(pcfg *pgxpool.Config) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		cc := pcfg.ConnConfig.Copy()
		if pcfg.BeforeConnect != nil {
			if err := pcfg.BeforeConnect(ctx, cc); err != nil {
				return fmt.Errorf("database credentials: %w", err)
			}
		}
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			return fmt.Errorf("database refuses new connections: %w", err)
		}
		return conn.Close(ctx)
	}
}
