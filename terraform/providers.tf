provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "refarch", Deployment = var.name, ManagedBy = "terraform" }, var.tags)
  }
}

# The key is ephemeral: used to create the index, never written to state or a plan file. With
# pgvector no Pinecone resource exists and the placeholder is never sent anywhere; it only keeps
# the provider's configuration valid.
provider "pinecone" {
  api_key = coalesce(var.pinecone_api_key, "unused-with-pgvector")
}
