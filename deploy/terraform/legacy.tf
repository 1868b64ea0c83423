# The original SNS → SQS path: every message of the alert topic reaches the healer through a
# queue that accepts SendMessage only from that topic, with a dead-letter queue. Consumed by a
# small intake function that hands each record to the healer as an asynchronous invocation, or
# by `autoheal bridge` on a host.

locals {
  legacy_lambda = var.legacy_queue != null && try(var.legacy_queue.consumer, null) != "bridge"
  legacy_bridge = var.legacy_queue != null && try(var.legacy_queue.consumer, null) == "bridge"
}

resource "aws_sqs_queue" "legacy_dead_letters" {
  count                     = var.legacy_queue != null ? 1 : 0
  name                      = local.queue_names.legacy_dead_letters
  message_retention_seconds = 1209600
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.deny_insecure_transport.legacy_dead_letters]
  })
}

resource "aws_sqs_queue" "legacy" {
  count = var.legacy_queue != null ? 1 : 0
  name  = local.queue_names.legacy
  # Lambda's SQS trigger needs at least the function timeout; six times lets retries finish.
  visibility_timeout_seconds = var.timeout_seconds * 6
  message_retention_seconds  = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.legacy_dead_letters[0].arn
    maxReceiveCount     = var.legacy_queue.max_receive_count
  })
  # SendMessage only from the alert topic.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.deny_insecure_transport.legacy,
      {
        Sid       = "AllowAlertTopic"
        Effect    = "Allow"
        Principal = { Service = "sns.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = local.queue_arns.legacy
        Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.alerts.arn } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "legacy" {
  count     = var.legacy_queue != null ? 1 : 0
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.legacy[0].arn
}

# The intake (intakeHandlerSource in src/cdk/cleanup-handler.ts, says why): the healer runs one at
# a time, and an event source pointed straight at it would be throttled under a burst, each
# throttled receive counting toward max_receive_count, so good alarms would be dead-lettered.
# Lambda's asynchronous queue instead keeps a throttled event for up to six hours. A record is
# acknowledged only once Lambda accepted its invocation (partial batch responses).
locals {
  intake_name = "${var.name}-legacy-intake"
  intake_zip  = var.intake_zip != null ? var.intake_zip : "${path.module}/../../dist/intake.zip"
  # Lambda's own log group name for the function: known at plan time, so the plan shows the grants.
  intake_log_group = "/aws/lambda/${local.intake_name}"
}

resource "aws_cloudwatch_log_group" "intake" {
  count             = local.legacy_lambda ? 1 : 0
  name              = local.intake_log_group
  retention_in_days = 30
}

resource "aws_iam_role" "intake" {
  count       = local.legacy_lambda ? 1 : 0
  name        = local.intake_name
  description = "autoheal legacy-queue intake: consumes the queue, invokes the healer asynchronously"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# Exactly the construct's intake statements (its SQS event source grants the queue's actions).
resource "aws_iam_role_policy" "intake" {
  count = local.legacy_lambda ? 1 : 0
  name  = "intake"
  role  = aws_iam_role.intake[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.intake_log_group}:*"
      },
      { Sid = "HandToHealer", Effect = "Allow", Action = "lambda:InvokeFunction", Resource = local.healer_arn },
      {
        Sid      = "ConsumeLegacyQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = local.queue_arns.legacy
      },
    ]
  })
}

resource "aws_lambda_function" "intake" {
  count            = local.legacy_lambda ? 1 : 0
  function_name    = local.intake_name
  description      = "autoheal: hands each legacy-queue record to the healer as an asynchronous invocation"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = local.intake_zip
  source_code_hash = fileexists(local.intake_zip) ? filebase64sha256(local.intake_zip) : null
  role             = aws_iam_role.intake[0].arn
  timeout          = 30

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.intake[0].name
  }

  environment {
    variables = { HEALER_FUNCTION = aws_lambda_function.healer.function_name }
  }

  depends_on = [aws_iam_role_policy.intake]

  lifecycle {
    precondition {
      condition     = fileexists(local.intake_zip)
      error_message = "intake_zip: ${local.intake_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

resource "aws_lambda_event_source_mapping" "legacy" {
  count                   = local.legacy_lambda ? 1 : 0
  event_source_arn        = aws_sqs_queue.legacy[0].arn
  function_name           = aws_lambda_function.intake[0].function_name
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
  depends_on              = [aws_lambda_invocation.alarm_lifecycle]
}

resource "aws_iam_policy" "bridge" {
  count       = local.legacy_bridge ? 1 : 0
  name        = "${var.name}-bridge"
  description = "autoheal bridge host: consume the legacy queue, invoke the healer"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ConsumeQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        Resource = aws_sqs_queue.legacy[0].arn
      },
      { Sid = "InvokeHealer", Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.healer.arn },
    ]
  })
}
