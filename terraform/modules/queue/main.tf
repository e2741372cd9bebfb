# The job queue is FIFO so that changes to one product (message group = product id) are applied in
# order, with a dead-letter queue that takes a message after max_receive_count failed deliveries so
# that one poison product never blocks the others. Both queues are encrypted with SQS-managed keys
# and refuse requests that are not over TLS.

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-dlq.fifo"
  fifo_queue                = true
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "jobs" {
  name                        = "${var.name}.fifo"
  fifo_queue                  = true
  content_based_deduplication = false # the roles set MessageDeduplicationId themselves
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  sqs_managed_sse_enabled     = true
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds
  receive_wait_time_seconds   = 20

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the job queue may use the dead-letter queue, and only the job queue may be redriven from it.
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs.arn]
  })
}

data "aws_iam_policy_document" "tls_only" {
  for_each = {
    jobs        = aws_sqs_queue.jobs.arn
    dead_letter = aws_sqs_queue.dead_letter.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = {
    jobs        = aws_sqs_queue.jobs.id
    dead_letter = aws_sqs_queue.dead_letter.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.tls_only[each.key].json
}
