# The API's front door: an Application Load Balancer. With certificate_arn, HTTPS on 443
# (TLS 1.3/1.2) and 80 redirecting to it; without, plain HTTP on 80. The live feed
# (Server-Sent Events) streams through it: an ALB does not buffer responses, and its idle
# timeout (load_balancer_idle_timeout_seconds) outlasts the feed's keep-alive comments.
# The target group checks /readyz (200 only when Postgres and Redis answer).
#
# The alternative, an NLB behind API Gateway's HTTP API with a VPC link, is not the default
# because API Gateway ends every integration request at 30 seconds, which cuts the live feed;
# see this directory's README.

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_20:Port 80 redirects to HTTPS whenever certificate_arn is set; without a certificate the module serves plain HTTP for a trial, which the README says.
  #checkov:skip=CKV_AWS_91:Access logs need an S3 bucket with ELB's delivery policy, which the operator supplies (load_balancer_access_logs_bucket); off without one.
  #checkov:skip=CKV2_AWS_76:No WAF web ACL is attached by default (see CKV2_AWS_28), and Upcheck is Rust, not Java: Log4j rules protect nothing here.
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is the operator's (waf_web_acl_arn, associated when given); the API rate-limits log-ins, sign-ups and requests itself.
  name                       = "${var.name}-api"
  load_balancer_type         = "application"
  internal                   = var.load_balancer_internal
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.load_balancer_idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.load_balancer_deletion_protection

  dynamic "access_logs" {
    for_each = var.load_balancer_access_logs_bucket == null ? [] : [var.load_balancer_access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = local.common_tags
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:The hop from the load balancer to the tasks stays inside the VPC, in private subnets, behind a security group that admits only the load balancer; the API serves plain HTTP on PORT, like behind nginx or an Ingress.
  name                 = "${var.name}-api"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay_seconds

  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.common_tags
}

resource "aws_lb_listener" "https" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = local.common_tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:With certificate_arn this listener only redirects to HTTPS (443); without one it is the trial setup's plain-HTTP listener.
  #checkov:skip=CKV_AWS_103:The TLS policy is on the HTTPS listener (var.ssl_policy); this one is port 80.
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.api.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = local.common_tags
}

resource "aws_wafv2_web_acl_association" "api" {
  count        = var.waf_web_acl_arn == null ? 0 : 1
  resource_arn = aws_lb.api.arn
  web_acl_arn  = var.waf_web_acl_arn
}
