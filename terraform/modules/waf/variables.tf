variable "name" {
  type        = string
  description = "Name of the web ACL and prefix of its metrics."
}

variable "load_balancer_arn" {
  type        = string
  description = "The load balancer the web ACL guards."
}

variable "rate_limit" {
  type        = number
  description = "Requests one address may send in any five minutes before it is blocked."
}
