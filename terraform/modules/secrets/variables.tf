variable "name" {
  type        = string
  description = "Prefix of the secret names."
}

variable "pinecone_enabled" {
  type        = bool
  description = "Create the Pinecone API key secret (only when the vector store is Pinecone)."
}

variable "pinecone_api_key" {
  type        = string
  description = "Pinecone API key, written once into Secrets Manager and never stored in state or plan."
  sensitive   = true
  ephemeral   = true
  default     = null
}

variable "secret_version" {
  type        = number
  description = "Bump to write a new Pinecone key and a new admin token into the secrets."
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored."
}
