# The construct's CfnOutputs, in Terraform's snake_case.

output "alert_topic_arn" {
  description = "The topic autoheal's alarms notify, the prober publishes to, and the operator may subscribe to (AlertTopicArn)."
  value       = aws_sns_topic.alerts.arn
}

output "healer_function_name" {
  description = "The healer function (HealerFunctionName)."
  value       = aws_lambda_function.healer.function_name
}

output "healer_log_group_name" {
  description = "The healer's log group (HealerLogGroupName)."
  value       = aws_cloudwatch_log_group.healer.name
}

output "alarm_prefix" {
  description = "The prefix of this deployment's alarms: what `autoheal status` and `autoheal alarms` need as --prefix (AlarmPrefix)."
  value       = local.alarm.prefix
}

output "prober_policy_arn" {
  description = "The prober host's managed policy, with detection \"probe\" (ProberPolicyArn)."
  value       = one(aws_iam_policy.prober[*].arn)
}

output "verdict_queue_url" {
  description = "The verdict channel, with detection \"probe\": `autoheal probe --verdict-queue` on a host sends there (VerdictQueueUrl)."
  value       = one(aws_sqs_queue.verdicts[*].url)
}

output "legacy_queue_url" {
  description = "The legacy queue, with legacy_queue set (LegacyQueueUrl)."
  value       = one(aws_sqs_queue.legacy[*].url)
}

output "bridge_policy_arn" {
  description = "The bridge host's managed policy, with legacy_queue.consumer \"bridge\" (BridgePolicyArn)."
  value       = one(aws_iam_policy.bridge[*].arn)
}

output "failure_queue_url" {
  description = "Invocations that failed every retry, and rule deliveries that failed (the construct's failureQueue property)."
  value       = aws_sqs_queue.failures.url
}

output "stack_health_topic_arn" {
  description = "The topic the stack's own alarms notify, e-mailed unfiltered (the construct's monitoring.stackAlarmTopic)."
  value       = aws_sns_topic.stack_health.arn
}

output "dashboard_name" {
  description = "The CloudWatch dashboard: marks and skips by reason, decision latency, queue depths, the healer (the construct's monitoring.dashboard)."
  value       = aws_cloudwatch_dashboard.autoheal.dashboard_name
}

output "observer_security_group_id" {
  description = "The observers' security group, with probe.subnets: allow it on the instances' probed port, unless probe.instance_security_group_id was given (ObserverSecurityGroupId)."
  value       = one(aws_security_group.observers[*].id)
}
