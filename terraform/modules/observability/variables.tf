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
