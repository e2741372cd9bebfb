variable "name" {
  type        = string
  description = "Index name (lower case letters, digits and hyphens)."

  validation {
    condition     = can(regex("^[a-z0-9-]{1,45}$", var.name))
    error_message = "A Pinecone index name has 1-45 lower case letters, digits or hyphens."
  }
}

variable "dimension" {
  type        = number
  description = "Length of the embedding vectors; must match the embedder (512 for the built-in model)."
}

variable "cloud" {
  type        = string
  description = "Cloud of the serverless index."
}

variable "region" {
  type        = string
  description = "Region of the serverless index; the same region as the tasks keeps latency low."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the index until this is turned off."
}
