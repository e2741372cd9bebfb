output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Subnets for the internet-facing load balancer only."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Subnets for tasks and the database."
  value       = aws_subnet.private[*].id
}

output "endpoints_security_group_id" {
  description = "Group of the interface VPC endpoints, the only HTTPS destination of tasks without internet access."
  value       = aws_security_group.endpoints.id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, where ECR keeps image layers."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}
