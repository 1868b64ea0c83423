# The alarm sync (src/cdk/alarm-sync.ts): a function of its own (dist/alarm-sync.zip,
# src/lambda/alarm-sync.ts), never the healer, so no decision waits behind minutes of
# PutMetricAlarm. Its schedule rule is in alarms.tf (alarm_sync); it also runs at deploy time and
# cleans up at destroy time (aws_lambda_invocation.alarm_lifecycle). A run lists the prefix once,
# syncs every managed group, checks the orphans once, and backs off when PutMetricAlarm throttles.

locals {
  alarm_sync_zip = var.alarm_sync_zip != null ? var.alarm_sync_zip : "${path.module}/../../dist/alarm-sync.zip"
  # A run ends before the next starts (Lambda allows 15 minutes at most).
  alarm_sync_timeout = min(local.alarm.sync_interval_minutes, 15) * 60
}

resource "aws_cloudwatch_log_group" "alarm_sync" {
  count             = local.alarms_enabled ? 1 : 0
  name              = "/aws/lambda/${var.name}-alarm-sync"
  retention_in_days = 30
}

resource "aws_iam_role" "alarm_sync" {
  count       = local.alarms_enabled ? 1 : 0
  name        = "${var.name}-alarm-sync"
  description = "autoheal alarm sync: reads the managed groups, keeps the alarms of its prefix in sync"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# Exactly the construct's statements.
resource "aws_iam_role_policy" "alarm_sync" {
  count = local.alarms_enabled ? 1 : 0
  name  = "alarm-sync"
  role  = aws_iam_role.alarm_sync[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "WriteOwnLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.alarm_sync[0].arn}:*" },
      # Describe calls of Auto Scaling support no resource-level permissions; the instances are read to find orphans.
      { Sid = "ReadGroups", Effect = "Allow", Action = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances"], Resource = "*" },
      # Listing by prefix is authorized account-wide.
      { Sid = "ListAlarms", Effect = "Allow", Action = "cloudwatch:DescribeAlarms", Resource = "*" },
      { Sid = "WriteOwnAlarms", Effect = "Allow", Action = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"], Resource = local.alarm_arns },
    ]
  })
}

resource "aws_lambda_function" "alarm_sync" {
  count            = local.alarms_enabled ? 1 : 0
  function_name    = "${var.name}-alarm-sync"
  description      = "autoheal: keeps the ${local.alarm.prefix}* alarms of every managed group in sync"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "alarm-sync.handler"
  filename         = local.alarm_sync_zip
  source_code_hash = fileexists(local.alarm_sync_zip) ? filebase64sha256(local.alarm_sync_zip) : null
  role             = aws_iam_role.alarm_sync[0].arn
  timeout          = local.alarm_sync_timeout
  memory_size      = 256

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.alarm_sync[0].name
  }

  environment {
    variables = {
      AUTOHEAL_OPT_IN_TAG               = local.opt_in_tag
      AUTOHEAL_GROUPS                   = join(",", var.group_names)
      AUTOHEAL_ALARM_PREFIX             = local.alarm.prefix
      AUTOHEAL_ALARM_TOPIC_ARN          = local.topic_arn
      LOG_LEVEL                         = var.log_level
      AUTOHEAL_ALARM_PERIOD_SECONDS     = tostring(local.alarm.period_seconds)
      AUTOHEAL_ALARM_EVALUATION_PERIODS = tostring(local.alarm.evaluation_periods)
      AUTOHEAL_ALARM_THRESHOLD          = tostring(local.alarm.threshold)
      AUTOHEAL_ALARM_MODE               = local.alarm.mode
    }
  }

  depends_on = [aws_iam_role_policy.alarm_sync, aws_sns_topic.alerts]

  lifecycle {
    precondition {
      condition     = fileexists(local.alarm_sync_zip)
      error_message = "alarm_sync_zip: ${local.alarm_sync_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

# The schedule repeats a failed run (the sync is idempotent); a retry would only overlap the next
# run, and two runs at once only throttle each other.
resource "aws_lambda_function_event_invoke_config" "alarm_sync" {
  count                        = local.alarms_enabled ? 1 : 0
  function_name                = aws_lambda_function.alarm_sync[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 3600
}

# Its schedule's delivery is retried (a throttled invoke); the run itself is not.
resource "aws_cloudwatch_event_target" "alarm_sync" {
  count     = local.alarms_enabled ? 1 : 0
  rule      = aws_cloudwatch_event_rule.healer["alarm_sync"].name
  target_id = "alarm-sync"
  arn       = aws_lambda_function.alarm_sync[0].arn
  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "alarm_sync" {
  count         = local.alarms_enabled ? 1 : 0
  statement_id  = "events-alarm-sync"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.alarm_sync[0].arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.healer["alarm_sync"].arn
}
