output "name" {
  description = "Name of the index (REFARCH_PINECONE_INDEX), known only once the index exists."
  value       = pinecone_index.this.name
}
