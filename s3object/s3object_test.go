package s3object_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/refarch/refarch/s3object"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, bucket, key, err string }{
		{"s3://b/k.csv", "b", "k.csv", ""},
		{"s3://b/dir/k.csv", "b", "dir/k.csv", ""},
		{"s3://b", "", "", "want s3://bucket/key"},
		{"s3:///k", "", "", "want s3://bucket/key"},
		{"/tmp/k.csv", "", "", "want s3://bucket/key"},
	} {
		b, k, err := s3object.Parse(c.in)
		if b != c.bucket || k != c.key || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("Parse(%q) = %q, %q, %v", c.in, b, k, err)
		}
	}
}

// TestOpenReadsFromS3 reads an object from moto's S3.
func TestOpenReadsFromS3(t *testing.T) {
	endpoint := os.Getenv("TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set: run `make moto` and load .dev/moto.env")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	bucket := fmt.Sprintf("refarch-import-%d", time.Now().UnixNano())
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	body := "name,sku,description,price,last_updated\nMug,M-1,A mug,3.5,2026-01-01\n"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("seed/products.csv"), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	r, err := s3object.Open(ctx, "s3://"+bucket+"/seed/products.csv", s3object.Options{Region: "us-east-1", Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != body {
		t.Fatalf("read %q, %v; want the object", got, err)
	}
	if _, err := s3object.Open(ctx, "s3://"+bucket+"/missing.csv", s3object.Options{Region: "us-east-1", Endpoint: endpoint}); err == nil || !strings.Contains(err.Error(), "read s3://"+bucket+"/missing.csv") {
		t.Errorf("a missing object: %v", err)
	}
}
