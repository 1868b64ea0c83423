# Detection "alarms": the EventBridge rules that bring the alarms' state changes and the groups'
# launches and terminations to the evidence queue the healer takes in batches (intake.tf), the
# schedule of held work (the alarms still in ALARM, decided again by the healer), the alarm sync (a
# function of its own, never the healer: at 1,000 instances a sync is minutes of PutMetricAlarm,
# and no decision may wait behind it), the Metrics Insights group alarms, and the sync's invocation
# that syncs at deploy time and deletes every alarm of the prefix at destroy time. Why EventBridge
# and not the alarms' Lambda action: one rule covers every alarm of the prefix, including those the
# healer creates later, the rule target retries and dead-letters, and the alarms' actions stay free
# for the alert topic.

locals {
  sync_rate = local.alarm.sync_interval_minutes == 1 ? "rate(1 minute)" : "rate(${local.alarm.sync_interval_minutes} minutes)"

  # Every rule, with where it delivers: the evidence queue, the healer itself (held work is one
  # event per run, not evidence to batch, and behind a backlog it would wait exactly when it
  # matters most; monitoring.tf adds the heartbeat alarms' rule), or the alarm sync.
  rule_definitions = merge(
    local.monitoring_rule_definitions,
    local.alarms_enabled && local.direct ? {
      alarm_state = {
        description = "autoheal: ${local.alarm.prefix}* alarms ${local.per_instance ? "" : "(their contributors) "}entering ALARM"
        # A Metrics Insights alarm reports each instance as a contributor, in its own event type.
        event_pattern = jsonencode({
          source        = ["aws.cloudwatch"]
          "detail-type" = [local.per_instance ? "CloudWatch Alarm State Change" : "CloudWatch Alarm Contributor State Change"]
          detail        = { alarmName = [{ prefix = local.alarm.prefix }], state = { value = ["ALARM"] } }
        })
        schedule = null
        target   = "evidence"
      }
    } : {},
    # Tagged groups cannot be matched by name here: the healer checks opt-in before creating an alarm.
    local.alarms_enabled && local.per_instance ? {
      lifecycle = {
        description = "autoheal: instances launched and terminated, to keep per-instance alarms in sync"
        event_pattern = jsonencode({
          source        = ["aws.autoscaling"]
          "detail-type" = ["EC2 Instance Launch Successful", "EC2 Instance Terminate Successful"]
        })
        schedule = null
        target   = "evidence"
      }
    } : {},
    local.alarms_enabled ? {
      held_work = {
        description   = "autoheal: decide again the ${local.alarm.prefix}* alarms still in ALARM (held work)"
        event_pattern = null
        schedule      = local.sync_rate
        target        = "healer"
      }
      alarm_sync = {
        description   = "autoheal: sync the ${local.alarm.prefix}* alarms of every managed group"
        event_pattern = null
        schedule      = local.sync_rate
        target        = "sync"
      }
    } : {},
  )
  rule_names     = { for key in keys(local.rule_definitions) : key => "${var.name}-${replace(key, "_", "-")}" }
  rule_arns      = { for key, name in local.rule_names : key => "arn:${local.partition}:events:${local.region}:${local.account}:rule/${name}" }
  healer_rules   = { for key, rule in local.rule_definitions : key => rule if rule.target == "healer" }
  evidence_rules = { for key, rule in local.rule_definitions : key => rule if rule.target == "evidence" }
}

resource "aws_cloudwatch_event_rule" "healer" {
  for_each            = local.rule_definitions
  name                = local.rule_names[each.key]
  description         = each.value.description
  event_pattern       = each.value.event_pattern
  schedule_expression = each.value.schedule
  depends_on          = [aws_lambda_invocation.alarm_lifecycle]
}

# The healer as a rule target (held work, heartbeat alarms): retried for up to an hour, then
# dead-lettered into the failure queue. Like every path that invokes the healer, it depends on the
# alarm clean-up, so that on destroy it is gone before the clean-up runs and no alarm is created
# behind its back.
resource "aws_cloudwatch_event_target" "healer" {
  for_each  = local.healer_rules
  rule      = aws_cloudwatch_event_rule.healer[each.key].name
  target_id = "healer"
  arn       = aws_lambda_function.healer.arn
  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
  dead_letter_config {
    arn = aws_sqs_queue.failures.arn
  }
  depends_on = [aws_lambda_invocation.alarm_lifecycle]
}

resource "aws_lambda_permission" "rules" {
  for_each      = local.healer_rules
  statement_id  = "events-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.healer.arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.healer[each.key].arn
  depends_on    = [aws_lambda_invocation.alarm_lifecycle]
}

# The evidence queue as a rule target: delivery retried for an hour, then dead-lettered into the
# failure queue.
resource "aws_cloudwatch_event_target" "evidence" {
  for_each  = local.evidence_rules
  rule      = aws_cloudwatch_event_rule.healer[each.key].name
  target_id = "evidence"
  arn       = aws_sqs_queue.evidence[0].arn
  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
  dead_letter_config {
    arn = aws_sqs_queue.failures.arn
  }
  depends_on = [aws_lambda_invocation.alarm_lifecycle]
}

# Metrics Insights mode: one alarm per named group, each instance a contributor, with the same
# settings the healer's alarm manager writes (groupAlarmInput in src/alarms/manager.ts). Groups
# opted in by tag only are not known here: the healer's scheduled sync makes their alarms.
resource "aws_cloudwatch_metric_alarm" "group" {
  for_each            = local.alarms_enabled && !local.per_instance ? toset(var.group_names) : toset([])
  alarm_name          = "${local.alarm.prefix}group-${each.key}"
  alarm_description   = "autoheal: EC2 status checks of the instances of ${each.key} (one contributor per instance)"
  evaluation_periods  = local.alarm.evaluation_periods
  threshold           = local.alarm.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "missing"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alerts.arn]
  metric_query {
    id          = "status"
    expression  = "SELECT MAX(StatusCheckFailed) FROM SCHEMA(\"AWS/EC2\", InstanceId) WHERE tag.\"aws:autoscaling:groupName\" = '${replace(each.key, "'", "''")}' GROUP BY InstanceId"
    period      = local.alarm.period_seconds
    return_data = true
  }
  # Deleted before the clean-up runs.
  depends_on = [aws_lambda_invocation.alarm_lifecycle]
}

# The deploy-time sync and the destroy-time clean-up, in the alarm sync function
# (src/lambda/alarm-sync.ts, terraformAction): on create, and again on update when the groups, the
# tag or the alarm settings change, it syncs every managed group's alarms, so the instances already
# running get theirs without waiting for the schedule (a failed sync is logged and retried by the
# schedule; it never fails the apply); on destroy it deletes every alarm of the prefix, and a
# failure fails the destroy.
resource "aws_lambda_invocation" "alarm_lifecycle" {
  count           = local.alarms_enabled ? 1 : 0
  function_name   = aws_lambda_function.alarm_sync[0].function_name
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"
  input = jsonencode({
    source        = "autoheal.terraform"
    "detail-type" = "Alarm Sync"
    groups        = join(",", var.group_names)
    opt_in_tag    = local.opt_in_tag
    alarm         = local.alarm
  })
  # Its grants outlive it: the clean-up at destroy needs DeleteAlarms.
  depends_on = [aws_iam_role_policy.alarm_sync, aws_lambda_function_event_invoke_config.alarm_sync]
}
