variable "vector_store" {
  type        = string
  description = "Where vectors live."
  default     = "pinecone"
}
