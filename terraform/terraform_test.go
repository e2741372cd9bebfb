// Package terraform_test checks the security and wiring properties of the deployment by reading
// the Terraform source with the HCL parser. `terraform validate` and `plan` need providers that
// cannot be downloaded offline, so these tests are what guards the module set in CI: each one
// names a property a reviewer would otherwise have to re-check by eye on every change.
package terraform_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const (
	albGroup      = "aws_security_group.alb.id"
	serveGroup    = "aws_security_group.serve.id"
	workersGroup  = "aws_security_group.workers.id"
	pelicanGroup  = "aws_security_group.pelican.id"
	databaseGroup = "aws_security_group.database.id"
)

// exposureProblems lists every way the configuration lets the internet in somewhere other than
// the load balancer.
func exposureProblems(cfg config) []string {
	var p []string
	for _, b := range cfg.find("resource", "aws_vpc_security_group_ingress_rule") {
		for _, attr := range []string{"cidr_ipv4", "cidr_ipv6"} {
			c := strings.Trim(b.attr(attr), `"`)
			if c != "0.0.0.0/0" && c != "::/0" {
				continue
			}
			if g := refs(b.body.Attributes["security_group_id"].Expr); !slices.Equal(g, []string{albGroup}) {
				p = append(p, fmt.Sprintf("%s admits %s into %v, not the load balancer's group", b, c, g))
			}
			if port := b.attr("from_port"); port != "443" && port != "80" || b.attr("to_port") != port {
				p = append(p, fmt.Sprintf("%s opens ports %s-%s to the internet", b, port, b.attr("to_port")))
			}
		}
	}
	for _, b := range cfg.find("resource", "aws_security_group") {
		if len(nested(b.body, "ingress")) > 0 || len(nested(b.body, "egress")) > 0 {
			p = append(p, fmt.Sprintf("%s has inline rules; declare rules as separate resources", b))
		}
	}
	for _, b := range cfg.find("resource", "aws_subnet") {
		if b.attr("map_public_ip_on_launch") == "true" {
			p = append(p, fmt.Sprintf("%s gives instances public addresses", b))
		}
	}
	for _, b := range cfg.find("resource", "aws_db_instance") {
		if b.attr("publicly_accessible") != "false" {
			p = append(p, fmt.Sprintf("%s: publicly_accessible must be false, is %q", b, b.attr("publicly_accessible")))
		}
	}
	for _, b := range cfg.find("resource", "aws_ecs_service") {
		for _, nc := range nested(b.body, "network_configuration") {
			if a, ok := nc.Body.Attributes["assign_public_ip"]; !ok || text(b.src, a.Expr) != "false" {
				p = append(p, fmt.Sprintf("%s: assign_public_ip must be false", b))
			}
		}
	}
	internetFacing := 0
	for _, b := range cfg.find("resource", "aws_lb") {
		if b.attr("internal") != "true" {
			internetFacing++
		}
	}
	if internetFacing > 1 {
		p = append(p, fmt.Sprintf("%d internet-facing load balancers, want at most 1", internetFacing))
	}
	for _, b := range cfg.find("resource", "aws_vpc_security_group_ingress_rule") {
		if g := refs(b.body.Attributes["security_group_id"].Expr); slices.Equal(g, []string{databaseGroup}) {
			if b.attr("cidr_ipv4") != "" || b.attr("cidr_ipv6") != "" {
				p = append(p, fmt.Sprintf("%s admits an address range into the database", b))
			}
			for _, src := range b.targets("referenced_security_group_id") {
				if src != serveGroup && src != workersGroup && src != pelicanGroup {
					p = append(p, fmt.Sprintf("%s admits %s into the database", b, src))
				}
			}
		}
	}
	return p
}

func TestNothingButTheLoadBalancerIsPublic(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	for _, problem := range exposureProblems(cfg) {
		t.Error(problem)
	}

	// The reachability graph, rule by rule: ALB -> serve -> database, workers -> database.
	ingress := map[string][]string{}
	for _, b := range cfg.find("resource", "aws_vpc_security_group_ingress_rule") {
		if b.module != "modules/security" {
			continue
		}
		to := refs(b.body.Attributes["security_group_id"].Expr)
		from := b.targets("referenced_security_group_id")
		if len(from) == 0 {
			from = []string{strings.Trim(b.attr("cidr_ipv4"), `"`)}
		}
		for _, g := range to {
			if g == "each.value" {
				t.Fatalf("%s: ingress target must name its group", b)
			}
			ingress[g] = append(ingress[g], from...)
		}
	}
	for g := range ingress {
		sort.Strings(ingress[g])
	}
	want := map[string][]string{
		albGroup:      {"0.0.0.0/0", "0.0.0.0/0"},
		serveGroup:    {albGroup},
		databaseGroup: {pelicanGroup, serveGroup, workersGroup},
	}
	for g, w := range want {
		if !slices.Equal(ingress[g], w) {
			t.Errorf("ingress into %s from %v, want %v", g, ingress[g], w)
		}
	}
	if len(ingress[workersGroup]) != 0 || len(ingress[pelicanGroup]) != 0 {
		t.Errorf("emu accepts traffic from %v and pelican from %v, want none", ingress[workersGroup], ingress[pelicanGroup])
	}

	// pelican needs only Postgres and SQS (through its VPC endpoint): no rule lets it out to the
	// internet, and it has its own group rather than sharing emu's, which reaches Pinecone.
	var pelicanEgress []string
	for _, b := range cfg.find("resource", "aws_vpc_security_group_egress_rule") {
		for _, g := range b.targets("security_group_id") {
			if g != pelicanGroup {
				continue
			}
			to := b.attr("cidr_ipv4") + b.attr("cidr_ipv6") + b.attr("prefix_list_id") + strings.Join(b.targets("referenced_security_group_id"), "")
			if b.attr("count") == "var.pelican_internet_egress ? 1 : 0" {
				continue // only with the ollama embedder, checked below
			}
			if to == "" || strings.Contains(to, "/0") {
				t.Errorf("%s lets pelican out to %q", b, to)
			}
			pelicanEgress = append(pelicanEgress, to)
		}
	}
	sort.Strings(pelicanEgress)
	if want := []string{databaseGroup, "var.endpoints_security_group_id", "var.s3_prefix_list_id"}; !slices.Equal(pelicanEgress, want) {
		t.Errorf("pelican may reach %v, want exactly %v", pelicanEgress, want)
	}
	if got := cfg.one(t, ".", "module", "security").attr("pelican_internet_egress"); got != `var.embedder == "ollama"` {
		t.Errorf("pelican gets internet egress when %s, want only with the ollama embedder", got)
	}
	if got := cfg.one(t, "modules/services", "variable", "pelican_security_group_id"); got.attr("type") != "string" {
		t.Error("services take no group of pelican's own")
	}

	lb := cfg.one(t, "modules/loadbalancer", "resource", "aws_lb", "this")
	if lb.attr("internal") != "false" || lb.attr("drop_invalid_header_fields") != "true" {
		t.Errorf("load balancer: internal=%s drop_invalid_header_fields=%s", lb.attr("internal"), lb.attr("drop_invalid_header_fields"))
	}
	if got := lb.attr("subnets"); got != "var.subnet_ids" {
		t.Errorf("load balancer subnets = %s", got)
	}
	if got := cfg.one(t, ".", "module", "loadbalancer").attr("subnet_ids"); got != "module.network.public_subnet_ids" {
		t.Errorf("load balancer placed in %s, want the public subnets", got)
	}
	for _, m := range []string{"database", "services"} {
		if got := cfg.one(t, ".", "module", m).attr("subnet_ids"); got != "module.network.private_subnet_ids" {
			t.Errorf("%s placed in %s, want the private subnets", m, got)
		}
	}
}

func TestExposureChecksCatchMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"open database port", `
resource "aws_vpc_security_group_ingress_rule" "db" {
  security_group_id = aws_security_group.database.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 5432
  to_port           = 5432
}`, "not the load balancer's group"},
		{"range into database", `
resource "aws_vpc_security_group_ingress_rule" "db" {
  security_group_id = aws_security_group.database.id
  cidr_ipv4         = "10.0.0.0/8"
}`, "admits an address range into the database"},
		{"alb to database", `
resource "aws_vpc_security_group_ingress_rule" "db" {
  for_each                     = { alb = aws_security_group.alb.id }
  security_group_id            = aws_security_group.database.id
  referenced_security_group_id = each.value
}`, "admits aws_security_group.alb.id into the database"},
		{"inline rule", `
resource "aws_security_group" "x" {
  ingress {
    cidr_blocks = ["0.0.0.0/0"]
  }
}`, "inline rules"},
		{"public rds", `
resource "aws_db_instance" "x" {
  publicly_accessible = var.public
}`, "publicly_accessible must be false"},
		{"public task", `
resource "aws_ecs_service" "x" {
  network_configuration {
    assign_public_ip = true
  }
}`, "assign_public_ip must be false"},
		{"public subnet addresses", `
resource "aws_subnet" "x" {
  map_public_ip_on_launch = true
}`, "public addresses"},
		{"alb on ssh", `
resource "aws_vpc_security_group_ingress_rule" "x" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 22
  to_port           = 22
}`, "opens ports 22-22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(exposureProblems(parseSnippet(t, tt.src)), "\n")
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestDatabaseIsPrivateEncryptedAndManaged(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	db := cfg.one(t, "modules/database", "resource", "aws_db_instance", "this")
	for attr, want := range map[string]string{
		"publicly_accessible":         "false",
		"storage_encrypted":           "true",
		"manage_master_user_password": "true",
		"engine":                      `"postgres"`,
		"deletion_protection":         "var.deletion_protection",
		"multi_az":                    "var.multi_az",
		"backup_retention_period":     "var.backup_retention_days",
		"skip_final_snapshot":         "false",
		"db_subnet_group_name":        "aws_db_subnet_group.this.name",
	} {
		if got := db.attr(attr); got != want {
			t.Errorf("aws_db_instance.%s = %q, want %q", attr, got, want)
		}
	}
	for _, forbidden := range []string{"password", "password_wo"} {
		if got := db.attr(forbidden); got != "" {
			t.Errorf("aws_db_instance sets %s = %s: the password must be managed by RDS", forbidden, got)
		}
	}

	pg := cfg.one(t, "modules/database", "resource", "aws_db_parameter_group", "this")
	forceSSL := false
	for _, p := range nested(pg.body, "parameter") {
		if text(pg.src, p.Body.Attributes["name"].Expr) == `"rds.force_ssl"` && text(pg.src, p.Body.Attributes["value"].Expr) == `"1"` {
			forceSSL = true
		}
	}
	if !forceSSL {
		t.Error("the parameter group does not set rds.force_ssl = 1: TLS is not required")
	}
	build := map[string]bool{}
	for _, p := range nested(pg.body, "parameter") {
		build[strings.Trim(text(pg.src, p.Body.Attributes["name"].Expr), `"`)] = true
	}
	for _, name := range []string{"maintenance_work_mem", "max_parallel_maintenance_workers"} {
		if !build[name] {
			t.Errorf("the parameter group does not size search index builds: %s is not set", name)
		}
	}
	if !build["autovacuum_naptime"] {
		t.Error("the parameter group leaves autovacuum_naptime at a minute: status and the queue slow down during a bootstrap")
	}

	major := strings.Trim(cfg.one(t, ".", "variable", "db_engine_version").attr("default"), `"`)
	if v := strings.Split(major, ".")[0]; v < "15" || len(v) != 2 {
		t.Errorf("default PostgreSQL %s: RDS ships pgvector with 15 and later", major)
	}
	if got := cfg.one(t, ".", "variable", "deletion_protection").attr("default"); got != "true" {
		t.Errorf("deletion_protection defaults to %s, want true", got)
	}
	if got := cfg.one(t, ".", "variable", "db_backup_retention_days").attr("default"); got == "0" || got == "" {
		t.Errorf("automated backups default to %q days", got)
	}
}

// grant is one Allow statement: its sorted actions and its resources as written.
type grant struct {
	actions   string
	resources string
}

// iamProblems lists every grant beyond what each role needs: pelican may only send to the job
// queues (the live and the backfill lane); emu may only consume from them and read the depth of
// them and of their dead-letter queues; the ops task (refarch aws run) may read the depths and
// move dead letters back to their job queues; nothing else may touch SQS or use wildcards.
func iamProblems(cfg config) []string {
	const (
		jobs = "[var.queue_arn, var.backfill_queue_arn]"
		dead = "[var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]"
	)
	allowed := map[string][]grant{
		"serve_task":   {{"sqs:GetQueueAttributes", "[var.queue_arn, var.dead_letter_queue_arn, var.backfill_queue_arn, var.backfill_dead_letter_queue_arn]"}},
		"pelican_task": {{"sqs:SendMessage", jobs}},
		"emu_task": {
			{"sqs:ChangeMessageVisibility sqs:DeleteMessage sqs:GetQueueAttributes sqs:ReceiveMessage", jobs},
			{"sqs:GetQueueAttributes", dead},
		},
		"ops_task": {
			{"sqs:GetQueueAttributes sqs:SendMessage", jobs},
			{"sqs:DeleteMessage sqs:GetQueueAttributes sqs:ReceiveMessage", dead},
		},
	}
	// Documents that become role permissions; the others are resource policies (a KMS key policy
	// must give its account kms:*), where wildcards are judged by the resource they guard.
	rolePolicies := map[string]bool{}
	for _, rp := range cfg.find("resource", "aws_iam_role_policy") {
		rolePolicies[policyDocument(rp)] = true
	}
	var p []string
	seen := map[string]int{}
	for _, d := range cfg.find("data", "aws_iam_policy_document") {
		name := d.labels[1]
		for _, st := range nested(d.body, "statement") {
			effect := `"Allow"`
			if a, ok := st.Body.Attributes["effect"]; ok {
				effect = text(d.src, a.Expr)
			}
			a, ok := st.Body.Attributes["actions"]
			if !ok || effect != `"Allow"` {
				continue
			}
			actions := stringList(a.Expr)
			if actions == nil {
				p = append(p, fmt.Sprintf("%s: actions must be a constant list, is %s", d, text(d.src, a.Expr)))
				continue
			}
			sort.Strings(actions)
			usesSQS := false
			for _, act := range actions {
				if strings.Contains(act, "*") && rolePolicies[name] {
					p = append(p, fmt.Sprintf("%s allows the wildcard %s", d, act))
				}
				usesSQS = usesSQS || strings.HasPrefix(act, "sqs:")
			}
			if !usesSQS {
				continue
			}
			want, ok := allowed[name]
			if !ok {
				p = append(p, fmt.Sprintf("%s allows %v; only serve, pelican, emu and the ops task may use SQS", d, actions))
				continue
			}
			var resources string
			if r, ok := st.Body.Attributes["resources"]; ok {
				resources = text(d.src, r.Expr)
			}
			g := grant{strings.Join(actions, " "), resources}
			if !slices.Contains(want, g) {
				p = append(p, fmt.Sprintf("%s allows %v on %s, want exactly one of %v", d, actions, resources, want))
				continue
			}
			seen[name]++
		}
	}
	for name, want := range allowed {
		if seen[name] != len(want) {
			p = append(p, fmt.Sprintf("policy document %s has %d of its %d statements", name, seen[name], len(want)))
		}
	}
	// Which document reaches which task role.
	attach := map[string]string{
		"serve_task":   `aws_iam_role.task["serve"].id`,
		"pelican_task": `aws_iam_role.task["pelican"].id`,
		"emu_task":     `aws_iam_role.task["emu"].id`,
		"ops_task":     `aws_iam_role.ops_task.id`,
	}
	for _, rp := range cfg.find("resource", "aws_iam_role_policy") {
		role := rp.attr("role")
		if !strings.HasPrefix(role, "aws_iam_role.task") && role != "aws_iam_role.ops_task.id" {
			continue
		}
		doc := policyDocument(rp)
		if attach[doc] != role {
			p = append(p, fmt.Sprintf("%s attaches %s to %s", rp, doc, role))
		}
	}
	for _, att := range cfg.find("resource", "aws_iam_role_policy_attachment") {
		if r := att.attr("role"); strings.HasPrefix(r, "aws_iam_role.task") || strings.HasPrefix(r, "aws_iam_role.ops_task") {
			p = append(p, fmt.Sprintf("%s attaches a managed policy to a task role", att))
		}
	}
	return p
}

// policyDocument names the aws_iam_policy_document a role policy uses, without the key of a
// per-role document (execution_secrets[each.key] is execution_secrets).
func policyDocument(rp block) string {
	doc := strings.TrimSuffix(strings.TrimPrefix(rp.attr("policy"), "data.aws_iam_policy_document."), ".json")
	doc, _, _ = strings.Cut(doc, "[")
	return doc
}

func TestTaskRolesHaveLeastPrivilege(t *testing.T) {
	t.Parallel()
	for _, problem := range iamProblems(root(t)) {
		t.Error(problem)
	}
}

func TestIAMChecksCatchMistakes(t *testing.T) {
	t.Parallel()
	const good = `
data "aws_iam_policy_document" "serve_task" {
  statement {
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn, var.dead_letter_queue_arn, var.backfill_queue_arn, var.backfill_dead_letter_queue_arn]
  }
}
data "aws_iam_policy_document" "pelican_task" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }
}
data "aws_iam_policy_document" "emu_task" {
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }
  statement {
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]
  }
}
data "aws_iam_policy_document" "ops_task" {
  statement {
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn, var.backfill_queue_arn]
  }
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]
  }
}
resource "aws_iam_role_policy" "pelican_task" {
  role   = aws_iam_role.task["pelican"].id
  policy = data.aws_iam_policy_document.pelican_task.json
}
`
	if got := iamProblems(parseSnippet(t, good)); len(got) != 0 {
		t.Fatalf("a least-privilege snippet has problems: %v", got)
	}
	tests := []struct {
		name, extra, want string
	}{
		{"serve consumes the queue", `
data "aws_iam_policy_document" "serve_task" {
  statement {
    actions   = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    resources = [var.queue_arn, var.dead_letter_queue_arn]
  }
}`, "serve_task allows [sqs:GetQueueAttributes sqs:ReceiveMessage]"},
		{"the status page reads the queue from another role", `
data "aws_iam_policy_document" "status" {
  statement {
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }
}`, "only serve, pelican, emu and the ops task may use SQS"},
		{"wildcard", `
data "aws_iam_policy_document" "other" {
  statement {
    actions   = ["s3:*"]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "other" {
  role   = aws_iam_role.execution["serve"].id
  policy = data.aws_iam_policy_document.other.json
}`, "wildcard s3:*"},
		{"wildcard in a per-role document", `
data "aws_iam_policy_document" "per_role" {
  for_each = local.roles
  statement {
    actions   = ["secretsmanager:*"]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "per_role" {
  for_each = local.roles
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.per_role[each.key].json
}`, "wildcard secretsmanager:*"},
		{"pelican policy on serve", `
resource "aws_iam_role_policy" "oops" {
  role   = aws_iam_role.task["serve"].id
  policy = data.aws_iam_policy_document.pelican_task.json
}`, "attaches pelican_task"},
		{"managed policy on a task role", `
resource "aws_iam_role_policy_attachment" "oops" {
  role       = aws_iam_role.task["emu"].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
}`, "managed policy to a task role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(iamProblems(parseSnippet(t, good+tt.extra)), "\n")
			if !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want one containing %q", got, tt.want)
			}
		})
	}
	t.Run("emu sends", func(t *testing.T) {
		t.Parallel()
		bad := strings.Replace(good, `"sqs:GetQueueAttributes"]`, `"sqs:GetQueueAttributes", "sqs:SendMessage"]`, 1)
		if got := strings.Join(iamProblems(parseSnippet(t, bad)), "\n"); !strings.Contains(got, "want exactly one of") {
			t.Errorf("problems %q, want emu's extra action reported", got)
		}
	})
	t.Run("emu receives from the dead-letter queue", func(t *testing.T) {
		t.Parallel()
		bad := strings.Replace(good, `actions   = ["sqs:GetQueueAttributes"]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]`, `actions   = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    resources = [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn]`, 1)
		if got := strings.Join(iamProblems(parseSnippet(t, bad)), "\n"); !strings.Contains(got, "ReceiveMessage] on [var.dead_letter_queue_arn, var.backfill_dead_letter_queue_arn], want exactly one of") {
			t.Errorf("problems %q, want the dead-letter receive reported", got)
		}
	})
	t.Run("pelican sends anywhere", func(t *testing.T) {
		t.Parallel()
		bad := strings.Replace(good, `actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn, var.backfill_queue_arn]`, `actions   = ["sqs:SendMessage"]
    resources = [var.queue_arn, var.backfill_queue_arn, var.dead_letter_queue_arn]`, 1)
		if got := strings.Join(iamProblems(parseSnippet(t, bad)), "\n"); !strings.Contains(got, "pelican_task allows [sqs:SendMessage] on [var.queue_arn, var.backfill_queue_arn, var.dead_letter_queue_arn]") {
			t.Errorf("problems %q, want pelican's extra resource reported", got)
		}
	})
}

func TestQueueIsFIFOWithDeadLetterRedrive(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	jobs := cfg.one(t, "modules/queue", "resource", "aws_sqs_queue", "jobs")
	dlq := cfg.one(t, "modules/queue", "resource", "aws_sqs_queue", "dead_letter")
	for _, q := range []block{jobs, dlq} {
		if q.attr("fifo_queue") != "true" {
			t.Errorf("%s is not FIFO", q)
		}
		if q.attr("sqs_managed_sse_enabled") != "true" && q.attr("kms_master_key_id") == "" {
			t.Errorf("%s is not encrypted", q)
		}
		if !strings.HasSuffix(q.attr("name"), `.fifo"`) {
			t.Errorf("%s name %s lacks .fifo", q, q.attr("name"))
		}
	}
	policy := jsonencodeArg(jobs.body.Attributes["redrive_policy"].Expr)
	if policy == nil {
		t.Fatal("the job queue has no jsonencode'd redrive_policy")
	}
	if target := field(policy, "deadLetterTargetArn"); target == nil || text(jobs.src, target) != "aws_sqs_queue.dead_letter.arn" {
		t.Error("the job queue does not redrive to the dead-letter queue")
	}
	if n := field(policy, "maxReceiveCount"); n == nil || text(jobs.src, n) != "var.max_receive_count" {
		t.Error("maxReceiveCount is not the module's max_receive_count")
	}
	allow := cfg.one(t, "modules/queue", "resource", "aws_sqs_queue_redrive_allow_policy", "dead_letter")
	if !strings.Contains(allow.attr("redrive_allow_policy"), "aws_sqs_queue.jobs.arn") {
		t.Error("the dead-letter queue accepts messages from queues other than the job queue")
	}
	// The roles must dead-letter at the same count the queue does.
	svc := cfg.one(t, ".", "module", "services")
	q := cfg.one(t, ".", "module", "queue")
	if svc.attr("queue_max_receive_count") != q.attr("max_receive_count") {
		t.Errorf("services see max receives %s, the queue uses %s", svc.attr("queue_max_receive_count"), q.attr("max_receive_count"))
	}
}

func TestEmuScalesOnBacklogPerTask(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	pol := cfg.one(t, "modules/autoscaling", "resource", "aws_appautoscaling_policy", "emu_backlog_per_task")
	if got := pol.attr("resource_id"); !strings.Contains(got, `["emu"]`) {
		t.Errorf("backlog policy scales %s, want emu", got)
	}
	// Both lanes' backlogs (the job queue and the backfill queue) count.
	var visible []string
	var tasks, expr string
	for _, m := range nested(pol.body, "metrics") {
		id := strings.Trim(text(pol.src, m.Body.Attributes["id"].Expr), `"`)
		if e, ok := m.Body.Attributes["expression"]; ok {
			if rd, ok := m.Body.Attributes["return_data"]; ok && text(pol.src, rd.Expr) == "true" {
				expr = text(pol.src, e.Expr)
			}
			continue
		}
		for _, metric := range nested(m.Body, "metric") {
			switch text(pol.src, metric.Body.Attributes["metric_name"].Expr) {
			case `"ApproximateNumberOfMessagesVisible"`:
				visible = append(visible, id)
			case `"RunningTaskCount"`:
				tasks = id
			}
		}
	}
	if len(visible) != 2 || tasks == "" {
		t.Fatalf("metric math lacks both queues' visible messages (%q) or emu's running tasks (%q)", visible, tasks)
	}
	if sum := "(" + strings.Join(visible, " + ") + ") / " + tasks; !strings.Contains(expr, sum) {
		t.Errorf("returned expression %s does not divide %s", expr, sum)
	}

	scaling := cfg.one(t, ".", "module", "autoscaling")
	if scaling.attr("emu_min_tasks") != "var.roles.emu.count" || scaling.attr("emu_max_tasks") != "var.emu_max_tasks" {
		t.Errorf("emu scales between %s and %s", scaling.attr("emu_min_tasks"), scaling.attr("emu_max_tasks"))
	}
	roles := cfg.one(t, ".", "variable", "roles").attr("default")
	if !strings.Contains(roles, "emu = { cpu = 1024, memory = 2048, count = 2 }") {
		t.Errorf("emu does not start at 2 tasks by default: %s", roles)
	}
	if !strings.Contains(roles, "pelican = { cpu = 256, memory = 512, count = 1 }") {
		t.Errorf("pelican does not run 1 task by default: %s", roles)
	}
	// docs/deploy.md derives 12 from the bootstrap-time model.
	if got := cfg.one(t, ".", "variable", "emu_max_tasks").attr("default"); got != "12" {
		t.Errorf("emu_max_tasks defaults to %s, want 12", got)
	}
	pelicanMin := cfg.one(t, "modules/autoscaling", "variable", "pelican_min_tasks")
	floor := false
	for _, v := range nested(pelicanMin.body, "validation") {
		floor = floor || text(pelicanMin.src, v.Body.Attributes["condition"].Expr) == "var.pelican_min_tasks >= 1"
	}
	if !floor {
		t.Error("nothing stops pelican from scaling to zero: want a validation var.pelican_min_tasks >= 1")
	}
}

func TestThreeServicesFromOneImage(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	if got := cfg.one(t, ".", "module", "services").attr("image"); got != "local.image" {
		t.Errorf("services get image %s, want the one local.image", got)
	}
	var roles []string
	for _, l := range cfg.find("locals") {
		if a, ok := l.body.Attributes["roles"]; ok && l.module == "modules/services" {
			roles = objectKeys(a.Expr)
			for _, role := range roles {
				if v := text(l.src, field(a.Expr, role)); !strings.HasPrefix(v, "merge(var.roles."+role+",") {
					t.Errorf("local.roles.%s = %s, want it built from var.roles.%s", role, v, role)
				}
			}
		}
	}
	sort.Strings(roles)
	if !slices.Equal(roles, []string{"emu", "pelican", "serve"}) {
		t.Errorf("services are %v, want serve, pelican and emu", roles)
	}

	td := cfg.one(t, "modules/services", "resource", "aws_ecs_task_definition", "role")
	svc := cfg.one(t, "modules/services", "resource", "aws_ecs_service", "role")
	for _, b := range []block{td, svc} {
		if b.attr("for_each") != "local.roles" {
			t.Errorf("%s for_each = %s, want local.roles", b, b.attr("for_each"))
		}
	}
	containers := jsonencodeArg(td.body.Attributes["container_definitions"].Expr)
	if containers == nil {
		t.Fatal("container_definitions is not jsonencode([...])")
	}
	list, ok := containers.(*hclsyntax.TupleConsExpr)
	if !ok || len(list.Exprs) != 2 {
		t.Fatal("container_definitions is not a list of two containers (migrate, then the role)")
	}
	commands := map[string]string{}
	for _, c := range list.Exprs {
		name := text(td.src, field(c, "name"))
		if img := field(c, "image"); img == nil || text(td.src, img) != "var.image" {
			t.Errorf("container %s does not run var.image", name)
		}
		commands[name] = text(td.src, field(c, "command"))
		if ro := field(c, "readonlyRootFilesystem"); ro == nil || text(td.src, ro) != "true" {
			t.Errorf("container %s has a writable root filesystem", name)
		}
		if name == "each.key" {
			if hc := field(c, "healthCheck"); hc == nil || text(td.src, hc) != "local.http_health_check" {
				t.Error("the role container (serve, pelican and emu alike) has no healthCheck")
			}
			if dep := field(c, "dependsOn"); dep == nil || !strings.Contains(text(td.src, dep), `containerName = "migrate", condition = "SUCCESS"`) {
				t.Error("the role container does not wait for migrate to succeed")
			}
			if secrets := field(c, "secrets"); secrets == nil || text(td.src, secrets) != "each.value.secrets" {
				t.Error("the role container does not receive its secrets from Secrets Manager")
			}
		}
	}
	if commands[`"migrate"`] != `["migrate"]` || commands["each.key"] != "[each.key]" {
		t.Errorf("container commands %v: want migrate, then the role's own subcommand", commands)
	}
}

func TestLoadBalancerServesHTTPSAndRedirectsHTTP(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	https := cfg.one(t, "modules/loadbalancer", "resource", "aws_lb_listener", "https")
	for attr, want := range map[string]string{
		"port": "443", "protocol": `"HTTPS"`, "certificate_arn": "var.certificate_arn", "ssl_policy": "var.ssl_policy",
	} {
		if got := https.attr(attr); got != want {
			t.Errorf("HTTPS listener %s = %s, want %s", attr, got, want)
		}
	}
	if got := cfg.one(t, ".", "variable", "ssl_policy").attr("default"); !strings.Contains(got, "TLS13") {
		t.Errorf("default TLS policy %s does not offer TLS 1.3", got)
	}
	http := cfg.one(t, "modules/loadbalancer", "resource", "aws_lb_listener", "http_redirect")
	if http.attr("port") != "80" {
		t.Errorf("redirect listener on port %s", http.attr("port"))
	}
	redirects := nested(http.body, "redirect")
	if len(redirects) != 1 {
		t.Fatal("the HTTP listener does not redirect")
	}
	r := redirects[0].Body.Attributes
	if text(http.src, r["protocol"].Expr) != `"HTTPS"` || text(http.src, r["status_code"].Expr) != `"HTTP_301"` {
		t.Error("HTTP is not permanently redirected to HTTPS")
	}
	if got := cfg.one(t, ".", "module", "loadbalancer").attr("health_check_path"); got != `"/readyz"` {
		t.Errorf("target group health check path %s, want /readyz", got)
	}
	tg := cfg.one(t, "modules/loadbalancer", "resource", "aws_lb_target_group", "serve")
	if hc := nested(tg.body, "health_check"); len(hc) != 1 || text(tg.src, hc[0].Body.Attributes["path"].Expr) != "var.health_check_path" {
		t.Error("the target group does not check var.health_check_path")
	}
}

// TestBackfillLaneHasItsOwnQueue: the backfill lane (catch-up, repairs) is a second FIFO queue with
// its own dead-letter queue, made by the same module, and reaches every task as
// REFARCH_SQS_BACKFILL_QUEUE_URL and REFARCH_SQS_BACKFILL_DLQ_URL.
func TestBackfillLaneHasItsOwnQueue(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	live, backfill := cfg.one(t, ".", "module", "queue"), cfg.one(t, ".", "module", "backfill_queue")
	if backfill.attr("source") != live.attr("source") || backfill.attr("name") == live.attr("name") {
		t.Errorf("backfill queue from %s named %s, want the queue module under a name of its own", backfill.attr("source"), backfill.attr("name"))
	}
	if backfill.attr("max_receive_count") != live.attr("max_receive_count") {
		t.Errorf("backfill dead-letters after %s receives, the roles count %s", backfill.attr("max_receive_count"), live.attr("max_receive_count"))
	}
	svc := cfg.one(t, ".", "module", "services")
	for arg, want := range map[string]string{
		"backfill_queue_url":             "module.backfill_queue.queue_url",
		"backfill_dead_letter_queue_url": "module.backfill_queue.dead_letter_queue_url",
	} {
		if got := svc.attr(arg); got != want {
			t.Errorf("services %s = %s, want %s", arg, got, want)
		}
	}
	env := strings.Join(strings.Fields(cfg.one(t, "modules/services", "locals").attr("environment")), " ")
	for _, want := range []string{"REFARCH_SQS_BACKFILL_QUEUE_URL = var.backfill_queue_url", "REFARCH_SQS_BACKFILL_DLQ_URL = var.backfill_dead_letter_queue_url"} {
		if !strings.Contains(env, want) {
			t.Errorf("the tasks' environment lacks %q", want)
		}
	}
}

func TestAlarmsCoverLagDeadLettersErrorsAndDatabase(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	found := map[string]bool{}
	for _, a := range cfg.find("resource", "aws_cloudwatch_metric_alarm") {
		if !strings.Contains(a.attr("alarm_actions"), "aws_sns_topic.alarms.arn") {
			t.Errorf("%s notifies nobody", a)
		}
		metric := a.attr("metric_name")
		switch {
		case metric == `"ApproximateNumberOfMessagesVisible"` && strings.Contains(a.attr("dimensions"), "dead_letter_queue_name"):
			if a.attr("threshold") != "0" || a.attr("comparison_operator") != `"GreaterThanThreshold"` {
				t.Errorf("dead-letter alarm fires at %s %s, want > 0", a.attr("comparison_operator"), a.attr("threshold"))
			}
			found["dead letters"] = true
			if strings.Contains(a.attr("dimensions"), "backfill_dead_letter_queue_name") {
				found["backfill dead letters"] = true
			}
		case metric == `"ApproximateAgeOfOldestMessage"` && strings.Contains(a.attr("dimensions"), "backfill_queue_name"):
			found["backfill age"] = true
		case metric == `"ApproximateAgeOfOldestMessage"`:
			found["oldest message age"] = true
		case metric == `"CPUUtilization"` && strings.Contains(a.attr("namespace"), "AWS/RDS"):
			found["database CPU"] = true
		case metric == "":
			for _, q := range nested(a.body, "metric") {
				if strings.Contains(text(a.src, q.Body.Attributes["metric_name"].Expr), "5XX") {
					found["5xx rate"] = true
				}
			}
		}
	}
	for _, want := range []string{"dead letters", "oldest message age", "backfill dead letters", "backfill age", "database CPU", "5xx rate"} {
		if !found[want] {
			t.Errorf("no alarm on %s", want)
		}
	}
	dash := cfg.one(t, "modules/observability", "locals")
	body := dash.attr("widgets")
	for _, metric := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "RunningTaskCount", "TargetResponseTime"} {
		if !strings.Contains(body, metric) {
			t.Errorf("the dashboard lacks %s", metric)
		}
	}
}

func TestPineconeIndexExistsBeforeAnyService(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	svc := cfg.one(t, ".", "module", "services")
	if got := svc.attr("depends_on"); !strings.Contains(got, "module.pinecone_index") {
		t.Errorf("services depends_on = %q, want module.pinecone_index", got)
	}
	if got := svc.attr("pinecone_index"); !strings.Contains(got, "module.pinecone_index") {
		t.Errorf("services take the index name from %q, want the index module's output", got)
	}
	out := cfg.one(t, "modules/pinecone_index", "output", "name")
	if got := out.attr("value"); got != "pinecone_index.this.name" {
		t.Errorf("the index module's name output is %s, not the resource's attribute", got)
	}
	idx := cfg.one(t, "modules/pinecone_index", "resource", "pinecone_index", "this")
	if idx.attr("metric") != `"cosine"` || idx.attr("dimension") != "var.dimension" {
		t.Errorf("index metric %s dimension %s", idx.attr("metric"), idx.attr("dimension"))
	}
	if got := cfg.one(t, ".", "variable", "embedding_dimension").attr("default"); got != "512" {
		t.Errorf("embedding dimension defaults to %s; the built-in model has 512", got)
	}
}

func TestSecretsStayOutOfStateAndCode(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	for _, v := range cfg.find("resource", "aws_secretsmanager_secret_version") {
		if v.attr("secret_string") != "" || v.attr("secret_binary") != "" {
			t.Errorf("%s stores its value in state; use secret_string_wo", v)
		}
		if v.attr("secret_string_wo") == "" {
			t.Errorf("%s writes no value", v)
		}
	}
	for _, v := range cfg.find("variable") {
		name := v.labels[0]
		if strings.HasSuffix(name, "_arn") {
			continue // a reference to a secret, not a secret
		}
		if strings.Contains(name, "api_key") || strings.Contains(name, "password") || strings.Contains(name, "token") {
			if v.attr("sensitive") != "true" || v.attr("ephemeral") != "true" {
				t.Errorf("%s must be sensitive and ephemeral", v)
			}
		}
	}
	for _, l := range cfg.find("locals") {
		if a, ok := l.body.Attributes["environment"]; ok {
			env := text(l.src, a.Expr)
			for _, secret := range []string{"PASSWORD", "API_KEY", "TOKEN"} {
				if strings.Contains(env, secret) {
					t.Errorf("%s puts a %s in plain environment; inject it from Secrets Manager", l, secret)
				}
			}
		}
	}
}

func TestEveryVariableHasATypeAndDescription(t *testing.T) {
	t.Parallel()
	for _, v := range root(t).find("variable") {
		if v.attr("type") == "" || len(v.attr("description")) < 10 {
			t.Errorf("%s needs a type and a description", v)
		}
	}
	for _, o := range root(t).find("output") {
		if len(o.attr("description")) < 10 {
			t.Errorf("%s needs a description", o)
		}
	}
}
