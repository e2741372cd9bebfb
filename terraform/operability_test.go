package terraform_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// defaultOf is the constant default of a root variable.
func defaultOf(t *testing.T, cfg config, name string) cty.Value {
	t.Helper()
	v := cfg.one(t, ".", "variable", name)
	a, ok := v.body.Attributes["default"]
	if !ok {
		t.Fatalf("variable %s has no default", name)
	}
	val, ok := literal(a.Expr)
	if !ok {
		t.Fatalf("variable %s: default is not a constant", name)
	}
	return val
}

// tfvars reads a variables file into constant values, failing on anything but constants.
func tfvars(t *testing.T, path string) map[string]cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags.Error())
	}
	out := map[string]cty.Value{}
	for name, a := range f.Body.(*hclsyntax.Body).Attributes {
		v, ok := literal(a.Expr)
		if !ok {
			t.Fatalf("%s: %s is not a constant", path, name)
		}
		out[name] = v
	}
	return out
}

// setting reads name from a variables file, or the variable's default when the file leaves it out.
func setting(t *testing.T, cfg config, vars map[string]cty.Value, name string) cty.Value {
	t.Helper()
	if v, ok := vars[name]; ok {
		return v
	}
	return defaultOf(t, cfg, name)
}

func roleCount(v cty.Value, role string) int {
	n, _ := v.GetAttr(role).GetAttr("count").AsBigFloat().Int64()
	return int(n)
}

func TestHighlyAvailableByDefault(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	if defaultOf(t, cfg, "db_multi_az").False() {
		t.Error("db_multi_az defaults to false; the database needs a standby in a second zone")
	}
	if defaultOf(t, cfg, "single_nat_gateway").True() {
		t.Error("single_nat_gateway defaults to true; each zone needs its own NAT gateway")
	}
	if n, _ := defaultOf(t, cfg, "az_count").AsBigFloat().Int64(); n < 2 {
		t.Errorf("az_count defaults to %d, want at least 2", n)
	}
	if n := roleCount(defaultOf(t, cfg, "roles"), "serve"); n < 2 {
		t.Errorf("serve runs %d tasks by default, want at least 2", n)
	}
	// The knobs reach the resources: one NAT gateway per zone unless single, Multi-AZ passed
	// through, and the services rebalanced across zones.
	if got := cfg.one(t, "modules/network", "locals").attr("nat_count"); got != "var.single_nat_gateway ? 1 : var.az_count" {
		t.Errorf("network nat_count = %s", got)
	}
	if got := cfg.one(t, ".", "module", "database").attr("multi_az"); got != "var.db_multi_az" {
		t.Errorf("database multi_az = %s", got)
	}
	if got := cfg.one(t, "modules/services", "resource", "aws_ecs_service", "role").attr("availability_zone_rebalancing"); got != `"ENABLED"` {
		t.Errorf("services availability_zone_rebalancing = %s, want ENABLED", got)
	}
}

func TestProfilesProdAndDev(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	declared := map[string]bool{}
	for _, v := range cfg.find("variable") {
		if v.module == "." {
			declared[v.labels[0]] = true
		}
	}
	prod, dev := tfvars(t, "env/prod.tfvars"), tfvars(t, "env/dev.tfvars")
	for file, vars := range map[string]map[string]cty.Value{"prod": prod, "dev": dev} {
		for name := range vars {
			if !declared[name] {
				t.Errorf("env/%s.tfvars sets %s, which terraform/variables.tf does not declare", file, name)
			}
		}
		if _, ok := vars["certificate_arn"]; ok {
			t.Errorf("env/%s.tfvars sets certificate_arn; it is account-specific and comes from the pipeline", file)
		}
	}
	if setting(t, cfg, prod, "db_multi_az").False() || setting(t, cfg, prod, "single_nat_gateway").True() || roleCount(setting(t, cfg, prod, "roles"), "serve") < 2 {
		t.Error("the prod profile is not highly available (Multi-AZ database, a NAT gateway per zone, two serve tasks)")
	}
	if setting(t, cfg, dev, "db_multi_az").True() || setting(t, cfg, dev, "single_nat_gateway").False() {
		t.Error("the dev profile keeps a database standby or a NAT gateway per zone")
	}
	for _, role := range []string{"serve", "pelican", "emu"} {
		if n := roleCount(setting(t, cfg, dev, "roles"), role); n != 1 {
			t.Errorf("the dev profile runs %d %s tasks, want 1", n, role)
		}
	}
	if n := setting(t, cfg, dev, "interface_endpoints").LengthInt(); n != 0 {
		t.Errorf("the dev profile pays for %d interface endpoints; its NAT gateway is cheaper", n)
	}
	if got := setting(t, cfg, dev, "db_instance_class").AsString(); got != "db.t4g.micro" {
		t.Errorf("the dev profile's database is %s, want the smallest, db.t4g.micro", got)
	}
	if setting(t, cfg, dev, "name").AsString() == setting(t, cfg, prod, "name").AsString() {
		t.Error("dev and prod share a name, and so a state key and every resource name")
	}
	for file, vars := range map[string]map[string]cty.Value{"prod": prod, "dev": dev} {
		if setting(t, cfg, vars, "seed_catalog").False() {
			t.Errorf("env/%s.tfvars does not seed the first deploy", file)
		}
	}
}

func TestOperabilityAlarms(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	found := map[string]block{}
	for _, a := range cfg.find("resource", "aws_cloudwatch_metric_alarm") {
		found[strings.Trim(a.attr("metric_name"), `"`)+" "+a.attr("comparison_operator")] = a
	}
	for _, c := range []struct{ metric, op, threshold, dimension string }{
		{"HealthyHostCount", "LessThanThreshold", "var.serve_min_healthy_hosts", "TargetGroup"},
		{"FreeStorageSpace", "LessThanThreshold", "var.db_free_storage_threshold_bytes", "DBInstanceIdentifier"},
		{"FreeableMemory", "LessThanThreshold", "var.db_freeable_memory_threshold_bytes", "DBInstanceIdentifier"},
		{"DatabaseConnections", "GreaterThanThreshold", "var.db_connections_threshold", "DBInstanceIdentifier"},
		{"RunningTaskCount", "GreaterThanOrEqualToThreshold", "var.emu_max_tasks", "var.service_names.emu"},
	} {
		a, ok := found[c.metric+` "`+c.op+`"`]
		if !ok {
			t.Errorf("no alarm on %s %s", c.metric, c.op)
			continue
		}
		if a.attr("threshold") != c.threshold || !strings.Contains(a.attr("dimensions"), c.dimension) {
			t.Errorf("%s: threshold %s dimensions %s, want %s on %s", a, a.attr("threshold"), a.attr("dimensions"), c.threshold, c.dimension)
		}
		if !strings.Contains(a.attr("alarm_actions"), "aws_sns_topic.alarms.arn") {
			t.Errorf("%s notifies nobody", a)
		}
	}
	obs := cfg.one(t, ".", "module", "observability")
	for attr, want := range map[string]string{"serve_min_healthy_hosts": "var.roles.serve.count", "emu_max_tasks": "var.emu_max_tasks"} {
		if got := obs.attr(attr); got != want {
			t.Errorf("observability %s = %s, want %s", attr, got, want)
		}
	}

	// A failed deployment (circuit breaker rollback) reaches the topic through EventBridge, which
	// the topic's policy and its key's policy must admit.
	rule := cfg.one(t, "modules/observability", "resource", "aws_cloudwatch_event_rule", "deployment_failed")
	pattern := rule.attr("event_pattern")
	for _, want := range []string{`["aws.ecs"]`, `["ECS Deployment State Change"]`, `eventName = ["SERVICE_DEPLOYMENT_FAILED"]`, "var.service_names"} {
		if !strings.Contains(pattern, want) {
			t.Errorf("deployment-failed rule pattern %s lacks %s", pattern, want)
		}
	}
	target := cfg.one(t, "modules/observability", "resource", "aws_cloudwatch_event_target", "deployment_failed")
	if target.attr("arn") != "aws_sns_topic.alarms.arn" || target.attr("rule") != "aws_cloudwatch_event_rule.deployment_failed.name" {
		t.Errorf("deployment-failed target %s on %s", target.attr("arn"), target.attr("rule"))
	}
	topicPolicy := cfg.one(t, "modules/observability", "data", "aws_iam_policy_document", "alarm_topic")
	key := cfg.one(t, "modules/observability", "data", "aws_iam_policy_document", "alarm_key")
	for _, doc := range []block{topicPolicy, key} {
		if !strings.Contains(string(doc.src[doc.body.Range().Start.Byte:doc.body.Range().End.Byte]), `"events.amazonaws.com"`) {
			t.Errorf("%s does not admit EventBridge", doc)
		}
	}
	if got := cfg.one(t, "modules/observability", "resource", "aws_sns_topic_policy", "alarms").attr("policy"); got != "data.aws_iam_policy_document.alarm_topic.json" {
		t.Errorf("topic policy = %s", got)
	}
}

func TestOpsTaskHasItsOwnRoleAndLogGroup(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	td := cfg.one(t, "modules/services", "resource", "aws_ecs_task_definition", "ops")
	for attr, want := range map[string]string{
		"family":             `"${var.name}-ops"`,
		"task_role_arn":      "aws_iam_role.ops_task.arn",
		"execution_role_arn": "aws_iam_role.ops_execution.arn",
		"network_mode":       `"awsvpc"`,
	} {
		if got := td.attr(attr); got != want {
			t.Errorf("ops task definition %s = %s, want %s", attr, got, want)
		}
	}
	containers := jsonencodeArg(td.body.Attributes["container_definitions"].Expr).(*hclsyntax.TupleConsExpr).Exprs
	if len(containers) != 1 {
		t.Fatalf("ops task has %d containers, want 1 (aws run overrides its command)", len(containers))
	}
	c := containers[0]
	if got := text(td.src, field(c, "image")); got != "var.image" {
		t.Errorf("ops image = %s, want the services' var.image", got)
	}
	logOpts := field(field(c, "logConfiguration"), "options")
	if got := text(td.src, field(logOpts, "awslogs-group")); got != "aws_cloudwatch_log_group.ops.name" {
		t.Errorf("ops logs go to %s, want its own group", got)
	}
	if got := text(td.src, field(c, "secrets")); strings.Contains(got, "admin") {
		t.Errorf("the ops task receives the admin token: %s", got)
	}
	for _, s := range cfg.find("resource", "aws_ecs_service") {
		if strings.Contains(s.attr("task_definition"), ".ops.") {
			t.Errorf("%s runs the ops task as a service; it runs only on demand", s)
		}
	}
	if got := cfg.one(t, "modules/services", "resource", "aws_iam_role_policy", "ops_task").attr("role"); got != "aws_iam_role.ops_task.id" {
		t.Errorf("ops task policy attaches to %s", got)
	}
	if got := cfg.one(t, "modules/services", "resource", "aws_iam_role_policy", "ops_execution_secrets").attr("role"); got != "aws_iam_role.ops_execution.id" {
		t.Errorf("ops secrets policy attaches to %s", got)
	}
	if got := cfg.one(t, "modules/services", "resource", "aws_cloudwatch_log_group", "ops").attr("name"); got != `"/ecs/${var.name}/ops"` {
		t.Errorf("ops log group %s", got)
	}
	// A first deploy seeds through the ops task, only into an empty catalog, and the ops role may
	// read the seed CSV's bucket.
	locals := cfg.one(t, ".", "locals")
	if got := locals.attr("seed_command"); strings.Count(got, `"--if-empty"`) != 2 || !strings.Contains(got, `["seed", "--if-empty"]`) || !strings.Contains(got, `"import", "--csv", var.seed_csv`) {
		t.Errorf("seed_command = %s, want seed or import, each with --if-empty", got)
	}
	if got := cfg.one(t, ".", "module", "services").attr("ops_import_bucket_arns"); !strings.Contains(got, "local.seed_bucket") {
		t.Errorf("ops_import_bucket_arns = %s, want the seed CSV's bucket included", got)
	}
	if got := cfg.one(t, ".", "output", "seed_command").attr("value"); got != "local.seed_command" {
		t.Errorf("seed_command output = %s", got)
	}
	// Every deploy creates the configured model's index generation unless a live one has it
	// (issue 13), promoting itself once complete only with auto_promote.
	if got := locals.attr("index_command"); !strings.Contains(got, `["index", "create", "--if-missing"]`) || !strings.Contains(got, `var.auto_promote ? ["--auto-promote"] : []`) {
		t.Errorf("index_command = %s, want index create --if-missing, with --auto-promote only when asked", got)
	}
	if got := cfg.one(t, ".", "output", "index_command").attr("value"); got != "local.index_command" {
		t.Errorf("index_command output = %s", got)
	}
	if got := cfg.one(t, ".", "variable", "auto_promote").attr("default"); got != "false" {
		t.Errorf("auto_promote defaults to %s, want false", got)
	}
	// aws run finds the task definition as NAME-ops; the output says so.
	if got := cfg.one(t, ".", "output", "ops_task_definition_family").attr("value"); got != "module.services.ops_task_definition_family" {
		t.Errorf("ops output = %s", got)
	}
}

func TestServicesMustRunThePlannedTaskDefinition(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	d := cfg.one(t, "modules/services", "data", "aws_ecs_service", "deployed")
	if got := d.attr("service_name"); got != "aws_ecs_service.role[each.key].name" {
		t.Errorf("the check reads %s, want each deployed service", got)
	}
	pcs := nested(d.body, "postcondition")
	if len(pcs) != 1 {
		t.Fatalf("want one postcondition on the deployed services, found %d", len(pcs))
	}
	if got := text(d.src, pcs[0].Body.Attributes["condition"].Expr); got != "self.task_definition == aws_ecs_task_definition.role[each.key].arn" {
		t.Errorf("postcondition %s", got)
	}
	if got := d.attr("for_each"); !strings.Contains(got, "var.wait_for_steady_state") || !strings.Contains(got, "local.roles") {
		t.Errorf("the check runs for %s, want every role when the apply waits for steady state", got)
	}
	svc := cfg.one(t, "modules/services", "resource", "aws_ecs_service", "role")
	cb := nested(svc.body, "deployment_circuit_breaker")
	if len(cb) != 1 || text(svc.src, cb[0].Body.Attributes["rollback"].Expr) != "true" {
		t.Error("the services do not roll a failed release back")
	}
}

func TestTasksReportTheImageDigest(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	env := cfg.one(t, "modules/services", "locals").attr("environment")
	if !strings.Contains(env, "REFARCH_IMAGE_DIGEST = var.image_digest") {
		t.Errorf("the tasks are not told their image digest: %s", env)
	}
	if got := cfg.one(t, ".", "module", "services").attr("image_digest"); got != "local.image_digest" {
		t.Errorf("services image_digest = %s", got)
	}
}

// The app's own figures reach CloudWatch as EMF lines and the dashboard shows them.
func TestDashboardShowsTheAppsFreshnessAndBacklog(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	if env := cfg.one(t, "modules/services", "locals").attr("environment"); !strings.Contains(env, `REFARCH_METRICS_EMF = "true"`) {
		t.Error("the tasks do not publish EMF metrics")
	}
	widgets := cfg.one(t, "modules/observability", "locals").attr("widgets")
	for _, m := range []string{`"refarch", "refarch_emu_freshness_seconds_avg"`, `"refarch", "refarch_queue_messages_visible"`, `"refarch", "refarch_pelican_catchup_chunks_remaining"`} {
		if !strings.Contains(widgets, m) {
			t.Errorf("the dashboard lacks %s", m)
		}
	}
}

// The workflows and the modules agree on the Terraform version: the release and plan workflows
// install the same one (and lint with it, since scripts/lint.sh prefers the terraform on PATH),
// inside required_version's bounds and at least refarch deploy's minimum. (A fresh Debian
// machine builds 1.7.5 for `terraform fmt` only: later versions cannot be built from the Go
// module proxy; see scripts/lint.sh.)
func TestTerraformVersionIsPinnedAndBounded(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	tf := cfg.one(t, ".", "terraform")
	req := tf.attr("required_version")
	m := regexp.MustCompile(`^">= (\d+)\.(\d+)(?:\.\d+)?, < (\d+)\.(\d+)(?:\.\d+)?"$`).FindStringSubmatch(req)
	if m == nil {
		t.Fatalf("required_version = %s, want a lower and an upper bound (\">= 1.11, < 2.0\")", req)
	}
	floor := m[1] + "." + m[2]
	read := func(path, pattern string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := regexp.MustCompile(pattern).FindSubmatch(b)
		if got == nil {
			t.Fatalf("%s: no match for %s", path, pattern)
		}
		return string(got[1])
	}
	release := read("../.github/workflows/release.yml", `TERRAFORM_VERSION: "([0-9.]+)"`)
	plan := read("../.github/workflows/plan.yml", `TERRAFORM_VERSION: "([0-9.]+)"`)
	if release != plan {
		t.Errorf("the release installs Terraform %s, the plan workflow %s", release, plan)
	}
	if !strings.HasPrefix(release, floor+".") || !strings.HasPrefix(release, m[1]+".") || m[3] != "2" {
		t.Errorf("the release uses Terraform %s; required_version is %s", release, req)
	}
	if b, err := os.ReadFile("../deploy/deploy.go"); err != nil || !strings.Contains(string(b), "const minMajor, minMinor = "+m[1]+", "+m[2]) {
		t.Errorf("refarch deploy's minimum Terraform does not match required_version's floor %s", floor)
	}
}
