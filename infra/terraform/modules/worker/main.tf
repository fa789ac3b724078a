# The sls-load worker function in one region (use the module once per region,
# each with that region's provider). Workers send load to the target over the
# public internet and PUT their results into the results bucket.

data "aws_partition" "current" {}
data "aws_region" "current" {}

# Created here, with a retention, rather than by Lambda on first use; the role
# therefore needs no logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_158:CloudWatch's default encryption; a KMS key would need a key policy for Logs and buys nothing for load-test output.
  #checkov:skip=CKV_AWS_338:Worker logs are disposable debugging output (log_retention_days, 7 by default); results live in the bucket.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# IAM names are global: the role's name carries the region, since this module is
# used once per region.
resource "aws_iam_role" "worker" {
  count                = var.existing_role_arn == "" ? 1 : 0
  permissions_boundary = var.permissions_boundary == "" ? null : var.permissions_boundary
  name                 = substr("${var.function_name}-${data.aws_region.current.name}", 0, 64)
  description          = "sls-load worker ${var.function_name} in ${data.aws_region.current.name}: writes its logs and its run results, nothing else."
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
}

data "aws_iam_policy_document" "worker" {
  # The function's own log group, and only its streams.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }

  # runs/{run_id}/{region}/{worker}/latency-NNNNN.hlog and manifest.json.
  # Workers never list or delete.
  statement {
    sid       = "WriteRunResults"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.results_bucket_name}/runs/*"]
  }

  # The kill switch: the run's control object and its heartbeat, and nothing
  # else a worker could read.
  statement {
    sid       = "ReadRunControl"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:${data.aws_partition.current.partition}:s3:::${var.results_bucket_name}/runs/*/control.json", "arn:${data.aws_partition.current.partition}:s3:::${var.results_bucket_name}/runs/*/heartbeat.json"]
  }
}

resource "aws_iam_role_policy" "worker" {
  count  = var.existing_role_arn == "" ? 1 : 0
  name   = "sls-load-worker"
  role   = aws_iam_role.worker[0].id
  policy = data.aws_iam_policy_document.worker.json
}

locals {
  role_arn = var.existing_role_arn == "" ? aws_iam_role.worker[0].arn : var.existing_role_arn
}

resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:No dead-letter queue; a failed worker is never retried (it would send its load twice) and its missing manifest is the record.
  #checkov:skip=CKV_AWS_117:No VPC; workers only reach the load target over the internet, which a VPC would need a NAT gateway for.
  #checkov:skip=CKV_AWS_272:No code signing; the zip is uploaded by whoever deploys it, named by its content hash.
  #checkov:skip=CKV_AWS_50:No X-Ray; tracing every request of a load generator adds cost and latency and measures nothing sls-load reports.
  #checkov:skip=CKV_AWS_115:Concurrency is reserved only on request (reserved_concurrency); a reservation would cap the load.
  #checkov:skip=CKV_AWS_173:No variables are set on the function, so there is nothing to encrypt with KMS.
  function_name    = var.function_name
  description      = "sls-load worker (one load-test slice per invocation)"
  role             = local.role_arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  s3_bucket        = var.code_bucket
  s3_key           = var.code_key
  source_code_hash = var.code_sha256
  memory_size      = var.memory_size
  # Lambda's maximum; one slice (`sls-load --slice`, default 14 min) plus the
  # wait for the agreed start fits in it.
  timeout = 900
  # -1: none, the account's unreserved pool.
  reserved_concurrent_executions = var.reserved_concurrency

  # Logs go to the group above (Lambda's default name for this function) from
  # the first invocation on, and the role can write them.
  depends_on = [aws_cloudwatch_log_group.worker, aws_iam_role_policy.worker]
}

# A retried worker would send its slice of load a second time, so failed
# invocations are never retried; an event Lambda could not start within a
# minute (throttling) is dropped rather than started long after the agreed
# instant. The run then reports the worker as missing.
resource "aws_lambda_function_event_invoke_config" "worker" {
  function_name                = aws_lambda_function.worker.function_name
  qualifier                    = "$LATEST"
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
