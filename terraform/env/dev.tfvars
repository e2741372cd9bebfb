# The dev profile: the smallest sizes, one NAT gateway, a single-zone database and one task per
# role, for trying refarch out or a staging copy (docs/deploy.md compares the monthly costs).
#   refarch deploy --var-file terraform/env/dev.tfvars ...
# The load balancer and RDS still need subnets in two zones, so az_count stays 2; only the NAT
# gateway and the database standby are dropped.

name   = "refarch-dev"
region = "us-east-1"

az_count           = 2
single_nat_gateway = true
db_multi_az        = false
db_instance_class  = "db.t4g.micro"

db_allocated_storage     = 20
db_max_allocated_storage = 40
db_backup_retention_days = 1

roles = {
  serve   = { cpu = 512, memory = 1024, count = 1 }
  pelican = { cpu = 256, memory = 512, count = 1 }
  emu     = { cpu = 1024, memory = 2048, count = 1 }
}
serve_max_tasks   = 2
pelican_max_tasks = 1
emu_max_tasks     = 2

db_connections_alarm = 70

# No interface endpoints ($73 a month for five services in two zones): AWS API traffic goes
# through the one NAT gateway instead, which costs less at a dev copy's volume.
interface_endpoints = []

seed_catalog = true

# A dev copy may be torn down with `refarch destroy` without a protection-lifting deploy.
deletion_protection = false
log_retention_days  = 7
