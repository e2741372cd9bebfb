package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	const cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
	digest := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name    string
		cfg     Config
		destroy bool
		want    []string // substrings of the error; none means valid
	}{
		{"pgvector needs no key", Config{Dir: "testdata/module", Vars: map[string]string{"certificate_arn": cert, "image_digest": digest}}, false, nil},
		{"pinecone with key", Config{Dir: "testdata/pinecone", PineconeAPIKey: "k", Vars: map[string]string{"certificate_arn": cert}}, false, nil},
		{"pinecone default without key", Config{Dir: "testdata/pinecone", Vars: map[string]string{"certificate_arn": cert}}, false,
			[]string{"REFARCH_PINECONE_API_KEY is empty"}},
		{"explicit pinecone without key", Config{Dir: "testdata/module", Vars: map[string]string{"certificate_arn": cert, "vector_store": "pinecone"}}, false,
			[]string{"REFARCH_PINECONE_API_KEY is empty"}},
		{"explicit pgvector overrides default", Config{Dir: "testdata/pinecone", Vars: map[string]string{"certificate_arn": cert, "vector_store": "pgvector"}}, false, nil},
		{"every problem at once", Config{Dir: "testdata/nowhere", Vars: map[string]string{"image_digest": "latest", "bad name": "x"}}, false,
			[]string{"no Terraform root module at testdata/nowhere", "no certificate", `image digest "latest"`, `"bad name" is not a Terraform variable name`}},
		{"destroy needs no certificate", Config{Dir: "testdata/module"}, true, nil},
		{"destroy still needs the pinecone key", Config{Dir: "testdata/pinecone"}, true, []string{"REFARCH_PINECONE_API_KEY"}},
		{"no dir", Config{}, true, []string{"no Terraform directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate(tt.destroy)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMissingTerraformIsReported(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := New(context.Background(), Config{Dir: "testdata/module"})
	if !errors.Is(err, ErrTerraformNotFound) || !strings.Contains(err.Error(), "docs/deploy.md") {
		t.Errorf("New without terraform on PATH: %v, want ErrTerraformNotFound with an install hint", err)
	}
	_, err = New(context.Background(), Config{Dir: "testdata/module", Terraform: filepath.Join(t.TempDir(), "terraform")})
	if !errors.Is(err, ErrTerraformNotFound) {
		t.Errorf("New with a missing --terraform: %v, want ErrTerraformNotFound", err)
	}
}

// isolateAWS points every AWS credential source at nothing.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never probe the instance metadata address
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		t.Setenv(k, "")
	}
}

func TestMissingAWSCredentialsAreReported(t *testing.T) {
	isolateAWS(t)
	err := CheckAWSCredentials(context.Background(), "us-east-1")
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Fatalf("CheckAWSCredentials without credentials: %v, want ErrNoCredentials with a hint", err)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	if err := CheckAWSCredentials(context.Background(), "us-east-1"); err != nil {
		t.Fatalf("CheckAWSCredentials with static keys: %v", err)
	}
}

// fakeClock advances one second per reading, so stamps are deterministic.
func fakeClock() (time.Time, func() time.Time) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	return start, func() time.Time {
		n++
		return start.Add(time.Duration(n) * time.Second)
	}
}

func TestProgressRendersTerraformJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string
		changes string
		errors  int
	}{
		{
			name: "plan",
			in: `{"@level":"info","@message":"Terraform 1.11.4","type":"version"}
{"@level":"info","@message":"module.queue.aws_sqs_queue.jobs: Plan to create","type":"planned_change","change":{"resource":{"addr":"module.queue.aws_sqs_queue.jobs"},"action":"create"}}
{"@level":"info","@message":"x: Plan to replace","type":"planned_change","change":{"resource":{"addr":"x"},"action":"replace"}}
{"@level":"info","@message":"y","type":"planned_change","change":{"resource":{"addr":"y"},"action":"noop"}}
{"@level":"info","@message":"Plan: 2 to add, 0 to change, 1 to destroy.","type":"change_summary","changes":{"add":2,"change":0,"remove":1,"operation":"plan"}}
`,
			want: []string{
				"    [ 0m01s]   + module.queue.aws_sqs_queue.jobs",
				"    [ 0m02s]   -/+ x",
				"    [ 0m03s] Plan: 2 to add, 0 to change, 1 to destroy.",
			},
			changes: "2 to add, 0 to change, 1 to destroy",
		},
		{
			name: "apply with an error and plain text",
			in: `{"@level":"info","@message":"aws_lb.this: Creating...","type":"apply_start"}
{"@level":"info","@message":"aws_lb.this: Still creating... [10s elapsed]","type":"apply_progress"}
not json at all
{"@level":"error","@message":"Error: bad","type":"diagnostic","diagnostic":{"severity":"error","summary":"creating ALB","detail":"AccessDenied:\n  not allowed","address":"aws_lb.this"}}
{"@level":"warn","@message":"Warning: w","type":"diagnostic","diagnostic":{"severity":"warning","summary":"deprecated"}}
{"broken json`,
			want: []string{
				"    [ 0m01s] aws_lb.this: Creating...",
				"    [ 0m02s] aws_lb.this: Still creating... [10s elapsed]",
				"    [ 0m03s] not json at all",
				"    [ 0m04s] error: aws_lb.this: creating ALB: AccessDenied: not allowed",
				"    [ 0m05s] warning: deprecated",
				`    [ 0m06s] {"broken json`,
			},
			changes: "changes unknown",
			errors:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			start, now := fakeClock()
			p := newProgress(&out, start, now)
			// Write in small pieces: lines arrive split across writes.
			for in := []byte(tt.in); len(in) > 0; {
				n := min(7, len(in))
				if _, err := p.Write(in[:n]); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			p.Flush()
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rendered\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if p.changes.String() != tt.changes {
				t.Errorf("changes %q, want %q", p.changes, tt.changes)
			}
			if len(p.errors) != tt.errors {
				t.Errorf("errors %q, want %d", p.errors, tt.errors)
			}
		})
	}
}

func FuzzProgress(f *testing.F) {
	f.Add([]byte(`{"@message":"a","type":"apply_start"}` + "\nplain\n"))
	f.Add([]byte(`{"type":"planned_change","change":null}` + "\n"))
	f.Add([]byte(`{"type":"diagnostic","diagnostic":{"severity":"error"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		start, now := fakeClock()
		p := newProgress(&out, start, now)
		if _, err := p.Write(in); err != nil {
			t.Fatal(err)
		}
		p.Flush()
		// Every non-empty line that is not a JSON object must come through verbatim.
		for _, line := range strings.Split(string(in), "\n") {
			line = strings.TrimRight(line, "\r")
			if strings.TrimSpace(line) == "" || json.Valid([]byte(line)) && strings.HasPrefix(line, "{") {
				continue
			}
			if !strings.Contains(out.String(), line) {
				t.Fatalf("line %q was dropped; output %q", line, out.String())
			}
		}
	})
}

// findTerraformForTest prefers terraform on PATH, then the one scripts/lint.sh builds.
func findTerraformForTest(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("terraform"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "terraform")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no terraform on PATH or in $(go env GOPATH)/bin: run scripts/lint.sh once to build it")
	return ""
}

// copyModule copies a test module into a fresh folder, so state and .terraform stay out of the tree.
func copyModule(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// stateResources counts the resources in a local state file (0 when there is none).
func stateResources(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	return len(st.Resources)
}

func TestDeployAndDestroyRunTerraform(t *testing.T) {
	tfPath := findTerraformForTest(t)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	dir := copyModule(t, "module")
	ctx := context.Background()

	runner := func(stdin string, planOnly, yes bool, vars map[string]string) (*Runner, *bytes.Buffer) {
		var out bytes.Buffer
		r, err := New(ctx, Config{
			Dir: dir, Terraform: tfPath, Vars: vars, PlanOnly: planOnly, AutoApprove: yes,
			Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		r.credentials = func(context.Context, string) error { return nil } // no AWS in this module
		r.minVersion = [2]int{1, 5}                                        // the module needs nothing newer
		return r, &out
	}
	vars := map[string]string{"name": "demo", "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"}

	r, out := runner("no\n", false, false, vars)
	if _, err := r.Deploy(ctx); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Deploy answered no: %v, want ErrCancelled\n%s", err, out)
	}
	if !strings.Contains(out.String(), "+ terraform_data.marker") || !strings.Contains(out.String(), "2 to add, 0 to change, 0 to destroy") {
		t.Errorf("the plan was not shown before the question:\n%s", out)
	}
	if n := stateResources(t, dir); n != 0 {
		t.Fatalf("a cancelled deploy left %d resources", n)
	}

	r, out = runner("yes\n", false, false, vars)
	r.cfg.Targets = []string{"terraform_data.other"}
	if _, err := r.Deploy(ctx); err != nil {
		t.Fatalf("targeted Deploy: %v\n%s", err, out)
	}
	if n := stateResources(t, dir); n != 1 || strings.Contains(out.String(), "+ terraform_data.marker") {
		t.Fatalf("a deploy targeting one resource left %d resources:\n%s", n, out)
	}

	r, out = runner("yes\n", false, false, vars)
	url, err := r.Deploy(ctx)
	if err != nil {
		t.Fatalf("Deploy: %v\n%s", err, out)
	}
	if url != "https://demo.example.test" || !strings.Contains(out.String(), "refarch is deployed: https://demo.example.test") {
		t.Errorf("Deploy returned %q; output:\n%s", url, out)
	}
	for _, want := range []string{"==> [", "variables: certificate_arn=arn:aws:acm:us-east-1:1:certificate/x name=demo", "terraform init", "terraform_data.marker: Creation complete", "done: 1 to add"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if n := stateResources(t, dir); n != 2 {
		t.Fatalf("state holds %d resources after deploy, want 2", n)
	}

	r, out = runner("", true, false, vars)
	if _, err := r.Deploy(ctx); err != nil || !strings.Contains(out.String(), "no changes") {
		t.Errorf("a second plan: %v, want no changes\n%s", err, out)
	}

	changed := map[string]string{"name": "other", "certificate_arn": vars["certificate_arn"]}
	r, out = runner("", true, false, changed)
	if url, err := r.Deploy(ctx); err != nil || url != "" || !strings.Contains(out.String(), "plan only: 0 to add, 1 to change") {
		t.Errorf("a plan with a new name: %q, %v\n%s", url, err, out)
	}

	r, out = runner("", false, true, map[string]string{"name": "demo"})
	if err := r.Destroy(ctx); err != nil {
		t.Fatalf("Destroy: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "- terraform_data.marker") || !strings.Contains(out.String(), "0 to add, 0 to change, 2 to destroy") ||
		!strings.Contains(out.String(), "refarch is destroyed") {
		t.Errorf("destroy output:\n%s", out)
	}
	if n := stateResources(t, dir); n != 0 {
		t.Errorf("state holds %d resources after destroy", n)
	}
}

func TestFailedApplyReportsTheDiagnostic(t *testing.T) {
	tfPath := findTerraformForTest(t)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	dir := copyModule(t, "module")
	// A precondition that fails only at plan time with this name.
	if err := os.WriteFile(filepath.Join(dir, "check.tf"), []byte(`
resource "terraform_data" "guard" {
  lifecycle {
    precondition {
      condition     = var.name != "forbidden"
      error_message = "The name forbidden is reserved."
    }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := New(context.Background(), Config{
		Dir: dir, Terraform: tfPath, AutoApprove: true, Stdout: &out, Stderr: &out,
		Vars: map[string]string{"name": "forbidden", "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.credentials = func(context.Context, string) error { return nil }
	r.minVersion = [2]int{1, 5}
	_, err = r.Deploy(context.Background())
	if err == nil || !strings.Contains(err.Error(), "The name forbidden is reserved") {
		t.Fatalf("Deploy: %v, want the precondition's message\n%s", err, out.String())
	}
}

func TestDestroyRefusesProtectedResources(t *testing.T) {
	tfPath := findTerraformForTest(t)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	dir := copyModule(t, "module")
	// A state whose one resource claims deletion protection, as a deployed database would.
	state := `{"version":4,"terraform_version":"1.5.0","serial":1,"lineage":"6a1c1b9e-0000-4000-8000-000000000001","outputs":{},
"resources":[{"mode":"managed","type":"terraform_data","name":"marker","provider":"provider[\"terraform.io/builtin/terraform\"]",
"instances":[{"schema_version":0,"attributes":{"id":"x","input":null,"output":null,"triggers_replace":null,"deletion_protection":true}}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfstate"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := New(context.Background(), Config{Dir: dir, Terraform: tfPath, AutoApprove: true, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	r.credentials = func(context.Context, string) error { return nil }
	r.minVersion = [2]int{1, 5}
	err = r.Destroy(context.Background())
	if !errors.Is(err, ErrProtected) || !strings.Contains(err.Error(), "terraform_data.marker") {
		t.Fatalf("Destroy of a protected resource: %v, want ErrProtected naming it\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "terraform plan") {
		t.Errorf("destroy planned despite the protection:\n%s", out.String())
	}
	if n := stateResources(t, dir); n != 1 {
		t.Errorf("state holds %d resources, want the protected one untouched", n)
	}
}

// TestVarFilesSavedPlansAndTheDeployedImage runs the reviewed-plan flow with a real terraform:
// a plan-only run with settings from a variable file saves the plan and its summary and changes
// nothing; applying that file changes exactly what it showed; flags win over the file; and a
// deploy without an image keeps the one deployed.
func TestVarFilesSavedPlansAndTheDeployedImage(t *testing.T) {
	tfPath := findTerraformForTest(t)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	dir := copyModule(t, "module")
	work := t.TempDir()
	ctx := context.Background()
	varFile := filepath.Join(work, "prod.tfvars")
	if err := os.WriteFile(varFile, []byte("name            = \"fromfile\"\ncertificate_arn = \"arn:aws:acm:us-east-1:1:certificate/file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(cfg Config) (string, *bytes.Buffer, error) {
		t.Helper()
		var out bytes.Buffer
		cfg.Dir, cfg.Terraform, cfg.Stdout, cfg.Stderr, cfg.Stdin = dir, tfPath, &out, &out, strings.NewReader("")
		r, err := New(ctx, cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		r.credentials = func(context.Context, string) error { return nil }
		r.minVersion = [2]int{1, 5}
		url, err := r.Deploy(ctx)
		return url, &out, err
	}

	planFile, summary := filepath.Join(work, "refarch.tfplan"), filepath.Join(work, "summary.md")
	digest := "sha256:" + strings.Repeat("c", 64)
	_, out, err := run(Config{VarFiles: []string{varFile}, Vars: map[string]string{"image_digest": digest}, PlanOnly: true, PlanOut: planFile, SummaryOut: summary})
	if err != nil {
		t.Fatalf("plan-only with a variable file: %v\n%s", err, out)
	}
	if n := stateResources(t, dir); n != 0 {
		t.Fatalf("a plan-only deploy left %d resources", n)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no summary: %v", err)
	}
	for _, want := range []string{"2 to add, 0 to change, 0 to destroy", "+ terraform_data.marker", "+ terraform_data.other", "prod.tfvars"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}

	url, out, err := run(Config{ApplyPlan: planFile, AutoApprove: true})
	if err != nil {
		t.Fatalf("apply the saved plan: %v\n%s", err, out)
	}
	if url != "https://fromfile.example.test" || stateResources(t, dir) != 2 || !strings.Contains(out.String(), "saved plan") {
		t.Fatalf("applying the saved plan gave %q, %d resources:\n%s", url, stateResources(t, dir), out)
	}
	if _, out, err := run(Config{ApplyPlan: planFile, AutoApprove: true}); err == nil {
		t.Errorf("a saved plan applied twice, over a state it was not made from:\n%s", out)
	}

	// No image given: the deployed one is kept, so nothing changes.
	_, out, err = run(Config{VarFiles: []string{varFile}, PlanOnly: true})
	if err != nil || !strings.Contains(out.String(), "keeping the deployed image registry.example.test/refarch@"+digest) || !strings.Contains(out.String(), "no changes") {
		t.Errorf("a deploy without an image: %v, want the deployed image kept and no changes\n%s", err, out)
	}
	// A flag beats the file.
	_, out, err = run(Config{VarFiles: []string{varFile}, Vars: map[string]string{"name": "flag"}, PlanOnly: true})
	if err != nil || !strings.Contains(out.String(), "plan only: 0 to add, 1 to change") {
		t.Errorf("a name flag over the file: %v, want one change\n%s", err, out)
	}
	// A new digest replaces the image.
	_, out, err = run(Config{VarFiles: []string{varFile}, Vars: map[string]string{"image_digest": "sha256:" + strings.Repeat("d", 64)}, PlanOnly: true})
	if err != nil || strings.Contains(out.String(), "keeping the deployed image") || !strings.Contains(out.String(), "1 to change") {
		t.Errorf("a deploy with a new digest: %v\n%s", err, out)
	}
}

func TestValidateSavedPlanAndVarFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := filepath.Join(dir, "p.tfplan")
	if err := os.WriteFile(plan, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Config{Dir: "testdata/module", VarFiles: []string{filepath.Join(dir, "missing.tfvars")}, ApplyPlan: plan, PlanOnly: true, Targets: []string{"module.x"}}.Validate(false)
	for _, want := range []string{"missing.tfvars", "does not go with --plan-only", "drop --target"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
	// A certificate and store set in a variable file count.
	vf := filepath.Join(dir, "dev.tfvars")
	if err := os.WriteFile(vf, []byte("certificate_arn = \"arn:x\"\nvector_store = \"pgvector\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Config{Dir: "testdata/pinecone", VarFiles: []string{vf}}).Validate(false); err != nil {
		t.Errorf("Validate with settings from a file: %v", err)
	}
	if err := (Config{Dir: "testdata/module", ApplyPlan: plan}).Validate(false); err != nil {
		t.Errorf("Validate of a saved plan needs no certificate flag: %v", err)
	}
}

// TestDeploySeedsThroughAnOpsTask: after a full apply, deploy runs the module's seed_command,
// then its index_command, as ops tasks (refarch aws run); a targeted apply and a module without
// them run nothing.
func TestDeploySeedsThroughAnOpsTask(t *testing.T) {
	tfPath := findTerraformForTest(t)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	dir := copyModule(t, "module")
	ctx := context.Background()
	var ran [][]string
	deploy := func(vars map[string]string, targets []string, runOnce func(context.Context, []string) error) (*bytes.Buffer, error) {
		var out bytes.Buffer
		vars["certificate_arn"] = "arn:aws:acm:us-east-1:1:certificate/x"
		r, err := New(ctx, Config{Dir: dir, Terraform: tfPath, Vars: vars, Targets: targets, AutoApprove: true, Stdout: &out, Stderr: &out, RunOnce: runOnce})
		if err != nil {
			t.Fatal(err)
		}
		r.credentials = func(context.Context, string) error { return nil }
		r.minVersion = [2]int{1, 5}
		_, err = r.Deploy(ctx)
		return &out, err
	}
	record := func(_ context.Context, cmd []string) error { ran = append(ran, cmd); return nil }

	if out, err := deploy(map[string]string{"seed_catalog": "true"}, []string{"terraform_data.other"}, record); err != nil || len(ran) != 0 {
		t.Fatalf("targeted deploy: %v, ran %v\n%s", err, ran, out)
	}
	if out, err := deploy(map[string]string{"seed_catalog": "false"}, nil, record); err != nil || len(ran) != 0 {
		t.Fatalf("deploy without seeding: %v, ran %v\n%s", err, ran, out)
	}
	out, err := deploy(map[string]string{"seed_catalog": "true"}, nil, record)
	if err != nil || len(ran) != 2 || strings.Join(ran[0], " ") != "seed --if-empty" || !strings.Contains(out.String(), "seeding the catalog") {
		t.Fatalf("seeded deploy: %v, ran %v\n%s", err, ran, out)
	}
	// Then the model's index generation (a no-op unless the model changed).
	if strings.Join(ran[1], " ") != "index create --if-missing" || !strings.Contains(out.String(), "creating the index generation") {
		t.Fatalf("after seeding, deploy ran %v, want index create --if-missing\n%s", ran, out)
	}
	out, err = deploy(map[string]string{"seed_catalog": "true"}, nil, func(context.Context, []string) error { return errors.New("task exited with status 1") })
	if err == nil || !strings.Contains(err.Error(), "the deploy itself succeeded") || !strings.Contains(err.Error(), "refarch aws run -- seed --if-empty") {
		t.Errorf("a failed seed: %v, want the rerun command\n%s", err, out)
	}
	out, err = deploy(map[string]string{"seed_catalog": "true"}, nil, nil)
	if err != nil || !strings.Contains(out.String(), "seed the catalog with: refarch aws run -- seed --if-empty") {
		t.Errorf("without an ops runner: %v\n%s", err, out)
	}
}
