#!/usr/bin/env bash
# Runs Upcheck's migrations (`upcheck-api migrate`) as a one-off ECS Fargate task and waits for
# it: exits 0 only when the task's container exited 0. Called by terraform_data.migrate
# (migrate.tf) before the services roll; also usable by hand, with the module's outputs:
#
#   CLUSTER=$(terraform output -raw cluster_name) \
#   TASK_DEFINITION=$(terraform output -raw migration_task_definition_arn) \
#   SUBNETS=subnet-aaa,subnet-bbb SECURITY_GROUPS=$(terraform output -raw worker_security_group_id) \
#   bash deploy/terraform/aws-ecs/run-migration.sh
#
# Environment: CLUSTER, TASK_DEFINITION, SUBNETS and SECURITY_GROUPS (comma-separated) are
# required; AWS_REGION (or the CLI's configured region); LOG_GROUP, to print where the
# task's log is. Needs the AWS CLI v2 and credentials allowed ecs:RunTask, ecs:DescribeTasks
# and iam:PassRole on the task's roles.
set -euo pipefail

die() {
    echo "run-migration: $*" >&2
    exit 1
}

for v in CLUSTER TASK_DEFINITION SUBNETS SECURITY_GROUPS; do
    [[ -n "${!v:-}" ]] || die "$v is not set"
done
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not installed; install AWS CLI v2, or set run_migrations = false and run the migration task yourself"

network="awsvpcConfiguration={subnets=[$SUBNETS],securityGroups=[$SECURITY_GROUPS],assignPublicIp=DISABLED}"

echo "run-migration: starting $TASK_DEFINITION on $CLUSTER" >&2
task_arn=$(aws ecs run-task \
    --cluster "$CLUSTER" \
    --task-definition "$TASK_DEFINITION" \
    --launch-type FARGATE \
    --network-configuration "$network" \
    --started-by upcheck-migrate \
    --query 'tasks[0].taskArn' --output text) || die "aws ecs run-task failed"
[[ -n "$task_arn" && "$task_arn" != "None" ]] || die "aws ecs run-task started no task (see the failures it printed)"
echo "run-migration: task $task_arn; waiting for it to stop" >&2

# The waiter gives up after 100 polls 6 s apart (10 minutes); a migration that takes longer is
# still running, and is waited for again.
for _ in 1 2 3; do
    if aws ecs wait tasks-stopped --cluster "$CLUSTER" --tasks "$task_arn" 2>/dev/null; then
        break
    fi
done

described=$(aws ecs describe-tasks --cluster "$CLUSTER" --tasks "$task_arn" \
    --query 'tasks[0].[lastStatus, containers[0].exitCode, stoppedReason]' --output text) \
    || die "aws ecs describe-tasks failed for $task_arn"
read -r status exit_code reason <<<"$described"
if [[ -n "${LOG_GROUP:-}" ]]; then
    echo "run-migration: its log: log group $LOG_GROUP, stream migrate/migrate/${task_arn##*/}" >&2
fi
[[ "$status" == "STOPPED" ]] || die "the task is still $status after 30 minutes: $task_arn"
[[ "$exit_code" == "0" ]] || die "the migration failed (exit code $exit_code, $reason)"
echo "run-migration: migrations applied" >&2
