output "service_url" {
  description = "Where users reach the search UI and API."
  value       = local.service_url
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer; point domain_name at it if Route 53 is not managed here."
  value       = module.loadbalancer.dns_name
}

output "ecr_repository_url" {
  description = "Repository to push the image to."
  value       = module.registry.repository_url
}

output "image" {
  description = "Image reference all three roles run."
  value       = local.image
}

output "cluster_name" {
  description = "ECS cluster of the three services."
  value       = module.services.cluster_name
}

output "log_group_names" {
  description = "CloudWatch log group of each role."
  value       = module.services.log_group_names
}

output "queue_url" {
  description = "SQS FIFO job queue."
  value       = module.queue.queue_url
}

output "dead_letter_queue_url" {
  description = "SQS dead-letter queue."
  value       = module.queue.dead_letter_queue_url
}

output "backfill_queue_url" {
  description = "SQS FIFO queue of the backfill lane (catch-up, repairs)."
  value       = module.backfill_queue.queue_url
}

output "backfill_dead_letter_queue_url" {
  description = "SQS dead-letter queue of the backfill lane."
  value       = module.backfill_queue.dead_letter_queue_url
}

output "database_address" {
  description = "Private host name of the database."
  value       = module.database.address
}

output "database_secret_arn" {
  description = "RDS-managed secret with the database credentials."
  value       = module.database.master_user_secret_arn
}

output "admin_token_secret_arn" {
  description = "Secret holding the admin token (read it with aws secretsmanager get-secret-value)."
  value       = module.secrets.admin_token_secret_arn
}

output "pinecone_index" {
  description = "Name of the Pinecone index, or null with pgvector."
  value       = one(module.pinecone_index[*].name)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.observability.alarm_topic_arn
}

output "dashboard_url" {
  description = "CloudWatch dashboard with queue depth, lag, task counts and latency."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${module.observability.dashboard_name}"
}

output "ops_task_definition_family" {
  description = "Task definition family that `refarch aws run` starts (NAME-ops)."
  value       = module.services.ops_task_definition_family
}

output "seed_command" {
  description = "Command `refarch deploy` runs once as an ops task after an apply to load the first catalog; empty for none."
  value       = local.seed_command
}

output "index_command" {
  description = "Command `refarch deploy` runs as an ops task after every apply: creates an index generation of the configured model unless a live one has it (and, with auto_promote, lets it promote itself once complete)."
  value       = local.index_command
}

output "running_task_definitions" {
  description = "Task definition each service runs after the apply; the apply fails unless it is the one it registered."
  value       = module.services.running_task_definitions
}
