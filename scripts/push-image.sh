#!/usr/bin/env bash
# Builds Upcheck's image (the repository's Dockerfile) with `docker buildx`, tags it with the
# git revision, logs in to Amazon ECR with the AWS CLI and pushes it there; prints the image
# URI (REPOSITORY:TAG) on stdout, the only thing it prints there, for Terraform's
# image_repository and image_tag (deploy/terraform/aws-ecs):
#
#   scripts/push-image.sh                                  # linux/amd64, repository "upcheck"
#   scripts/push-image.sh --platform linux/arm64           # for cpu_architecture = "ARM64"
#   scripts/push-image.sh --platform linux/amd64,linux/arm64
#
# The tag is the commit's short hash (12 characters). A working tree with uncommitted changes
# is refused (the tag would not say what is in the image) unless --allow-dirty, which tags
# <hash>-dirty-<UTC time>. The repository is created when missing (scan on push, immutable
# tags, AES-256 at rest) unless --no-create.
#
# Options:
#   --region REGION        AWS region of the repository (default: AWS_REGION, AWS_DEFAULT_REGION,
#                          then the CLI's configured region)
#   --repository NAME      ECR repository name (default: upcheck)
#   --platform LIST        buildx platforms (default: linux/amd64)
#   --allow-dirty          build a working tree with uncommitted changes
#   --no-create            fail instead of creating a missing repository
# Needs: git, Docker with the buildx plugin and a running daemon (a platform other than the
# host's also needs QEMU binfmt, e.g. docker run --privileged --rm tonistiigi/binfmt --install
# arm64), the AWS CLI and credentials allowed ecr:GetAuthorizationToken, ecr:DescribeRepositories,
# ecr:CreateRepository (unless --no-create) and the ECR push actions on the repository.
set -euo pipefail

cd "$(dirname "$0")/.."

die() {
    echo "push-image: $*" >&2
    exit 1
}
say() { echo "push-image: $*" >&2; }

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
repository=upcheck
platforms=linux/amd64
allow_dirty=0
create=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --region) region=${2:?--region needs a value}; shift 2 ;;
        --repository) repository=${2:?--repository needs a value}; shift 2 ;;
        --platform) platforms=${2:?--platform needs a value}; shift 2 ;;
        --allow-dirty) allow_dirty=1; shift ;;
        --no-create) create=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
for p in ${platforms//,/ }; do
    [[ "$p" == linux/amd64 || "$p" == linux/arm64 ]] || die "unsupported platform $p: use linux/amd64, linux/arm64 or both, comma-separated"
done
[[ "$repository" =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]] || die "invalid ECR repository name: $repository"

# ---- what is built: the commit -------------------------------------------------------------
command -v git >/dev/null 2>&1 || die "git not found: the image is tagged with the git revision"
revision=$(git rev-parse HEAD 2>/dev/null) || die "not a git checkout: the image is tagged with the git revision"
tag=$(git rev-parse --short=12 HEAD)
if [[ -n "$(git status --porcelain)" ]]; then
    [[ $allow_dirty -eq 1 ]] || die "the working tree has uncommitted changes (git status): commit them, or pass --allow-dirty"
    tag="$tag-dirty-$(date -u +%Y%m%dT%H%M%SZ)"
    say "building uncommitted changes as $tag"
fi
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)

# ---- Docker ----------------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || die "docker not found: install Docker (Engine or Desktop) with the buildx plugin"
docker buildx version >/dev/null 2>&1 || die "docker buildx is not available: install the buildx plugin (Debian: docker-buildx-plugin, or docker-buildx)"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed): start it, or check DOCKER_HOST and your permission on its socket"

# ---- AWS -------------------------------------------------------------------------------------
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) not found: install AWS CLI v2"
if [[ -z "$region" ]]; then
    region=$(aws configure get region 2>/dev/null || true)
fi
[[ -n "$region" ]] || die "no AWS region: pass --region, or set AWS_REGION"
account=$(aws sts get-caller-identity --query Account --output text 2>/dev/null) \
    || die "no usable AWS credentials (aws sts get-caller-identity failed): configure a profile, SSO (aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
[[ "$account" =~ ^[0-9]{12}$ ]] || die "aws sts get-caller-identity gave no account id (got '$account')"
registry="$account.dkr.ecr.$region.amazonaws.com"
image="$registry/$repository"

if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
    [[ $create -eq 1 ]] || die "ECR repository $repository does not exist in $region (or is not readable); create it, or drop --no-create"
    say "creating ECR repository $repository in $region"
    aws ecr create-repository --region "$region" --repository-name "$repository" \
        --image-scanning-configuration scanOnPush=true \
        --image-tag-mutability IMMUTABLE \
        --encryption-configuration encryptionType=AES256 >/dev/null \
        || die "could not create ECR repository $repository in $region"
fi

say "logging in to $registry"
aws ecr get-login-password --region "$region" \
    | docker login --username AWS --password-stdin "$registry" >/dev/null \
    || die "docker login to $registry failed"

# ---- build and push --------------------------------------------------------------------------
say "building $image:$tag for $platforms (revision $revision)"
docker buildx build \
    --platform "$platforms" \
    --build-arg "VERSION=$version" \
    --build-arg "REVISION=$revision" \
    --tag "$image:$tag" \
    --provenance=false \
    --push \
    . >&2 || die "docker buildx build failed"

say "pushed; give Terraform: image_repository = \"$image\", image_tag = \"$tag\"$([[ "$platforms" == linux/arm64 ]] && echo ', cpu_architecture = "ARM64"')"
echo "$image:$tag"
