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

variable "image" {
  type    = string
  default = null
}

variable "image_digest" {
  type    = string
  default = null
}

variable "seed_catalog" {
  type    = bool
  default = false
}
