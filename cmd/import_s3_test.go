package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/refarch/refarch/internal/pgtest"
)

// TestImportFromS3IfEmpty loads a CSV from moto's S3 into an empty catalog once: the second
// run with --if-empty reads nothing, as a first deploy's seeding relies on.
func TestImportFromS3IfEmpty(t *testing.T) {
	endpoint := os.Getenv("TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set: run `make moto` and load .dev/moto.env")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	url := pgtest.NewURL(t)
	ctx := context.Background()
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	bucket := fmt.Sprintf("refarch-seed-%d", time.Now().UnixNano())
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("../../shared/data/seed-products.csv")
	if err != nil {
		t.Skipf("no seed data: %v", err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("products.csv"), Body: strings.NewReader(string(csv))}); err != nil {
		t.Fatal(err)
	}
	address := "s3://" + bucket + "/products.csv"
	args := []string{"import", "--csv", address, "--if-empty", "--skip-invalid", "--s3-endpoint", endpoint, "--aws-region", "us-east-1", "--database-url", url}
	out, err := run(t, args...)
	if err != nil || !strings.Contains(out, "inserted") {
		t.Fatalf("import from S3: %v\n%s", err, out)
	}
	n := queryInt(t, url, `SELECT count(*) FROM products`)
	if n == 0 {
		t.Fatalf("import from S3 loaded nothing:\n%s", out)
	}
	out, err = run(t, args...)
	if err != nil || !strings.Contains(out, fmt.Sprintf("catalog already has %d products; not importing", n)) {
		t.Fatalf("second import --if-empty: %v\n%s", err, out)
	}
}
