output "queue_url" {
  description = "URL of the FIFO job queue (REFARCH_SQS_QUEUE_URL)."
  value       = aws_sqs_queue.jobs.id
}

output "queue_arn" {
  description = "ARN of the FIFO job queue, the resource of the pelican and emu policies."
  value       = aws_sqs_queue.jobs.arn
}

output "queue_name" {
  description = "Name of the job queue, the dimension of its CloudWatch metrics."
  value       = aws_sqs_queue.jobs.name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (REFARCH_SQS_DLQ_URL)."
  value       = aws_sqs_queue.dead_letter.id
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue, the dimension of its CloudWatch metrics."
  value       = aws_sqs_queue.dead_letter.name
}
