# Detection "probe": probe verdicts, OK ones too, reach the healer through the verdict channel
# (verdicts.tf). The prober sends them (`autoheal probe … --verdict-queue <verdict_queue_url>`) on a
# host you run, with the prober policy; the observers this module deploys with probe.subnets
# (observers.tf) send to the same queue. No subscription of the alert topic feeds the healer.

resource "aws_iam_policy" "prober" {
  count       = local.probe_enabled ? 1 : 0
  name        = "${var.name}-prober"
  description = "autoheal probe host: discover group instances, send verdicts to the verdict channel"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "DiscoverInstances", Effect = "Allow", Action = ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"], Resource = "*" },
      # The channel's ARN, known at plan time, so the plan shows the policy.
      { Sid = "SendVerdicts", Effect = "Allow", Action = "sqs:SendMessage", Resource = local.queue_arns.verdicts },
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
