# The stack watches itself, and tells a person what autoheal did (src/cdk/monitoring.ts):
#
# - notices: the healer publishes them to the alert topic (AUTOHEAL_NOTICE_TOPIC_ARN, sns:Publish on
#   that topic only, main.tf); the e-mail subscription to the alert topic takes notices only (filter
#   policy on the message attribute autoheal_notice), never the raw alarm notifications and probe
#   verdicts that share the topic (they carry no attribute);
# - a silent observer (detection "probe"): a rule sends heartbeat alarms (any alarm on
#   autoheal/ObserverHeartbeat) entering ALARM to the healer, which turns them into notices;
# - alarms on the stack's own health, to a topic of their own e-mailed unfiltered: a notice about a
#   broken healer cannot depend on the healer, and the alert topic's filter would drop a raw alarm;
# - a dashboard: marks and skips by reason, decision latency, queue depths, the healer's own metrics.

locals {
  stack_health_topic_name = "${var.name}-stack-health"
  # Known at plan time, as the alert topic's, so the plan shows every alarm's action.
  stack_health_topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account}:${local.stack_health_topic_name}"

  monitoring_rule_definitions = local.probe_enabled ? {
    heartbeat_alarm = {
      description = "autoheal: observer heartbeat alarms entering ALARM, for the healer to send a notice"
      event_pattern = jsonencode({
        source        = ["aws.cloudwatch"]
        "detail-type" = ["CloudWatch Alarm State Change"]
        detail = {
          state         = { value = ["ALARM"] }
          configuration = { metrics = { metricStat = { metric = { namespace = ["autoheal"], name = ["ObserverHeartbeat"] } } } }
        }
      })
      schedule = null
      target   = "healer"
    }
  } : {}

  # The stack's alarms: messages waiting in a queue, or one of the healer's failures, in 5 minutes;
  # and the evidence queue's backlog, its oldest message older than stale_after_seconds (evidence
  # that old is re-checked before it acts), two minutes running.
  stack_alarm_specs = merge(
    {
      failure_queue = {
        description = "autoheal: healer invocations or rule deliveries failed every retry and wait in the failure queue. Read them (the message says what failed), fix the cause, then redrive or delete them."
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        dimensions  = { QueueName = aws_sqs_queue.failures.name }
      }
      healer_errors = {
        description = "autoheal: the healer failed (an invocation threw). Its log group has the error (\"verdict: work failed\" lines name the instance)."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        statistic   = "Sum"
        dimensions  = { FunctionName = aws_lambda_function.healer.function_name }
      }
      healer_throttles = {
        description = "autoheal: the healer was throttled (the account's concurrency limit): queued evidence waits in its queue and is retried; direct runs (held work, notices) are retried, then land in the failure queue."
        namespace   = "AWS/Lambda"
        metric      = "Throttles"
        statistic   = "Sum"
        dimensions  = { FunctionName = aws_lambda_function.healer.function_name }
      }
      # A mark that failed need not fail the invocation (an SQS batch reports an item failure):
      # the healer's own metric (src/operate/emf.ts) catches it.
      failed_decisions = {
        description = "autoheal: a decision failed (the fleet could not be read, or SetInstanceHealth was refused). `autoheal history --since 1h` lists it with the error."
        namespace   = "autoheal"
        metric      = "Decisions"
        statistic   = "Sum"
        dimensions  = { Action = "failed" }
      }
    },
    var.legacy_queue != null ? {
      legacy_dead_letter = {
        description = "autoheal: messages of the legacy queue could not be handled and wait in its dead-letter queue. Read them (the message says what failed), fix the cause, then redrive or delete them."
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        dimensions  = { QueueName = local.queue_names.legacy_dead_letters }
      }
    } : {},
    local.evidence_enabled ? {
      evidence_oldest_message = {
        description        = "autoheal: the oldest message of the evidence queue has waited ${var.stale_after_seconds} s or more: alarm evidence that old is re-checked before it acts, and healing waits. Look at the healer's errors and throttles, and raise the intake's maximum concurrency if it keeps up too slowly."
        namespace          = "AWS/SQS"
        metric             = "ApproximateAgeOfOldestMessage"
        statistic          = "Maximum"
        dimensions         = { QueueName = local.queue_names.evidence }
        period             = 60
        evaluation_periods = 2
        threshold          = var.stale_after_seconds
      }
      evidence_dead_letter = {
        description = "autoheal: messages of the evidence queue could not be handled and wait in its dead-letter queue. Read them (the message says what failed), fix the cause, then redrive or delete them."
        namespace   = "AWS/SQS"
        metric      = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        dimensions  = { QueueName = local.queue_names.evidence_dead_letters }
        # The same attributes as its neighbour's, so the two make one map.
        period             = 300
        evaluation_periods = 1
        threshold          = 1
      }
    } : {},
    local.verdicts_enabled ? {
      verdict_oldest_message = {
        description        = "autoheal: the oldest message of the verdict channel has waited ${var.stale_after_seconds} s or more: probe verdicts, withdrawals too, wait unread, and healing waits. Look at the healer's errors and throttles, and raise the intake's maximum concurrency if it keeps up too slowly."
        namespace          = "AWS/SQS"
        metric             = "ApproximateAgeOfOldestMessage"
        statistic          = "Maximum"
        dimensions         = { QueueName = local.queue_names.verdicts }
        period             = 60
        evaluation_periods = 2
        threshold          = var.stale_after_seconds
      }
      verdict_dead_letter = {
        description        = "autoheal: messages of the verdict channel could not be handled and wait in its dead-letter queue. Read them (the message says what failed), fix the cause, then redrive or delete them."
        namespace          = "AWS/SQS"
        metric             = "ApproximateNumberOfMessagesVisible"
        statistic          = "Maximum"
        dimensions         = { QueueName = local.queue_names.verdict_dead_letters }
        period             = 300
        evaluation_periods = 1
        threshold          = 1
      }
    } : {},
    local.alarms_enabled ? {
      alarm_sync_errors = {
        description = "autoheal: the alarm sync failed: instances may lack their alarm until a run succeeds. Its log group has the error."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        statistic   = "Sum"
        dimensions  = { FunctionName = "${var.name}-alarm-sync" }
      }
    } : {},
    local.app_checks_enabled ? {
      app_check_errors = {
        description = "autoheal: every read of an app-check run failed: aws-app-check votes no more until a run reads again. Its log group has the error."
        namespace   = "AWS/Lambda"
        metric      = "Errors"
        statistic   = "Sum"
        dimensions  = { FunctionName = "${var.name}-app-check" }
      }
    } : {},
  )
  # One or more in 5 minutes, unless the alarm says otherwise.
  stack_alarms = { for key, spec in local.stack_alarm_specs : key => merge({ period = 300, evaluation_periods = 1, threshold = 1 }, spec) }
  # The dashboard's order: the construct's.
  stack_alarm_order = concat(
    ["failure_queue", "healer_errors", "healer_throttles", "failed_decisions"],
    var.legacy_queue != null ? ["legacy_dead_letter"] : [],
    local.evidence_enabled ? ["evidence_oldest_message", "evidence_dead_letter"] : [],
    local.verdicts_enabled ? ["verdict_oldest_message", "verdict_dead_letter"] : [],
    local.alarms_enabled ? ["alarm_sync_errors"] : [],
    local.app_checks_enabled ? ["app_check_errors"] : [],
  )
}

resource "aws_sns_topic" "stack_health" {
  name         = local.stack_health_topic_name
  display_name = "autoheal stack health"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.notification_email != null ? 1 : 0
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.notification_email
  # Notices only (src/operate/notices.ts noticeAttribute).
  filter_policy = jsonencode({ autoheal_notice = [{ exists = true }] })
}

resource "aws_sns_topic_subscription" "stack_health_email" {
  count     = var.notification_email != null ? 1 : 0
  topic_arn = aws_sns_topic.stack_health.arn
  protocol  = "email"
  endpoint  = var.notification_email
}

locals {
  stack_alarm_names = { for key in keys(local.stack_alarms) : key => "${var.name}-${replace(key, "_", "-")}" }
  # Known at plan time, so the plan shows the whole dashboard.
  stack_alarm_arns = { for key, name in local.stack_alarm_names : key => "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${name}" }
}

resource "aws_cloudwatch_metric_alarm" "stack" {
  for_each            = local.stack_alarms
  alarm_name          = local.stack_alarm_names[each.key]
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.stack_health_topic_arn]
  depends_on          = [aws_sns_topic.stack_health]
}

locals {
  # SEARCH over the healer's decision metrics (namespace autoheal, dimensions Action and Reason).
  decisions_search = { for key, s in {
    marks   = { metric = "Decisions", filter = "Action=\"mark\"", stat = "Sum" }
    skips   = { metric = "Decisions", filter = "Action=\"skip\"", stat = "Sum" }
    failed  = { metric = "Decisions", filter = "Action=\"failed\"", stat = "Sum" }
    latency = { metric = "DecisionMs", filter = "", stat = "p95" }
    } : key => [[{
      expression = "SEARCH('{autoheal,Action,Reason} MetricName=\"${s.metric}\" ${s.filter}', '${s.stat}', 300)"
      region     = local.region
  }]] }
  dashboard_queues = [for q in [
    { label = "failure queue", name = aws_sqs_queue.failures.name },
    { label = "evidence queue", name = local.evidence_enabled ? local.queue_names.evidence : null },
    { label = "evidence queue dead letters", name = local.evidence_enabled ? local.queue_names.evidence_dead_letters : null },
    { label = "verdict channel", name = local.verdicts_enabled ? local.queue_names.verdicts : null },
    { label = "verdict channel dead letters", name = local.verdicts_enabled ? local.queue_names.verdict_dead_letters : null },
    { label = "legacy queue", name = var.legacy_queue != null ? local.queue_names.legacy : null },
    { label = "legacy dead-letter queue", name = var.legacy_queue != null ? local.queue_names.legacy_dead_letters : null },
  ] : q if q.name != null]
  healer_name = aws_lambda_function.healer.function_name
  graph = {
    type   = "metric"
    width  = 8
    height = 6
  }
}

# The construct's dashboard, widget for widget: what autoheal decided, how fast, and whether anything waits.
resource "aws_cloudwatch_dashboard" "autoheal" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    start = "-PT12H"
    widgets = [
      merge(local.graph, { x = 0, y = 0, properties = { view = "timeSeries", title = "Marks by reason", region = local.region, stacked = true, metrics = local.decisions_search.marks, yAxis = {} } }),
      merge(local.graph, { x = 8, y = 0, properties = { view = "timeSeries", title = "Skips by reason", region = local.region, stacked = true, metrics = local.decisions_search.skips, yAxis = {} } }),
      merge(local.graph, { x = 16, y = 0, properties = { view = "timeSeries", title = "Failed decisions", region = local.region, metrics = local.decisions_search.failed, yAxis = {} } }),
      merge(local.graph, { x = 0, y = 6, properties = { view = "timeSeries", title = "Decision latency p95 (ms)", region = local.region, metrics = local.decisions_search.latency, yAxis = {} } }),
      merge(local.graph, { x = 8, y = 6, properties = {
        view   = "timeSeries"
        title  = "Queue depths (visible); oldest message age, s (right)"
        region = local.region
        metrics = concat(
          [for q in local.dashboard_queues : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.name, { label = q.label, stat = "Maximum" }]],
          local.evidence_enabled ? [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.queue_names.evidence, { label = "evidence queue oldest", stat = "Maximum", yAxis = "right" }]] : [],
          local.verdicts_enabled ? [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.queue_names.verdicts, { label = "verdict channel oldest", stat = "Maximum", yAxis = "right" }]] : [],
        )
        yAxis = {}
      } }),
      merge(local.graph, { x = 16, y = 6, properties = {
        view   = "timeSeries"
        title  = "Healer"
        region = local.region
        metrics = [
          ["AWS/Lambda", "Invocations", "FunctionName", local.healer_name, { stat = "Sum" }],
          ["AWS/Lambda", "Errors", "FunctionName", local.healer_name, { stat = "Sum" }],
          ["AWS/Lambda", "Throttles", "FunctionName", local.healer_name, { stat = "Sum" }],
          ["AWS/Lambda", "Duration", "FunctionName", local.healer_name, { stat = "p95", yAxis = "right" }],
        ]
        yAxis = {}
      } }),
      {
        type   = "alarm"
        width  = 24
        height = 3
        x      = 0
        y      = 12
        properties = {
          title  = "Stack alarms"
          alarms = [for key in local.stack_alarm_order : local.stack_alarm_arns[key]]
        }
      },
    ]
  })
  depends_on = [aws_cloudwatch_metric_alarm.stack]
}
