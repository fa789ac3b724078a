variable "code_bucket" {
  description = "Bucket holding the worker zip (`make package` -> build/sls-load-worker-ARCH.zip); Lambda reads code only from a bucket in the function's own region."
  type        = string
}

variable "code_key" {
  description = "Key of the worker zip in code_bucket."
  type        = string
  default     = "sls-load-worker.zip"
}

variable "code_sha256" {
  description = "Base64 SHA-256 of the zip (filebase64sha256), so that a new build at the same key updates the function. null: only a new key does."
  type        = string
  default     = null
}

variable "results_bucket_name" {
  description = "The results bucket (the results-bucket module's bucket_name); it may be in another region."
  type        = string
}

variable "memory_size" {
  description = "Worker memory in MB; 1769 MB is one full vCPU. Pass the same value to `sls-load --memory` so plans and cost estimates match."
  type        = number
  default     = 1769

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "architecture" {
  description = "x86_64 or arm64; must match the bootstrap binary in the zip. Pass the same value to `sls-load --arch`."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "function_name" {
  description = "The worker function's name (`sls-load --function`), the same in every region."
  type        = string
  default     = "sls-load-worker"
}

variable "existing_role_arn" {
  description = "An existing execution role for the worker (a governed account's); empty: the module creates a least-privilege one."
  type        = string
  default     = ""
}

variable "permissions_boundary" {
  description = "Managed policy ARN set as the permissions boundary of the role the module creates; empty for none."
  type        = string
  default     = ""
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for the worker (`sls-load deploy --reserve N`); -1 for none."
  type        = number
  default     = -1
}

variable "log_retention_days" {
  description = "Days the worker's CloudWatch logs are kept."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ...)."
  }
}
