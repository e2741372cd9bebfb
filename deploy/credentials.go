package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

// CheckAWSCredentials resolves credentials the way the Terraform AWS provider will (environment,
// shared config and SSO profiles, web identity, container and instance roles), so that a
// missing login fails here, in a second, instead of minutes into a plan.
func CheckAWSCredentials(ctx context.Context, region string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("%w: load the AWS configuration: %w", ErrNoCredentials, err)
	}
	if cfg.Credentials == nil {
		return fmt.Errorf("%w: no credential source is configured", ErrNoCredentials)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("%w: set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and "+
			"AWS_SECRET_ACCESS_KEY, or run where an IAM role is attached: %v", ErrNoCredentials, err)
	}
	if !creds.HasKeys() {
		return fmt.Errorf("%w: the credential source returned no keys", ErrNoCredentials)
	}
	if creds.CanExpire && creds.Expired() {
		return fmt.Errorf("%w: the credentials expired at %s; log in again", ErrNoCredentials, creds.Expires.Format(time.RFC3339))
	}
	return nil
}
