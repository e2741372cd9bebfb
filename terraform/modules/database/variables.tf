variable "name" {
  type        = string
  description = "Identifier of the DB instance and prefix of its companions."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the database may be placed in."
}

variable "security_group_id" {
  type        = string
  description = "Security group that admits only the service tasks."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version; RDS ships pgvector with 15 and later."
}

variable "instance_class" {
  type        = string
  description = "RDS instance class."
}

variable "allocated_storage" {
  type        = number
  description = "Initial storage in GiB."
}

variable "max_allocated_storage" {
  type        = number
  description = "Ceiling for storage autoscaling in GiB."
}

variable "database_name" {
  type        = string
  description = "Name of the application database."
}

variable "master_username" {
  type        = string
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
}

variable "multi_az" {
  type        = bool
  description = "Keep a synchronous standby in a second zone."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance until this is turned off."
}

variable "backup_retention_days" {
  type        = number
  description = "How many days of automated backups (point-in-time recovery) to keep."
}

variable "log_retention_days" {
  type        = number
  description = "How long to keep the PostgreSQL logs exported to CloudWatch."
}
