variable "name" {
  type        = string
  description = "Prefix for every security group name."
}

variable "vpc_id" {
  type        = string
  description = "VPC that holds the groups."
}

variable "app_port" {
  type        = number
  description = "Port the serve role listens on (REFARCH_ADDR)."
}

variable "db_port" {
  type        = number
  description = "PostgreSQL port."
}
