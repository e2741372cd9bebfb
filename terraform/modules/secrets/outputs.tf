output "admin_token_secret_arn" {
  description = "Secret holding REFARCH_ADMIN_TOKEN."
  value       = aws_secretsmanager_secret_version.admin_token.arn
}

output "pinecone_api_key_secret_arn" {
  description = "Secret holding REFARCH_PINECONE_API_KEY, or null when Pinecone is not used."
  value       = one(aws_secretsmanager_secret_version.pinecone_api_key[*].arn)
}
