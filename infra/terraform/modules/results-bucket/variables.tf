variable "bucket_name" {
  description = "Name of the results bucket (`sls-load --bucket`). null: a unique name starting with sls-load-results-."
  type        = string
  default     = null
}

variable "retention_days" {
  description = "Days after which the objects of a run (runs/...) expire."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days must be at least 1."
  }
}

variable "worker_function_name" {
  description = "Name of the worker function in every region (`sls-load --function`); the orchestrator policy may invoke only this one."
  type        = string
  default     = "sls-load-worker"
}

variable "orchestrator_policy_name" {
  description = "Name of the managed policy to attach to the users, roles or groups running sls-load."
  type        = string
  default     = "sls-load-orchestrator"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with the results still in it."
  type        = bool
  default     = false
}
