# Security groups. The load balancer takes 80 (and 443 with a certificate) from
# load_balancer_ingress_cidrs and talks only to the API tasks' port. The API tasks take only
# that port, only from the load balancer. The workers and the migration take nothing.
#
# Egress of the tasks is open on every port (task_egress_*_cidrs): they reach Postgres, Redis
# and the AWS APIs, and the probes, webhooks and channel deliveries reach whatever host and
# port users' monitors and channels name, which no security group can list in advance. What
# a user may reach is policed in the application instead: PROBE_ALLOW_PRIVATE (false here by
# default, see var.probe_allow_private) keeps monitors off the VPC's private addresses, and
# link-local / cloud metadata addresses (169.254.169.254, the task metadata endpoint) are
# always refused. Allow the tasks into your database's and Redis's security groups with the
# api_security_group_id and worker_security_group_id outputs.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Upcheck API load balancer: HTTP(S) from the allowed networks, to the API tasks only"
  vpc_id      = var.vpc_id
  tags        = merge(local.common_tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 is the public entry of a web API: with a certificate it only answers a redirect to HTTPS; narrow it with load_balancer_ingress_cidrs.
  for_each          = toset(var.load_balancer_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = local.https ? "HTTP from ${each.value} (redirected to HTTPS)" : "HTTP from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = local.https ? toset(var.load_balancer_ingress_cidrs) : toset([])
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks' port"
  referenced_security_group_id = aws_security_group.api.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "api" {
  #checkov:skip=CKV2_AWS_5:Attached to the API's ECS service (ecs.tf, chosen per component by a conditional the graph does not follow).
  name        = "${var.name}-api"
  description = "Upcheck API tasks: port 8080 from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = merge(local.common_tags, { Name = "${var.name}-api" })
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "The API port (PORT 8080: REST API, /healthz, /readyz) from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "worker" {
  #checkov:skip=CKV2_AWS_5:Attached to the workers' ECS services (ecs.tf, chosen per component) and to the migration task (run-task in run-migration.sh).
  name        = "${var.name}-worker"
  description = "Upcheck workers and the migration task: no ingress"
  vpc_id      = var.vpc_id
  tags        = merge(local.common_tags, { Name = "${var.name}-worker" })
}

# Egress of the API (channel test sends, Postgres, Redis, AWS APIs) and of the workers and
# the migration (probes, deliveries, Postgres, Redis, AWS APIs).
locals {
  task_security_groups = {
    api    = aws_security_group.api.id
    worker = aws_security_group.worker.id
  }
  task_egress_ipv4 = {
    for pair in setproduct(keys(local.task_security_groups), var.task_egress_ipv4_cidrs) : "${pair[0]}|${pair[1]}" => { sg = pair[0], cidr = pair[1] }
  }
  task_egress_ipv6 = {
    for pair in setproduct(keys(local.task_security_groups), var.task_egress_ipv6_cidrs) : "${pair[0]}|${pair[1]}" => { sg = pair[0], cidr = pair[1] }
  }
}

resource "aws_vpc_security_group_egress_rule" "task_ipv4" {
  #checkov:skip=CKV_AWS_382:Monitors probe any host on any port (http, tcp, tls, dns) and webhooks go anywhere, so the tasks need open egress; what users may reach is policed in the application (PROBE_ALLOW_PRIVATE=false here, metadata addresses always refused). Narrow with task_egress_ipv4_cidrs.
  for_each          = local.task_egress_ipv4
  security_group_id = local.task_security_groups[each.value.sg]
  description       = "Egress to ${each.value.cidr}: Postgres, Redis, AWS APIs, probes and deliveries"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "-1"
}

resource "aws_vpc_security_group_egress_rule" "task_ipv6" {
  #checkov:skip=CKV_AWS_382:As task_ipv4: probes and deliveries reach user-chosen hosts and ports; policed by the application's network policy. Empty task_egress_ipv6_cidrs removes it.
  for_each          = local.task_egress_ipv6
  security_group_id = local.task_security_groups[each.value.sg]
  description       = "Egress to ${each.value.cidr}: probes and deliveries over IPv6"
  cidr_ipv6         = each.value.cidr
  ip_protocol       = "-1"
}
