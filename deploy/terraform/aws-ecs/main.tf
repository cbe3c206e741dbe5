# Upcheck on ECS Fargate: what the components are, the cluster and the log groups.
# The other files: iam.tf (roles), network.tf (security groups), alb.tf (the API's load
# balancer), ecs.tf (task definitions and services), migrate.tf (the one-off migration),
# autoscaling.tf (target tracking and the workers' metrics sidecar), outputs.tf.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_ecs_cluster" "existing" {
  count        = var.ecs_cluster_name == null ? 0 : 1
  cluster_name = var.ecs_cluster_name
}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  image     = "${var.image_repository}:${var.image_tag}"
  https     = var.certificate_arn != null

  cluster_arn  = var.ecs_cluster_name == null ? aws_ecs_cluster.this[0].arn : data.aws_ecs_cluster.existing[0].arn
  cluster_name = var.ecs_cluster_name == null ? aws_ecs_cluster.this[0].name : var.ecs_cluster_name

  # Every long-running component: its binary (the image's, with the same `<binary> healthcheck`
  # probe as compose), its sizes, and the secrets it reads (as in the Kubernetes manifests).
  components = {
    api = merge(var.api, {
      binary  = "upcheck-api"
      worker  = false
      secrets = ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "SECRETS_KEY"]
    })
    worker-monitoring = merge(var.worker_monitoring, {
      binary  = "upcheck-worker-monitoring"
      worker  = true
      secrets = ["DATABASE_URL", "REDIS_URL", "SECRETS_KEY"]
    })
    worker-status-change = merge(var.worker_status_change, {
      binary  = "upcheck-worker-status-change"
      worker  = true
      secrets = ["DATABASE_URL", "REDIS_URL"]
    })
    worker-notification = merge(var.worker_notification, {
      binary  = "upcheck-worker-notification"
      worker  = true
      secrets = ["DATABASE_URL", "REDIS_URL", "SECRETS_KEY"]
    })
  }
  workers = { for k, c in local.components : k => c if c.worker }

  secret_arns = merge(
    {
      DATABASE_URL = var.database_url_secret_arn
      REDIS_URL    = var.redis_url_secret_arn
      JWT_SECRET   = var.jwt_secret_arn
      SECRETS_KEY  = var.secrets_key_secret_arn
    },
    var.database_read_url_secret_arn == null ? {} : { DATABASE_READ_URL = var.database_read_url_secret_arn },
  )

  # The secrets each task definition reads: its own, the optional read replica for the API,
  # and every extra secret.
  component_secrets = merge(
    {
      for k, c in local.components : k => merge(
        { for s in c.secrets : s => local.secret_arns[s] },
        k == "api" && var.database_read_url_secret_arn != null ? { DATABASE_READ_URL = var.database_read_url_secret_arn } : {},
        var.extra_secrets,
      )
    },
    { migrate = merge({ DATABASE_URL = var.database_url_secret_arn, REDIS_URL = var.redis_url_secret_arn }, var.extra_secrets) },
  )

  # Settings every container gets (the image already sets PORT 8080, HEALTH_PORT 8081,
  # METRICS_PORT 9090 and BIND_ADDRESS 0.0.0.0); var.environment wins over them.
  base_environment = {
    LOG_FORMAT          = "json"
    PROBE_ALLOW_PRIVATE = tostring(var.probe_allow_private)
  }
  component_environment = merge(
    {
      for k, c in local.components : k => merge(
        local.base_environment,
        # The API believes X-Forwarded-For from the load balancer, whose addresses are in the VPC.
        k == "api" ? { TRUSTED_PROXIES = data.aws_vpc.this.cidr_block } : {},
        var.environment,
      )
    },
    { migrate = merge(local.base_environment, var.environment) },
  )

  log_components = concat(keys(local.components), ["migrate"])

  common_tags = merge({ "Application" = "upcheck", "upcheck:stack" = var.name }, var.tags)
}

# ---- the cluster (unless an existing one is named) ----------------------------------------

resource "aws_ecs_cluster" "this" {
  count = var.ecs_cluster_name == null ? 1 : 0
  name  = var.name

  # RunningTaskCount (ECS/ContainerInsights) is what the workers' backlog is divided by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.common_tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count              = var.ecs_cluster_name == null ? 1 : 0
  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# ---- logs: one group per component ---------------------------------------------------------

resource "aws_cloudwatch_log_group" "component" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (log_retention_days, default 30 days); uptime-monitor logs are operational, not an audit trail, and a year of them is a cost to opt into.
  #checkov:skip=CKV_AWS_158:KMS encryption is optional (log_kms_key_arn); without a key CloudWatch Logs encrypts the data at rest with its own keys.
  for_each = toset(local.log_components)

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = merge(local.common_tags, { "upcheck:component" = each.key })
}
