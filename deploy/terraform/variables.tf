# The module's inputs mirror the CDK construct's props (src/cdk/props.ts) one to one, with the
# same defaults and the same rules; the messages say what was wrong and how to fix it.

variable "name" {
  description = "Prefix of every resource name (function, role, topic, queues, rules). Two deployments in one account and region need different names."
  type        = string
  default     = "autoheal"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name: use 1 to 40 letters, digits, '-' or '_' (it prefixes function, role, queue and rule names), got \"${var.name}\"."
  }
}

variable "group_names" {
  description = "Auto Scaling groups managed by name, in addition to the groups carrying the opt-in tag."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for g in var.group_names : trimspace(g) != ""])
    error_message = "group_names: a group name is empty."
  }
  validation {
    condition     = length(distinct(var.group_names)) == length(var.group_names)
    error_message = "group_names: a group is named twice."
  }
}

variable "opt_in_tag" {
  description = "The tag that opts a group in."
  type = object({
    key   = string
    value = string
  })
  default  = { key = "autoheal:enabled", value = "true" }
  nullable = false
  validation {
    condition     = var.opt_in_tag.key != "" && !strcontains(var.opt_in_tag.key, "=")
    error_message = "opt_in_tag.key: must be non-empty and contain no \"=\", got \"${var.opt_in_tag.key}\"."
  }
}

variable "detection" {
  description = "What detects unhealthy instances: \"alarms\" (per-instance or Metrics Insights StatusCheckFailed alarms), \"probe\" (probe verdicts on the verdict channel), \"app-checks\" (an EC2 application status check, aggregation excluded, read as the observer aws-app-check; app-checks.tf), or several."
  type        = list(string)
  default     = ["alarms"]
  nullable    = false
  validation {
    condition     = length(var.detection) > 0
    error_message = "detection: name at least one of \"alarms\", \"probe\", \"app-checks\"."
  }
  validation {
    condition     = alltrue([for d in var.detection : contains(["alarms", "probe", "app-checks"], d)])
    error_message = "detection: unknown ${join(", ", [for d in var.detection : "\"${d}\"" if !contains(["alarms", "probe", "app-checks"], d)])}; known: \"alarms\", \"probe\", \"app-checks\"."
  }
}

variable "alarm" {
  description = <<-EOT
    Settings of the status-check alarms; only with detection "alarms". Every attribute is optional:
    prefix (alarm names are prefix + instance id; the deployment owns every alarm of its prefix:
    its healer syncs them and destroy deletes them; default "autoheal-status-check.<name>.", named
    after this deployment, so two deployments never touch each other's alarms),
    period_seconds (60; 10, 20, 30 or a multiple of 60), evaluation_periods (2),
    threshold (1; ALARM when Maximum(StatusCheckFailed) >= threshold),
    mode ("per-instance", or "metrics-insights": one alarm per group, each instance a contributor),
    sync_interval_minutes (10; how often the healer syncs every managed group's alarms, 1 to 1440).
  EOT
  type = object({
    prefix                = optional(string)
    period_seconds        = optional(number, 60)
    evaluation_periods    = optional(number, 2)
    threshold             = optional(number, 1)
    mode                  = optional(string, "per-instance")
    sync_interval_minutes = optional(number, 10)
  })
  default = null
  validation {
    condition     = var.alarm == null || contains(var.detection, "alarms")
    error_message = "alarm: settings given, but detection does not include \"alarms\"."
  }
  validation {
    condition     = try(var.alarm.prefix, null) == null || try(length(var.alarm.prefix) >= 1 && length(var.alarm.prefix) <= 200, false)
    error_message = "alarm.prefix: must be 1 to 200 characters."
  }
  validation {
    # The probe's alarm names are autoheal-probe-…; one prefix inside the other would let the
    # healer's alarm sync delete or rewrite them.
    condition     = var.alarm == null || try(!startswith("autoheal-probe-", var.alarm.prefix) && !startswith(var.alarm.prefix, "autoheal-probe-"), true)
    error_message = "alarm.prefix: \"${try(var.alarm.prefix != null ? var.alarm.prefix : "", "")}\" overlaps the probe's alarm names \"autoheal-probe-…\"."
  }
  validation {
    condition     = var.alarm == null || try(floor(var.alarm.period_seconds) == var.alarm.period_seconds && var.alarm.period_seconds > 0 && (contains([10, 20, 30], var.alarm.period_seconds) || var.alarm.period_seconds % 60 == 0), false)
    error_message = "alarm.period_seconds: must be 10, 20, 30 or a multiple of 60, got ${try(var.alarm.period_seconds, "null")}."
  }
  validation {
    condition     = var.alarm == null || try(var.alarm.mode != "metrics-insights" || var.alarm.period_seconds % 60 == 0, false)
    error_message = "alarm.period_seconds: must be a multiple of 60 in metrics-insights mode (Metrics Insights has no high-resolution data)."
  }
  validation {
    condition     = var.alarm == null || try(floor(var.alarm.evaluation_periods) == var.alarm.evaluation_periods && var.alarm.evaluation_periods >= 1, false)
    error_message = "alarm.evaluation_periods: must be an integer >= 1, got ${try(var.alarm.evaluation_periods, "null")}."
  }
  validation {
    condition     = var.alarm == null || try(var.alarm.period_seconds * var.alarm.evaluation_periods <= 86400, false)
    error_message = "alarm: period_seconds × evaluation_periods must not exceed 86400 seconds (one day)."
  }
  # StatusCheckFailed is 0 or 1 and the alarm fires at >= threshold: only 0 < threshold <= 1 means anything.
  validation {
    condition     = var.alarm == null || try(var.alarm.threshold > 0, false)
    error_message = "alarm.threshold: must be more than 0: StatusCheckFailed is 0 on a healthy instance, so >= ${try(var.alarm.threshold, "null")} alarms on every instance."
  }
  validation {
    condition     = var.alarm == null || try(var.alarm.threshold <= 1, false)
    error_message = "alarm.threshold: must be at most 1: StatusCheckFailed is never more than 1, so the alarm could never fire (got ${try(var.alarm.threshold, "null")})."
  }
  validation {
    condition     = var.alarm == null || try(contains(["per-instance", "metrics-insights"], var.alarm.mode), false)
    error_message = "alarm.mode: expected \"per-instance\" or \"metrics-insights\", got \"${try(var.alarm.mode, "null")}\"."
  }
  validation {
    condition     = var.alarm == null || try(floor(var.alarm.sync_interval_minutes) == var.alarm.sync_interval_minutes && var.alarm.sync_interval_minutes >= 1 && var.alarm.sync_interval_minutes <= 1440, false)
    error_message = "alarm.sync_interval_minutes: must be whole minutes from 1 to 1440, got ${try(var.alarm.sync_interval_minutes, "null")}."
  }
}

variable "probe" {
  description = <<-EOT
    Settings of the probe path; only with detection "probe". Every attribute is optional:
    host_role_name (the role of a host running `autoheal probe … --verdict-queue <verdict_queue_url>`; the
    prober policy is attached to it; default none: attach the prober_policy_arn output yourself);
    subnets (a list of { subnet_id, availability_zone }: one observer, a looping Lambda function,
    per subnet, at least two in different Availability Zones, one per zone; default none: no
    observers); and, for the observers: vpc_id (default: read from the first subnet),
    port (80), check ("http": GET path, expect 200; or "tcp": a connection is accepted),
    path ("/health"), interval_seconds (2; 0.5 to 30), timeout_seconds (1; at most the interval),
    unhealthy_threshold (2; consecutive failed probes, 1 to 10), instance_security_group_id
    (the instances' group: the module allows the observers on port; default none: allow the
    observer_security_group_id output yourself), memory_size_mb (256).
  EOT
  type = object({
    host_role_name = optional(string)
    subnets = optional(list(object({
      subnet_id         = string
      availability_zone = string
    })))
    vpc_id                     = optional(string)
    port                       = optional(number, 80)
    check                      = optional(string, "http")
    path                       = optional(string, "/health")
    interval_seconds           = optional(number, 2)
    timeout_seconds            = optional(number, 1)
    unhealthy_threshold        = optional(number, 2)
    instance_security_group_id = optional(string)
    memory_size_mb             = optional(number, 256)
  })
  default = null
  validation {
    # With app-checks alone, probe gives the port and path its check probes.
    condition     = var.probe == null || contains(var.detection, "probe") || contains(var.detection, "app-checks")
    error_message = "probe: settings given, but detection does not include \"probe\" (or \"app-checks\")."
  }
  validation {
    condition     = contains(var.detection, "probe") || (try(var.probe.subnets, null) == null && try(var.probe.host_role_name, null) == null)
    error_message = "probe.subnets, probe.host_role_name: observers and probe hosts need detection \"probe\"."
  }
  validation {
    condition     = !contains(var.detection, "app-checks") || try(var.probe.check, "http") != "tcp"
    error_message = "probe.check: \"tcp\" cannot be read by detection app-checks: EC2 application status checks probe HTTP(S) only; use \"http\"."
  }
  # The construct's rules (observersProblems in src/cdk/observer-settings.ts). HCL's || evaluates both
  # sides, so every side that reads var.probe's attributes is guarded by try().
  validation {
    condition     = try(var.probe.subnets == null, true) || try(length(var.probe.subnets) >= 2, false)
    error_message = "probe.subnets: give at least two subnets in different Availability Zones (got ${try(length(var.probe.subnets), 0)})."
  }
  validation {
    condition     = alltrue([for s in coalesce(try(var.probe.subnets, null), []) : can(regex("^subnet-[0-9a-f]{1,17}$", s.subnet_id))])
    error_message = "probe.subnets: ${join(", ", [for i, s in coalesce(try(var.probe.subnets, null), []) : "[${i}].subnet_id \"${s.subnet_id}\"" if !can(regex("^subnet-[0-9a-f]{1,17}$", s.subnet_id))])} is not a subnet id (subnet-0123abcd)."
  }
  validation {
    condition     = alltrue([for s in coalesce(try(var.probe.subnets, null), []) : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", s.availability_zone))])
    error_message = "probe.subnets: ${join(", ", [for i, s in coalesce(try(var.probe.subnets, null), []) : "[${i}].availability_zone \"${s.availability_zone}\"" if !can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", s.availability_zone))])} is not an Availability Zone (us-east-1a)."
  }
  validation {
    condition     = try(length(var.probe.subnets) < 2 || length(distinct([for s in var.probe.subnets : s.availability_zone])) >= 2, true)
    error_message = "probe.subnets: all in one Availability Zone; observers must see from at least two."
  }
  validation {
    condition     = try(var.probe.subnets == null, true) || try(length(distinct([for s in var.probe.subnets : s.availability_zone])) == length(var.probe.subnets), false)
    error_message = "probe.subnets: one subnet per Availability Zone (observers are named by zone)."
  }
  validation {
    condition     = try(var.probe.subnets == null, true) || length(var.group_names) > 0
    error_message = "group_names: name the groups the observers probe (observers do not follow the opt-in tag)."
  }
  validation {
    condition     = var.probe == null || try(floor(var.probe.port) == var.probe.port && var.probe.port >= 1 && var.probe.port <= 65535, false)
    error_message = "probe.port: an integer from 1 to 65535, got ${try(var.probe.port, "null")}."
  }
  validation {
    condition     = var.probe == null || try(contains(["http", "tcp"], var.probe.check), false)
    error_message = "probe.check: expected \"http\" or \"tcp\", got \"${try(var.probe.check, "null")}\"."
  }
  validation {
    condition     = var.probe == null || try(startswith(var.probe.path, "/"), false)
    error_message = "probe.path: must start with \"/\", got \"${try(var.probe.path, "null")}\"."
  }
  validation {
    condition     = var.probe == null || try(var.probe.interval_seconds >= 0.5 && var.probe.interval_seconds <= 30 && floor(var.probe.interval_seconds * 1000) == var.probe.interval_seconds * 1000, false)
    error_message = "probe.interval_seconds: from 0.5 to 30 seconds (whole milliseconds), got ${try(var.probe.interval_seconds, "null")}."
  }
  validation {
    condition     = var.probe == null || try(var.probe.timeout_seconds > 0 && var.probe.timeout_seconds <= var.probe.interval_seconds && floor(var.probe.timeout_seconds * 1000) == var.probe.timeout_seconds * 1000, false)
    error_message = "probe.timeout_seconds: more than 0 and at most probe.interval_seconds (${try(var.probe.interval_seconds, "null")}), whole milliseconds, got ${try(var.probe.timeout_seconds, "null")}."
  }
  validation {
    condition     = var.probe == null || try(floor(var.probe.unhealthy_threshold) == var.probe.unhealthy_threshold && var.probe.unhealthy_threshold >= 1 && var.probe.unhealthy_threshold <= 10, false)
    error_message = "probe.unhealthy_threshold: an integer from 1 to 10, got ${try(var.probe.unhealthy_threshold, "null")}."
  }
  validation {
    condition     = var.probe == null || try(floor(var.probe.memory_size_mb) == var.probe.memory_size_mb && var.probe.memory_size_mb >= 128 && var.probe.memory_size_mb <= 10240, false)
    error_message = "probe.memory_size_mb: an integer from 128 to 10240 MB, got ${try(var.probe.memory_size_mb, "null")}."
  }
}

variable "notification_email" {
  description = "An e-mail address subscribed to the alert topic (default: no subscription)."
  type        = string
  default     = null
  validation {
    condition     = var.notification_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "notification_email: \"${var.notification_email != null ? var.notification_email : ""}\" is not an e-mail address."
  }
}

variable "max_unhealthy_share" {
  description = "Share of a group's desired capacity that may be marked Unhealthy at once, 0 < x <= 1; the budget is max(1, floor(share × desired))."
  type        = number
  default     = 0.4
  nullable    = false
  validation {
    condition     = var.max_unhealthy_share > 0 && var.max_unhealthy_share <= 1
    error_message = "max_unhealthy_share: must be > 0 and <= 1, got ${var.max_unhealthy_share}."
  }
}

variable "respect_grace_period" {
  description = "Send SetInstanceHealth with ShouldRespectGracePeriod."
  type        = bool
  default     = true
  nullable    = false
}

variable "stale_after_seconds" {
  description = "Alarm evidence older than this is re-checked before acting (the construct's staleAfter, 2 minutes)."
  type        = number
  default     = 120
  nullable    = false
  validation {
    condition     = var.stale_after_seconds >= 0 && floor(var.stale_after_seconds * 1000) == var.stale_after_seconds * 1000
    error_message = "stale_after_seconds: must be >= 0 (whole milliseconds), got ${var.stale_after_seconds}."
  }
}

variable "dry_run" {
  description = "Decide and log, but never call SetInstanceHealth."
  type        = bool
  default     = false
  nullable    = false
}

variable "rails" {
  description = <<-EOT
    The core's safety rails (README "Safety rails": what each bounds and why its default); every
    value is written into the healer's environment. Every attribute is optional:
    max_marks_per_window (marks per group per rate window; default null: twice the group's budget),
    mark_rate_window_seconds (600), suspicion_share (0.8; share of a group, or of one zone of it,
    reported down at once that freezes the group, 0 < x <= 1), freeze_seconds (600; how long a
    freeze lasts), loop_marks (3; replacements failing soon after launch, within 30 minutes, that
    hold the group), probe_quorum (2; observers that must agree before a probe verdict marks, 1 to 9).
  EOT
  type = object({
    max_marks_per_window     = optional(number)
    mark_rate_window_seconds = optional(number, 600)
    suspicion_share          = optional(number, 0.8)
    freeze_seconds           = optional(number, 600)
    loop_marks               = optional(number, 3)
    probe_quorum             = optional(number, 2)
  })
  default  = {}
  nullable = false
  # The limits of the healer's own schema (policyOptionsSchema in src/policy/options.ts).
  validation {
    condition     = var.rails.max_marks_per_window == null || try(floor(var.rails.max_marks_per_window) == var.rails.max_marks_per_window && var.rails.max_marks_per_window >= 1, false)
    error_message = "rails.max_marks_per_window: must be an integer >= 1 (or unset for twice the group's budget), got ${var.rails.max_marks_per_window == null ? "null" : var.rails.max_marks_per_window}."
  }
  # The healer's shortest window (minWindowMs): below a second a window holds nothing.
  validation {
    condition     = var.rails.mark_rate_window_seconds >= 1 && floor(var.rails.mark_rate_window_seconds * 1000) == var.rails.mark_rate_window_seconds * 1000
    error_message = "rails.mark_rate_window_seconds: must be at least 1 second (a shorter window holds nothing, and the rail would never act), whole milliseconds, got ${var.rails.mark_rate_window_seconds}."
  }
  validation {
    condition     = var.rails.suspicion_share > 0 && var.rails.suspicion_share <= 1
    error_message = "rails.suspicion_share: must be > 0 and <= 1, got ${var.rails.suspicion_share}."
  }
  validation {
    condition     = var.rails.freeze_seconds >= 1 && floor(var.rails.freeze_seconds * 1000) == var.rails.freeze_seconds * 1000
    error_message = "rails.freeze_seconds: must be at least 1 second (a shorter window holds nothing, and the rail would never act), whole milliseconds, got ${var.rails.freeze_seconds}."
  }
  validation {
    # One young replacement failing is bad luck; the breaker needs a pattern.
    condition     = floor(var.rails.loop_marks) == var.rails.loop_marks && var.rails.loop_marks >= 2
    error_message = "rails.loop_marks: must be an integer >= 2, got ${var.rails.loop_marks}."
  }
  validation {
    condition     = floor(var.rails.probe_quorum) == var.rails.probe_quorum && var.rails.probe_quorum >= 1 && var.rails.probe_quorum <= 9
    error_message = "rails.probe_quorum: must be an integer from 1 to 9, got ${var.rails.probe_quorum}."
  }
  validation {
    # Only the module knows how many observers it deploys (one per subnet); a host_role_name's hosts may add
    # more. Fewer than two subnets are refused by probe.subnets' own rule.
    # aws-app-check (detection app-checks) is one more observer.
    condition     = try(var.probe.subnets == null || var.probe.host_role_name != null || length(var.probe.subnets) < 2 || var.rails.probe_quorum <= length(var.probe.subnets) + (contains(var.detection, "app-checks") ? 1 : 0), true)
    error_message = "rails.probe_quorum: ${var.rails.probe_quorum} observers must agree, but ${try(length(var.probe.subnets), 0) + (contains(var.detection, "app-checks") ? 1 : 0)} are deployed: probe verdicts could never mark; lower the quorum or add observers."
  }
}

variable "legacy_queue" {
  description = "The original SNS → SQS path with a dead-letter queue (default: none). consumer: \"lambda\" (an intake function, the queue's event source with partial batch responses, that hands each record to the healer as an asynchronous invocation) or \"bridge\" (`autoheal bridge` on a host you run; output bridge_policy_arn); max_receive_count: receives before a message moves to the dead-letter queue (5)."
  type = object({
    consumer          = optional(string, "lambda")
    max_receive_count = optional(number, 5)
  })
  default = null
  validation {
    condition     = var.legacy_queue == null || try(contains(["lambda", "bridge"], var.legacy_queue.consumer), false)
    error_message = "legacy_queue.consumer: expected \"lambda\" or \"bridge\", got \"${try(var.legacy_queue.consumer, "null")}\"."
  }
  validation {
    condition     = var.legacy_queue == null || try(floor(var.legacy_queue.max_receive_count) == var.legacy_queue.max_receive_count && var.legacy_queue.max_receive_count >= 1 && var.legacy_queue.max_receive_count <= 1000, false)
    error_message = "legacy_queue.max_receive_count: must be an integer from 1 to 1000, got ${try(var.legacy_queue.max_receive_count, "null")}."
  }
}

variable "log_retention_days" {
  description = "Retention of the healer's log group, in days (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 30
  nullable    = false
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: CloudWatch Logs accepts 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653, got ${var.log_retention_days}."
  }
}

variable "retain_log_group" {
  description = "Keep the healer's log group on `terraform destroy` (the construct's RemovalPolicy.RETAIN). Its name is generated, so a later apply creates a new one."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_level" {
  description = "The healer's log level (pino)."
  type        = string
  default     = "info"
  nullable    = false
  validation {
    condition     = contains(["fatal", "error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "log_level: expected one of fatal, error, warn, info, debug, trace, got \"${var.log_level}\"."
  }
}

variable "timeout_seconds" {
  description = "The healer's timeout; the legacy queue's visibility timeout is 6 times this."
  type        = number
  default     = 60
  nullable    = false
  validation {
    condition     = floor(var.timeout_seconds) == var.timeout_seconds && var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds: must be from 10 to 900 seconds, got ${var.timeout_seconds}."
  }
}

variable "memory_size_mb" {
  description = "The healer's memory."
  type        = number
  default     = 256
  nullable    = false
  validation {
    condition     = floor(var.memory_size_mb) == var.memory_size_mb && var.memory_size_mb >= 128 && var.memory_size_mb <= 10240
    error_message = "memory_size_mb: must be an integer from 128 to 10240 MB, got ${var.memory_size_mb}."
  }
}

variable "lambda_zip" {
  description = "The healer's archive, written by `npm run build` (default: dist/lambda.zip of the autoheal package this module belongs to)."
  type        = string
  default     = null
}

variable "intake_zip" {
  description = "The legacy queue intake's archive (index.js, the construct's inline intake), written by `npm run build`; only with legacy_queue.consumer \"lambda\" (default: dist/intake.zip of the autoheal package this module belongs to)."
  type        = string
  default     = null
}

variable "observer_zip" {
  description = "The observers' archive (observer.mjs), written by `npm run build`; only with probe.subnets (default: dist/observer.zip of the autoheal package this module belongs to)."
  type        = string
  default     = null
}

variable "app_check_zip" {
  description = "The aws-app-check reader's archive (app-check.mjs), written by `npm run build`; only with detection \"app-checks\" (default: dist/app-check.zip of the autoheal package this module belongs to)."
  type        = string
  default     = null
}

variable "intake" {
  description = "How the healer takes its evidence queue: a Lambda event source mapping, in batches, with partial batch responses. No concurrency is reserved: max_concurrency bounds the queue's share of the account's unreserved concurrency. batch_size: records per invocation, 1 to 100 (above 10 needs a batching window; default 10); batching_window_seconds: 0 to 300 (1); max_concurrency: 2 to 1000 (5); max_receive_count: receives before a message moves to the dead-letter queue, 1 to 1000 (10)."
  type = object({
    batch_size              = optional(number, 10)
    batching_window_seconds = optional(number, 1)
    max_concurrency         = optional(number, 5)
    max_receive_count       = optional(number, 10)
  })
  default  = {}
  nullable = false
  validation {
    condition     = floor(var.intake.batch_size) == var.intake.batch_size && var.intake.batch_size >= 1 && var.intake.batch_size <= 100
    error_message = "intake.batch_size: an integer from 1 to 100, got ${var.intake.batch_size}."
  }
  validation {
    condition     = floor(var.intake.batching_window_seconds) == var.intake.batching_window_seconds && var.intake.batching_window_seconds >= 0 && var.intake.batching_window_seconds <= 300 && (var.intake.batch_size <= 10 || var.intake.batching_window_seconds >= 1)
    error_message = "intake.batching_window_seconds: an integer from 0 to 300, and at least 1 for a batch above 10 records (Lambda's rule), got ${var.intake.batching_window_seconds}."
  }
  validation {
    condition     = floor(var.intake.max_concurrency) == var.intake.max_concurrency && var.intake.max_concurrency >= 2 && var.intake.max_concurrency <= 1000
    error_message = "intake.max_concurrency: an integer from 2 to 1000, got ${var.intake.max_concurrency}."
  }
  validation {
    condition     = floor(var.intake.max_receive_count) == var.intake.max_receive_count && var.intake.max_receive_count >= 1 && var.intake.max_receive_count <= 1000
    error_message = "intake.max_receive_count: an integer from 1 to 1000, got ${var.intake.max_receive_count}."
  }
}

variable "alarm_sync_zip" {
  description = "The alarm sync function's archive (alarm-sync.mjs), written by `npm run build`; only with detection \"alarms\" (default: dist/alarm-sync.zip of the autoheal package this module belongs to)."
  type        = string
  default     = null
}

variable "replacement" {
  description = "How each of group_names replaces an instance autoheal marks: \"launch-before-terminate\" sets its instance maintenance policy to minimum healthy 100 %, maximum 110 % at apply (capacity never dips while a replacement boots; up to one extra instance per 10 of desired capacity runs meanwhile), and destroy takes it back where the group still has it; \"unchanged\" leaves the groups' policies alone. Needs group_names."
  type        = string
  default     = "unchanged"
  nullable    = false
  validation {
    condition     = contains(["unchanged", "launch-before-terminate"], var.replacement)
    error_message = "replacement: must be \"unchanged\" or \"launch-before-terminate\", got \"${var.replacement}\"."
  }
}
