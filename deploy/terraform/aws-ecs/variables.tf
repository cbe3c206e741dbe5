# Inputs of the Upcheck ECS Fargate module. Every variable is described and typed; those
# without a default are required (the example root in examples/complete passes each one).

variable "name" {
  description = "Prefix of every resource name (cluster, services, log groups, load balancer, roles). Lower case letters, digits and hyphens, at most 20 characters (load balancer and target group names are limited to 32)."
  type        = string
  default     = "upcheck"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name must start with a letter and hold only lower-case letters, digits and hyphens, at most 20 characters."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates (and propagated from the services to their tasks)."
  type        = map(string)
  default     = {}
}

# ---- network -------------------------------------------------------------------------------

variable "vpc_id" {
  description = "The VPC the load balancer and the tasks run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks (awsvpc, no public address). They need a route out (a NAT gateway) for probes, webhooks, image pulls, Secrets Manager and CloudWatch Logs, or VPC endpoints for the AWS services and a NAT gateway for the probes."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "private_subnet_ids needs at least one subnet (two or more in different Availability Zones for availability)."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer: public ones for an internet-facing load balancer, private ones with load_balancer_internal = true. At least two, in different Availability Zones."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An Application Load Balancer needs subnets in at least two Availability Zones."
  }
}

variable "load_balancer_internal" {
  description = "true for an internal load balancer (reachable only from the VPC and what is peered with it)."
  type        = bool
  default     = false
}

variable "load_balancer_ingress_cidrs" {
  description = "IPv4 networks allowed to reach the load balancer's listeners (80, and 443 with a certificate)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "task_egress_ipv4_cidrs" {
  description = "IPv4 networks the tasks may connect to, on every port: Postgres, Redis, the AWS APIs, and whatever monitors and channels target (an HTTP, TCP, TLS or DNS probe may name any host and port). Narrow it only if you know every target. What a user's monitor may reach is governed in the application by PROBE_ALLOW_PRIVATE / PROBE_*_NETWORKS."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "task_egress_ipv6_cidrs" {
  description = "IPv6 networks the tasks may connect to, on every port (empty for none; harmless in a VPC without IPv6)."
  type        = list(string)
  default     = ["::/0"]
}

# ---- cluster -------------------------------------------------------------------------------

variable "ecs_cluster_name" {
  description = "An existing ECS cluster to run in, by name. null creates one (with Container Insights, which the workers' backlog autoscaling reads RunningTaskCount from). An existing cluster needs Container Insights enabled for that too."
  type        = string
  default     = null
}

# ---- image ---------------------------------------------------------------------------------

variable "image_repository" {
  description = "The image repository without a tag, as printed by scripts/push-image.sh, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/upcheck. When it is an ECR repository the execution role may pull from it and from no other."
  type        = string
}

variable "image_tag" {
  description = "The image tag to run (scripts/push-image.sh tags with the git revision, e.g. 3f2c1ab or 3f2c1ab-dirty). Changing it runs the migrations and then rolls every service."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid image tag (letters, digits, _, . and -, at most 128)."
  }
}

variable "cpu_architecture" {
  description = "The tasks' CPU architecture: X86_64, or ARM64 (Graviton) for an image pushed with --platform linux/arm64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

# ---- components ----------------------------------------------------------------------------
# desired_count is the count the service starts with and the autoscaling minimum; max_count the
# autoscaling maximum. cpu (CPU units, 1024 = one vCPU) and memory (MiB) are the Fargate task
# size, a valid Fargate combination (256 CPU: 512-2048 MiB; 512: 1024-4096; 1024: 2048-8192; ...).
# The workers' task also holds the ADOT collector sidecar (64 MiB reserved) when
# worker_backlog_autoscaling is on.

variable "api" {
  description = "The API service: task cpu/memory, desired_count (also the autoscaling minimum, at least 2 across Availability Zones recommended), max_count, cpu_target (average CPU utilization in % that target tracking keeps), stop_timeout (seconds between SIGTERM and SIGKILL, at most 120)."
  type = object({
    cpu           = optional(number, 256)
    memory        = optional(number, 512)
    desired_count = optional(number, 2)
    max_count     = optional(number, 10)
    cpu_target    = optional(number, 70)
    stop_timeout  = optional(number, 30)
  })
  default = {}

  validation {
    condition     = var.api.desired_count >= 1 && var.api.max_count >= var.api.desired_count && var.api.stop_timeout <= 120 && var.api.cpu_target > 0 && var.api.cpu_target <= 100
    error_message = "api: need 1 <= desired_count <= max_count, 0 < cpu_target <= 100, stop_timeout <= 120 (the Fargate maximum)."
  }

  validation {
    condition = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.api.cpu) && (
      var.api.cpu == 256 ? contains([512, 1024, 2048], var.api.memory) :
      var.api.memory % 1024 == 0 && var.api.memory >= var.api.cpu * 2 && var.api.memory <= (var.api.cpu >= 4096 ? var.api.cpu * 7.5 : var.api.cpu * 8)
    )
    error_message = "api: cpu and memory must be a Fargate task size: cpu 256 with memory 512, 1024 or 2048; cpu 512-4096 with 2 to 8 GiB per vCPU (at most 30720 for 4096) in whole GiB; 8192 and 16384 likewise."
  }
}

variable "worker_monitoring" {
  description = "The monitoring worker (scheduler and probes): task cpu/memory, desired_count (autoscaling minimum, at least 1: it also runs the scheduler), max_count, pending_target and lag_target (stream entries per task that target tracking keeps: about half of MONITORING_CONCURRENCY, 512, and of what waits undelivered), stop_timeout (seconds to drain in-flight probes after SIGTERM, at most 120)."
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

  validation {
    condition     = var.worker_monitoring.desired_count >= 1 && var.worker_monitoring.max_count >= var.worker_monitoring.desired_count && var.worker_monitoring.stop_timeout <= 120
    error_message = "worker_monitoring: need 1 <= desired_count <= max_count (never 0: the scheduler must run) and stop_timeout <= 120."
  }

  validation {
    condition = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker_monitoring.cpu) && (
      var.worker_monitoring.cpu == 256 ? contains([512, 1024, 2048], var.worker_monitoring.memory) :
      var.worker_monitoring.memory % 1024 == 0 && var.worker_monitoring.memory >= var.worker_monitoring.cpu * 2 && var.worker_monitoring.memory <= (var.worker_monitoring.cpu >= 4096 ? var.worker_monitoring.cpu * 7.5 : var.worker_monitoring.cpu * 8)
    )
    error_message = "worker_monitoring: cpu and memory must be a Fargate task size: cpu 256 with memory 512, 1024 or 2048; cpu 512-4096 with 2 to 8 GiB per vCPU (at most 30720 for 4096) in whole GiB; 8192 and 16384 likewise."
  }
}

variable "worker_status_change" {
  description = "The status-change worker (incidents, fan-out, retention): task cpu/memory, desired_count (autoscaling minimum, at least 1), max_count, pending_target and lag_target (entries per task; WORKER_CONCURRENCY is 32), stop_timeout (seconds, at most 120)."
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

  validation {
    condition     = var.worker_status_change.desired_count >= 1 && var.worker_status_change.max_count >= var.worker_status_change.desired_count && var.worker_status_change.stop_timeout <= 120
    error_message = "worker_status_change: need 1 <= desired_count <= max_count and stop_timeout <= 120."
  }

  validation {
    condition = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker_status_change.cpu) && (
      var.worker_status_change.cpu == 256 ? contains([512, 1024, 2048], var.worker_status_change.memory) :
      var.worker_status_change.memory % 1024 == 0 && var.worker_status_change.memory >= var.worker_status_change.cpu * 2 && var.worker_status_change.memory <= (var.worker_status_change.cpu >= 4096 ? var.worker_status_change.cpu * 7.5 : var.worker_status_change.cpu * 8)
    )
    error_message = "worker_status_change: cpu and memory must be a Fargate task size: cpu 256 with memory 512, 1024 or 2048; cpu 512-4096 with 2 to 8 GiB per vCPU (at most 30720 for 4096) in whole GiB; 8192 and 16384 likewise."
  }
}

variable "worker_notification" {
  description = "The notification worker (channel deliveries): task cpu/memory, desired_count (autoscaling minimum, at least 1), max_count, pending_target and lag_target (entries per task; WORKER_CONCURRENCY is 32), stop_timeout (seconds, at most 120)."
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

  validation {
    condition     = var.worker_notification.desired_count >= 1 && var.worker_notification.max_count >= var.worker_notification.desired_count && var.worker_notification.stop_timeout <= 120
    error_message = "worker_notification: need 1 <= desired_count <= max_count and stop_timeout <= 120."
  }

  validation {
    condition = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.worker_notification.cpu) && (
      var.worker_notification.cpu == 256 ? contains([512, 1024, 2048], var.worker_notification.memory) :
      var.worker_notification.memory % 1024 == 0 && var.worker_notification.memory >= var.worker_notification.cpu * 2 && var.worker_notification.memory <= (var.worker_notification.cpu >= 4096 ? var.worker_notification.cpu * 7.5 : var.worker_notification.cpu * 8)
    )
    error_message = "worker_notification: cpu and memory must be a Fargate task size: cpu 256 with memory 512, 1024 or 2048; cpu 512-4096 with 2 to 8 GiB per vCPU (at most 30720 for 4096) in whole GiB; 8192 and 16384 likewise."
  }
}

variable "migration" {
  description = "The one-off migration task (upcheck-api migrate): task cpu/memory."
  type = object({
    cpu    = optional(number, 256)
    memory = optional(number, 512)
  })
  default = {}

  validation {
    condition = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.migration.cpu) && (
      var.migration.cpu == 256 ? contains([512, 1024, 2048], var.migration.memory) :
      var.migration.memory % 1024 == 0 && var.migration.memory >= var.migration.cpu * 2 && var.migration.memory <= (var.migration.cpu >= 4096 ? var.migration.cpu * 7.5 : var.migration.cpu * 8)
    )
    error_message = "migration: cpu and memory must be a Fargate task size: cpu 256 with memory 512, 1024 or 2048; cpu 512-4096 with 2 to 8 GiB per vCPU (at most 30720 for 4096) in whole GiB; 8192 and 16384 likewise."
  }
}

# ---- settings and secrets ------------------------------------------------------------------
# Secret ARNs: a Secrets Manager secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX,
# optionally with a JSON key: ...:secret:NAME-XXXXXX:KEY::) or an SSM Parameter Store
# SecureString (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME). ECS reads them at task start with
# the execution role, which may read these and no others.

variable "database_url_secret_arn" {
  description = "ARN of the secret holding DATABASE_URL (postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require), read by the API, the workers and the migration."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", var.database_url_secret_arn))
    error_message = "database_url_secret_arn must be a Secrets Manager or SSM parameter ARN."
  }
}

variable "redis_url_secret_arn" {
  description = "ARN of the secret holding REDIS_URL (rediss://default:TOKEN@HOST:6379 for ElastiCache with in-transit encryption), read by the API, the workers and the migration."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", var.redis_url_secret_arn))
    error_message = "redis_url_secret_arn must be a Secrets Manager or SSM parameter ARN."
  }
}

variable "jwt_secret_arn" {
  description = "ARN of the secret holding JWT_SECRET (at least 32 random characters: openssl rand -hex 32), read by the API."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", var.jwt_secret_arn))
    error_message = "jwt_secret_arn must be a Secrets Manager or SSM parameter ARN."
  }
}

variable "secrets_key_secret_arn" {
  description = "ARN of the secret holding SECRETS_KEY (32 random bytes in base64: openssl rand -base64 32), the key channel configs and monitor headers are encrypted with; read by the API and the monitoring and notification workers. Keep it: losing it loses them."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", var.secrets_key_secret_arn))
    error_message = "secrets_key_secret_arn must be a Secrets Manager or SSM parameter ARN."
  }
}

variable "database_read_url_secret_arn" {
  description = "Optional ARN of the secret holding DATABASE_READ_URL (a read replica for the API's history and list reads); null for none."
  type        = string
  default     = null

  validation {
    condition     = var.database_read_url_secret_arn == null || can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", coalesce(var.database_read_url_secret_arn, "x")))
    error_message = "database_read_url_secret_arn must be null or a Secrets Manager or SSM parameter ARN."
  }
}

variable "extra_secrets" {
  description = "Further settings read from secrets, by variable name, given to the API and every worker, e.g. { SMTP_PASSWORD = \"arn:aws:ssm:...:parameter/upcheck/smtp-password\" }."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.extra_secrets) : can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", arn))])
    error_message = "Every extra_secrets value must be a Secrets Manager or SSM parameter ARN."
  }
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys the secrets above are encrypted with; the execution role may decrypt with these. Empty when they use the AWS-managed keys."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "Non-secret settings (README, Configuration) for the API, the workers and the migration, e.g. { REGION = \"eu\", SMTP_HOST = \"email-smtp.eu-west-1.amazonaws.com\" }. They win over the module's own."
  type        = map(string)
  default     = {}
}

variable "probe_allow_private" {
  description = "PROBE_ALLOW_PRIVATE: whether monitors, webhooks and channel test sends may reach private addresses (RFC 1918 and the like). In a VPC those are your database, Redis and other internal services, so the default is false; set true only on an instance whose every user you trust (or allow chosen networks with PROBE_ALLOWED_NETWORKS in environment). Link-local and cloud metadata addresses are refused either way."
  type        = bool
  default     = false
}

# ---- load balancer -------------------------------------------------------------------------

variable "certificate_arn" {
  description = "An ACM certificate for the load balancer's HTTPS listener (443), in the same region. With one, port 80 redirects to 443; null serves plain HTTP on 80 (for a trial only)."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "The HTTPS listener's security policy (TLS 1.3 and 1.2 by default)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "load_balancer_idle_timeout_seconds" {
  description = "The load balancer's idle timeout (1-4000 s). The live feed (GET /api/v1/events, /status/{slug}/events) is a long-lived stream that carries a keep-alive comment every EVENTS_KEEP_ALIVE_SECONDS (15), so anything above that keeps it open; the default matches the compose and Kubernetes paths (an hour)."
  type        = number
  default     = 3600

  validation {
    condition     = var.load_balancer_idle_timeout_seconds >= 1 && var.load_balancer_idle_timeout_seconds <= 4000
    error_message = "load_balancer_idle_timeout_seconds must be between 1 and 4000."
  }
}

variable "deregistration_delay_seconds" {
  description = "How long the load balancer drains an API task before ECS stops it. Live feed streams never finish by themselves: they are cut after this and the clients reconnect (with Last-Event-ID, to another task)."
  type        = number
  default     = 30
}

variable "load_balancer_deletion_protection" {
  description = "Deletion protection on the load balancer. Set false before terraform destroy."
  type        = bool
  default     = true
}

variable "load_balancer_access_logs_bucket" {
  description = "An S3 bucket (with the ELB log delivery policy) for the load balancer's access logs; null for none."
  type        = string
  default     = null
}

variable "waf_web_acl_arn" {
  description = "A WAFv2 web ACL (regional) to associate with the load balancer; null for none."
  type        = string
  default     = null
}

# ---- logs, metrics, autoscaling ------------------------------------------------------------

variable "log_retention_days" {
  description = "Days CloudWatch keeps each component's logs (one of CloudWatch's allowed values)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "A KMS key to encrypt the log groups with (its policy must allow CloudWatch Logs); null uses CloudWatch's own encryption."
  type        = string
  default     = null
}

variable "worker_backlog_autoscaling" {
  description = "Scale each worker on its stream backlog: an ADOT collector sidecar scrapes the worker's upcheck_stream_pending_entries / upcheck_stream_lag_entries and publishes them to CloudWatch (embedded metric format), and target tracking keeps entries per task at the worker's pending_target / lag_target. false: the workers run at desired_count, without sidecar or task role permissions."
  type        = bool
  default     = true
}

variable "scale_on_lag" {
  description = "Also scale the workers on consumer-group lag (entries not yet delivered), which Redis reports from version 7; without it only the pending entries count."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "The CloudWatch namespace the workers' backlog metrics are published in (dimensions Stack = name, Component = worker-monitoring | worker-status-change | worker-notification)."
  type        = string
  default     = "Upcheck"
}

variable "adot_collector_image" {
  description = "The ADOT (AWS Distro for OpenTelemetry) collector image of the workers' metrics sidecar."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

# ---- deployment ----------------------------------------------------------------------------

variable "run_migrations" {
  description = "Run `upcheck-api migrate` as a one-off Fargate task, and wait for it to succeed, whenever the migration task definition changes (a new image), before the services roll. Needs the AWS CLI v2 and bash where terraform runs. false: run it yourself (README) before changing image_tag."
  type        = bool
  default     = true
}

variable "wait_for_steady_state" {
  description = "Whether terraform apply waits for every service to reach a steady state (its new tasks healthy) before it returns."
  type        = bool
  default     = false
}
