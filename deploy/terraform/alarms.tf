# Detection "alarms": the EventBridge rules that feed the healer, the schedule of its alarm sync,
# the Metrics Insights group alarms, and the healer invocation that syncs at deploy time and
# deletes every alarm of the prefix at destroy time. Why EventBridge and not the alarms' Lambda
# action: one rule covers every alarm of the prefix, including those the healer creates later,
# the rule target retries and dead-letters, and the alarms' actions stay free for the alert topic.

locals {
  sync_rate = local.alarm.sync_interval_minutes == 1 ? "rate(1 minute)" : "rate(${local.alarm.sync_interval_minutes} minutes)"

  # Every rule whose target is the healer; observers of new evidence add an entry here
  # (monitoring.tf adds the heartbeat alarms' rule).
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
      }
    } : {},
    local.alarms_enabled ? {
      alarm_sync = {
        description   = "autoheal: sync the ${local.alarm.prefix}* alarms of every managed group"
        event_pattern = null
        schedule      = local.sync_rate
      }
    } : {},
  )
  rule_names = { for key in keys(local.rule_definitions) : key => "${var.name}-${replace(key, "_", "-")}" }
}

resource "aws_cloudwatch_event_rule" "healer" {
  for_each            = local.rule_definitions
  name                = local.rule_names[each.key]
  description         = each.value.description
  event_pattern       = each.value.event_pattern
  schedule_expression = each.value.schedule
  depends_on          = [aws_lambda_invocation.alarm_lifecycle]
}

# The healer as a rule target: retried for up to an hour, then dead-lettered into the failure queue.
# Like every path that invokes the healer, it depends on the alarm clean-up, so that on destroy it is
# gone before the clean-up runs and no alarm is created behind its back.
resource "aws_cloudwatch_event_target" "healer" {
  for_each  = local.rule_definitions
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
  for_each      = local.rule_definitions
  statement_id  = "events-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.healer.arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.healer[each.key].arn
  depends_on    = [aws_lambda_invocation.alarm_lifecycle]
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

# The deploy-time sync and the destroy-time clean-up, in the healer itself (src/lambda/handler.ts,
# terraformAction): on create, and again on update when the groups, the tag or the alarm settings
# change, it syncs every managed group's alarms, so the instances already running get theirs
# without waiting for the schedule (a failed sync is logged and retried by the schedule; it never
# fails the apply); on destroy it deletes every alarm of the prefix, and a failure fails the destroy.
resource "aws_lambda_invocation" "alarm_lifecycle" {
  count           = local.alarms_enabled ? 1 : 0
  function_name   = aws_lambda_function.healer.function_name
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
  depends_on = [aws_iam_role_policy.healer, aws_iam_role_policy.healer_logs, aws_lambda_function_event_invoke_config.healer]
}
