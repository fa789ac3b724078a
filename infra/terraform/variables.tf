variable "results_region" {
  description = "Region of the results bucket (`sls-load --bucket-region`)."
  type        = string
  default     = "us-east-1"
}

variable "results_bucket_name" {
  description = "Name of the results bucket. null: a unique name starting with sls-load-results-."
  type        = string
  default     = null
}

variable "retention_days" {
  description = "Days after which the objects of a run expire."
  type        = number
  default     = 30
}

variable "code_buckets" {
  description = "Per worker region, the bucket (in that region) holding the worker zip."
  type        = map(string)

  validation {
    condition     = alltrue([for r in ["us-east-1", "eu-west-1", "ap-southeast-1"] : contains(keys(var.code_buckets), r)])
    error_message = "code_buckets needs a bucket for each of us-east-1, eu-west-1 and ap-southeast-1."
  }
}

variable "code_key" {
  description = "Key of the worker zip in every code bucket."
  type        = string
  default     = "sls-load-worker.zip"
}

variable "worker_zip" {
  description = "Local path of the zip that was uploaded (`make package`); its hash makes a new build update the functions."
  type        = string
  default     = "../../build/sls-load-worker-x86_64.zip"
}

variable "function_name" {
  description = "The worker function's name in every region (`sls-load --function`)."
  type        = string
  default     = "sls-load-worker"
}

variable "memory_size" {
  description = "Worker memory in MB (`sls-load --memory`)."
  type        = number
  default     = 1769
}

variable "architecture" {
  description = "Worker architecture, x86_64 or arm64 (`sls-load --arch`)."
  type        = string
  default     = "x86_64"
}

variable "log_retention_days" {
  description = "Days the workers' CloudWatch logs are kept."
  type        = number
  default     = 7
}
