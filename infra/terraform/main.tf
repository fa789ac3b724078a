# Example: the results bucket in one region, the worker in three.
# Account and credentials come from the standard AWS chain (AWS_PROFILE, SSO,
# environment, instance role); nothing here names an account.

provider "aws" {
  region = var.results_region

  default_tags {
    tags = { project = "sls-load" }
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = { project = "sls-load" }
  }
}

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"

  default_tags {
    tags = { project = "sls-load" }
  }
}

provider "aws" {
  alias  = "ap_southeast_1"
  region = "ap-southeast-1"

  default_tags {
    tags = { project = "sls-load" }
  }
}

locals {
  code_sha256 = fileexists(var.worker_zip) ? filebase64sha256(var.worker_zip) : null
}

module "results_bucket" {
  source = "./modules/results-bucket"

  bucket_name          = var.results_bucket_name
  retention_days       = var.retention_days
  worker_function_name = var.function_name
}

module "worker_us_east_1" {
  source    = "./modules/worker"
  providers = { aws = aws.us_east_1 }

  code_bucket         = var.code_buckets["us-east-1"]
  code_key            = var.code_key
  code_sha256         = local.code_sha256
  results_bucket_name = module.results_bucket.bucket_name
  function_name       = var.function_name
  memory_size         = var.memory_size
  architecture        = var.architecture
  log_retention_days  = var.log_retention_days
}

module "worker_eu_west_1" {
  source    = "./modules/worker"
  providers = { aws = aws.eu_west_1 }

  code_bucket         = var.code_buckets["eu-west-1"]
  code_key            = var.code_key
  code_sha256         = local.code_sha256
  results_bucket_name = module.results_bucket.bucket_name
  function_name       = var.function_name
  memory_size         = var.memory_size
  architecture        = var.architecture
  log_retention_days  = var.log_retention_days
}

module "worker_ap_southeast_1" {
  source    = "./modules/worker"
  providers = { aws = aws.ap_southeast_1 }

  code_bucket         = var.code_buckets["ap-southeast-1"]
  code_key            = var.code_key
  code_sha256         = local.code_sha256
  results_bucket_name = module.results_bucket.bucket_name
  function_name       = var.function_name
  memory_size         = var.memory_size
  architecture        = var.architecture
  log_retention_days  = var.log_retention_days
}
