# RDS PostgreSQL in private subnets only. The master password is created and rotated by RDS in
# Secrets Manager (manage_master_user_password), so it never appears in code, plan or state; the
# migrate container receives it from that secret at start. The services log in as their own
# Postgres roles (created by the migrations) with IAM database authentication: a token signed
# per connection, so there is no service password to store or rotate. TLS is enforced by the
# parameter group and verified by the clients (verify-full against the RDS CA bundle).

locals {
  major = split(".", var.engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids

  tags = { Name = var.name }
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-pg${local.major}"
  family = "postgres${local.major}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  # Search index builds (docs/architecture.md, "Search index builds"): refarch sizes each build's session
  # from the vector count up to maintenance_work_mem, so this is the most a build may
  # take: a quarter of the instance's memory (in kB), and one parallel worker per vCPU.
  parameter {
    name  = "maintenance_work_mem"
    value = "{DBInstanceClassMemory/4096}"
  }

  parameter {
    name  = "max_parallel_maintenance_workers"
    value = "{DBInstanceVCPU}"
  }

  # The status change log and the queue tables churn thousands of rows a second during a
  # bootstrap; autovacuum's default minute between visits lets their dead rows slow
  # `refarch status` to seconds (scripts/db.sh sets the same locally).
  parameter {
    name  = "autovacuum_naptime"
    value = "5"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name                     = var.database_name
  username                    = var.master_username
  manage_master_user_password = true

  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  multi_az               = var.multi_az

  backup_retention_period    = var.backup_retention_days
  backup_window              = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  copy_tags_to_snapshot      = true
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.name}-final"

  enabled_cloudwatch_logs_exports = ["postgresql"]

  tags = { Name = var.name }

  depends_on = [aws_cloudwatch_log_group.postgresql]
}

# Created here rather than by RDS so that the exported logs expire instead of piling up forever.
resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/instance/${var.name}/postgresql"
  retention_in_days = var.log_retention_days
}
