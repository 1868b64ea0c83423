# The module's settings on groups it does not own (group_names are existing groups), as the
# construct's src/cdk/group-settings.ts: the group settings function (dist/group-settings.zip,
# src/group-settings/) run once per named group by aws_lambda_invocation with lifecycle_scope
# "CRUD", so apply sets and destroy takes back:
#
# - replacement = "launch-before-terminate": the group's instance maintenance policy becomes
#   minimum healthy 100 %, maximum 110 %; the healer is told (AUTOHEAL_REPLACEMENT) and says when a
#   group overrides it;
# - retention on an abandoned termination hook (TerminateHookAbandon = retain), for quarantine
#   "retain" (local.group_settings_retain_on_abandon).
#
# What the group had is kept on the group (tag autoheal:before:<name>); destroy gives it back only
# where the group still has autoheal's value. A group that does not exist fails the apply, naming it.
# IAM: UpdateAutoScalingGroup and that tag on the named groups only; no iam:PassRole (the call
# passes no role and no launch template).

variable "group_settings_zip" {
  description = "The group settings function's archive (group-settings.mjs at its root); default: dist/group-settings.zip of this package."
  type        = string
  default     = null
}

locals {
  group_settings_retain_on_abandon = local.retain_enabled
  group_settings_enabled           = var.replacement != "unchanged" || local.group_settings_retain_on_abandon
  group_settings_zip               = var.group_settings_zip != null ? var.group_settings_zip : "${path.module}/../../dist/group-settings.zip"
  # Merged into the healer's environment (main.tf): the order it should find on the groups.
  group_settings_environment = var.replacement != "unchanged" ? { AUTOHEAL_REPLACEMENT = var.replacement } : {}
}

resource "aws_cloudwatch_log_group" "group_settings" {
  count             = local.group_settings_enabled ? 1 : 0
  name_prefix       = "/aws/lambda/${var.name}-group-settings-"
  retention_in_days = var.log_retention_days
  skip_destroy      = var.retain_log_group
}

resource "aws_iam_role" "group_settings" {
  count       = local.group_settings_enabled ? 1 : 0
  name        = "${var.name}-group-settings"
  description = "autoheal group settings: sets the named groups' replacement and retention at apply, and takes them back at destroy"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy" "group_settings" {
  count = local.group_settings_enabled ? 1 : 0
  name  = "group-settings"
  role  = aws_iam_role.group_settings[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Describe calls of Auto Scaling support no resource-level permissions.
      { Sid = "ReadGroups", Effect = "Allow", Action = "autoscaling:DescribeAutoScalingGroups", Resource = "*" },
      {
        Sid      = "SetNamedGroupsPolicies"
        Effect   = "Allow"
        Action   = ["autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"]
        Resource = [for g in var.group_names : "${local.group_arn}/${g}"]
      },
    ]
  })
}

# Its log group's ARN is known after apply only (a generated name): in a policy of its own, so the
# plan shows the other one's statements.
resource "aws_iam_role_policy" "group_settings_logs" {
  count = local.group_settings_enabled ? 1 : 0
  name  = "group-settings-logs"
  role  = aws_iam_role.group_settings[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.group_settings[0].arn}:*" }]
  })
}

resource "aws_lambda_function" "group_settings" {
  count            = local.group_settings_enabled ? 1 : 0
  function_name    = "${var.name}-group-settings"
  description      = "autoheal: sets the named groups' instance maintenance and lifecycle policies at apply"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "group-settings.handler"
  filename         = local.group_settings_zip
  source_code_hash = fileexists(local.group_settings_zip) ? filebase64sha256(local.group_settings_zip) : null
  role             = aws_iam_role.group_settings[0].arn
  timeout          = 60
  memory_size      = 256

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.group_settings[0].name
  }

  environment {
    variables = { LOG_LEVEL = var.log_level }
  }

  depends_on = [aws_iam_role_policy.group_settings, aws_iam_role_policy.group_settings_logs]

  lifecycle {
    precondition {
      condition     = fileexists(local.group_settings_zip)
      error_message = "group_settings_zip: ${local.group_settings_zip} not found (run \"npm run build\" in autoheal first)."
    }
    precondition {
      condition     = length(var.group_names) > 0
      error_message = "replacement: \"${var.replacement}\" sets the instance maintenance policy of the groups in group_names, and none is named."
    }
  }
}

# One invocation per named group: apply sends create (or update), destroy sends delete, each with
# the input and a `tf` key Terraform adds. The function's role policy outlives it (depends_on of
# the function), so a destroy can take back what was set.
resource "aws_lambda_invocation" "group_settings" {
  for_each        = local.group_settings_enabled ? toset(var.group_names) : toset([])
  function_name   = aws_lambda_function.group_settings[0].function_name
  lifecycle_scope = "CRUD"
  input = jsonencode({
    GroupName       = each.value
    Owner           = var.name
    Replacement     = var.replacement
    RetainOnAbandon = local.group_settings_retain_on_abandon
  })
}
