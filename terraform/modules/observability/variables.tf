variable "name" {
  type        = string
  description = "Prefix of the alarms, the topic and the dashboard."
}

variable "region" {
  type        = string
  description = "Region of the dashboard widgets."
}

variable "alarm_email" {
  type        = string
  description = "Address subscribed to the alarm topic; empty for none (subscribe something else to the topic)."
}

variable "queue_name" {
  type        = string
  description = "Name of the job queue."
}

variable "dead_letter_queue_name" {
  type        = string
  description = "Name of the dead-letter queue."
}

variable "backfill_queue_name" {
  type        = string
  description = "Name of the backfill lane's queue (catch-up, repairs)."
}

variable "backfill_dead_letter_queue_name" {
  type        = string
  description = "Name of the backfill lane's dead-letter queue."
}

variable "backfill_age_threshold_seconds" {
  type        = number
  description = "Alarm when the oldest backfill message has waited longer than this: a backfill is stuck, not merely long."
}

variable "oldest_message_age_threshold_seconds" {
  type        = number
  description = "Alarm when the oldest job has waited longer than this: the index is falling behind."
}

variable "alb_arn_suffix" {
  type        = string
  description = "Load balancer dimension of its metrics."
}

variable "target_group_arn_suffix" {
  type        = string
  description = "Target group dimension of its metrics."
}

variable "error_rate_threshold_percent" {
  type        = number
  description = "Alarm when this share of requests end in a 5xx."
}

variable "db_instance_id" {
  type        = string
  description = "DB instance identifier."
}

variable "db_cpu_threshold_percent" {
  type        = number
  description = "Alarm when database CPU stays above this."
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster of the services."
}

variable "service_names" {
  type        = object({ serve = string, pelican = string, emu = string })
  description = "ECS service name of each role."
}

variable "serve_min_healthy_hosts" {
  type        = number
  description = "Alarm when fewer serve targets than this are healthy."
}

variable "db_free_storage_threshold_bytes" {
  type        = number
  description = "Alarm when the database's free storage falls below this many bytes."
}

variable "db_freeable_memory_threshold_bytes" {
  type        = number
  description = "Alarm when the database's freeable memory falls below this many bytes."
}

variable "db_connections_threshold" {
  type        = number
  description = "Alarm when the database has more connections than this."
}

variable "emu_max_tasks" {
  type        = number
  description = "emu's most tasks; running this many for 15 minutes raises an alarm."
}
