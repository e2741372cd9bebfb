variable "cluster_name" {
  type        = string
  description = "ECS cluster of the services."
}

variable "service_names" {
  type        = object({ serve = string, pelican = string, emu = string })
  description = "ECS service name of each role."
}

variable "backfill_queue_name" {
  type        = string
  description = "Name of the backfill lane's queue, whose backlog drives emu too."
}

variable "queue_name" {
  type        = string
  description = "Name of the job queue whose backlog drives emu."
}

variable "emu_min_tasks" {
  type        = number
  description = "Fewest emu tasks, kept even when the queue is empty."
}

variable "emu_max_tasks" {
  type        = number
  description = "Most emu tasks, a ceiling on cost and on load on the embedder and vector store."
}

variable "emu_backlog_per_task" {
  type        = number
  description = "Visible messages one emu task may have waiting: its throughput times the acceptable lag."
}

variable "serve_min_tasks" {
  type        = number
  description = "Fewest serve tasks; two keep search up through a zone or task failure."
}

variable "serve_max_tasks" {
  type        = number
  description = "Most serve tasks."
}

variable "pelican_min_tasks" {
  type        = number
  description = "Fewest pelican tasks; at least one, or changes stop flowing into the queue."

  validation {
    condition     = var.pelican_min_tasks >= 1
    error_message = "pelican must run at least one task."
  }
}

variable "pelican_max_tasks" {
  type        = number
  description = "Most pelican tasks (bootstrap splits across them)."
}

variable "cpu_target_percent" {
  type        = number
  description = "Average CPU that serve and pelican scale to hold."
}
