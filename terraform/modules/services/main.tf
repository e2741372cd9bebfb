# One cluster, three services, one image. Each role is the image started with its subcommand
# (`refarch serve`, `refarch pelican`, `refarch emu`) and differs only in size, task role, secrets
# and whether the load balancer sends it traffic. Every task first runs `refarch migrate` in a
# short-lived init container; the role's container starts only after it exits 0, so no role ever
# meets an old schema (migrations are idempotent and serialised by the migrator, so tasks starting
# together are safe).
#
# Only migrate logs in as the RDS master user (the schema owner), with the RDS-managed secret. Each
# role logs in as its own Postgres role (refarch_serve, refarch_pelican, refarch_emu, created with
# their grants by the migrations) through IAM database authentication: a token signed for every
# new connection with the task role, so a password rotation never strands a running task. Every
# connection verifies the server's certificate (verify-full) against the RDS CA bundle in the image.

locals {
  pinecone = var.vector_store == "pinecone"
  # Where the Dockerfile puts the RDS CA bundle (checked against a pinned SHA-256 at build time).
  rds_ca_bundle = "/etc/ssl/certs/rds-global-bundle.pem"
  # /metrics listens on the task's loopback only: a sidecar collector can scrape it, the load
  # balancer (which forwards every path of app_port) cannot.
  metrics_addr = "127.0.0.1:9090"

  # Each role's rds-db:connect grant names its own user under this ARN (iam.tf).
  db_user_arn = "arn:${data.aws_partition.current.partition}:rds-db:${var.region}:${data.aws_caller_identity.current.account_id}:dbuser:${var.db_resource_id}"

  # How each role itself (not migrate) reaches the database.
  role_db_environment = {
    for role in ["serve", "pelican", "emu"] : role => {
      REFARCH_DB_USER      = "refarch_${role}"
      REFARCH_DB_IAM_AUTH  = "true"
      REFARCH_METRICS_ADDR = local.metrics_addr
    }
  }

  environment = merge(
    {
      REFARCH_ADDR                   = ":${var.app_port}"
      REFARCH_LOG_FORMAT             = "json"
      REFARCH_QUEUE                  = "sqs"
      REFARCH_SQS_QUEUE_URL          = var.queue_url
      REFARCH_SQS_DLQ_URL            = var.dead_letter_queue_url
      REFARCH_SQS_BACKFILL_QUEUE_URL = var.backfill_queue_url
      REFARCH_SQS_BACKFILL_DLQ_URL   = var.backfill_dead_letter_queue_url
      REFARCH_QUEUE_MAX_RECEIVES     = tostring(var.queue_max_receive_count)
      REFARCH_EMU_VISIBILITY         = "${var.queue_visibility_timeout_seconds}s"
      REFARCH_AWS_REGION             = var.region
      REFARCH_VECTOR_STORE           = var.vector_store
      REFARCH_EMBEDDER               = var.embedder
      REFARCH_DB_HOST                = var.db_host
      REFARCH_DB_NAME                = var.db_name
      REFARCH_DB_SSLMODE             = "verify-full"
      REFARCH_DB_SSLROOTCERT         = local.rds_ca_bundle
      # The app's own freshness and backlog figures reach CloudWatch as EMF lines in the logs.
      REFARCH_METRICS_EMF = "true"
      # Emu workers per task, each with 4 batches in hand (lanes that take turns at the
      # embedder): 8 batches hide SQS's and Pinecone's latency behind the embedder while
      # only 2 embed at once on the task's vCPU, as measured in docs/deploy.md (Throughput
      # at cloud speed); only emu reads them.
      REFARCH_CONCURRENCY  = "2"
      REFARCH_EMU_PIPELINE = "4"
    },
    local.pinecone ? {
      REFARCH_PINECONE_INDEX  = var.pinecone_index
      REFARCH_PINECONE_CLOUD  = var.pinecone_cloud
      REFARCH_PINECONE_REGION = var.pinecone_region
    } : {},
    local.pinecone && var.pinecone_namespace != "" ? { REFARCH_PINECONE_NAMESPACE = var.pinecone_namespace } : {},
    var.image_digest != null ? { REFARCH_IMAGE_DIGEST = var.image_digest } : {},
    var.extra_environment,
  )

  db_secrets = [
    { name = "REFARCH_DB_USER", valueFrom = "${var.db_secret_arn}:username::" },
    { name = "REFARCH_DB_PASSWORD", valueFrom = "${var.db_secret_arn}:password::" },
  ]
  pinecone_secrets = local.pinecone ? [
    { name = "REFARCH_PINECONE_API_KEY", valueFrom = var.pinecone_api_key_secret_arn },
  ] : []
  admin_secrets = [
    { name = "REFARCH_ADMIN_TOKEN", valueFrom = var.admin_token_secret_arn },
  ]

  # Every role answers /readyz on app_port (serve among its routes, pelican and emu on a server of
  # just /healthz and /readyz); `refarch healthcheck --ready` asks it, so a task whose database
  # refuses new connections is replaced, not left running.
  http_health_check = {
    command     = ["CMD", "/usr/local/bin/refarch", "healthcheck", "--ready"]
    interval    = 15
    timeout     = 5
    retries     = 3
    startPeriod = 30
  }

  # The role name is also its subcommand. pelican never touches vectors, so it gets no Pinecone key.
  roles = {
    serve = merge(var.roles.serve, {
      security_group = var.serve_security_group_id
      secrets        = concat(local.pinecone_secrets, local.admin_secrets)
      environment = merge(local.role_db_environment.serve, {
        REFARCH_RATE_LIMIT          = tostring(var.rate_limit_per_second)
        REFARCH_RATE_BURST          = tostring(var.rate_limit_burst)
        REFARCH_TRUST_FORWARDED_FOR = "true"
      })
    })
    pelican = merge(var.roles.pelican, {
      security_group = var.pelican_security_group_id
      secrets        = []
      environment    = local.role_db_environment.pelican
    })
    emu = merge(var.roles.emu, {
      security_group = var.workers_security_group_id
      secrets        = local.pinecone_secrets
      environment    = local.role_db_environment.emu
    })
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Container Insights provides RunningTaskCount, which the emu backlog-per-task scaling divides by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "role" {
  for_each = local.roles

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_task_definition" "role" {
  for_each = local.roles

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; /tmp is the only writable path.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "migrate"
      image                  = var.image
      command                = ["migrate"]
      essential              = false
      readonlyRootFilesystem = true
      environment            = [for k, v in local.environment : { name = k, value = v }]
      secrets                = local.db_secrets
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.role[each.key].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "migrate"
        }
      }
    },
    {
      name                   = each.key
      image                  = var.image
      command                = [each.key]
      essential              = true
      readonlyRootFilesystem = true
      stopTimeout            = 60
      dependsOn              = [{ containerName = "migrate", condition = "SUCCESS" }]
      portMappings           = [{ containerPort = var.app_port, protocol = "tcp" }]
      environment            = [for k, v in merge(local.environment, each.value.environment) : { name = k, value = v }]
      secrets                = each.value.secrets
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
      linuxParameters        = { initProcessEnabled = true }
      healthCheck            = local.http_health_check
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.role[each.key].name
          awslogs-region        = var.region
          awslogs-stream-prefix = each.key
          mode                  = "non-blocking"
          max-buffer-size       = "4m"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "role" {
  for_each = local.roles

  name                               = each.key
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.role[each.key].arn
  desired_count                      = each.value.count
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.key == "serve" ? 60 : null
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = var.wait_for_steady_state
  # Keep the tasks spread over the zones after a zone's outage or a scale-in.
  availability_zone_rebalancing = "ENABLED"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [each.value.security_group]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "serve" ? [var.target_group_arn] : []

    content {
      target_group_arn = load_balancer.value
      container_name   = "serve"
      container_port   = var.app_port
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Application Auto Scaling owns the task count after the first deployment.
  lifecycle {
    ignore_changes = [desired_count]
  }
}
