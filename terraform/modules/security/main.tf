# Every path through the network is declared here, in one place, so a reviewer can read the whole
# reachability graph at once: internet -> ALB -> serve -> database, emu and pelican -> database,
# serve and emu -> HTTPS (VPC endpoints, Pinecone), pelican -> the VPC endpoints only. Nothing else
# is allowed; in particular nothing but the ALB accepts traffic from outside the VPC, only the
# services reach the database, and pelican, which needs only Postgres and SQS, has no way out.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Public load balancer: HTTP and HTTPS from anywhere, forwards to serve only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-alb" }
}

resource "aws_security_group" "serve" {
  name        = "${var.name}-serve"
  description = "serve tasks: reached only from the load balancer"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-serve" }
}

resource "aws_security_group" "workers" {
  name        = "${var.name}-workers"
  description = "emu tasks: no inbound traffic at all"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-workers" }
}

resource "aws_security_group" "pelican" {
  name        = "${var.name}-pelican"
  description = "pelican tasks: no inbound traffic, out only to the database and the VPC endpoints"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-pelican" }
}

resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "RDS PostgreSQL: reached only from the service tasks"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-database" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the internet, answered only with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_serve" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward requests and health checks to serve"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.serve.id
}

resource "aws_vpc_security_group_ingress_rule" "serve_from_alb" {
  security_group_id            = aws_security_group.serve.id
  description                  = "Requests and health checks from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = {
    serve   = aws_security_group.serve.id
    workers = aws_security_group.workers.id
  }

  security_group_id = each.value
  description       = "HTTPS to VPC endpoints and the Pinecone API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# pelican reaches AWS only through the interface endpoints (SQS, logs, ECR) and the S3 gateway
# endpoint (image layers); there is no route for it to anywhere else.
resource "aws_vpc_security_group_egress_rule" "pelican_endpoints" {
  security_group_id            = aws_security_group.pelican.id
  description                  = "HTTPS to the interface VPC endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "pelican_s3" {
  security_group_id = aws_security_group.pelican.id
  description       = "HTTPS to the S3 gateway endpoint (image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

# Only with the ollama embedder: pelican asks the Ollama server for the model's dimension at start.
resource "aws_vpc_security_group_egress_rule" "pelican_https" {
  count = var.pelican_internet_egress ? 1 : 0

  security_group_id = aws_security_group.pelican.id
  description       = "HTTPS to the Ollama server (ollama embedder only)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_database" {
  for_each = {
    serve   = aws_security_group.serve.id
    workers = aws_security_group.workers.id
    pelican = aws_security_group.pelican.id
  }

  security_group_id            = each.value
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  for_each = {
    serve   = aws_security_group.serve.id
    workers = aws_security_group.workers.id
    pelican = aws_security_group.pelican.id
  }

  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.db_port
  to_port                      = var.db_port
  referenced_security_group_id = each.value
}
