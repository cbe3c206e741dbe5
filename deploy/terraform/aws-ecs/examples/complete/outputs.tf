output "api_url" {
  description = "The API's base URL."
  value       = module.upcheck.api_url
}

output "service_names" {
  description = "The ECS services, by component."
  value       = module.upcheck.service_names
}

output "log_group_names" {
  description = "The CloudWatch log groups, by component."
  value       = module.upcheck.log_group_names
}

output "api_security_group_id" {
  description = "Allow this security group into the database's and Redis's."
  value       = module.upcheck.api_security_group_id
}

output "worker_security_group_id" {
  description = "Allow this security group into the database's and Redis's."
  value       = module.upcheck.worker_security_group_id
}

output "cluster_name" {
  description = "The ECS cluster (for run-migration.sh)."
  value       = module.upcheck.cluster_name
}

output "migration_task_definition_arn" {
  description = "The migration task definition (for run-migration.sh)."
  value       = module.upcheck.migration_task_definition_arn
}
