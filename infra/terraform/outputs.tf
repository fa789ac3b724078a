output "results_bucket" {
  description = "`sls-load --bucket`"
  value       = module.results_bucket.bucket_name
}

output "results_bucket_region" {
  description = "`sls-load --bucket-region`"
  value       = module.results_bucket.bucket_region
}

output "orchestrator_policy_arn" {
  description = "Attach to the users, roles or groups that run sls-load."
  value       = module.results_bucket.orchestrator_policy_arn
}

output "worker_function_arns" {
  description = "The worker function in each region."
  value = {
    "us-east-1"      = module.worker_us_east_1.function_arn
    "eu-west-1"      = module.worker_eu_west_1.function_arn
    "ap-southeast-1" = module.worker_ap_southeast_1.function_arn
  }
}

output "run_command" {
  description = "How to run a scenario against this deployment."
  value       = "sls-load run SCENARIO --aws --bucket ${module.results_bucket.bucket_name} --bucket-region ${module.results_bucket.bucket_region} --function ${var.function_name} --memory ${var.memory_size} --arch ${var.architecture} --regions us-east-1,eu-west-1,ap-southeast-1"
}
