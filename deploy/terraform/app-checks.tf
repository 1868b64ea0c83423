# Detection "app-checks" (src/cdk/app-check.ts): AWS's application status check as one more
# observer, aws-app-check, whose votes the healer counts under every rail.
#
# - The check: HTTP on probe.port and probe.path (80, "/health"), aggregation "excluded", so its
#   result never counts toward the instance's application status and Auto Scaling never replaces
#   an instance on it alone. hashicorp/aws 5.100.0 has no resource for application status checks,
#   so a CloudFormation stack holds it, as the construct's template does
#   (AWS::EC2::ApplicationStatusCheck): the same resource, created and deleted by the same service.
# - Its association with the named groups' instances by the tag aws:autoscaling:groupName: made by
#   the reader itself, invoked at create, update and destroy (aws_lambda_invocation, lifecycle CRUD),
#   through the module's one EC2 path (src/app-check/association.ts). CloudFormation names an
#   AWS::EC2::ApplicationStatusCheckTagAssociation, but no spec available offline (aws-cdk-lib
#   2.276, cfn-lint 1.51) defines its properties.
# - The reader (dist/app-check.zip): started every minute, reads the check every 10 s
#   (DescribeApplicationStatus) and sends its verdicts to the verdict channel (verdicts.tf).

locals {
  app_checks_enabled  = contains(var.detection, "app-checks")
  app_check_zip       = var.app_check_zip != null ? var.app_check_zip : "${path.module}/../../dist/app-check.zip"
  app_check_log_group = "/aws/lambda/${var.name}-app-check"
  app_check_id        = local.app_checks_enabled ? aws_cloudformation_stack.app_check[0].outputs.CheckId : null
}

resource "aws_cloudformation_stack" "app_check" {
  count = local.app_checks_enabled ? 1 : 0
  name  = "${var.name}-app-check"
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "autoheal ${var.name}: EC2 application status check, aggregation excluded, read as the observer aws-app-check"
    Resources = {
      Check = {
        Type = "AWS::EC2::ApplicationStatusCheck"
        Properties = {
          Protocol = "http"
          Port     = try(var.probe.port, 80)
          Path     = try(var.probe.path, "/health")
          # Excluded: Auto Scaling never acts on it alone; the healer counts it as one vote.
          Aggregation = "excluded"
          # EC2's documented defaults, written out (the construct's appCheckProbe).
          Interval          = 60
          Timeout           = 6
          FailureThreshold  = 2
          SuccessThreshold  = 2
          StatusCodeMatcher = "200"
          Tags              = [{ Key = "autoheal:stack", Value = var.name }]
        }
      }
    }
    Outputs = {
      CheckId  = { Value = { "Fn::GetAtt" = ["Check", "ApplicationStatusCheckId"] } }
      CheckArn = { Value = { "Fn::GetAtt" = ["Check", "Arn"] } }
    }
  })
}

resource "aws_cloudwatch_log_group" "app_check" {
  count             = local.app_checks_enabled ? 1 : 0
  name              = local.app_check_log_group
  retention_in_days = 14
}

resource "aws_iam_role" "app_check" {
  count       = local.app_checks_enabled ? 1 : 0
  name        = "${var.name}-app-check"
  description = "autoheal aws-app-check: read the application status check, send verdicts to the verdict channel"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# The construct's reader statements, and the association the construct's custom resource makes.
resource "aws_iam_role_policy" "app_check" {
  count = local.app_checks_enabled ? 1 : 0
  name  = "app-check"
  role  = aws_iam_role.app_check[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.app_check_log_group}:*"
      },
      # Describe calls of Auto Scaling and EC2 support no resource-level permissions.
      { Sid = "ReadCheck", Effect = "Allow", Action = ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeApplicationStatus"], Resource = "*" },
      { Sid = "SendVerdicts", Effect = "Allow", Action = "sqs:SendMessage", Resource = local.queue_arns.verdicts },
      {
        Sid       = "OwnLease"
        Effect    = "Allow"
        Action    = local.ledger_actions.observer
        Resource  = local.ledger_table_arn
        Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["lease#*"] } }
      },
    ]
  })
}

# The association on the stack's check only: its ARN is known after apply, so in a policy of its own
# (the reader's is shown whole by the plan).
resource "aws_iam_role_policy" "app_check_association" {
  count = local.app_checks_enabled ? 1 : 0
  name  = "app-check-association"
  role  = aws_iam_role.app_check[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "AssociateOwnCheck"
      Effect   = "Allow"
      Action   = ["ec2:AssociateApplicationStatusCheck", "ec2:DisassociateApplicationStatusCheck"]
      Resource = aws_cloudformation_stack.app_check[0].outputs.CheckArn
    }]
  })
}

resource "aws_lambda_function" "app_check" {
  count            = local.app_checks_enabled ? 1 : 0
  function_name    = "${var.name}-app-check"
  description      = "autoheal aws-app-check: reads the EC2 application status check every 10 s, sends its verdicts"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "app-check.handler"
  filename         = local.app_check_zip
  source_code_hash = fileexists(local.app_check_zip) ? filebase64sha256(local.app_check_zip) : null
  role             = aws_iam_role.app_check[0].arn
  # A run reads for 55 s; the deadline ends it before the next minute's run.
  timeout     = 60
  memory_size = 128

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.app_check[0].name
  }

  environment {
    variables = {
      AUTOHEAL_APP_CHECK_ID      = local.app_check_id
      AUTOHEAL_APP_CHECK_GROUPS  = join(",", var.group_names)
      AUTOHEAL_VERDICT_QUEUE_URL = local.verdict_queue_url
      AUTOHEAL_LEDGER_TABLE      = local.ledger_table_name
    }
  }

  depends_on = [aws_iam_role_policy.app_check, aws_sqs_queue.verdicts]

  lifecycle {
    precondition {
      condition     = fileexists(local.app_check_zip)
      error_message = "app_check_zip: ${local.app_check_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

# A failed run is not retried: the next minute's run replaces it.
resource "aws_lambda_function_event_invoke_config" "app_check" {
  count                        = local.app_checks_enabled ? 1 : 0
  function_name                = aws_lambda_function.app_check[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_cloudwatch_event_rule" "app_check" {
  count               = local.app_checks_enabled ? 1 : 0
  name                = "${var.name}-app-check"
  description         = "autoheal: start the aws-app-check reader every minute"
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_target" "app_check" {
  count     = local.app_checks_enabled ? 1 : 0
  rule      = aws_cloudwatch_event_rule.app_check[0].name
  target_id = "app-check"
  arn       = aws_lambda_function.app_check[0].arn
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "app_check_schedule" {
  count         = local.app_checks_enabled ? 1 : 0
  statement_id  = "events-schedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.app_check[0].arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.app_check[0].arn
}

# The association, made by the reader at create, update (groups added and dropped) and destroy.
resource "aws_lambda_invocation" "app_check_association" {
  count           = local.app_checks_enabled ? 1 : 0
  function_name   = aws_lambda_function.app_check[0].function_name
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"
  input           = jsonencode({ associate = { groups = var.group_names } })
  # Its grants outlive it: the disassociation at destroy needs them.
  depends_on = [aws_iam_role_policy.app_check, aws_iam_role_policy.app_check_association, aws_lambda_function_event_invoke_config.app_check]
}

# aws-app-check gone silent, on the stack-health topic as the construct's Monitoring alarms: a run
# whose every read failed throws (src/app-check/handler.ts; the stack alarm app_check_errors in
# monitoring.tf), and a reader not invoked at all leaves no Errors to count, so its Invocations (one a
# minute) are watched here: none for 3 minutes, missing data breaching.
resource "aws_cloudwatch_metric_alarm" "app_check_silent" {
  count               = local.app_checks_enabled ? 1 : 0
  alarm_name          = "${var.name}-app-check-silent"
  alarm_description   = "autoheal: the app-check reader ran not once in 3 minutes (its schedule, or its permission to be invoked): aws-app-check votes no more."
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = aws_lambda_function.app_check[0].function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [local.stack_health_topic_arn]
  depends_on          = [aws_sns_topic.stack_health]
}
