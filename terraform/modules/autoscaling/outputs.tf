output "emu_policy_arn" {
  description = "Backlog-per-task scaling policy of emu."
  value       = aws_appautoscaling_policy.emu_backlog_per_task.arn
}
