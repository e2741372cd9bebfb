# A module with nothing but Terraform's built-in provider, so that the deploy flow (init, plan,
# confirm, apply, outputs, destroy) runs end to end with a real terraform and no network.
resource "terraform_data" "marker" {
  input = var.name
}

output "service_url" {
  value = "https://${var.name}.example.test"
}

resource "terraform_data" "other" {
  input = "unchanged"
}
