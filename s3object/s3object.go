// Package s3object opens an object named by an s3://bucket/key address for reading, so that
// `refarch import --csv s3://...` can load a catalog from inside the deployment (the ops task
// reads the buckets its role is granted) without copying the file into the image.
package s3object

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// IsAddress reports whether name is an s3:// address rather than a local path.
func IsAddress(name string) bool { return strings.HasPrefix(name, "s3://") }

// Parse splits s3://bucket/key into its bucket and key.
func Parse(address string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(address, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("s3 address %q: want s3://bucket/key", address)
	}
	return bucket, key, nil
}

// Options reach S3: Region defaults to the SDK's usual sources; Endpoint overrides the service
// address (local stand-ins), with path-style addressing.
type Options struct {
	Region, Endpoint string
}

// Open returns the object's body; the caller closes it.
func Open(ctx context.Context, address string, o Options) (io.ReadCloser, error) {
	bucket, key, err := Parse(address)
	if err != nil {
		return nil, err
	}
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for %s: %w", address, err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
	})
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", address, err)
	}
	return out.Body, nil
}
