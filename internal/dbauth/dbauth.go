// Package dbauth gives every new database connection fresh credentials, so
// that a rotated password or an expiring token never strands a running
// process: RDS rotates its managed master password every 7 days, and a pool
// that reconnects with the password it was started with fails from then on.
package dbauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
)

// Source yields the user and password of the next connection.
type Source interface {
	Credentials(ctx context.Context, host string, port uint16) (user, password string, err error)
}

// BeforeConnect is a pgxpool BeforeConnect hook that asks src for every
// new connection.
func BeforeConnect(src Source) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, cc *pgx.ConnConfig) error {
		user, password, err := src.Credentials(ctx, cc.Host, cc.Port)
		if err != nil {
			return err
		}
		if user != "" {
			cc.User = user
		}
		cc.Password = password
		return nil
	}
}

// SecretsManagerAPI is the one call Secret makes.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Secret reads a Secrets Manager secret holding JSON with "username" and
// "password" (the shape of an RDS managed master secret) for every
// connection: a rotation is picked up by the next connection.
type Secret struct {
	Client SecretsManagerAPI
	ID     string // name or ARN
}

// Credentials reads the secret's current version.
func (s Secret) Credentials(ctx context.Context, _ string, _ uint16) (string, string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ID)})
	if err != nil {
		return "", "", fmt.Errorf("read database secret %s: %w", s.ID, err)
	}
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("read database secret %s: it has no string value", s.ID)
	}
	if err := json.Unmarshal([]byte(*out.SecretString), &v); err != nil {
		return "", "", fmt.Errorf("read database secret %s: want JSON with username and password: %w", s.ID, err)
	}
	if v.Password == "" {
		return "", "", errors.New("read database secret " + s.ID + ": no password in it")
	}
	return v.Username, v.Password, nil
}

// IAMToken signs an RDS IAM authentication token for every connection
// (tokens last 15 minutes; a connection once open stays open). The database
// user must have been granted rds_iam, and the task role rds-db:connect on it.
type IAMToken struct {
	User   string
	Region string
	AWS    aws.CredentialsProvider
}

// Credentials builds a token for host:port.
func (t IAMToken) Credentials(ctx context.Context, host string, port uint16) (string, string, error) {
	endpoint := net.JoinHostPort(host, strconv.Itoa(int(port)))
	tok, err := auth.BuildAuthToken(ctx, endpoint, t.Region, t.User, t.AWS)
	if err != nil {
		return "", "", fmt.Errorf("build IAM database token for %s at %s: %w", t.User, endpoint, err)
	}
	return t.User, tok, nil
}
