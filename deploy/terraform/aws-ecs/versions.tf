# Terraform 1.5 or newer (optional object attributes with defaults, terraform_data);
# the AWS provider 5.x (target tracking on metric math needs a 5.x release).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 6.0.0"
    }
  }
}
