# The index is created by Terraform, before any task definition exists (the services take its name
# from this module's output), so no role can ever enqueue or upsert into an index that does not
# exist yet: the original deployment created it from application code and raced its own workers.

resource "pinecone_index" "this" {
  name      = var.name
  dimension = var.dimension
  metric    = "cosine"

  spec = {
    serverless = {
      cloud  = var.cloud
      region = var.region
    }
  }

  deletion_protection = var.deletion_protection ? "enabled" : "disabled"
}
