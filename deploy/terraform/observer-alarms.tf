# An observer that probes nothing for three minutes, or whose discovery of the groups keeps failing:
# with no route to the Auto Scaling and EC2 APIs, or no permission, it still beats its heartbeat.
# Both metrics come with its heartbeat (ObserverTargets: targets checked since the last beat;
# ObserverDiscoveryFailed: 1 while its latest discovery failed). Missing data is the heartbeat
# alarm's (observers.tf), so it does not breach here. Same as src/cdk/observer-alarms.ts.
resource "aws_cloudwatch_metric_alarm" "observer_targets" {
  for_each            = local.observers
  alarm_name          = "autoheal-observer-blind-${var.name}-${each.key}"
  alarm_description   = "autoheal observer ${each.value.name} probes nothing, or cannot discover its groups: it sees nothing from ${each.key} (its route to the Auto Scaling and EC2 APIs, its role, or groups with no InService instance; see its log group)"
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
  depends_on          = [aws_sns_topic.alerts]

  metric_query {
    id          = "blind"
    expression  = "IF(targets < 1 OR discovery > 0, 1, 0)"
    label       = "observer blind (1) or probing (0)"
    return_data = true
  }

  metric_query {
    id = "targets"
    metric {
      namespace   = "autoheal"
      metric_name = "ObserverTargets"
      dimensions  = { Observer = each.value.name }
      stat        = "Maximum"
      period      = 60
    }
  }

  metric_query {
    id = "discovery"
    metric {
      namespace   = "autoheal"
      metric_name = "ObserverDiscoveryFailed"
      dimensions  = { Observer = each.value.name }
      stat        = "Maximum"
      period      = 60
    }
  }
}
