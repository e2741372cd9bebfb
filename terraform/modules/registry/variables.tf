variable "name" {
  type        = string
  description = "Repository name."
}

variable "keep_images" {
  type        = number
  description = "How many release images to keep; older ones expire."
}

variable "force_delete" {
  type        = bool
  description = "Let terraform destroy delete the repository while it still holds images."
}
