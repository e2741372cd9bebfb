output "dns_name" {
  description = "DNS name of the load balancer; point the certificate's domain at it."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.this.zone_id
}

output "arn_suffix" {
  description = "Load balancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn" {
  description = "Target group of the serve tasks."
  value       = aws_lb_target_group.serve.arn
}

output "target_group_arn_suffix" {
  description = "Target group dimension of its CloudWatch metrics."
  value       = aws_lb_target_group.serve.arn_suffix
}

output "arn" {
  description = "ARN of the load balancer, for the web ACL association."
  value       = aws_lb.this.arn
}

output "access_logs_bucket" {
  description = "Bucket that receives the load balancer's access logs."
  value       = aws_s3_bucket.access_logs.id
}
