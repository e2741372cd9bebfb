package terraform_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// servicesLocal returns the source text of one local of the services module.
func servicesLocal(t *testing.T, cfg config, name string) string {
	t.Helper()
	for _, l := range cfg.find("locals") {
		if l.module != "modules/services" {
			continue
		}
		if a, ok := l.body.Attributes[name]; ok {
			return text(l.src, a.Expr)
		}
	}
	t.Fatalf("no local.%s in modules/services", name)
	return ""
}

// roleFields returns the object that local.roles merges into var.roles.ROLE, and the source of
// its file.
func roleFields(t *testing.T, cfg config, role string) (hclsyntax.Expression, []byte) {
	t.Helper()
	for _, l := range cfg.find("locals") {
		a, ok := l.body.Attributes["roles"]
		if l.module != "modules/services" || !ok {
			continue
		}
		call, ok := field(a.Expr, role).(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "merge" || len(call.Args) != 2 {
			t.Fatalf("local.roles.%s is not merge(var.roles.%s, {...})", role, role)
		}
		return call.Args[1], l.src
	}
	t.Fatal("no local.roles in modules/services")
	return nil, nil
}

// fieldText is the source of a field of an object constructor, or "" when it is absent.
func fieldText(obj hclsyntax.Expression, src []byte, key string) string {
	e := field(obj, key)
	if e == nil {
		return ""
	}
	return text(src, e)
}

// TestDatabaseTLSIsVerified: every container verifies the database's certificate against the RDS
// CA bundle at the path where the Dockerfile puts it.
func TestDatabaseTLSIsVerified(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	env := servicesLocal(t, cfg, "environment")
	for _, want := range []string{`REFARCH_DB_SSLMODE = "verify-full"`, `REFARCH_DB_SSLROOTCERT = local.rds_ca_bundle`} {
		if !strings.Contains(env, want) {
			t.Errorf("the environment of every container lacks %s", want)
		}
	}
	bundle := strings.Trim(servicesLocal(t, cfg, "rds_ca_bundle"), `"`)
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^COPY --from=rdsca \S+ ` + regexp.QuoteMeta(bundle) + `$`).Match(dockerfile) {
		t.Errorf("the Dockerfile copies no RDS CA bundle to %s", bundle)
	}
	script, err := os.ReadFile("../scripts/rds-ca.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^sha256=[0-9a-f]{64}$`).Match(script) {
		t.Error("scripts/rds-ca.sh pins no SHA-256 of the bundle's package")
	}
}

// TestEachRoleIsItsOwnDatabaseUser: only migrate holds the master secret; every role logs in as
// the Postgres role the migrations create for it, with an IAM token its task role may sign for
// that user only.
func TestEachRoleIsItsOwnDatabaseUser(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	migration, err := os.ReadFile("../migrations/005_roles.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.one(t, "modules/database", "resource", "aws_db_instance", "this").attr("iam_database_authentication_enabled"); got != "true" {
		t.Errorf("IAM database authentication = %q, want true", got)
	}
	dbEnv := servicesLocal(t, cfg, "role_db_environment")
	for _, want := range []string{`REFARCH_DB_USER = "refarch_${role}"`, `REFARCH_DB_IAM_AUTH = "true"`} {
		if !strings.Contains(dbEnv, want) {
			t.Errorf("the roles' database settings lack %s", want)
		}
	}
	for _, role := range []string{"serve", "pelican", "emu"} {
		user := "refarch_" + role
		if !strings.Contains(string(migration), "'"+user+"'") {
			t.Errorf("the migrations create no Postgres role %s", user)
		}
		fields, src := roleFields(t, cfg, role)
		if secrets := fieldText(fields, src, "secrets"); strings.Contains(secrets, "db_secrets") {
			t.Errorf("%s receives the master database secret: %s", role, secrets)
		}
		env := field(fields, "environment")
		if env == nil || !slices.Contains(refs(env), "local.role_db_environment."+role) {
			t.Errorf("%s does not take its own database user (local.role_db_environment.%s)", role, role)
		}
		doc := cfg.one(t, "modules/services", "data", "aws_iam_policy_document", role+"_task")
		var connect []string
		for _, st := range nested(doc.body, "statement") {
			if slices.Contains(stringList(st.Body.Attributes["actions"].Expr), "rds-db:connect") {
				connect = append(connect, text(doc.src, st.Body.Attributes["resources"].Expr))
			}
		}
		if want := `["${local.db_user_arn}/` + user + `"]`; len(connect) != 1 || connect[0] != want {
			t.Errorf("%s may connect to the database as %v, want exactly %s", role, connect, want)
		}
	}
	td := cfg.one(t, "modules/services", "resource", "aws_ecs_task_definition", "role")
	if src := td.attr("container_definitions"); !strings.Contains(src, "secrets = local.db_secrets") {
		t.Error("the migrate container does not receive the master secret")
	}
}

// TestPelicanHoldsNoPineconeKey: pelican never touches vectors.
func TestPelicanHoldsNoPineconeKey(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	for role, wantKey := range map[string]bool{"serve": true, "pelican": false, "emu": true} {
		fields, _ := roleFields(t, cfg, role)
		secrets := field(fields, "secrets")
		if secrets == nil {
			t.Fatalf("%s has no secrets field", role)
		}
		if got := slices.Contains(refs(secrets), "local.pinecone_secrets"); got != wantKey {
			t.Errorf("%s holds the Pinecone key: %v, want %v", role, got, wantKey)
		}
	}
}

// TestServicePrincipalsAreScopedToTheAccount: the ECS task trust policy and the alarm key's
// CloudWatch grant name this account in aws:SourceAccount (or one of its resources in aws:SourceArn), so no other account's ECS or
// CloudWatch can act through them.
func TestServicePrincipalsAreScopedToTheAccount(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	for _, d := range cfg.find("data", "aws_iam_policy_document") {
		for _, st := range nested(d.body, "statement") {
			for _, p := range nested(st.Body, "principals") {
				if text(d.src, p.Body.Attributes["type"].Expr) != `"Service"` {
					continue
				}
				ok := false
				for _, c := range nested(st.Body, "condition") {
					// An exact source ARN of this account's own resource is narrower still.
					switch text(d.src, c.Body.Attributes["variable"].Expr) {
					case `"aws:SourceAccount"`:
						ok = ok || strings.Contains(text(d.src, c.Body.Attributes["values"].Expr), "account_id")
					case `"aws:SourceArn"`:
						ok = ok || strings.HasPrefix(text(d.src, c.Body.Attributes["values"].Expr), "[aws_")
					}
				}
				if !ok {
					t.Errorf("%s: a statement for %s has no aws:SourceAccount condition", d, text(d.src, p.Body.Attributes["identifiers"].Expr))
				}
			}
		}
	}
}

// TestPublicSurfaceIsLimited: rate limits are on by default and count the address the load
// balancer saw, /metrics is on the loopback only, access logs go to an encrypted private bucket,
// and a WAF is one variable away.
func TestPublicSurfaceIsLimited(t *testing.T) {
	t.Parallel()
	cfg := root(t)
	if v := cfg.one(t, ".", "variable", "rate_limit_per_second").attr("default"); v == "" || v == "0" {
		t.Errorf("rate limit defaults to %q, want on", v)
	}
	serveFields, src := roleFields(t, cfg, "serve")
	serveEnv := fieldText(serveFields, src, "environment")
	for _, want := range []string{"REFARCH_RATE_LIMIT", "REFARCH_RATE_BURST", `REFARCH_TRUST_FORWARDED_FOR = "true"`} {
		if !strings.Contains(serveEnv, want) {
			t.Errorf("serve's environment lacks %s", want)
		}
	}
	if got := servicesLocal(t, cfg, "metrics_addr"); !strings.HasPrefix(got, `"127.0.0.1:`) {
		t.Errorf("metrics listen on %s, want the loopback", got)
	}
	if env := servicesLocal(t, cfg, "role_db_environment"); !strings.Contains(env, "REFARCH_METRICS_ADDR = local.metrics_addr") {
		t.Error("the roles do not move /metrics off the public port")
	}

	lb := cfg.one(t, "modules/loadbalancer", "resource", "aws_lb", "this")
	logs := nested(lb.body, "access_logs")
	if len(logs) != 1 || text(lb.src, logs[0].Body.Attributes["enabled"].Expr) != "true" {
		t.Error("the load balancer writes no access logs")
	}
	sse := cfg.one(t, "modules/loadbalancer", "resource", "aws_s3_bucket_server_side_encryption_configuration", "access_logs")
	if algo := nested(sse.body, "apply_server_side_encryption_by_default"); len(algo) != 1 {
		t.Error("the access log bucket is not encrypted")
	}
	pab := cfg.one(t, "modules/loadbalancer", "resource", "aws_s3_bucket_public_access_block", "access_logs")
	for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if pab.attr(a) != "true" {
			t.Errorf("access log bucket: %s = %q", a, pab.attr(a))
		}
	}

	waf := cfg.one(t, ".", "module", "waf")
	if waf.attr("count") != "var.enable_waf ? 1 : 0" || cfg.one(t, ".", "variable", "enable_waf").attr("default") != "false" {
		t.Errorf("the WAF is not an option off by default: count = %s", waf.attr("count"))
	}
	acl := cfg.one(t, "modules/waf", "resource", "aws_wafv2_web_acl", "this")
	if len(nested(acl.body, "rate_based_statement")) != 1 || len(nested(acl.body, "managed_rule_group_statement")) == 0 {
		t.Error("the web ACL lacks its rate rule or the managed rule groups")
	}
	cfg.one(t, "modules/waf", "resource", "aws_wafv2_web_acl_association", "this")
}
