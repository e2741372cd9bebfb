# Production settings, kept in git so every deploy applies the same ones:
#   refarch deploy --var-file terraform/env/prod.tfvars ...
# Flags and --set still win for one run; change a setting here, in a reviewed pull request, so the
# next release does not undo it. Unset variables take the defaults in terraform/variables.tf,
# which are the highly available profile: two zones, a NAT gateway per zone, a Multi-AZ database
# and at least two serve tasks.

name   = "refarch"
region = "us-east-1"

az_count           = 2
single_nat_gateway = false
db_multi_az        = true
db_instance_class  = "db.t4g.small"

roles = {
  serve   = { cpu = 512, memory = 1024, count = 2 }
  pelican = { cpu = 256, memory = 512, count = 1 }
  emu     = { cpu = 1024, memory = 2048, count = 2 }
}
serve_max_tasks = 6
# 12 emu tasks bootstrap 1M products within 15 minutes with the built-in model; 8 would take
# about 17 (docs/deploy.md, Throughput at cloud speed).
emu_max_tasks = 12

# A new deployment shows search working at once; a catalog with rows is never touched.
seed_catalog = true

deletion_protection = true
log_retention_days  = 30
