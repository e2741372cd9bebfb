# Two roles per service. The execution role is what ECS itself uses to start the task: pull the
# image, write logs and read exactly the secrets that task's containers receive (the migrate
# container's database secret among them). The task role is what the application code may do,
# and it is the least each role needs (terraform/iam_moto_test.go runs each role's calls against
# moto with IAM enforced, holding exactly these documents):
#   serve   - read the depth of the job and dead-letter queues (status page and its sampler);
#   pelican - send messages to the job queue, nothing else;
#   emu     - receive, delete and extend the visibility of job-queue messages, and read the
#             depth of the job and dead-letter queues;
#   each    - connect to the database as its own Postgres role (IAM database authentication).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Only ECS tasks of this account may assume the roles (the confused-deputy guard).
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = local.roles

  name_prefix        = "${var.name}-${each.key}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  for_each = local.roles

  role       = aws_iam_role.execution[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  for_each = local.roles

  statement {
    sid     = "ReadOwnSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    # A valueFrom may name a JSON key ("ARN:username::"); the policy needs the bare secret ARN,
    # which is the first seven colon-separated fields.
    resources = distinct([for s in concat(local.db_secrets, each.value.secrets) : join(":", slice(split(":", s.valueFrom), 0, min(7, length(split(":", s.valueFrom)))))])
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  for_each = local.roles

  name   = "read-secrets"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution_secrets[each.key].json
}

resource "aws_iam_role" "task" {
  for_each = local.roles

  name_prefix        = "${var.name}-${each.key}-task-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "serve_task" {
  statement {
    sid       = "ReadQueueDepth"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn, var.dead_letter_queue_arn, var.backfill_queue_arn, var.backfill_dead_letter_queue_arn]
  }

  statement {
    sid       = "ConnectToDatabase"
    actions   = ["rds-db:connect"]
    resources = ["${local.db_user_arn}/refarch_serve"]
  }
}

data "aws_iam_policy_document" "pelican_task" {
  statement {
    sid       = "EnqueueJobs"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }

  statement {
    sid       = "ConnectToDatabase"
    actions   = ["rds-db:connect"]
    resources = ["${local.db_user_arn}/refarch_pelican"]
  }
}

data "aws_iam_policy_document" "emu_task" {
  statement {
    sid = "ConsumeJobs"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }

  # emu reports the dead-letter count in its metrics; reading a counter is all it may do there.
  statement {
    sid       = "ReadDeadLetterDepth"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]
  }

  statement {
    sid       = "ConnectToDatabase"
    actions   = ["rds-db:connect"]
    resources = ["${local.db_user_arn}/refarch_emu"]
  }
}

resource "aws_iam_role_policy" "serve_task" {
  name   = "read-queue-depth"
  role   = aws_iam_role.task["serve"].id
  policy = data.aws_iam_policy_document.serve_task.json
}

resource "aws_iam_role_policy" "pelican_task" {
  name   = "enqueue-jobs"
  role   = aws_iam_role.task["pelican"].id
  policy = data.aws_iam_policy_document.pelican_task.json
}

resource "aws_iam_role_policy" "emu_task" {
  name   = "consume-jobs"
  role   = aws_iam_role.task["emu"].id
  policy = data.aws_iam_policy_document.emu_task.json
}
