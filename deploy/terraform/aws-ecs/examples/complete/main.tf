# An example root for the Upcheck ECS Fargate module: fill in terraform.tfvars (copy
# terraform.tfvars.example), push an image with scripts/push-image.sh, then
#   terraform init && terraform apply
# Postgres (e.g. RDS), Redis (e.g. ElastiCache) and the VPC are yours; so are the secrets,
# created once (see ../../README.md).

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 6.0.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = { Project = "upcheck" }
  }
}

module "upcheck" {
  source = "../.."

  name = var.name

  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  public_subnet_ids  = var.public_subnet_ids
  ecs_cluster_name   = var.ecs_cluster_name

  image_repository = var.image_repository
  image_tag        = var.image_tag
  cpu_architecture = var.cpu_architecture

  database_url_secret_arn = var.database_url_secret_arn
  redis_url_secret_arn    = var.redis_url_secret_arn
  jwt_secret_arn          = var.jwt_secret_arn
  secrets_key_secret_arn  = var.secrets_key_secret_arn

  certificate_arn    = var.certificate_arn
  log_retention_days = var.log_retention_days

  api                  = var.api
  worker_monitoring    = var.worker_monitoring
  worker_status_change = var.worker_status_change
  worker_notification  = var.worker_notification

  environment = var.environment
}
