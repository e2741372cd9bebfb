provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "refarch", Deployment = var.name, ManagedBy = "terraform" }, var.tags)
  }
}

# The key is ephemeral: used to create the index, never written to state or a plan file.
provider "pinecone" {
  api_key = var.pinecone_api_key
}
