output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service name of each role."
  value       = { for k, s in aws_ecs_service.role : k => s.name }
}

output "log_group_names" {
  description = "CloudWatch log group of each role."
  value       = { for k, g in aws_cloudwatch_log_group.role : k => g.name }
}
