output "bucket_name" {
  description = "Results bucket: `sls-load run --aws --bucket <this>`, and the worker module's results_bucket_name."
  value       = aws_s3_bucket.results.id
}

output "bucket_arn" {
  description = "ARN of the results bucket."
  value       = aws_s3_bucket.results.arn
}

output "bucket_region" {
  description = "Region of the results bucket (`sls-load --bucket-region`)."
  value       = data.aws_region.current.name
}

output "orchestrator_policy_arn" {
  description = "Managed policy to attach to whoever runs the sls-load CLI."
  value       = aws_iam_policy.orchestrator.arn
}
