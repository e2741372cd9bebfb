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

variable "endpoints_security_group_id" {
  type        = string
  description = "Group of the interface VPC endpoints, pelican's only HTTPS destination."
}

variable "s3_prefix_list_id" {
  type        = string
  description = "Prefix list of the S3 gateway endpoint (ECR image layers)."
}

variable "pelican_internet_egress" {
  type        = bool
  description = "Let pelican out on 443 too; only the ollama embedder needs it (pelican asks the server for the model's dimension)."
}
