terraform {
  required_version = ">= 1.11"

  required_providers {
    pinecone = {
      source  = "pinecone-io/pinecone"
      version = "~> 2.0"
    }
  }
}
