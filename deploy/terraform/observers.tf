# The observers of detection "probe" (src/cdk/observers.ts), with probe.subnets: one looping Lambda
# function per subnet (at least two, one per Availability Zone), VPC-attached, started every minute
# by a schedule (a run that died is replaced by the next minute's, with nothing for the user to
# host, patch or restart). Runs of one observer never overlap without reserved concurrency (which
# fails the deploy in an account whose concurrency quota is low): a run holds the observer's lease
# in the ledger table (`pk = lease#<observer>`, ledger.tf). Each run probes for 55 s
# (dist/observer.zip) and sends each round's verdicts, OK ones too, to the verdict channel
# (verdicts.tf), which the healer takes; the healer marks only when rails.probe_quorum observers agree. Each
# observer beats (EMF ObserverHeartbeat, dimension Observer), and an alarm per observer notifies the
# alert topic when its heartbeat goes silent (missing data breaches).
#
# What the VPC must give the observers: a route to the SQS, DynamoDB, Auto Scaling and EC2 APIs (a
# NAT gateway, or endpoints for sqs, dynamodb, autoscaling and ec2), and the instances must accept the
# observers' security group on the probed port (the module adds that rule when given
# probe.instance_security_group_id; otherwise the output observer_security_group_id names the group).

locals {
  observers_enabled = local.probe_enabled && try(var.probe.subnets, null) != null
  # Keyed by zone: an observer is named by its zone (what the quorum counts, the heartbeat's dimension).
  observers = local.observers_enabled ? { for s in var.probe.subnets : s.availability_zone => {
    subnet_id = s.subnet_id
    name      = "observer-${s.availability_zone}"
  } } : {}
  observer_port      = try(var.probe.port, 80)
  observer_zip       = var.observer_zip != null ? var.observer_zip : "${path.module}/../../dist/observer.zip"
  observer_log_group = "/aws/lambda/${var.name}-observers"
}

# The VPC of the subnets, read at plan time when not given (the construct reads it at deploy time).
data "aws_subnet" "observers" {
  count = local.observers_enabled && try(var.probe.vpc_id, null) == null ? 1 : 0
  id    = var.probe.subnets[0].subnet_id
}

resource "aws_security_group" "observers" {
  count       = local.observers_enabled ? 1 : 0
  name        = "${var.name}-observers"
  description = "autoheal observers: probe the instances, call AWS APIs over HTTPS"
  vpc_id      = try(var.probe.vpc_id, null) != null ? var.probe.vpc_id : data.aws_subnet.observers[0].vpc_id
  # Nothing in; out only what an observer does: the probed port, and HTTPS to the APIs (NAT or endpoints).
  ingress = []
  egress = concat(
    [{
      description      = "probe the instances"
      protocol         = "tcp"
      from_port        = local.observer_port
      to_port          = local.observer_port
      cidr_blocks      = ["0.0.0.0/0"]
      ipv6_cidr_blocks = []
      prefix_list_ids  = []
      security_groups  = []
      self             = false
    }],
    local.observer_port == 443 ? [] : [{
      description      = "SQS, Auto Scaling, EC2 APIs"
      protocol         = "tcp"
      from_port        = 443
      to_port          = 443
      cidr_blocks      = ["0.0.0.0/0"]
      ipv6_cidr_blocks = []
      prefix_list_ids  = []
      security_groups  = []
      self             = false
    }],
  )
}

resource "aws_vpc_security_group_ingress_rule" "instances_from_observers" {
  count                        = local.observers_enabled && try(var.probe.instance_security_group_id, null) != null ? 1 : 0
  security_group_id            = var.probe.instance_security_group_id
  description                  = "autoheal observers probe the instances"
  ip_protocol                  = "tcp"
  from_port                    = local.observer_port
  to_port                      = local.observer_port
  referenced_security_group_id = aws_security_group.observers[0].id
}

resource "aws_cloudwatch_log_group" "observers" {
  count             = local.observers_enabled ? 1 : 0
  name              = local.observer_log_group
  retention_in_days = 14
}

resource "aws_iam_role" "observers" {
  count       = local.observers_enabled ? 1 : 0
  name        = "${var.name}-observers"
  description = "autoheal observers: discover the groups, send verdicts to the verdict channel"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

# Exactly the construct's observer statements.
resource "aws_iam_role_policy" "observers" {
  count = local.observers_enabled ? 1 : 0
  name  = "observers"
  role  = aws_iam_role.observers[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.observer_log_group}:*"
      },
      # Describe calls of Auto Scaling and EC2 support no resource-level permissions.
      { Sid = "DiscoverInstances", Effect = "Allow", Action = ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"], Resource = "*" },
      { Sid = "SendVerdicts", Effect = "Allow", Action = "sqs:SendMessage", Resource = local.queue_arns.verdicts },
      {
        # What AWSLambdaVPCAccessExecutionRole grants, spelled out: the functions' network interfaces.
        Sid      = "VpcNetworkInterfaces"
        Effect   = "Allow"
        Action   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
        Resource = "*"
      },
      # A lease, and no other item of the ledger table: the rails' memory is the healer's.
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

resource "aws_lambda_function" "observer" {
  for_each         = local.observers
  function_name    = "${var.name}-observer-${each.key}"
  description      = "autoheal observer in ${each.key}: probes the instances, sends verdicts"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "observer.handler"
  filename         = local.observer_zip
  source_code_hash = fileexists(local.observer_zip) ? filebase64sha256(local.observer_zip) : null
  role             = aws_iam_role.observers[0].arn
  # A run probes 55 s; the deadline leaves it time to stop and flush, and ends before the next minute's run.
  timeout     = 60
  memory_size = var.probe.memory_size_mb

  vpc_config {
    subnet_ids         = [each.value.subnet_id]
    security_group_ids = [aws_security_group.observers[0].id]
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.observers[0].name
  }

  environment {
    variables = {
      AUTOHEAL_OBSERVER_NAME   = each.value.name
      AUTOHEAL_OBSERVER_GROUPS = join(",", var.group_names)
      AUTOHEAL_OBSERVER_PORT   = tostring(local.observer_port)
      AUTOHEAL_OBSERVER_CHECK  = var.probe.check
      AUTOHEAL_OBSERVER_PATH   = var.probe.path
      # Verdicts, OK ones too, go to the channel only observers may write (verdicts.tf).
      AUTOHEAL_VERDICT_QUEUE_URL            = local.verdict_queue_url
      AUTOHEAL_LEDGER_TABLE                 = local.ledger_table_name
      AUTOHEAL_OBSERVER_INTERVAL_MS         = tostring(var.probe.interval_seconds * 1000)
      AUTOHEAL_OBSERVER_TIMEOUT_MS          = tostring(var.probe.timeout_seconds * 1000)
      AUTOHEAL_OBSERVER_UNHEALTHY_THRESHOLD = tostring(var.probe.unhealthy_threshold)
      AUTOHEAL_OBSERVER_RUN_FOR_MS          = "55000"
    }
  }

  depends_on = [aws_iam_role_policy.observers, aws_sns_topic.alerts, aws_sqs_queue.verdicts]

  lifecycle {
    precondition {
      condition     = fileexists(local.observer_zip)
      error_message = "observer_zip: ${local.observer_zip} not found (run \"npm run build\" in autoheal first)."
    }
  }
}

# A throttled or failed run is not retried: the next minute's run replaces it.
resource "aws_lambda_function_event_invoke_config" "observer" {
  for_each                     = local.observers
  function_name                = aws_lambda_function.observer[each.key].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_cloudwatch_event_rule" "observer" {
  for_each            = local.observers
  name                = "${var.name}-observer-${each.key}"
  description         = "autoheal: start the observer in ${each.key} every minute"
  schedule_expression = "rate(1 minute)"
}

resource "aws_cloudwatch_event_target" "observer" {
  for_each  = local.observers
  rule      = aws_cloudwatch_event_rule.observer[each.key].name
  target_id = "observer"
  arn       = aws_lambda_function.observer[each.key].arn
  retry_policy {
    maximum_retry_attempts       = 0
    maximum_event_age_in_seconds = 60
  }
}

resource "aws_lambda_permission" "observer_schedule" {
  for_each      = local.observers
  statement_id  = "events-schedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.observer[each.key].arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.observer[each.key].arn
}

# An observer silent for two minutes: one run may be lost to a deploy or a cold start without
# paging anyone. The alarm's state change reaches the healer (monitoring.tf), which sends the notice.
resource "aws_cloudwatch_metric_alarm" "observer_heartbeat" {
  for_each            = local.observers
  alarm_name          = "autoheal-observer-silent-${var.name}-${each.key}"
  alarm_description   = "autoheal observer ${each.value.name} sent no heartbeat for 2 minutes: probing from ${each.key} has stopped (see its log group)"
  namespace           = "autoheal"
  metric_name         = "ObserverHeartbeat"
  dimensions          = { Observer = each.value.name }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
  depends_on          = [aws_sns_topic.alerts]
}
