output "repository_url" {
  description = "Registry path to push the image to and pull it from."
  value       = aws_ecr_repository.this.repository_url
}
