# IAM. The execution role (used by ECS to start a task) may pull the image, write the tasks'
# logs and read the named secrets, nothing else. The task role (what the containers' own AWS
# calls run as) has no permission at all; with worker_backlog_autoscaling the workers' task
# role may only write the metrics sidecar's embedded-metric-format events to its log group.

locals {
  # An ECR image repository, when image_repository is one: ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/NAME.
  ecr_match = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/(.+)$", var.image_repository), null)
  ecr_repository_arn = local.ecr_match == null ? null : format(
    "arn:%s:ecr:%s:%s:repository/%s", local.partition, local.ecr_match[1], local.ecr_match[0], local.ecr_match[2]
  )

  all_secret_arns = distinct(concat(values(local.secret_arns), values(var.extra_secrets)))
  # IAM names a Secrets Manager secret by its ARN without the ":KEY:STAGE:VERSION" suffix that
  # selects a JSON key.
  secretsmanager_arns = distinct([
    for arn in local.all_secret_arns : join(":", slice(split(":", arn), 0, 7))
    if split(":", arn)[2] == "secretsmanager"
  ])
  ssm_parameter_arns = distinct([for arn in local.all_secret_arns : arn if split(":", arn)[2] == "ssm"])
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# ---- execution role ------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  description        = "Starts Upcheck's ECS tasks: pulls the image, writes logs, reads the named secrets."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.common_tags
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource to scope to; it only yields a registry login.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid       = "EcrPull"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.component : "${g.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(local.secretsmanager_arns) == 0 ? [] : [local.secretsmanager_arns]
    content {
      sid       = "SecretsManager"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.ssm_parameter_arns) == 0 ? [] : [local.ssm_parameter_arns]
    content {
      sid       = "ParameterStore"
      actions   = ["ssm:GetParameters"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) == 0 ? [] : [var.secrets_kms_key_arns]
    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-logs-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- task roles ----------------------------------------------------------------------------

resource "aws_iam_role" "task" {
  name               = "${var.name}-ecs-task"
  description        = "What Upcheck's API and migration containers run as: no permissions (they call no AWS API)."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.common_tags
}

resource "aws_iam_role" "worker_task" {
  name               = "${var.name}-ecs-worker-task"
  description        = "What Upcheck's worker tasks run as: nothing, or with backlog autoscaling only writing the metrics sidecar's log group."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.common_tags
}

data "aws_iam_policy_document" "worker_metrics" {
  count = var.worker_backlog_autoscaling ? 1 : 0

  statement {
    sid       = "EmbeddedMetrics"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [aws_cloudwatch_log_group.metrics[0].arn, "${aws_cloudwatch_log_group.metrics[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "worker_metrics" {
  count  = var.worker_backlog_autoscaling ? 1 : 0
  name   = "publish-backlog-metrics"
  role   = aws_iam_role.worker_task.id
  policy = data.aws_iam_policy_document.worker_metrics[0].json
}
