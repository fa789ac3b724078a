# The sls-load results bucket (one, in one region) and the sls-load-orchestrator
# managed policy for the people and CI jobs that run the sls-load CLI. Every
# object of a run lives below runs/{run_id}/.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_s3_bucket" "results" {
  #checkov:skip=CKV_AWS_18:No access logging; runs are short-lived measurements that expire, and logs would need a second bucket.
  #checkov:skip=CKV_AWS_21:No versioning; it would keep expired runs as noncurrent versions (and bill them).
  #checkov:skip=CKV_AWS_144:No cross-region replication; runs are reproducible measurements, not records to keep.
  #checkov:skip=CKV_AWS_145:SSE-S3 rather than SSE-KMS; with KMS every worker would also need kms:GenerateDataKey on the key.
  #checkov:skip=CKV2_AWS_62:No event notifications; nothing consumes them (the CLI reads the objects itself).
  bucket        = var.bucket_name
  bucket_prefix = var.bucket_name == null ? "sls-load-results-" : null
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket = aws_s3_bucket.results.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    id     = "expire-runs"
    status = "Enabled"

    filter {
      prefix = "runs/"
    }

    expiration {
      days = var.retention_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Deny statements only take access away: the wildcards here widen what is
# refused, never what is allowed.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTlsOlderThan12"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "results" {
  bucket = aws_s3_bucket.results.id
  policy = data.aws_iam_policy_document.tls_only.json

  # S3 rejects policy changes while the public access block is being applied.
  depends_on = [aws_s3_bucket_public_access_block.results]
}

data "aws_iam_policy_document" "orchestrator" {
  # plan.json and summary.json (put); plans, manifests, interval logs (get).
  statement {
    sid       = "ReadWriteRunObjects"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.results.arn}/runs/*"]
  }

  # Listing runs/{run_id}/ to find the workers' objects.
  statement {
    sid       = "ListRunObjects"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.results.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["runs/*"]
    }
  }

  # Starting workers (InvocationType=Event) in every region of a run.
  statement {
    sid       = "InvokeWorkers"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.worker_function_name}"]
  }

  # `run` checks the deployed worker before invoking anything (architecture,
  # memory, timeout, no retries); so does `doctor`.
  statement {
    sid       = "CheckWorkers"
    effect    = "Allow"
    actions   = ["lambda:GetFunctionConfiguration", "lambda:GetFunctionEventInvokeConfig"]
    resources = ["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.worker_function_name}"]
  }

  # `doctor`: the bucket's region and its lifecycle rule.
  statement {
    sid       = "CheckResultsBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation", "s3:GetLifecycleConfiguration"]
    resources = [aws_s3_bucket.results.arn]
  }

  # The concurrency check before a run. GetAccountSettings has no resource
  # type: IAM accepts only "*" for it. This is the one wildcard resource
  # sls-load needs.
  statement {
    sid       = "CheckAccountConcurrency"
    effect    = "Allow"
    actions   = ["lambda:GetAccountSettings"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "orchestrator" {
  name        = var.orchestrator_policy_name
  description = "Runs sls-load: writes and reads run objects in the results bucket and invokes the sls-load worker function in any region."
  policy      = data.aws_iam_policy_document.orchestrator.json
}
