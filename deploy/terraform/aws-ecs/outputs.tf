output "api_url" {
  description = "The API's base URL on the load balancer (https:// with a certificate). Point a DNS name at load_balancer_dns_name for the certificate's host name."
  value       = "${local.https ? "https" : "http"}://${aws_lb.api.dns_name}"
}

output "load_balancer_dns_name" {
  description = "The load balancer's DNS name (for a CNAME, or a Route 53 alias with load_balancer_zone_id)."
  value       = aws_lb.api.dns_name
}

output "load_balancer_zone_id" {
  description = "The load balancer's hosted zone id, for a Route 53 alias record."
  value       = aws_lb.api.zone_id
}

output "cluster_name" {
  description = "The ECS cluster the services run in."
  value       = local.cluster_name
}

output "service_names" {
  description = "The ECS service of each component: api, worker-monitoring, worker-status-change, worker-notification."
  value       = { for k, s in aws_ecs_service.component : k => s.name }
}

output "log_group_names" {
  description = "The CloudWatch log group of each component and of the migration (plus metrics, the workers' embedded-metric events, with backlog autoscaling)."
  value = merge(
    { for k, g in aws_cloudwatch_log_group.component : k => g.name },
    { for g in aws_cloudwatch_log_group.metrics : "metrics" => g.name },
  )
}

output "migration_task_definition_arn" {
  description = "The migration task definition, for running `upcheck-api migrate` by hand (run-migration.sh)."
  value       = aws_ecs_task_definition.migrate.arn
}

output "api_security_group_id" {
  description = "The API tasks' security group: allow it into the database's and Redis's security groups."
  value       = aws_security_group.api.id
}

output "worker_security_group_id" {
  description = "The workers' and the migration's security group: allow it into the database's and Redis's security groups."
  value       = aws_security_group.worker.id
}

output "load_balancer_security_group_id" {
  description = "The load balancer's security group."
  value       = aws_security_group.alb.id
}

output "execution_role_arn" {
  description = "The tasks' execution role (image pull, logs, the named secrets)."
  value       = aws_iam_role.execution.arn
}
