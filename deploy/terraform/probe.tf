# Detection "probe": probe verdicts reach the healer from the alert topic. The prober publishes
# them (`autoheal probe … --publish <alert_topic_arn>`) on a host you run, with the prober policy.
# Observers that this module deploys itself subscribe here, beside the healer's subscription.

resource "aws_sns_topic_subscription" "healer_probe_verdicts" {
  count     = local.probe_enabled && local.direct ? 1 : 0
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.healer.arn
  # Only probe verdicts (alarm names autoheal-probe-…) entering ALARM; alarms come by EventBridge.
  filter_policy_scope = "MessageBody"
  filter_policy = jsonencode({
    AlarmName     = [{ prefix = "autoheal-probe-" }]
    NewStateValue = ["ALARM"]
  })
  depends_on = [aws_lambda_permission.alert_topic, aws_lambda_invocation.alarm_lifecycle]
}

resource "aws_lambda_permission" "alert_topic" {
  count         = local.probe_enabled && local.direct ? 1 : 0
  statement_id  = "sns-alert-topic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.healer.arn
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.alerts.arn
  depends_on    = [aws_lambda_invocation.alarm_lifecycle]
}

resource "aws_iam_policy" "prober" {
  count       = local.probe_enabled ? 1 : 0
  name        = "${var.name}-prober"
  description = "autoheal probe host: discover group instances, publish verdicts to the alert topic"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "DiscoverInstances", Effect = "Allow", Action = ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"], Resource = "*" },
      { Sid = "PublishVerdicts", Effect = "Allow", Action = "sns:Publish", Resource = aws_sns_topic.alerts.arn },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "prober_host" {
  count      = local.probe_enabled && try(var.probe.host_role_name, null) != null ? 1 : 0
  role       = var.probe.host_role_name
  policy_arn = aws_iam_policy.prober[0].arn
}
