#!/usr/bin/env bash
# golangci-lint over the Go code, then offline checks of the deployment files: Terraform
# formatting, tflint with its bundled terraform ruleset, dockerfilelint and actionlint (the
# workflows). Missing tools are built or
# installed once into caches outside the clone (terraform, tflint and actionlint from the Go module
# proxy into $(go env GOPATH)/bin, 3-9 minutes for terraform and tflint each on a first run and
# about one for actionlint; dockerfilelint from npm into ~/.cache/refarch/npm, a few seconds), so
# later runs take about two seconds. `terraform init`, `validate` and `plan` are not run: they need the
# AWS provider, which cannot be downloaded here (see docs/deploy.md). go vet and the Go tests of
# terraform/ (go test ./terraform/...) run with the rest of the Go checks.
set -euo pipefail

TERRAFORM_VERSION="v1.7.5" # later versions carry replace directives and refuse `go install`
TFLINT_VERSION="v0.64.0"
ACTIONLINT_VERSION="v1.7.7"
GOLANGCI_LINT_VERSION="v2.15.0"
DOCKERFILELINT_VERSION="1.8.0"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gobin="$(go env GOBIN)"
[[ -n "$gobin" ]] || gobin="$(go env GOPATH)/bin"
npm_prefix="${XDG_CACHE_HOME:-$HOME/.cache}/refarch/npm"

# Terraform warns on every command without a CLI configuration file; an empty one silences it.
export TF_CLI_CONFIG_FILE=/dev/null
export CHECKPOINT_DISABLE=1

log() { echo "lint.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# go_tool NAME MODULE VERSION prints the path of NAME: from PATH, else from the Go bin cache,
# else built there with `go install` (from a scratch directory so this module's go.mod is not read).
go_tool() {
	local name=$1 module=$2 version=$3
	if command -v "$name" >/dev/null; then
		command -v "$name"
		return
	fi
	if [[ ! -x "$gobin/$name" ]]; then
		log "building $name $version with go install (first run only, about 3 minutes)"
		local start=$SECONDS
		(cd "$(mktemp -d)" && GOFLAGS= go install "$module@$version") >&2 ||
			die "go install $module@$version failed"
		log "built $name in $((SECONDS - start)) s"
	fi
	echo "$gobin/$name"
}

failed=0
step() {
	local title=$1
	shift
	log "$title"
	if ! "$@"; then
		log "FAILED: $title"
		failed=1
	fi
}

command -v go >/dev/null || die "go is required to build terraform and tflint"

# golangci-lint reads the Go code with the linters of .golangci.yml. Only the pinned version is
# used (another one on PATH may disagree about the same code): it is built once into
# $gobin/golangci-lint-$GOLANGCI_LINT_VERSION, about 4 minutes on a first run.
golangci="$gobin/golangci-lint-$GOLANGCI_LINT_VERSION"
if [[ ! -x "$golangci" ]]; then
	log "building golangci-lint $GOLANGCI_LINT_VERSION with go install (first run only, about 4 minutes)"
	start=$SECONDS
	tmp=$(mktemp -d)
	(cd "$tmp" && GOFLAGS= GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION") >&2 ||
		die "go install golangci-lint@$GOLANGCI_LINT_VERSION failed"
	mkdir -p "$gobin" && mv "$tmp/golangci-lint" "$golangci" && rm -rf "$tmp"
	log "built golangci-lint in $((SECONDS - start)) s"
fi
step "golangci-lint $GOLANGCI_LINT_VERSION (.golangci.yml)" \
	bash -c 'cd "$1" && "$2" run --allow-parallel-runners ./...' _ "$root" "$golangci"

terraform=$(go_tool terraform github.com/hashicorp/terraform "$TERRAFORM_VERSION")
# The modules need 1.11 (terraform/versions.tf), which the workflows install and put on PATH; a
# machine with only the Go module proxy can build no Terraform after 1.7, so there it checks the
# formatting alone, which has not changed since.
if ! "$terraform" version | head -n 1 | grep -Eq 'v1\.(1[1-9]|[2-9][0-9])\.'; then
	log "note: $("$terraform" version | head -n 1) is older than the 1.11 the modules require; used for fmt only"
fi
step "terraform fmt -check ($("$terraform" version | head -n 1))" \
	"$terraform" fmt -check -recursive -diff "$root/terraform"

tflint=$(go_tool tflint github.com/terraform-linters/tflint "$TFLINT_VERSION")
step "tflint --recursive (bundled terraform ruleset, preset all)" \
	bash -c 'cd "$1" && "$2" --recursive --config "$1/.tflint.hcl" --format compact' _ "$root/terraform" "$tflint"

dockerfilelint="$npm_prefix/node_modules/.bin/dockerfilelint"
if [[ ! -x "$dockerfilelint" ]]; then
	command -v npm >/dev/null || die "npm is required to install dockerfilelint (apt-get install npm)"
	log "installing dockerfilelint $DOCKERFILELINT_VERSION into $npm_prefix"
	mkdir -p "$npm_prefix"
	npm install --silent --no-audit --no-fund --prefix "$npm_prefix" "dockerfilelint@$DOCKERFILELINT_VERSION" >&2 ||
		die "npm install dockerfilelint@$DOCKERFILELINT_VERSION failed"
fi
# dockerfilelint predates BuildKit's `FROM --platform=...` and would read the flag as an untagged
# image name, so the flag is stripped from the copy it reads; every other line is linted as written.
step "dockerfilelint Dockerfile" \
	bash -c 'sed -E "s/^FROM --platform=[^ ]+ /FROM /" "$1" | "$2" -' _ "$root/Dockerfile" "$dockerfilelint"

# The image's RDS CA bundle: the pinned package still downloads, matches its checksum and holds
# only RDS CAs (the same script the Dockerfile runs).
step "scripts/rds-ca.sh (RDS CA bundle of the image)" \
	"$root/scripts/rds-ca.sh" "${XDG_CACHE_HOME:-$HOME/.cache}/refarch/rds-global-bundle.pem"

actionlint=$(go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION")
step "actionlint .github/workflows" \
	bash -c 'cd "$1" && "$2" .github/workflows/*.yml' _ "$root" "$actionlint"

if ((failed)); then
	die "some checks failed"
fi
log "all checks passed"
