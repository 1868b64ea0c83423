# The verdict channel of detection "probe" (src/cdk/verdict-channel.ts): an SQS queue that only the
# observers (and the host named by probe.host_role_name) may write, taken by the healer in batches
# like the evidence queue (intake.tf): the same visibility timeout, dead-letter queue, retention and
# mapping. Nothing else rides it: no alarms, no notices. It carries OK verdicts as well as ALARM
# ones, so a withdrawn vote reaches the healer (the topic subscription it replaces passed only ALARM).
#
# - Its policy denies sqs:SendMessage to every principal whose aws:PrincipalArn is not the
#   observers' role or the named host's role: an explicit Deny binds principals of the same account
#   too, whatever their own policies allow. Without observers or a host role nobody is named, and
#   the queue is open to what the account's own policies allow (as the topic was).
# - The observers share one role, so the channel proves a verdict came from an observer, not which
#   one: the healer is told the deployed observers' names (AUTOHEAL_OBSERVERS) and counts only those.

locals {
  # The observers' channel, and aws-app-check's (app-checks.tf).
  verdicts_enabled = local.probe_enabled || local.app_checks_enabled
  # ARNs known at plan time, so the plan shows the policy. A host role with a path needs its full
  # ARN here; host_role_name names a role at the root path.
  verdict_senders = concat(
    local.observers_enabled ? ["arn:${local.partition}:iam::${local.account}:role/${var.name}-observers"] : [],
    try(var.probe.host_role_name, null) != null ? ["arn:${local.partition}:iam::${local.account}:role/${var.probe.host_role_name}"] : [],
    local.app_checks_enabled ? ["arn:${local.partition}:iam::${local.account}:role/${var.name}-app-check"] : [],
  )
  # Known at plan time (the observers' environment shows in the plan), as SQS writes a queue's URL.
  verdict_queue_url = "https://sqs.${local.region}.${data.aws_partition.current.dns_suffix}/${local.account}/${local.queue_names.verdicts}"
  # Only the deployed observers vote; a host's name is added by the user (docs/observers.md).
  verdict_voters      = concat([for zone in sort(keys(local.observers)) : local.observers[zone].name], local.app_checks_enabled ? ["aws-app-check"] : [])
  verdict_environment = length(local.verdict_voters) > 0 ? { AUTOHEAL_OBSERVERS = join(",", local.verdict_voters) } : {}
}

resource "aws_sqs_queue" "verdict_dead_letters" {
  count                     = local.verdicts_enabled ? 1 : 0
  name                      = local.queue_names.verdict_dead_letters
  message_retention_seconds = 1209600
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.deny_insecure_transport.verdict_dead_letters]
  })
}

resource "aws_sqs_queue" "verdicts" {
  count                      = local.verdicts_enabled ? 1 : 0
  name                       = local.queue_names.verdicts
  visibility_timeout_seconds = var.timeout_seconds * 6
  message_retention_seconds  = 1209600
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.queue_arns.verdict_dead_letters
    maxReceiveCount     = var.intake.max_receive_count
  })
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [local.deny_insecure_transport.verdicts],
      length(local.verdict_senders) > 0 ? [{
        Sid       = "OnlyObserversSend"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "sqs:SendMessage"
        Resource  = local.queue_arns.verdicts
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = local.verdict_senders } }
      }] : [],
    )
  })
  depends_on = [aws_sqs_queue.verdict_dead_letters]
}

resource "aws_lambda_event_source_mapping" "verdicts" {
  count                              = local.verdicts_enabled ? 1 : 0
  event_source_arn                   = aws_sqs_queue.verdicts[0].arn
  function_name                      = aws_lambda_function.healer.arn
  batch_size                         = var.intake.batch_size
  maximum_batching_window_in_seconds = var.intake.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.intake.max_concurrency
  }
  depends_on = [aws_iam_role_policy.healer, aws_lambda_invocation.alarm_lifecycle]
}
