# `terraform test` for the module: plans it (no AWS: fake credentials, data sources and the log
# groups' ARNs overridden) with the defaults and with an existing cluster, no certificate and
# no backlog autoscaling, and checks what each variant must contain. Run by
# scripts/check-terraform.sh when TF_PLUGIN_MIRROR names a provider mirror; by hand:
#   cd deploy/terraform/aws-ecs && terraform init -backend=false && terraform test

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "mock"
  secret_key                  = "mock"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

override_data {
  target = data.aws_vpc.this
  values = { cidr_block = "10.0.0.0/16" }
}

override_data {
  target = data.aws_ecs_cluster.existing
  values = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/shared" }
}

override_resource {
  target = aws_cloudwatch_log_group.component
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/upcheck/x" }
}

override_resource {
  target = aws_cloudwatch_log_group.metrics
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/upcheck/metrics" }
}

variables {
  vpc_id                  = "vpc-0123456789abcdef0"
  private_subnet_ids      = ["subnet-a", "subnet-b"]
  public_subnet_ids       = ["subnet-c", "subnet-d"]
  image_repository        = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/upcheck"
  image_tag               = "3f2c1ab"
  database_url_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upcheck/DATABASE_URL-AbCdEf"
  redis_url_secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upcheck/all-AbCdEf:REDIS_URL::"
  jwt_secret_arn          = "arn:aws:ssm:eu-west-1:123456789012:parameter/upcheck/jwt"
  secrets_key_secret_arn  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upcheck/all-AbCdEf:SECRETS_KEY::"
  certificate_arn         = "arn:aws:acm:eu-west-1:123456789012:certificate/x"
  run_migrations          = false
}

run "defaults" {
  command = plan

  assert {
    condition     = length(aws_ecs_service.component) == 4 && length(aws_ecs_cluster.this) == 1
    error_message = "four services in a new cluster"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.component["api"].container_definitions) : c.name] == ["api"]
    error_message = "api task: one container"
  }
  assert {
    condition     = join(",", sort([for c in jsondecode(aws_ecs_task_definition.component["worker-monitoring"].container_definitions) : c.name])) == "metrics-collector,worker-monitoring"
    error_message = "worker task: worker and sidecar"
  }
  assert {
    condition     = [for s in [for c in jsondecode(aws_ecs_task_definition.component["worker-status-change"].container_definitions) : c if c.name == "worker-status-change"][0].secrets : s.name] == ["DATABASE_URL", "REDIS_URL"]
    error_message = "status-change reads only DATABASE_URL and REDIS_URL"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.component["worker-notification"].container_definitions) : c.healthCheck.command if c.name == "worker-notification"][0] == ["CMD", "upcheck-worker-notification", "healthcheck"]
    error_message = "health command"
  }
  assert {
    condition     = length(aws_lb_listener.https) == 1 && aws_lb_listener.http.default_action[0].type == "redirect"
    error_message = "https + redirect"
  }
  assert {
    condition     = aws_lb_target_group.api.health_check[0].path == "/readyz"
    error_message = "readyz"
  }
  assert {
    condition     = length(aws_appautoscaling_policy.worker_backlog) == 6
    error_message = "two backlog policies per worker"
  }
  assert {
    condition     = length(aws_iam_role_policy.worker_metrics) == 1
    error_message = "worker metrics policy"
  }
}

run "existing_cluster_no_cert_no_backlog" {
  command = plan

  variables {
    ecs_cluster_name           = "shared"
    certificate_arn            = null
    worker_backlog_autoscaling = false
  }

  assert {
    condition     = length(aws_ecs_cluster.this) == 0 && aws_ecs_service.component["api"].cluster == "arn:aws:ecs:eu-west-1:123456789012:cluster/shared"
    error_message = "existing cluster used"
  }
  assert {
    condition     = length(aws_lb_listener.https) == 0 && aws_lb_listener.http.default_action[0].type == "forward"
    error_message = "plain http"
  }
  assert {
    condition     = length(aws_appautoscaling_policy.worker_backlog) == 0 && length(aws_iam_role_policy.worker_metrics) == 0 && length(aws_cloudwatch_log_group.metrics) == 0
    error_message = "no backlog scaling"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.component["worker-monitoring"].container_definitions) : c.name] == ["worker-monitoring"]
    error_message = "no sidecar"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb_https) == 0
    error_message = "no 443 rule"
  }
}

run "bad_tag_rejected" {
  command = plan
  variables {
    image_tag = "bad tag"
  }
  expect_failures = [var.image_tag]
}

run "invalid_fargate_size_rejected" {
  command = plan
  variables {
    api               = { cpu = 256, memory = 4096 }
    worker_monitoring = { cpu = 1024, memory = 1536 }
  }
  expect_failures = [var.api, var.worker_monitoring]
}

run "valid_larger_sizes_accepted" {
  command = plan
  variables {
    api               = { cpu = 1024, memory = 2048 }
    worker_monitoring = { cpu = 4096, memory = 30720 }
  }
  assert {
    condition     = aws_ecs_task_definition.component["worker-monitoring"].memory == "30720"
    error_message = "the monitoring worker's size is passed through"
  }
}
