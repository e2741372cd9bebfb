# A module with nothing but Terraform's built-in provider, so that the deploy flow (init, plan,
# confirm, apply, outputs, destroy) runs end to end with a real terraform and no network.
locals {
  image = var.image != null ? var.image : (var.image_digest != null ? "registry.example.test/refarch@${var.image_digest}" : "")
}

resource "terraform_data" "marker" {
  input = "${var.name} ${local.image}"
}

output "image" {
  value = local.image
}

output "service_url" {
  value = "https://${var.name}.example.test"
}

resource "terraform_data" "other" {
  input = "unchanged"
}

output "seed_command" {
  value = var.seed_catalog ? ["seed", "--if-empty"] : []
}

output "index_command" {
  value = var.seed_catalog ? ["index", "create", "--if-missing"] : []
}
