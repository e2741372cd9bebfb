terraform {
  # 1.11 brings write-only arguments, which keep the secrets out of state and plan files; the
  # upper bound keeps a future major release from applying with unreviewed semantics.
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    pinecone = {
      source  = "pinecone-io/pinecone"
      version = "~> 2.0"
    }
  }

  # State lives in S3 with a lock file; the bucket, key and region come from `terraform init
  # -backend-config=...` (refarch deploy passes --state-bucket), so no account detail is in code.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
