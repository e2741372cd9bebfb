# refarch on AWS. Read top to bottom, this is the order in which a request and a change travel:
# the network and its security groups, the stores (database, queue, vector index, secrets, image
# registry), the three services, the load balancer in front of serve, then scaling and alarms.

locals {
  app_port     = 8080
  db_port      = 5432
  pinecone     = var.vector_store == "pinecone"
  service_url  = var.domain_name != "" ? "https://${var.domain_name}" : "https://${module.loadbalancer.dns_name}"
  image        = var.image != null ? var.image : (var.image_digest != null ? "${module.registry.repository_url}@${var.image_digest}" : "")
  pinecone_reg = coalesce(var.pinecone_region, var.region)
  # The digest the tasks report on GET /version: given, or read from a kept image reference.
  image_digest = var.image_digest != null ? var.image_digest : try(regex("@(sha256:[0-9a-f]{64})$", var.image)[0], null)
  seed_bucket  = var.seed_csv != "" ? "arn:aws:s3:::${split("/", trimprefix(var.seed_csv, "s3://"))[0]}" : null
  # What `refarch deploy` runs once as an ops task after an apply; `--if-empty` makes it a no-op
  # on a catalog that has rows, so only the first deploy loads anything.
  seed_command = var.seed_csv != "" ? ["import", "--csv", var.seed_csv, "--if-empty"] : (var.seed_catalog ? ["seed", "--if-empty"] : [])
  # What `refarch deploy` runs as an ops task after every apply (after seeding): with the tasks'
  # configuration, so the variables that choose the model (embedder, and the Ollama model in
  # extra_environment) create a generation of a new model, which the roles then backfill; a
  # no-op while a live generation has the configured model.
  index_command = concat(["index", "create", "--if-missing"], var.auto_promote ? ["--auto-promote"] : [])
}

module "network" {
  source = "./modules/network"

  name                = var.name
  region              = var.region
  cidr_block          = var.vpc_cidr
  az_count            = var.az_count
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.interface_endpoints
}

module "security" {
  source = "./modules/security"

  name     = var.name
  vpc_id   = module.network.vpc_id
  app_port = local.app_port
  db_port  = local.db_port

  endpoints_security_group_id = module.network.endpoints_security_group_id
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  pelican_internet_egress     = var.embedder == "ollama"
}

module "database" {
  source = "./modules/database"

  name                  = var.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.security.database_security_group_id
  engine_version        = var.db_engine_version
  instance_class        = var.db_instance_class
  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  database_name         = "refarch"
  master_username       = "refarch"
  multi_az              = var.db_multi_az
  deletion_protection   = var.deletion_protection
  backup_retention_days = var.db_backup_retention_days
  log_retention_days    = var.log_retention_days
}

module "queue" {
  source = "./modules/queue"

  name                       = "${var.name}-jobs"
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  max_receive_count          = var.queue_max_receive_count
  message_retention_seconds  = var.queue_message_retention_seconds
}

# The backfill lane: catch-up (bootstrap), repairs and new index generations go on their own FIFO
# queue with its own dead-letter queue, so live changes on the job queue never wait behind a
# million-product backfill; emu always drains the job queue first.
module "backfill_queue" {
  source = "./modules/queue"

  name                       = "${var.name}-backfill"
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  max_receive_count          = var.queue_max_receive_count
  message_retention_seconds  = var.queue_message_retention_seconds
}

# Created before anything that could enqueue: the services take the index name from this module,
# and also depend on it explicitly, so no task definition exists until the index does.
module "pinecone_index" {
  source = "./modules/pinecone_index"
  count  = local.pinecone ? 1 : 0

  name                = var.pinecone_index_name
  dimension           = var.embedding_dimension
  cloud               = var.pinecone_cloud
  region              = local.pinecone_reg
  deletion_protection = var.deletion_protection
}

module "secrets" {
  source = "./modules/secrets"

  name                 = var.name
  pinecone_enabled     = local.pinecone
  pinecone_api_key     = var.pinecone_api_key
  secret_version       = var.secret_version
  recovery_window_days = 7
}

module "registry" {
  source = "./modules/registry"

  name         = var.name
  keep_images  = 30
  force_delete = !var.deletion_protection
}

module "services" {
  source = "./modules/services"

  name                      = var.name
  region                    = var.region
  image                     = local.image
  image_digest              = local.image_digest
  cpu_architecture          = var.cpu_architecture
  subnet_ids                = module.network.private_subnet_ids
  serve_security_group_id   = module.security.serve_security_group_id
  workers_security_group_id = module.security.workers_security_group_id
  pelican_security_group_id = module.security.pelican_security_group_id
  target_group_arn          = module.loadbalancer.target_group_arn
  app_port                  = local.app_port
  log_retention_days        = var.log_retention_days

  queue_url             = module.queue.queue_url
  queue_arn             = module.queue.queue_arn
  dead_letter_queue_url = module.queue.dead_letter_queue_url
  dead_letter_queue_arn = module.queue.dead_letter_queue_arn

  backfill_queue_url             = module.backfill_queue.queue_url
  backfill_queue_arn             = module.backfill_queue.queue_arn
  backfill_dead_letter_queue_url = module.backfill_queue.dead_letter_queue_url
  backfill_dead_letter_queue_arn = module.backfill_queue.dead_letter_queue_arn

  queue_max_receive_count          = var.queue_max_receive_count
  queue_visibility_timeout_seconds = var.queue_visibility_timeout_seconds

  db_host        = module.database.address
  db_name        = module.database.database_name
  db_secret_arn  = module.database.master_user_secret_arn
  db_resource_id = module.database.resource_id

  rate_limit_per_second = var.rate_limit_per_second
  rate_limit_burst      = var.rate_limit_burst

  admin_token_secret_arn      = module.secrets.admin_token_secret_arn
  vector_store                = var.vector_store
  pinecone_index              = one(module.pinecone_index[*].name)
  pinecone_namespace          = var.pinecone_namespace
  pinecone_cloud              = var.pinecone_cloud
  pinecone_region             = local.pinecone_reg
  pinecone_api_key_secret_arn = module.secrets.pinecone_api_key_secret_arn
  embedder                    = var.embedder
  extra_environment           = var.extra_environment

  roles                  = var.roles
  wait_for_steady_state  = var.wait_for_steady_state
  ops_task               = var.ops_task
  ops_import_bucket_arns = compact(concat(var.ops_import_bucket_arns, [local.seed_bucket]))

  depends_on = [module.pinecone_index]
}

module "loadbalancer" {
  source = "./modules/loadbalancer"

  name                = var.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.public_subnet_ids
  security_group_id   = module.security.alb_security_group_id
  certificate_arn     = var.certificate_arn
  ssl_policy          = var.ssl_policy
  app_port            = local.app_port
  health_check_path   = "/readyz"
  deletion_protection = var.deletion_protection

  access_log_retention_days = var.access_log_retention_days
}

module "waf" {
  source = "./modules/waf"
  count  = var.enable_waf ? 1 : 0

  name              = var.name
  load_balancer_arn = module.loadbalancer.arn
  rate_limit        = var.waf_rate_limit
}

resource "aws_route53_record" "service" {
  count = var.route53_zone_id != "" && var.domain_name != "" ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.loadbalancer.dns_name
    zone_id                = module.loadbalancer.zone_id
    evaluate_target_health = true
  }
}

module "autoscaling" {
  source = "./modules/autoscaling"

  cluster_name         = module.services.cluster_name
  service_names        = module.services.service_names
  queue_name           = module.queue.queue_name
  backfill_queue_name  = module.backfill_queue.queue_name
  serve_min_tasks      = var.roles.serve.count
  serve_max_tasks      = var.serve_max_tasks
  pelican_min_tasks    = var.roles.pelican.count
  pelican_max_tasks    = var.pelican_max_tasks
  emu_min_tasks        = var.roles.emu.count
  emu_max_tasks        = var.emu_max_tasks
  emu_backlog_per_task = var.emu_backlog_per_task
  cpu_target_percent   = var.cpu_target_percent
}

module "observability" {
  source = "./modules/observability"

  name                                 = var.name
  region                               = var.region
  alarm_email                          = var.alarm_email
  queue_name                           = module.queue.queue_name
  dead_letter_queue_name               = module.queue.dead_letter_queue_name
  backfill_queue_name                  = module.backfill_queue.queue_name
  backfill_dead_letter_queue_name      = module.backfill_queue.dead_letter_queue_name
  backfill_age_threshold_seconds       = var.backfill_lag_alarm_seconds
  oldest_message_age_threshold_seconds = var.index_lag_alarm_seconds
  alb_arn_suffix                       = module.loadbalancer.arn_suffix
  target_group_arn_suffix              = module.loadbalancer.target_group_arn_suffix
  error_rate_threshold_percent         = var.error_rate_alarm_percent
  db_instance_id                       = module.database.instance_id
  db_cpu_threshold_percent             = var.db_cpu_alarm_percent
  cluster_name                         = module.services.cluster_name
  service_names                        = module.services.service_names
  serve_min_healthy_hosts              = var.roles.serve.count
  db_free_storage_threshold_bytes      = var.db_free_storage_alarm_gib * 1024 * 1024 * 1024
  db_freeable_memory_threshold_bytes   = var.db_freeable_memory_alarm_mib * 1024 * 1024
  db_connections_threshold             = var.db_connections_alarm
  emu_max_tasks                        = var.emu_max_tasks
}
