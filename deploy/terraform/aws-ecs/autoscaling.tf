# Autoscaling. Every service is an Application Auto Scaling target between its desired_count
# and max_count.
#
# - The API: target tracking on its average CPU utilization (cpu_target, 70 %).
# - Each worker: target tracking on its stream backlog per task, like the KEDA triggers of the
#   Kubernetes path. The worker reports upcheck_stream_pending_entries (delivered, not yet
#   acknowledged) and upcheck_stream_lag_entries (not yet delivered; Redis 7) for its consumer
#   groups on /metrics (HEALTH_PORT 8081), read from Redis at scrape time, so every replica
#   reports the same group-wide numbers. An ADOT collector sidecar in each worker task scrapes
#   them every 30 s, sums them over the worker's streams (all schedule shards of the monitoring
#   worker), and publishes them to CloudWatch in the embedded metric format under
#   metrics_namespace with dimensions Stack and Component. Target tracking divides that by the
#   service's RunningTaskCount (Container Insights) and keeps the quotient at pending_target
#   (and, with scale_on_lag, a second policy at lag_target): desired = backlog / target, as
#   KEDA computes it. With several policies the service scales out when any asks and in only
#   when all agree. No code in the workers knows about CloudWatch.

locals {
  backlog_metrics = merge(
    { pending = "upcheck_stream_pending_entries" },
    var.scale_on_lag ? { lag = "upcheck_stream_lag_entries" } : {},
  )
  worker_backlog_policies = var.worker_backlog_autoscaling ? {
    for pair in setproduct(keys(local.workers), keys(local.backlog_metrics)) : "${pair[0]}|${pair[1]}" => {
      component = pair[0]
      kind      = pair[1]
      metric    = local.backlog_metrics[pair[1]]
      target    = pair[1] == "pending" ? local.workers[pair[0]].pending_target : local.workers[pair[0]].lag_target
    }
  } : {}

  # The ADOT collector's configuration, per worker (passed in AOT_CONFIG_CONTENT). The regular
  # expressions avoid `$`, which the collector would expand as an environment variable.
  collector_config = {
    for k, c in local.workers : k => yamlencode({
      receivers = {
        prometheus = {
          config = {
            global = { scrape_interval = "30s", scrape_timeout = "5s" }
            scrape_configs = [{
              job_name       = "upcheck"
              static_configs = [{ targets = ["127.0.0.1:8081"], labels = { Stack = var.name, Component = k } }]
              metric_relabel_configs = [{
                source_labels = ["__name__"]
                regex         = "upcheck_stream_(pending|lag)_entries"
                action        = "keep"
              }]
            }]
          }
        }
      }
      processors = {
        # One series per metric: the sum over the worker's streams and groups.
        metricstransform = {
          transforms = [{
            include    = "^upcheck_stream_(pending|lag)_entries"
            match_type = "regexp"
            action     = "update"
            operations = [{ action = "aggregate_labels", label_set = ["Stack", "Component"], aggregation_type = "sum" }]
          }]
        }
        batch = { timeout = "10s" }
      }
      exporters = {
        awsemf = {
          region                  = local.region
          namespace               = var.metrics_namespace
          log_group_name          = "/ecs/${var.name}/metrics"
          log_stream_name         = "${k}/{TaskId}"
          dimension_rollup_option = "NoDimensionRollup"
          metric_declarations = [{
            dimensions            = [["Stack", "Component"]]
            metric_name_selectors = ["upcheck_stream_pending_entries", "upcheck_stream_lag_entries"]
          }]
        }
      }
      service = {
        pipelines = {
          metrics = { receivers = ["prometheus"], processors = ["metricstransform", "batch"], exporters = ["awsemf"] }
        }
      }
    })
  }

  metrics_sidecar = {
    for k, c in local.workers : k => {
      name                   = "metrics-collector"
      image                  = var.adot_collector_image
      essential              = false
      memoryReservation      = 64
      readonlyRootFilesystem = true
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config[k] }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.component[k].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "metrics-collector"
        }
      }
    }
  }
}

resource "aws_cloudwatch_log_group" "metrics" {
  #checkov:skip=CKV_AWS_338:Holds only the embedded-metric-format events the metrics are extracted from; kept as long as the other logs (log_retention_days).
  #checkov:skip=CKV_AWS_158:KMS encryption is optional (log_kms_key_arn); CloudWatch Logs encrypts at rest with its own keys otherwise.
  count             = var.worker_backlog_autoscaling ? 1 : 0
  name              = "/ecs/${var.name}/metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = merge(local.common_tags, { "upcheck:component" = "metrics" })
}

resource "aws_appautoscaling_target" "component" {
  for_each = local.components

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${local.cluster_name}/${aws_ecs_service.component[each.key].name}"
  min_capacity       = each.value.desired_count
  max_capacity       = each.value.max_count
  tags               = merge(local.common_tags, { "upcheck:component" = each.key })
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.name}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.component["api"].service_namespace
  scalable_dimension = aws_appautoscaling_target.component["api"].scalable_dimension
  resource_id        = aws_appautoscaling_target.component["api"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  for_each = local.worker_backlog_policies

  name               = "${var.name}-${each.value.component}-${each.value.kind}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.component[each.value.component].service_namespace
  scalable_dimension = aws_appautoscaling_target.component[each.value.component].scalable_dimension
  resource_id        = aws_appautoscaling_target.component[each.value.component].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "backlog"
        label       = "${each.value.metric} (${each.value.component})"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = var.metrics_namespace
            metric_name = each.value.metric

            dimensions {
              name  = "Stack"
              value = var.name
            }

            dimensions {
              name  = "Component"
              value = each.value.component
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "running tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = local.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.component[each.value.component].name
            }
          }
        }
      }

      metrics {
        id          = "per_task"
        label       = "${each.value.kind} entries per task"
        expression  = "backlog / tasks"
        return_data = true
      }
    }
  }
}
