# The ops task: the same image, run once by `refarch aws run -- COMMAND` (status, dlq list|redrive,
# reconcile [--repair], import --csv s3://..., seed --if-empty) inside the private network, because
# the database answers nobody outside it. It has no service (nothing runs it but an operator or
# `refarch deploy` seeding a first deployment), its own log group, and its own task role with only
# what those commands need: read the depth of both queues, move dead letters back (receive and
# delete on the dead-letter queue, send to the job queue) and read the import buckets named in
# ops_import_bucket_arns.

resource "aws_cloudwatch_log_group" "ops" {
  name              = "/ecs/${var.name}/ops"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "ops_execution" {
  name_prefix        = "${var.name}-ops-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "ops_execution" {
  role       = aws_iam_role.ops_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "ops_execution_secrets" {
  statement {
    sid     = "ReadOwnSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = distinct([for s in concat(local.db_secrets, local.pinecone_secrets) :
    join(":", slice(split(":", s.valueFrom), 0, min(7, length(split(":", s.valueFrom)))))])
  }
}

resource "aws_iam_role_policy" "ops_execution_secrets" {
  name   = "read-secrets"
  role   = aws_iam_role.ops_execution.id
  policy = data.aws_iam_policy_document.ops_execution_secrets.json
}

resource "aws_iam_role" "ops_task" {
  name_prefix        = "${var.name}-ops-task-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "ops_task" {
  statement {
    sid       = "StatusAndRedriveToJobs"
    actions   = ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }

  statement {
    sid = "ListAndRedriveDeadLetters"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]
  }

  dynamic "statement" {
    for_each = length(var.ops_import_bucket_arns) > 0 ? [1] : []

    content {
      sid       = "ReadImportFiles"
      actions   = ["s3:GetObject"]
      resources = [for b in var.ops_import_bucket_arns : "${b}/*"]
    }
  }
}

resource "aws_iam_role_policy" "ops_task" {
  name   = "operate"
  role   = aws_iam_role.ops_task.id
  policy = data.aws_iam_policy_document.ops_task.json
}

resource "aws_ecs_task_definition" "ops" {
  family                   = "${var.name}-ops"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.ops_task.cpu
  memory                   = var.ops_task.memory
  execution_role_arn       = aws_iam_role.ops_execution.arn
  task_role_arn            = aws_iam_role.ops_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }

  # One container: `refarch aws run` overrides its command. It migrates nothing; the services
  # do that before they start, and the commands refuse an old schema.
  container_definitions = jsonencode([
    {
      name                   = "ops"
      image                  = var.image
      command                = ["status"]
      essential              = true
      readonlyRootFilesystem = true
      environment            = [for k, v in local.environment : { name = k, value = v }]
      secrets                = concat(local.db_secrets, local.pinecone_secrets)
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
      linuxParameters        = { initProcessEnabled = true }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.ops.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "ops"
        }
      }
    },
  ])
}
