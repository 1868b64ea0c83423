# The original SNS → SQS path: every message of the alert topic reaches the healer through a
# queue that accepts SendMessage only from that topic, with a dead-letter queue. Consumed by the
# healer (an SQS event source with partial batch responses) or by `autoheal bridge` on a host.

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

resource "aws_lambda_event_source_mapping" "legacy" {
  count                   = local.legacy_lambda ? 1 : 0
  event_source_arn        = aws_sqs_queue.legacy[0].arn
  function_name           = aws_lambda_function.healer.arn
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
