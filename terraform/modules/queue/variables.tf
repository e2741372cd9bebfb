variable "name" {
  type        = string
  description = "Queue name without the .fifo suffix; the dead-letter queue gets -dlq appended."
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "How long a received message stays hidden from other emu tasks; longer than one batch takes."
}

variable "max_receive_count" {
  type        = number
  description = "Deliveries after which a message is moved to the dead-letter queue (poison isolation)."
}

variable "message_retention_seconds" {
  type        = number
  description = "How long an unprocessed job is kept in the main queue."
}
