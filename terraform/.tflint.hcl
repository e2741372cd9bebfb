# Offline lint: only the ruleset bundled with tflint (the AWS ruleset is a plugin that would have to
# be downloaded). "all" adds naming, documentation and typing rules to the recommended ones.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
