variable "aws_region" {
  description = "The AWS region to deploy into (where the VPC, the ECR repository and the secrets are)."
  type        = string
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "upcheck"
}

variable "vpc_id" {
  description = "The VPC to run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (with a NAT gateway) for the tasks."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets, in at least two Availability Zones, for the load balancer."
  type        = list(string)
}

variable "ecs_cluster_name" {
  description = "An existing ECS cluster (with Container Insights), or null to create one."
  type        = string
  default     = null
}

variable "image_repository" {
  description = "The repository scripts/push-image.sh printed, without the tag."
  type        = string
}

variable "image_tag" {
  description = "The tag scripts/push-image.sh printed (the git revision)."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64, or ARM64 for an image pushed with --platform linux/arm64."
  type        = string
  default     = "X86_64"
}

variable "database_url_secret_arn" {
  description = "Secrets Manager or SSM parameter ARN of DATABASE_URL."
  type        = string
}

variable "redis_url_secret_arn" {
  description = "Secrets Manager or SSM parameter ARN of REDIS_URL."
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secrets Manager or SSM parameter ARN of JWT_SECRET."
  type        = string
}

variable "secrets_key_secret_arn" {
  description = "Secrets Manager or SSM parameter ARN of SECRETS_KEY."
  type        = string
}

variable "certificate_arn" {
  description = "An ACM certificate for HTTPS on the load balancer, or null for plain HTTP (trial only)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs."
  type        = number
  default     = 30
}

variable "api" {
  description = "The API service's sizes and counts (see the module's variable of the same name)."
  type = object({
    cpu           = optional(number, 256)
    memory        = optional(number, 512)
    desired_count = optional(number, 2)
    max_count     = optional(number, 10)
    cpu_target    = optional(number, 70)
    stop_timeout  = optional(number, 30)
  })
  default = {}
}

variable "worker_monitoring" {
  description = "The monitoring worker's sizes, counts and backlog targets (see the module's variable)."
  type = object({
    cpu            = optional(number, 512)
    memory         = optional(number, 1024)
    desired_count  = optional(number, 1)
    max_count      = optional(number, 10)
    pending_target = optional(number, 256)
    lag_target     = optional(number, 512)
    stop_timeout   = optional(number, 90)
  })
  default = {}
}

variable "worker_status_change" {
  description = "The status-change worker's sizes, counts and backlog targets (see the module's variable)."
  type = object({
    cpu            = optional(number, 256)
    memory         = optional(number, 512)
    desired_count  = optional(number, 1)
    max_count      = optional(number, 10)
    pending_target = optional(number, 16)
    lag_target     = optional(number, 32)
    stop_timeout   = optional(number, 90)
  })
  default = {}
}

variable "worker_notification" {
  description = "The notification worker's sizes, counts and backlog targets (see the module's variable)."
  type = object({
    cpu            = optional(number, 256)
    memory         = optional(number, 512)
    desired_count  = optional(number, 1)
    max_count      = optional(number, 10)
    pending_target = optional(number, 16)
    lag_target     = optional(number, 32)
    stop_timeout   = optional(number, 90)
  })
  default = {}
}

variable "environment" {
  description = "Non-secret settings for every component (README, Configuration), e.g. REGION, SMTP_HOST."
  type        = map(string)
  default     = {}
}
