output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Subnets for the internet-facing load balancer only."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Subnets for tasks and the database."
  value       = aws_subnet.private[*].id
}

output "endpoint_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}
