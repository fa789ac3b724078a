output "function_arn" {
  description = "ARN of the worker function in this region."
  value       = aws_lambda_function.worker.arn
}

output "function_name" {
  description = "Name to pass as `sls-load --function` (the default is sls-load-worker)."
  value       = aws_lambda_function.worker.function_name
}

output "execution_role_arn" {
  description = "The worker's execution role."
  value       = local.role_arn
}
