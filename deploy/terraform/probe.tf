# Detection "probe": probe verdicts reach the healer from the alert topic. The prober publishes
# them (`autoheal probe … --publish <alert_topic_arn>`) on a host you run, with the prober policy.
# The observers this module deploys with probe.subnets (observers.tf) publish to the same topic.

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
      # The topic's ARN as the healer's environment has it: known at plan time, so the plan shows the policy.
      { Sid = "PublishVerdicts", Effect = "Allow", Action = "sns:Publish", Resource = local.topic_arn },
      # The host's heartbeat; PutMetricData has no resources, the namespace condition narrows it.
      {
        Sid       = "PublishHeartbeat"
        Effect    = "Allow"
        Action    = "cloudwatch:PutMetricData"
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = "autoheal" } }
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "prober_host" {
  count      = local.probe_enabled && try(var.probe.host_role_name, null) != null ? 1 : 0
  role       = var.probe.host_role_name
  policy_arn = aws_iam_policy.prober[0].arn
}
