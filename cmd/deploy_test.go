package cmd

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/refarch/refarch/deploy"
)

func TestDeployHelpExplainsTheFlow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		want []string
	}{
		{"deploy", []string{"terraform init", "terraform plan", `asks for "yes"`, "prints the service URL", "--plan", "--state-bucket", "REFARCH_PINECONE_API_KEY"}},
		{"destroy", []string{"deletion_protection=false", "--plan", "final snapshot"}},
	} {
		cmd := newDeployCmd()
		if c.name == "destroy" {
			cmd = newDestroyCmd()
		}
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--help"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%s --help: %v", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s --help lacks %q", c.name, w)
			}
		}
	}
}

func TestDeployFlagsEnvironmentAndSets(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AWS_REGION":               "eu-west-1",
		"REFARCH_CERTIFICATE_ARN":  "arn:aws:acm:eu-west-1:1:certificate/env",
		"REFARCH_STATE_BUCKET":     "state",
		"REFARCH_VECTOR_STORE":     "pgvector",
		"REFARCH_PINECONE_API_KEY": "secret-key",
	}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c deploy.Config)
		wantErr string
	}{
		{name: "environment fills the gaps", check: func(t *testing.T, c deploy.Config) {
			want := map[string]string{"region": "eu-west-1", "certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/env", "vector_store": "pgvector"}
			for k, v := range want {
				if c.Vars[k] != v {
					t.Errorf("var %s = %q, want %q", k, c.Vars[k], v)
				}
			}
			if c.Backend["bucket"] != "state" || c.Backend["key"] != "refarch/terraform.tfstate" || c.Backend["region"] != "eu-west-1" {
				t.Errorf("backend %v", c.Backend)
			}
			if c.PineconeAPIKey != "secret-key" {
				t.Errorf("the API key was not read from the environment")
			}
			for k, v := range c.Vars {
				if strings.Contains(v, "secret-key") {
					t.Errorf("the API key leaked into variable %s", k)
				}
			}
		}},
		{name: "flags beat the environment and --set beats flags",
			args: []string{"--region", "us-west-2", "--name", "demo", "--set", "vector_store=pinecone", "--set", "db_multi_az=true", "--set", "name=final", "--plan", "--yes"},
			check: func(t *testing.T, c deploy.Config) {
				if c.Vars["region"] != "us-west-2" || c.Vars["vector_store"] != "pinecone" || c.Vars["db_multi_az"] != "true" || c.Vars["name"] != "final" {
					t.Errorf("vars %v", c.Vars)
				}
				if c.Backend["key"] != "final/terraform.tfstate" || c.Backend["region"] != "us-west-2" {
					t.Errorf("backend %v", c.Backend)
				}
				if !c.PlanOnly || !c.AutoApprove {
					t.Errorf("--plan %v --yes %v", c.PlanOnly, c.AutoApprove)
				}
			}},
		{name: "a variable file names the deployment and so its state key",
			args: []string{"--var-file", "../terraform/env/dev.tfvars", "--plan-only", "--no-lock", "--plan-out", "p.tfplan", "--summary-out", "p.md"},
			env:  map[string]string{"AWS_REGION": ""},
			check: func(t *testing.T, c deploy.Config) {
				if c.Backend["key"] != "refarch-dev/terraform.tfstate" || c.Backend["region"] != "us-east-1" {
					t.Errorf("backend %v, want the dev profile's own state key", c.Backend)
				}
				if len(c.VarFiles) != 1 || !c.PlanOnly || !c.NoLock || c.PlanOut != "p.tfplan" || c.SummaryOut != "p.md" || c.RunOnce == nil {
					t.Errorf("config %+v", c)
				}
				if _, ok := c.Vars["name"]; ok {
					t.Errorf("the file's name became a -var, which would override the file: %v", c.Vars)
				}
			}},
		{name: "apply a saved plan", args: []string{"--apply-plan", "p.tfplan", "--yes"}, check: func(t *testing.T, c deploy.Config) {
			if c.ApplyPlan != "p.tfplan" || !c.AutoApprove {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "a saved plan takes no new settings", args: []string{"--apply-plan", "p.tfplan", "--set", "name=x"}, wantErr: "drop --set"},
		{name: "bad --set", args: []string{"--set", "novalue"}, wantErr: "want NAME=VALUE"},
		{name: "no state bucket", env: map[string]string{"REFARCH_STATE_BUCKET": ""}, wantErr: "no state bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f deployFlags
			cmd := newDeployCmd()
			cmd.ResetFlags()
			f.bind(cmd.Flags(), false)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			ge := getenv
			if tt.env != nil {
				ge = func(k string) string {
					if v, ok := tt.env[k]; ok {
						return v
					}
					return env[k]
				}
			}
			c, err := f.config(cmd, ge)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("config: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestDeployWithoutTerraformSaysSo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("REFARCH_VECTOR_STORE", "pgvector")
	cmd := newDeployCmd()
	cmd.SetArgs([]string{"--dir", "../terraform", "--state-bucket", "b", "--certificate-arn", "arn:aws:acm:us-east-1:1:certificate/x"})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	if !errors.Is(err, deploy.ErrTerraformNotFound) {
		t.Fatalf("deploy without terraform: %v, want ErrTerraformNotFound", err)
	}
}

// TestDeployUnderRoot runs deploy and destroy as subcommands of the real root, whose persistent
// flags (--vector-store, --embedder, ...) must not clash with theirs.
func TestDeployUnderRoot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("REFARCH_VECTOR_STORE", "pgvector")
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"deploy", "--help"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "--certificate-arn") {
		t.Fatalf("refarch deploy --help: %v\n%s", err, out.String())
	}
	root.SetArgs([]string{"destroy", "--dir", "../terraform", "--state-bucket", "b", "--plan"})
	if err := root.Execute(); !errors.Is(err, deploy.ErrTerraformNotFound) {
		t.Fatalf("refarch destroy --plan without terraform: %v", err)
	}
}

// TestDeployHonoursTheRootBackendFlags checks that the app's own --vector-store and --embedder,
// which every subcommand accepts, choose the backends in AWS too, ahead of their environment.
func TestDeployHonoursTheRootBackendFlags(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("REFARCH_VECTOR_STORE", "pgvector")
	t.Setenv("REFARCH_PINECONE_API_KEY", "")
	t.Setenv("PINECONE_API_KEY", "")
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"deploy", "--vector-store", "pinecone", "--dir", "../terraform", "--state-bucket", "b",
		"--certificate-arn", "arn:aws:acm:us-east-1:1:certificate/x"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "REFARCH_PINECONE_API_KEY is empty") {
		t.Fatalf("deploy --vector-store pinecone without a key: %v, want the missing key reported", err)
	}

	var f deployFlags
	cmd := newDeployCmd()
	cmd.ResetFlags()
	f.bind(cmd.Flags(), false)
	newRootCmd().AddCommand(cmd)
	if err := cmd.ParseFlags([]string{"--embedder", "ollama", "--state-bucket", "b"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.config(cmd, func(k string) string { return map[string]string{"REFARCH_EMBEDDER": "use"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Vars["embedder"] != "ollama" {
		t.Errorf("embedder %q, want the --embedder flag's ollama", c.Vars["embedder"])
	}
}
