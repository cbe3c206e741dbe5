# Migrations: `upcheck-api migrate` as a one-off Fargate task, run before the services roll.
# They are idempotent, take a Postgres advisory lock, and are safe while the previous version
# still serves traffic (as in compose's `migrate` service and the Kubernetes Job).
#
# With run_migrations (the default), terraform_data.migrate runs run-migration.sh whenever the
# migration task definition changes (a new image_tag, or changed settings): it starts the task
# with `aws ecs run-task` in the private subnets, waits for it to stop and fails the apply
# unless the container exited 0. The services depend on it, so they roll only afterwards.
# It needs bash and the AWS CLI v2, with the same credentials, where terraform runs.
# Without it, run the task yourself before changing image_tag (this directory's README).

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.migration.cpu)
  memory                   = tostring(var.migration.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  skip_destroy             = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([local.main_containers["migrate"]])

  tags = merge(local.common_tags, { "upcheck:component" = "migrate" })
}

resource "terraform_data" "migrate" {
  count = var.run_migrations ? 1 : 0

  triggers_replace = [aws_ecs_task_definition.migrate.arn]

  provisioner "local-exec" {
    command     = "bash '${path.module}/run-migration.sh'"
    interpreter = ["/bin/sh", "-c"]
    environment = {
      AWS_REGION      = local.region
      CLUSTER         = local.cluster_arn
      TASK_DEFINITION = aws_ecs_task_definition.migrate.arn
      SUBNETS         = join(",", var.private_subnet_ids)
      SECURITY_GROUPS = aws_security_group.worker.id
      LOG_GROUP       = aws_cloudwatch_log_group.component["migrate"].name
    }
  }

  depends_on = [
    aws_iam_role_policy.execution,
    aws_vpc_security_group_egress_rule.task_ipv4,
  ]
}
