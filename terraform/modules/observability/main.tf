# Alarms answer "is the index keeping up and is search healthy?": any dead letter (a product that
# cannot be indexed), an old oldest message (lag), a high 5xx rate and a busy database. They all
# notify one SNS topic. The dashboard shows the same signals side by side with the task counts.

# CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its key policy does
# not admit CloudWatch), so the topic gets its own key whose policy does.
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "alarm_key" {
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }

    # Only this account's alarms, not CloudWatch acting for anyone else (the confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description         = "${var.name} alarm notifications"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarm_key.json
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Messages reached the dead-letter queue: a product failed indexing repeatedly. See `refarch status` and redrive after the fix."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.dead_letter_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name          = "${var.name}-index-lag"
  alarm_description   = "The oldest job has waited too long: emu is down, saturated or failing."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "backfill_dead_letters" {
  alarm_name          = "${var.name}-backfill-dead-letters"
  alarm_description   = "Backfill messages (catch-up, repair) reached the backfill dead-letter queue: a product failed indexing repeatedly. See `refarch status` and redrive after the fix."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.backfill_dead_letter_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "backfill_age" {
  alarm_name          = "${var.name}-backfill-lag"
  alarm_description   = "The oldest backfill message has waited too long: emu is down, or live changes leave it no time."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.backfill_queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.backfill_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-5xx-rate"
  alarm_description   = "More than the threshold share of requests ended in a 5xx (from serve or the load balancer)."
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (target_5xx + elb_5xx) / requests, 0)"
    label       = "5xx share of requests (%)"
    return_data = true
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "target_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "elb_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "database_cpu" {
  alarm_name          = "${var.name}-database-cpu"
  alarm_description   = "Database CPU is high: search and sync slow down; consider a larger instance class."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.db_cpu_threshold_percent
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "pelican_down" {
  alarm_name          = "${var.name}-pelican-down"
  alarm_description   = "No pelican task is running: changes pile up in the outbox and stop reaching the index."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = var.service_names.pelican }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

locals {
  widgets = [
    {
      title = "Queue depth"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name, { label = "visible" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.queue_name, { label = "in flight" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dead_letter_queue_name, { label = "dead letters" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.backfill_queue_name, { label = "backfill visible" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.backfill_dead_letter_queue_name, { label = "backfill dead letters" }],
      ]
      stat = "Maximum"
    },
    {
      title   = "Index lag: age of the oldest job (s)"
      metrics = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name]]
      stat    = "Maximum"
    },
    {
      title = "Running tasks"
      metrics = [for role, service in var.service_names :
        ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", service, { label = role }]
      ]
      stat = "Average"
    },
    {
      title = "Search latency (s)"
      metrics = [
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p50", label = "p50" }],
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p99", label = "p99" }],
      ]
      stat = "p50"
    },
    {
      title = "Requests and 5xx"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { label = "requests" }],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "serve 5xx" }],
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "load balancer 5xx" }],
      ]
      stat = "Sum"
    },
    # From the app itself (EMF lines in the task logs, namespace refarch): how long a change took
    # to become searchable, and the backlog as emu and pelican see it.
    {
      title = "Index freshness: change to searchable (s, from emu)"
      metrics = [
        ["refarch", "refarch_emu_freshness_seconds_avg", "Service", "emu", { label = "mean" }],
      ]
      stat = "Maximum"
    },
    {
      title = "Backlog (from the app)"
      metrics = [
        ["refarch", "refarch_queue_messages_visible", "Service", "emu", { label = "queued" }],
        ["refarch", "refarch_queue_messages_in_flight", "Service", "emu", { label = "in flight" }],
        ["refarch", "refarch_queue_messages_dead", "Service", "emu", { label = "dead letters" }],
        ["refarch", "refarch_pelican_catchup_chunks_remaining", "Service", "pelican", { label = "catch-up chunks left" }],
      ]
      stat = "Maximum"
    },
    {
      title   = "Database CPU (%)"
      metrics = [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_id]]
      stat    = "Average"
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = [for i, w in local.widgets : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = w.title
        region  = var.region
        view    = "timeSeries"
        stacked = false
        period  = 60
        stat    = w.stat
        metrics = w.metrics
      }
    }]
  })
}
