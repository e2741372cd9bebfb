output "alb_security_group_id" {
  description = "Group of the public load balancer."
  value       = aws_security_group.alb.id
}

output "serve_security_group_id" {
  description = "Group of the serve tasks."
  value       = aws_security_group.serve.id
}

output "workers_security_group_id" {
  description = "Group of the emu tasks."
  value       = aws_security_group.workers.id
}

output "database_security_group_id" {
  description = "Group of the database."
  value       = aws_security_group.database.id
}

output "pelican_security_group_id" {
  description = "Group of the pelican tasks (no internet egress)."
  value       = aws_security_group.pelican.id
}
