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

output "task_role_arns" {
  description = "Task role of each role, for audits of what the application may do."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}
