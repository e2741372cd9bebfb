# emu scales on backlog per task, the measure AWS recommends for queue workers: visible messages
# divided by the emu tasks running now (metric math). Target tracking adds tasks while each one has
# more than emu_backlog_per_task messages waiting and removes them, down to emu_min_tasks, once the
# queue drains. serve and pelican track CPU; pelican never goes below one task.

locals {
  targets = {
    serve   = { min = var.serve_min_tasks, max = var.serve_max_tasks }
    pelican = { min = var.pelican_min_tasks, max = var.pelican_max_tasks }
    emu     = { min = var.emu_min_tasks, max = var.emu_max_tasks }
  }
}

resource "aws_appautoscaling_target" "role" {
  for_each = local.targets

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster_name}/${var.service_names[each.key]}"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "emu_backlog_per_task" {
  name               = "backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.role["emu"].service_namespace
  scalable_dimension = aws_appautoscaling_target.role["emu"].scalable_dimension
  resource_id        = aws_appautoscaling_target.role["emu"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.emu_backlog_per_task
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Visible messages in the job queue"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }

      metrics {
        id          = "backfill"
        label       = "Visible messages in the backfill queue"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"

            dimensions {
              name  = "QueueName"
              value = var.backfill_queue_name
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running emu tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = var.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = var.service_names.emu
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "Visible messages per running emu task"
        expression  = "IF(tasks > 0, (visible + backfill) / tasks, visible + backfill)"
        return_data = true
      }
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = toset(["serve", "pelican"])

  name               = "cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.role[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.role[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.role[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
