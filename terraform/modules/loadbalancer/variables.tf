variable "name" {
  type        = string
  description = "Name of the load balancer and its target group (at most 26 characters)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Public subnets, one per zone."
}

variable "security_group_id" {
  type        = string
  description = "Group that admits 80 and 443 from the internet and forwards only to serve."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for the HTTPS listener, in the same region."
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener."
}

variable "app_port" {
  type        = number
  description = "Port of the serve tasks."
}

variable "health_check_path" {
  type        = string
  description = "Readiness path of the serve role; a task that fails it receives no traffic."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the load balancer until this is turned off."
}

variable "access_log_retention_days" {
  type        = number
  description = "Days the load balancer's access logs are kept."
}
