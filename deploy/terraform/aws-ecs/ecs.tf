# One Fargate task definition and one service per component: the API and the three workers.
# Each runs the image's binary with the image's settings, the same health command as compose
# (`<binary> healthcheck`, which GETs its own /healthz), a read-only root filesystem as user
# 10001, JSON logs to its own log group, and a stopTimeout long enough to drain: the workers
# finish their in-flight work after SIGTERM (90 s by default, the Kubernetes grace period
# plus margin), the API ends its streams (30 s; the load balancer has drained it first).
# Deployments replace tasks 100 % up / 200 % max, with the circuit breaker rolling back a
# deployment whose tasks do not become healthy. The autoscalers own the running count.

locals {
  # The container definition of each component (and of the migration, in migrate.tf).
  main_containers = merge(
    {
      for k, c in local.components : k => {
        name      = k
        image     = local.image
        essential = true
        command   = [c.binary]
        user      = "10001:10001"
        portMappings = k == "api" ? [
          { name = "http", containerPort = 8080, hostPort = 8080, protocol = "tcp" },
        ] : []
        environment            = [for name in sort(keys(local.component_environment[k])) : { name = name, value = local.component_environment[k][name] }]
        secrets                = [for name in sort(keys(local.component_secrets[k])) : { name = name, valueFrom = local.component_secrets[k][name] }]
        readonlyRootFilesystem = true
        stopTimeout            = c.stop_timeout
        healthCheck = {
          command     = ["CMD", c.binary, "healthcheck"]
          interval    = 10
          timeout     = 5
          retries     = 3
          startPeriod = 20
        }
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.component[k].name
            awslogs-region        = local.region
            awslogs-stream-prefix = k
          }
        }
      }
    },
    {
      migrate = {
        name                   = "migrate"
        image                  = local.image
        essential              = true
        command                = ["upcheck-api", "migrate"]
        user                   = "10001:10001"
        portMappings           = []
        environment            = [for name in sort(keys(local.component_environment["migrate"])) : { name = name, value = local.component_environment["migrate"][name] }]
        secrets                = [for name in sort(keys(local.component_secrets["migrate"])) : { name = name, valueFrom = local.component_secrets["migrate"][name] }]
        readonlyRootFilesystem = true
        stopTimeout            = 30
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.component["migrate"].name
            awslogs-region        = local.region
            awslogs-stream-prefix = "migrate"
          }
        }
      }
    },
  )
}

resource "aws_ecs_task_definition" "component" {
  for_each = local.components

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.worker ? aws_iam_role.worker_task.arn : aws_iam_role.task.arn
  # Earlier revisions stay registered: the circuit breaker rolls a failed deployment back to one.
  skip_destroy = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode(concat(
    [local.main_containers[each.key]],
    each.value.worker && var.worker_backlog_autoscaling ? [local.metrics_sidecar[each.key]] : [],
  ))

  tags = merge(local.common_tags, { "upcheck:component" = each.key })
}

resource "aws_ecs_service" "component" {
  for_each = local.components

  name                    = "${var.name}-${each.key}"
  cluster                 = local.cluster_arn
  task_definition         = aws_ecs_task_definition.component[each.key].arn
  desired_count           = each.value.desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  wait_for_steady_state   = var.wait_for_steady_state

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.key == "api" ? 30 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = each.value.worker ? [aws_security_group.worker.id] : [aws_security_group.api.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = "api"
      container_port   = 8080
    }
  }

  # The autoscalers own the count once the service runs.
  lifecycle {
    ignore_changes = [desired_count]
  }

  # Migrations first (a new image's tasks expect its schema), and the listeners before the
  # API registers with the target group.
  depends_on = [
    terraform_data.migrate,
    aws_lb_listener.http,
    aws_lb_listener.https,
    aws_iam_role_policy.execution,
  ]

  tags = merge(local.common_tags, { "upcheck:component" = each.key })
}
