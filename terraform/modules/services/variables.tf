variable "name" {
  type        = string
  description = "Prefix of the cluster, services, roles and log groups."
}

variable "region" {
  type        = string
  description = "AWS region, for the log driver and the SDK inside the tasks."
}

variable "image" {
  type        = string
  description = "The one image all three roles run, ideally pinned by digest (repo@sha256:...)."

  validation {
    condition     = length(var.image) > 0
    error_message = "An image is required: push one and pass its digest (see docs/deploy.md)."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the Fargate tasks: X86_64 or ARM64 (Graviton, about 20% cheaper; the use embedder has vectorized kernels only on X86_64)."

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "The CPU architecture is ARM64 or X86_64."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the tasks."
}

variable "serve_security_group_id" {
  type        = string
  description = "Group of the serve tasks (reachable from the ALB only)."
}

variable "workers_security_group_id" {
  type        = string
  description = "Group of the emu tasks (no inbound traffic)."
}

variable "target_group_arn" {
  type        = string
  description = "ALB target group the serve tasks register with."
}

variable "app_port" {
  type        = number
  description = "Port every role listens on for HTTP (serve) and health and metrics (all)."
}

variable "log_retention_days" {
  type        = number
  description = "How long CloudWatch keeps the task logs."
}

variable "queue_url" {
  type        = string
  description = "URL of the FIFO job queue."
}

variable "queue_arn" {
  type        = string
  description = "ARN of the FIFO job queue."
}

variable "queue_max_receive_count" {
  type        = number
  description = "Deliveries before the queue dead-letters a message; the roles report against the same number."
}

variable "queue_visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout emu asks for on each receive."
}

variable "dead_letter_queue_arn" {
  type        = string
  description = "ARN of the dead-letter queue, whose depth emu may read."
}

variable "backfill_queue_url" {
  type        = string
  description = "URL of the backfill lane's FIFO queue (catch-up, repairs)."
}

variable "backfill_queue_arn" {
  type        = string
  description = "ARN of the backfill lane's FIFO queue."
}

variable "backfill_dead_letter_queue_url" {
  type        = string
  description = "URL of the backfill lane's dead-letter queue."
}

variable "backfill_dead_letter_queue_arn" {
  type        = string
  description = "ARN of the backfill lane's dead-letter queue."
}

variable "dead_letter_queue_url" {
  type        = string
  description = "URL of the dead-letter queue."
}

variable "db_host" {
  type        = string
  description = "Host name of the database."
}

variable "db_name" {
  type        = string
  description = "Name of the application database."
}

variable "db_secret_arn" {
  type        = string
  description = "RDS-managed secret with the database username and password."
}

variable "admin_token_secret_arn" {
  type        = string
  description = "Secret with the admin token of the serve role."
}

variable "vector_store" {
  type        = string
  description = "Vector store of the roles: pinecone or pgvector."
}

variable "pinecone_index" {
  type        = string
  description = "Name of the Pinecone index; taken from the index module so the tasks exist only after it."
  default     = null
}

variable "pinecone_namespace" {
  type        = string
  description = "Pinecone namespace of the products; empty for the roles' default (the model id)."
}

variable "pinecone_cloud" {
  type        = string
  description = "Cloud of the serverless Pinecone index."
}

variable "pinecone_region" {
  type        = string
  description = "Region of the serverless Pinecone index."
}

variable "pinecone_api_key_secret_arn" {
  type        = string
  description = "Secret with the Pinecone API key; null when the vector store is pgvector."
  default     = null
}

variable "embedder" {
  type        = string
  description = "Embedder of the roles: use (in-process model baked into the image) or ollama."
}

variable "extra_environment" {
  type        = map(string)
  description = "More REFARCH_* settings for every role, for example the Ollama URL."
}

variable "roles" {
  type = object({
    serve   = object({ cpu = number, memory = number, count = number })
    pelican = object({ cpu = number, memory = number, count = number })
    emu     = object({ cpu = number, memory = number, count = number })
  })
  description = "Fargate size (CPU units, MiB) and initial task count of each role."
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Make terraform apply wait until every service runs its new tasks healthy."
}

variable "image_digest" {
  type        = string
  description = "Digest of the image, passed to the tasks as REFARCH_IMAGE_DIGEST for `refarch version` and GET /version; null when not known."
  default     = null
}

variable "ops_task" {
  type        = object({ cpu = number, memory = number })
  description = "Fargate CPU units and memory (MiB) of the one-off ops task (`refarch aws run`)."
  default     = { cpu = 1024, memory = 2048 }
}

variable "ops_import_bucket_arns" {
  type        = list(string)
  description = "S3 buckets the ops task may read CSV files from (`refarch aws run -- import --csv s3://...`)."
  default     = []
}

variable "pelican_security_group_id" {
  type        = string
  description = "Group of the pelican tasks (no inbound traffic, no internet egress)."
}

variable "db_resource_id" {
  type        = string
  description = "Resource ID of the DB instance, which each role's rds-db:connect grant names."
}

variable "rate_limit_per_second" {
  type        = number
  description = "Searches and writes per second each client may make of serve (REFARCH_RATE_LIMIT); 0 turns the limit off."
}

variable "rate_limit_burst" {
  type        = number
  description = "Requests a client may make at once before the rate limit applies (REFARCH_RATE_BURST)."
}
