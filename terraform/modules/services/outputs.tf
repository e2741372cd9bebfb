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

output "ops_task_definition_family" {
  description = "Family of the ops task definition that `refarch aws run` starts."
  value       = aws_ecs_task_definition.ops.family
}

output "task_definition_arns" {
  description = "Task definition each service was deployed with."
  value       = { for k, td in aws_ecs_task_definition.role : k => td.arn }
}

output "running_task_definitions" {
  description = "Task definition each service runs after the apply (checked equal to task_definition_arns)."
  value       = { for k, d in data.aws_ecs_service.deployed : k => d.task_definition }
}
