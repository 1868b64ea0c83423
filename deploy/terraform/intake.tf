# The evidence queue (src/cdk/intake.ts): the healer takes the rules' evidence from it in batches,
# through an event source mapping with partial batch responses, instead of one asynchronous
# invocation per event.
#
# - visibility timeout six times the healer's timeout, AWS's guidance for a queue a function
#   consumes: room for Lambda to retry a batch whose invocation was throttled;
# - a dead-letter queue after max_receive_count receives (10 by default, above the 5 AWS advises: a
#   throttled receive counts, and a backlog must never push good evidence aside);
# - 14 days of retention, SQS's most: a backlog never drops an event;
# - maximum_concurrency on the mapping instead of reserved concurrency: it bounds the queue's share
#   of the account and reserves nothing, so a deploy works in an account whose quota is 10.
# Only the rules that feed it may send to it (aws:SourceArn), and never without TLS.

locals {
  evidence_enabled = length(local.evidence_rules) > 0
}

resource "aws_sqs_queue" "evidence_dead_letters" {
  count                     = local.evidence_enabled ? 1 : 0
  name                      = local.queue_names.evidence_dead_letters
  message_retention_seconds = 1209600
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.deny_insecure_transport.evidence_dead_letters]
  })
}

resource "aws_sqs_queue" "evidence" {
  count                      = local.evidence_enabled ? 1 : 0
  name                       = local.queue_names.evidence
  visibility_timeout_seconds = var.timeout_seconds * 6
  message_retention_seconds  = 1209600
  redrive_policy = jsonencode({
    # Known at plan time, so the plan shows it.
    deadLetterTargetArn = local.queue_arns.evidence_dead_letters
    maxReceiveCount     = var.intake.max_receive_count
  })
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [local.deny_insecure_transport.evidence],
      # Each rule that feeds it may send, and only its own events.
      [for key in keys(local.evidence_rules) : {
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        Resource  = local.queue_arns.evidence
        Condition = { ArnEquals = { "aws:SourceArn" = local.rule_arns[key] } }
      }],
    )
  })
  # The dead-letter queue first: its ARN is named above, not referenced.
  depends_on = [aws_sqs_queue.evidence_dead_letters]
}

resource "aws_lambda_event_source_mapping" "evidence" {
  count                              = local.evidence_enabled ? 1 : 0
  event_source_arn                   = aws_sqs_queue.evidence[0].arn
  function_name                      = aws_lambda_function.healer.arn
  batch_size                         = var.intake.batch_size
  maximum_batching_window_in_seconds = var.intake.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.intake.max_concurrency
  }
  # Its grants first; and gone before the alarm clean-up runs on destroy, so no launch event
  # creates an alarm behind its back.
  depends_on = [aws_iam_role_policy.healer, aws_lambda_invocation.alarm_lifecycle]
}
