# Evidence before termination (quarantine = "capture"), as the construct's src/cdk/evidence.ts:
# the evidence bucket (private, TLS only, each document expiring after evidence_retention_days),
# the healer told to keep each mark's verdict and group state there before it marks, a termination
# lifecycle hook on each named group (60 s, default CONTINUE: a failure of autoheal never holds a
# termination longer), and the evidence function (dist/evidence.zip) its rule starts, which adds
# the instance's latest console output and completes the action. Groups opted in by tag only get
# no hook: their marks keep the verdict and the group's state, without the console output.
#
# quarantine = "retain" does all that, and the function keeps up to retain_at_most marked instances
# per group for inspection (completes with ABANDON), counting them in the ledger table (items
# retain#<group>, conditional writes; its IAM held to those items). Keeping them is the named
# groups' instance lifecycle policy (TerminateHookAbandon: retain), not set in this file.

variable "quarantine" {
  description = "Evidence before termination: \"off\"; \"capture\" (the evidence bucket, a termination hook on each of group_names, the evidence function); or \"retain\" (capture, and up to retain_at_most marked instances per group kept for inspection, running and billed until released). Needs group_names."
  type        = string
  default     = "off"
  nullable    = false
  validation {
    condition     = contains(["off", "capture", "retain"], var.quarantine)
    error_message = "quarantine: must be \"off\", \"capture\", \"retain\", got \"${var.quarantine}\"."
  }
}

variable "retain_at_most" {
  description = "With quarantine = \"retain\": marked instances kept per group at most, 1 to 10 (default 1); the rest are captured and terminated."
  type        = number
  default     = null
  validation {
    condition     = var.retain_at_most == null || var.quarantine == "retain"
    error_message = "retain_at_most: given, but quarantine is \"${var.quarantine}\" (set quarantine = \"retain\" to keep marked instances)."
  }
  validation {
    condition     = var.retain_at_most == null ? true : var.retain_at_most == floor(var.retain_at_most) && var.retain_at_most >= 1 && var.retain_at_most <= 10
    error_message = "retain_at_most: must be a whole number from 1 to 10, got ${coalesce(var.retain_at_most, 0)}."
  }
}

variable "evidence_retention_days" {
  description = "How long the evidence bucket keeps each instance's evidence, in days (quarantine = \"capture\")."
  type        = number
  default     = 30
  nullable    = false
  validation {
    condition     = var.evidence_retention_days == floor(var.evidence_retention_days) && var.evidence_retention_days >= 1 && var.evidence_retention_days <= 3650
    error_message = "evidence_retention_days: must be whole days from 1 to 3650, got ${var.evidence_retention_days}."
  }
}

variable "evidence_zip" {
  description = "The evidence function's archive (evidence.mjs at its root); default: dist/evidence.zip of this package."
  type        = string
  default     = null
}

locals {
  capture_enabled    = contains(["capture", "retain"], var.quarantine)
  retain_enabled     = var.quarantine == "retain"
  retain_at_most     = coalesce(var.retain_at_most, 1)
  evidence_zip       = var.evidence_zip != null ? var.evidence_zip : "${path.module}/../../dist/evidence.zip"
  evidence_hook_name = "autoheal-evidence-${var.name}"
  evidence_objects   = local.capture_enabled ? "${aws_s3_bucket.evidence[0].arn}/evidence/*" : ""
  # Merged into the healer's environment (main.tf): where it keeps each mark's evidence.
  evidence_environment = local.capture_enabled ? { AUTOHEAL_EVIDENCE_BUCKET = aws_s3_bucket.evidence[0].bucket } : {}
}

resource "aws_s3_bucket" "evidence" {
  count         = local.capture_enabled ? 1 : 0
  bucket_prefix = "${lower(replace(var.name, "_", "-"))}-evidence-"

  lifecycle {
    precondition {
      condition     = length(var.group_names) > 0
      error_message = "quarantine: \"${var.quarantine}\" holds the terminations of the groups in group_names, and none is named."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "evidence" {
  count                   = local.capture_enabled ? 1 : 0
  bucket                  = aws_s3_bucket.evidence[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "evidence" {
  count  = local.capture_enabled ? 1 : 0
  bucket = aws_s3_bucket.evidence[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "evidence" {
  count  = local.capture_enabled ? 1 : 0
  bucket = aws_s3_bucket.evidence[0].id
  rule {
    id     = "ExpireEvidence"
    status = "Enabled"
    filter {
      prefix = "evidence/"
    }
    expiration {
      days = var.evidence_retention_days
    }
  }
}

resource "aws_s3_bucket_policy" "evidence" {
  count  = local.capture_enabled ? 1 : 0
  bucket = aws_s3_bucket.evidence[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.evidence[0].arn, "${aws_s3_bucket.evidence[0].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.evidence]
}

resource "aws_iam_role_policy" "healer_evidence" {
  count = local.capture_enabled ? 1 : 0
  name  = "keep-mark-evidence"
  role  = aws_iam_role.healer.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "KeepMarkEvidence", Effect = "Allow", Action = "s3:PutObject", Resource = local.evidence_objects }]
  })
}

resource "aws_cloudwatch_log_group" "evidence" {
  count             = local.capture_enabled ? 1 : 0
  name_prefix       = "/aws/lambda/${var.name}-evidence-"
  retention_in_days = var.log_retention_days
  skip_destroy      = var.retain_log_group
}

resource "aws_iam_role" "evidence" {
  count       = local.capture_enabled ? 1 : 0
  name        = "${var.name}-evidence"
  description = "autoheal evidence: captures what a marked instance leaves before its termination goes on"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# Its log group's and bucket's ARNs are known after apply only (generated names): in a policy of
# their own, so the plan shows the other one's statements.
resource "aws_iam_role_policy" "evidence_storage" {
  count = local.capture_enabled ? 1 : 0
  name  = "evidence-storage"
  role  = aws_iam_role.evidence[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.evidence[0].arn}:*" },
      { Sid = "ReadWriteEvidence", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = local.evidence_objects },
      # Without ListBucket S3 answers a missing document with AccessDenied, not NoSuchKey: a scale-in would look like a failure.
      { Sid = "ListEvidence", Effect = "Allow", Action = "s3:ListBucket", Resource = aws_s3_bucket.evidence[0].arn, Condition = { StringLike = { "s3:prefix" = ["evidence/*"] } } },
    ]
  })
}

resource "aws_iam_role_policy" "evidence" {
  count = local.capture_enabled ? 1 : 0
  name  = "evidence"
  role  = aws_iam_role.evidence[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Describe calls of Auto Scaling support no resource-level permissions.
      { Sid = "ReadGroups", Effect = "Allow", Action = "autoscaling:DescribeAutoScalingGroups", Resource = "*" },
      { Sid = "CompleteNamedGroupsHooks", Effect = "Allow", Action = "autoscaling:CompleteLifecycleAction", Resource = [for g in var.group_names : "${local.group_arn}/${g}"] },
      # Only the named groups' instances: Auto Scaling tags each with its group's name.
      {
        Sid       = "ReadNamedGroupsConsoles"
        Effect    = "Allow"
        Action    = "ec2:GetConsoleOutput"
        Resource  = "arn:${local.partition}:ec2:${local.region}:${local.account}:instance/*"
        Condition = { StringEquals = { "ec2:ResourceTag/aws:autoscaling:groupName" = var.group_names } }
      },
    ]
  })
}

# With retain: the retention slots only (dynamodb:LeadingKeys), never the rails' memory or the leases;
# and the alert topic, where a retained instance is announced.
resource "aws_iam_role_policy" "evidence_retain" {
  count = local.retain_enabled ? 1 : 0
  name  = "evidence-retain"
  role  = aws_iam_role.evidence[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CountRetained"
      Effect    = "Allow"
      Action    = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource  = local.ledger_table_arn
      Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["retain#*"] } }
      }, {
      # A retained instance is announced on the alert topic, with how to release it.
      Sid      = "AnnounceRetained"
      Effect   = "Allow"
      Action   = "sns:Publish"
      Resource = local.topic_arn
    }]
  })
}

resource "aws_lambda_function" "evidence" {
  count            = local.capture_enabled ? 1 : 0
  function_name    = "${var.name}-evidence"
  description      = local.retain_enabled ? "autoheal: keeps the console output and group state of an instance autoheal marked, then keeps up to ${local.retain_at_most} per group for inspection or lets its termination go on" : "autoheal: keeps the console output and group state of an instance autoheal marked, then lets its termination go on"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "evidence.handler"
  filename         = local.evidence_zip
  source_code_hash = fileexists(local.evidence_zip) ? filebase64sha256(local.evidence_zip) : null
  role             = aws_iam_role.evidence[0].arn
  # Well inside the hook's heartbeat: what is not done by then, the hook's default result continues.
  timeout     = 30
  memory_size = 256

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.evidence[0].name
  }

  environment {
    variables = merge(
      { AUTOHEAL_EVIDENCE_BUCKET = aws_s3_bucket.evidence[0].bucket, LOG_LEVEL = var.log_level },
      local.retain_enabled ? { AUTOHEAL_RETAIN_AT_MOST = tostring(local.retain_at_most), AUTOHEAL_LEDGER_TABLE = aws_dynamodb_table.ledger.name, AUTOHEAL_NOTICE_TOPIC_ARN = local.topic_arn } : {},
    )
  }

  depends_on = [aws_iam_role_policy.evidence, aws_iam_role_policy.evidence_storage, aws_iam_role_policy.evidence_retain]

  lifecycle {
    precondition {
      condition     = fileexists(local.evidence_zip)
      error_message = "evidence_zip: ${local.evidence_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "evidence" {
  count                        = local.capture_enabled ? 1 : 0
  function_name                = aws_lambda_function.evidence[0].function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 60
}

resource "aws_autoscaling_lifecycle_hook" "evidence" {
  for_each               = local.capture_enabled ? toset(var.group_names) : toset([])
  name                   = local.evidence_hook_name
  autoscaling_group_name = each.value
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = 60
  default_result         = "CONTINUE"
}

resource "aws_cloudwatch_event_rule" "evidence" {
  count       = local.capture_enabled ? 1 : 0
  name        = "${var.name}-evidence"
  description = "autoheal: termination lifecycle actions of its hook on the named groups"
  event_pattern = jsonencode({
    source        = ["aws.autoscaling"]
    "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
    detail        = { AutoScalingGroupName = var.group_names, LifecycleHookName = [local.evidence_hook_name] }
  })
}

# A delivery later than the heartbeat finds the action gone (the hook continued by itself): short
# retries, no dead letters — there is nothing left to answer.
resource "aws_cloudwatch_event_target" "evidence_capture" {
  count = local.capture_enabled ? 1 : 0
  rule  = aws_cloudwatch_event_rule.evidence[0].name
  arn   = aws_lambda_function.evidence[0].arn
  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "evidence_rule" {
  count         = local.capture_enabled ? 1 : 0
  statement_id  = "evidence-rule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.evidence[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.evidence[0].arn
}

output "evidence_bucket_name" {
  description = "Where each marked instance's evidence is kept, with quarantine = \"capture\": `autoheal evidence INSTANCE --bucket <this>` (EvidenceBucketName)."
  value       = local.capture_enabled ? aws_s3_bucket.evidence[0].bucket : null
}

