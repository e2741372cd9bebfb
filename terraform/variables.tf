# Every variable has a default except the certificate, so `refarch deploy` needs little more than a
# certificate, an image and (for Pinecone) an API key. The defaults are sized for a small production
# catalog; docs/deploy.md estimates what they cost.

variable "name" {
  type        = string
  description = "Name of this deployment, the prefix of every resource (lower case, at most 20 characters)."
  default     = "refarch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "The name is 1-20 lower case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region to deploy into."
  default     = "us-east-1"
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource, for example a cost centre."
  default     = {}
}

# ---- image ----

variable "image_digest" {
  type        = string
  description = "Digest (sha256:...) of the image in this deployment's ECR repository that all three roles run."
  default     = null

  validation {
    condition     = var.image_digest == null || can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "The image digest looks like sha256: followed by 64 hex digits."
  }
}

variable "image" {
  type        = string
  description = "Full image reference to run instead of this deployment's repository at image_digest (for example another registry)."
  default     = null
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the tasks and so of the image: X86_64, where the use embedder runs its AVX2/FMA kernels, or ARM64 (Graviton, about 20% cheaper, but the embedder falls back to portable Go there, about 25 times slower)."
  default     = "X86_64"
}

# ---- network ----

variable "vpc_cidr" {
  type        = string
  description = "IPv4 range of the VPC (a /16 leaves room for /20 subnets in three zones)."
  default     = "10.40.0.0/16"
}

variable "az_count" {
  type        = number
  description = "Availability zones to spread the subnets, tasks and database standby over."
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "Use 2 or 3 availability zones (the load balancer and RDS need at least 2)."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway (cheaper; the dev profile) instead of one per zone (the default: losing a zone does not cut the others off)."
  default     = false
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services the tasks reach through interface VPC endpoints rather than the NAT gateway."
  default     = ["sqs", "ecr.api", "ecr.dkr", "logs", "secretsmanager"]
}

# ---- load balancer ----

variable "certificate_arn" {
  type        = string
  description = "ARN of an issued ACM certificate in this region for the HTTPS listener."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "The certificate is an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "domain_name" {
  type        = string
  description = "Domain the certificate covers and users visit; empty to use the load balancer's own name."
  default     = ""
}

variable "route53_zone_id" {
  type        = string
  description = "Route 53 hosted zone in which to create an alias from domain_name to the load balancer; empty to manage DNS elsewhere."
  default     = ""
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "access_log_retention_days" {
  type        = number
  description = "Days the load balancer's access logs (in an encrypted, private bucket) are kept."
  default     = 90
}

variable "rate_limit_per_second" {
  type        = number
  description = "Searches and writes per second each client address may make of serve (429 beyond); 0 turns the limit off."
  default     = 5
}

variable "rate_limit_burst" {
  type        = number
  description = "Requests a client may make at once before rate_limit_per_second applies."
  default     = 20
}

variable "enable_waf" {
  type        = bool
  description = "Put a WAFv2 web ACL (AWS managed rule groups and a per-address rate rule) in front of the load balancer; about $10 a month plus $0.60 per million requests."
  default     = false
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests one address may send in any five minutes before the WAF blocks it (when enable_waf)."
  default     = 2000
}

# ---- database ----

variable "db_engine_version" {
  type        = string
  description = "RDS PostgreSQL version (15 or later ships pgvector)."
  default     = "16"
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.t4g.small"
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial database storage in GiB."
  default     = 20
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Ceiling for database storage autoscaling in GiB."
  default     = 100
}

variable "db_multi_az" {
  type        = bool
  description = "Keep a synchronous standby database in a second zone (the default; doubles the database cost; the dev profile turns it off)."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery."
  default     = 7
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database, load balancer and Pinecone index from deletion; turn off before refarch destroy."
  default     = true
}

# ---- queue ----

variable "queue_visibility_timeout_seconds" {
  type        = number
  description = "How long a job stays invisible after an emu task receives it; emu's heartbeat extends it every third of it. Sized from the measured batch time (docs/deploy.md, Throughput at cloud speed)."
  default     = 30
}

variable "queue_max_receive_count" {
  type        = number
  description = "Failed deliveries after which a job moves to the dead-letter queue."
  default     = 5
}

variable "queue_message_retention_seconds" {
  type        = number
  description = "How long an unprocessed job is kept; the SQS maximum (14 days) outlasts any outage emu is expected to have."
  default     = 1209600
}

# ---- application ----

variable "vector_store" {
  type        = string
  description = "Where vectors live: pinecone (managed, created by this module) or pgvector (in the RDS database)."
  default     = "pinecone"

  validation {
    condition     = contains(["pinecone", "pgvector"], var.vector_store)
    error_message = "The vector store is pinecone or pgvector."
  }
}

variable "embedder" {
  type        = string
  description = "Embedder: use (the model baked into the image, no extra service) or ollama (set REFARCH_OLLAMA_HOST and REFARCH_OLLAMA_MODEL in extra_environment)."
  default     = "use"

  validation {
    condition     = contains(["use", "ollama"], var.embedder)
    error_message = "The embedder is use or ollama."
  }
}

variable "auto_promote" {
  type        = bool
  description = "Promote a new index generation by itself once its backfill is complete. A deploy that changes the model (embedder, or REFARCH_OLLAMA_MODEL in extra_environment) creates the generation through the release (`refarch index create --if-missing` as an ops task); without auto_promote, promote it with `refarch aws run -- index promote NAME` or on the status page."
  default     = false
}

variable "model_memory_mib" {
  type        = number
  description = "Memory (MiB) one embedding model takes in an emu task (the built-in use model with its batches: about 512). While a model change builds, emu holds the old and the new model, so roles.emu.memory must fit two beside the process (1024)."
  default     = 512

  validation {
    condition     = var.model_memory_mib > 0
    error_message = "model_memory_mib is a positive number of MiB."
  }
}

variable "embedding_dimension" {
  type        = number
  description = "Length of the embedding vectors (512 for the built-in model); fixes the Pinecone index dimension."
  default     = 512
}

variable "pinecone_api_key" {
  type        = string
  description = "Pinecone API key (required when vector_store is pinecone); ephemeral: never in state or a plan."
  sensitive   = true
  ephemeral   = true
  default     = null
}

variable "pinecone_index_name" {
  type        = string
  description = "Name of the Pinecone index to create."
  default     = "refarch-products"
}

variable "pinecone_namespace" {
  type        = string
  description = "Pinecone namespace for the products; empty lets the roles use the embedding model's id, so vectors of different models never mix."
  default     = ""
}

variable "pinecone_cloud" {
  type        = string
  description = "Cloud of the serverless Pinecone index."
  default     = "aws"
}

variable "pinecone_region" {
  type        = string
  description = "Region of the serverless Pinecone index; null for the deployment's region."
  default     = null
}

variable "extra_environment" {
  type        = map(string)
  description = "More REFARCH_* settings for every role (for example the Ollama URL)."
  default     = {}
}

variable "secret_version" {
  type        = number
  description = "Bump to write a new Pinecone API key and admin token into Secrets Manager."
  default     = 1
}

# ---- capacity ----

variable "roles" {
  type = object({
    serve   = object({ cpu = number, memory = number, count = number })
    pelican = object({ cpu = number, memory = number, count = number })
    emu     = object({ cpu = number, memory = number, count = number })
  })
  description = "Fargate CPU units, memory (MiB) and initial task count of each role."
  default = {
    serve   = { cpu = 512, memory = 1024, count = 2 }
    pelican = { cpu = 256, memory = 512, count = 1 }
    emu     = { cpu = 1024, memory = 2048, count = 2 }
  }

  # During a model change every emu writes the active and the building generation, and so
  # holds both models at once.
  validation {
    condition     = var.roles.emu.memory >= 1024 + 2 * var.model_memory_mib
    error_message = "roles.emu.memory must hold two embedding models during a model change: at least 1024 + 2 x model_memory_mib MiB."
  }
}

variable "serve_max_tasks" {
  type        = number
  description = "Most serve tasks under load (the fewest is roles.serve.count)."
  default     = 6
}

variable "pelican_max_tasks" {
  type        = number
  description = "Most pelican tasks (the fewest is roles.pelican.count, at least 1)."
  default     = 2
}

variable "emu_max_tasks" {
  type        = number
  description = "Most emu tasks (the fewest is roles.emu.count): enough for a 1M-product bootstrap within 15 minutes at the slowest measured per-task rate; above about 14 the default db_instance_class binds instead, so raise both together (docs/deploy.md, Throughput at cloud speed)."
  default     = 12
}

variable "emu_backlog_per_task" {
  type        = number
  description = "Visible jobs per emu task that autoscaling holds: per-task throughput (jobs/s) times acceptable lag (s); the default is the slowest measured rate, 113 jobs/s per 1-vCPU task, times 60 s (docs/deploy.md, Throughput at cloud speed)."
  default     = 6800
}

variable "cpu_target_percent" {
  type        = number
  description = "Average CPU that serve and pelican scale to hold."
  default     = 60
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Make apply wait until every service runs its new tasks healthy, so a deploy ends when it works."
  default     = true
}

# ---- observability ----

variable "log_retention_days" {
  type        = number
  description = "How long task and database logs are kept."
  default     = 30
}

variable "alarm_email" {
  type        = string
  description = "Address that receives the alarms (confirm the subscription mail); empty for none."
  default     = ""
}

variable "index_lag_alarm_seconds" {
  type        = number
  description = "Alarm when the oldest job has waited longer than this."
  default     = 300
}

variable "backfill_lag_alarm_seconds" {
  type        = number
  description = "Alarm when the oldest backfill message (catch-up, repair, new generation) has waited longer than this; a bootstrap of millions of products with a real model takes hours, so this is far above index_lag_alarm_seconds."
  default     = 21600
}

variable "error_rate_alarm_percent" {
  type        = number
  description = "Alarm when more than this share of requests end in a 5xx."
  default     = 5
}

variable "db_cpu_alarm_percent" {
  type        = number
  description = "Alarm when database CPU stays above this."
  default     = 80
}

variable "db_free_storage_alarm_gib" {
  type        = number
  description = "Alarm when the database has less free storage than this many GiB."
  default     = 5
}

variable "db_freeable_memory_alarm_mib" {
  type        = number
  description = "Alarm when the database has less freeable memory than this many MiB."
  default     = 256
}

variable "db_connections_alarm" {
  type        = number
  description = "Alarm when the database has more connections than this (db.t4g.small allows about 180)."
  default     = 150
}

# ---- operations ----

variable "seed_catalog" {
  type        = bool
  description = "Load the generated seed catalog on the first deploy (`refarch deploy` runs `seed --if-empty` as an ops task after the apply; a catalog with rows is never touched)."
  default     = false
}

variable "seed_csv" {
  type        = string
  description = "s3://bucket/key of a CSV to load instead of the generated catalog on the first deploy (`import --csv ... --if-empty`); empty for none."
  default     = ""

  validation {
    condition     = var.seed_csv == "" || can(regex("^s3://[a-z0-9.-]+/.+", var.seed_csv))
    error_message = "seed_csv must be s3://bucket/key or empty."
  }
}

variable "ops_import_bucket_arns" {
  type        = list(string)
  description = "S3 bucket ARNs the ops task may read import CSVs from (the seed_csv bucket is added automatically)."
  default     = []
}

variable "ops_task" {
  type        = object({ cpu = number, memory = number })
  description = "Fargate CPU units and memory (MiB) of the one-off ops task (`refarch aws run`); seeding embeds nothing, emu does."
  default     = { cpu = 1024, memory = 2048 }
}
