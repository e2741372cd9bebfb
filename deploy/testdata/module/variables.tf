variable "name" {
  type    = string
  default = "refarch"
}

variable "certificate_arn" {
  type = string
}

variable "vector_store" {
  type    = string
  default = "pgvector"
}
