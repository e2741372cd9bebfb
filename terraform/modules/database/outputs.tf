output "address" {
  description = "Host name of the database, reachable only from inside the VPC."
  value       = aws_db_instance.this.address
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_db_instance.this.db_name
}

output "instance_id" {
  description = "DB instance identifier, the dimension of its CloudWatch metrics."
  value       = aws_db_instance.this.identifier
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON with username and password) managed by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "resource_id" {
  description = "DB instance resource ID, which IAM database authentication policies name (rds-db:connect)."
  value       = aws_db_instance.this.resource_id
}
