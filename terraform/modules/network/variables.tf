variable "name" {
  type        = string
  description = "Prefix for every resource name and Name tag."
}

variable "region" {
  type        = string
  description = "AWS region, used to name the VPC endpoint services."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 range of the VPC; split into one public and one private /20 per availability zone."
}

variable "az_count" {
  type        = number
  description = "How many availability zones to spread over (2 or 3)."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone outage)."
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services reached through interface VPC endpoints instead of the NAT gateway."
}
