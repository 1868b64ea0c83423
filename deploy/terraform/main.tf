/**
 * autoheal on AWS with Terraform: what the CDK construct (src/cdk/auto-heal.ts) deploys, with the
 * same choices and defaults. The healer Lambda runs the project's own bundle (dist/lambda.zip,
 * written by `npm run build`) at any concurrency, groups in parallel: the rails' memory is in the
 * ledger table (ledger.tf), changed only by conditional writes, so no function reserves concurrency
 * and a deploy works in an account whose concurrency quota is 10. Everything that feeds it
 * evidence is in the files beside this one:
 * alarms.tf (the alarm rules, the held-work schedule), intake.tf (the evidence queue the healer
 * takes in batches), alarm-sync.tf (the alarm sync, a function of its own, with the deploy-time
 * sync and destroy-time clean-up),
 * probe.tf (probe verdicts from the alert topic), legacy.tf (the original topic → queue path);
 * observers.tf (the observers of probe detection, with probe.subnets); monitoring.tf has the
 * notices, the stack's own alarms and its dashboard; evidence.tf keeps what a marked instance
 * leaves (quarantine).
 */

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  # The region's name is `id` in hashicorp/aws 5.x and 6.x alike: 6 deprecates `name` for
  # `region`, which 5 does not have.
  region    = data.aws_region.current.id
  partition = data.aws_partition.current.partition

  alarms_enabled = contains(var.detection, "alarms")
  probe_enabled  = contains(var.detection, "probe")
  # With a legacy queue every message of the topic reaches the healer through the queue;
  # delivering it a second way (rule, subscription) would only make duplicates.
  direct = var.legacy_queue == null

  # The alarm variable's own optional() defaults, for when it is not given at all.
  alarm_settings = var.alarm != null ? var.alarm : {
    prefix                = null
    period_seconds        = 60
    evaluation_periods    = 2
    threshold             = 1
    mode                  = "per-instance"
    sync_interval_minutes = 10
  }
  # The default prefix names this deployment, as the construct's names its stack
  # (deploymentAlarmPrefix in src/cdk/props.ts). name has no ".", so the "." that ends it keeps one
  # deployment's prefix from beginning another's ("a" and "a-sc"), and no prefix begins with the
  # runtime default "autoheal-status-check-" of an older deployment or of the CLI.
  alarm        = merge(local.alarm_settings, { prefix = coalesce(local.alarm_settings.prefix, "autoheal-status-check.${var.name}.") })
  per_instance = local.alarm.mode == "per-instance"
  alarm_arns   = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${local.alarm.prefix}*"
  group_arn    = "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName"
  opt_in_tag   = "${var.opt_in_tag.key}=${var.opt_in_tag.value}"
  # Known at plan time, so the plan shows the healer's whole environment.
  topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account}:${var.name}-alerts"

  lambda_zip = var.lambda_zip != null ? var.lambda_zip : "${path.module}/../../dist/lambda.zip"
  healer_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-healer"

  # Exactly the names and values the construct sets (src/config.ts autohealEnv, src/alarms/env.ts alarmEnv).
  healer_environment = {
    AUTOHEAL_MAX_UNHEALTHY_SHARE = tostring(var.max_unhealthy_share)
    AUTOHEAL_MARK_RATE_WINDOW_MS = tostring(var.rails.mark_rate_window_seconds * 1000)
    AUTOHEAL_SUSPICION_SHARE     = tostring(var.rails.suspicion_share)
    AUTOHEAL_FREEZE_MS           = tostring(var.rails.freeze_seconds * 1000)
    AUTOHEAL_LOOP_MARKS          = tostring(var.rails.loop_marks)
    AUTOHEAL_PROBE_QUORUM        = tostring(var.rails.probe_quorum)
    # Empty: twice the group's budget (the healer reads an empty variable as unset).
    AUTOHEAL_MAX_MARKS_PER_WINDOW     = var.rails.max_marks_per_window == null ? "" : tostring(var.rails.max_marks_per_window)
    AUTOHEAL_OPT_IN_TAG               = local.opt_in_tag
    AUTOHEAL_GROUPS                   = join(",", var.group_names)
    AUTOHEAL_DRY_RUN                  = tostring(var.dry_run)
    AUTOHEAL_RESPECT_GRACE_PERIOD     = tostring(var.respect_grace_period)
    AUTOHEAL_STALE_AFTER_MS           = tostring(var.stale_after_seconds * 1000)
    AUTOHEAL_ALARM_PREFIX             = local.alarm.prefix
    AUTOHEAL_ALARM_TOPIC_ARN          = local.topic_arn
    AUTOHEAL_NOTICE_TOPIC_ARN         = local.topic_arn
    LOG_LEVEL                         = var.log_level
    AUTOHEAL_ALARM_PERIOD_SECONDS     = tostring(local.alarm.period_seconds)
    AUTOHEAL_ALARM_EVALUATION_PERIODS = tostring(local.alarm.evaluation_periods)
    AUTOHEAL_ALARM_THRESHOLD          = tostring(local.alarm.threshold)
    AUTOHEAL_ALARM_MODE               = local.alarm.mode
    AUTOHEAL_LEDGER_TABLE             = local.ledger_table_name
  }
}

resource "aws_sns_topic" "alerts" {
  name         = "${var.name}-alerts"
  display_name = "autoheal alerts"
}

# Invocations that failed every retry, and rule deliveries that failed. Its policy is set with
# the queue (one wait for SQS's attribute propagation instead of two), from the rules' ARNs.
resource "aws_sqs_queue" "failures" {
  name                      = local.queue_names.failures
  message_retention_seconds = 1209600
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [local.deny_insecure_transport.failures],
      # Each rule may dead-letter its failed deliveries here, and only its own.
      [for key, rule in local.rule_definitions : {
        Sid       = "AllowEventRule${replace(title(replace(key, "_", " ")), " ", "")}"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = local.queue_arns.failures
        Condition = { ArnEquals = { "aws:SourceArn" = local.rule_arns[key] } }
      } if rule.target != "sync"],
    )
  })
}

resource "aws_cloudwatch_log_group" "healer" {
  # A generated name, as the construct's: a retained group never blocks the next apply.
  name_prefix       = "/aws/lambda/${var.name}-healer-"
  retention_in_days = var.log_retention_days
  skip_destroy      = var.retain_log_group
}

resource "aws_iam_role" "healer" {
  name        = "${var.name}-healer"
  description = "autoheal healer: reads groups, marks opted-in instances Unhealthy, manages its alarms"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# Exactly the construct's healer statements, in two documents: its log group's ARN is known only
# after apply (a generated name), every other resource here is computed, so the plan shows these
# grants. No AWSLambdaBasicExecutionRole: logs go to its log group only.
resource "aws_iam_role_policy" "healer_logs" {
  name = "healer-logs"
  role = aws_iam_role.healer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteOwnLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.healer.arn}:*"
    }]
  })
}

resource "aws_iam_role_policy" "healer" {
  name = "healer"
  role = aws_iam_role.healer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid    = "ReadGroups"
          Effect = "Allow"
          # Describe calls of Auto Scaling support no resource-level permissions.
          Action   = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances"]
          Resource = "*"
        },
        {
          Sid    = "ReadInstances"
          Effect = "Allow"
          # Launch times (grace period, loop breaker) and instance tags (suppression); DescribeInstances
          # supports no resource-level permissions.
          Action   = "ec2:DescribeInstances"
          Resource = "*"
        },
        {
          Sid       = "MarkOptedInGroups"
          Effect    = "Allow"
          Action    = "autoscaling:SetInstanceHealth"
          Resource  = "${local.group_arn}/*"
          Condition = { StringEquals = { "autoscaling:ResourceTag/${var.opt_in_tag.key}" = var.opt_in_tag.value } }
        },
      ],
      length(var.group_names) > 0 ? [{
        Sid      = "MarkNamedGroups"
        Effect   = "Allow"
        Action   = "autoscaling:SetInstanceHealth"
        Resource = [for g in var.group_names : "${local.group_arn}/${g}"]
      }] : [],
      [{
        Sid    = "ReadAlarms"
        Effect = "Allow"
        # Re-checking stale evidence and listing the prefix; DescribeAlarms by prefix is authorized account-wide.
        Action   = "cloudwatch:DescribeAlarms"
        Resource = "*"
      }],
      local.alarms_enabled ? [{
        Sid      = "WriteOwnAlarms"
        Effect   = "Allow"
        Action   = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"]
        Resource = local.alarm_arns
      }] : [],
      local.alarms_enabled && !local.per_instance ? [{
        Sid    = "ReadAlarmContributors"
        Effect = "Allow"
        # The scheduled run re-decides the group alarms' contributors still in ALARM (held work).
        Action   = "cloudwatch:DescribeAlarmContributors"
        Resource = local.alarm_arns
      }] : [],
      [{
        Sid    = "PublishNotices"
        Effect = "Allow"
        # Notices (monitoring.tf) go to the alert topic, and only there.
        Action   = "sns:Publish"
        Resource = local.topic_arn
      }],
      # The rails' memory: a consistent read and a conditional write of whole entries (ledger.tf).
      [{
        Sid      = "RailsLedger"
        Effect   = "Allow"
        Action   = local.ledger_actions.healer
        Resource = local.ledger_table_arn
      }],
      # The evidence queue's event source mapping.
      local.alarms_enabled && (local.direct || local.per_instance) ? [{
        Sid      = "TakeEvidence"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = local.queue_arns.evidence
      }] : [],
      # The verdict channel's event source mapping (verdicts.tf).
      local.verdicts_enabled ? [{
        Sid      = "TakeVerdicts"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = local.queue_arns.verdicts
      }] : [],
      [{
        Sid      = "SendToFailureQueue"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        Resource = local.queue_arns.failures
      }],
    )
  })
}

resource "aws_lambda_function" "healer" {
  function_name    = "${var.name}-healer"
  description      = "autoheal: marks unhealthy instances of opted-in Auto Scaling groups Unhealthy"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "lambda.handler"
  filename         = local.lambda_zip
  source_code_hash = fileexists(local.lambda_zip) ? filebase64sha256(local.lambda_zip) : null
  role             = aws_iam_role.healer.arn
  timeout          = var.timeout_seconds
  memory_size      = var.memory_size_mb

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.healer.name
  }

  environment {
    # With quarantine, where the healer keeps each mark's evidence (evidence.tf).
    # With observers, the names whose votes count (verdicts.tf).
    variables = merge(local.healer_environment, local.evidence_environment, local.verdict_environment, local.group_settings_environment)
  }

  # The role's policy is in place before the first invocation, the topic before the first alarm.
  depends_on = [aws_iam_role_policy.healer, aws_iam_role_policy.healer_logs, aws_sns_topic.alerts]

  lifecycle {
    precondition {
      condition     = fileexists(local.lambda_zip)
      error_message = "lambda_zip: ${local.lambda_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

# Direct invocations (held work, heartbeat notices) that fail or are throttled are retried for up
# to six hours, then kept in the failure queue: never dropped.
resource "aws_lambda_function_event_invoke_config" "healer" {
  function_name                = aws_lambda_function.healer.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.failures.arn
    }
  }
}

locals {
  queue_names = {
    failures              = "${var.name}-failures"
    evidence              = "${var.name}-evidence"
    evidence_dead_letters = "${var.name}-evidence-dead-letters"
    verdicts              = "${var.name}-verdicts"
    verdict_dead_letters  = "${var.name}-verdict-dead-letters"
    legacy                = "${var.name}-legacy"
    legacy_dead_letters   = "${var.name}-legacy-dead-letters"
  }
  queue_arns = { for key, name in local.queue_names : key => "arn:${local.partition}:sqs:${local.region}:${local.account}:${name}" }
  # Every queue the module creates refuses requests without TLS (the construct's enforceSSL).
  deny_insecure_transport = { for key, arn in local.queue_arns : key => {
    Sid       = "DenyInsecureTransport"
    Effect    = "Deny"
    Principal = { AWS = "*" }
    Action    = "sqs:*"
    Resource  = arn
    Condition = { Bool = { "aws:SecureTransport" = "false" } }
  } }
}
