package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Needs       any               `yaml:"needs"`
		Environment string            `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	b, err := os.ReadFile("../.github/workflows/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return w
}

func (w workflow) runs(job string) string {
	var all []string
	for _, s := range w.Jobs[job].Steps {
		all = append(all, s.Run)
	}
	return strings.Join(all, "\n")
}

// The release approves a plan that exists, and applies exactly it: the plan job (no approval)
// uploads the plan file; the apply job (the production environment's reviewers) downloads that
// artifact, applies it and checks the deployed digest answers.
func TestReleaseAppliesTheReviewedPlan(t *testing.T) {
	t.Parallel()
	w := readWorkflow(t, "release.yml")
	plan, apply := w.Jobs["plan"], w.Jobs["apply"]
	if plan.Environment != "" {
		t.Errorf("the plan job waits for approval (%s); the approval must be of its plan", plan.Environment)
	}
	if apply.Environment != "production" {
		t.Errorf("the apply job is not gated by the production environment")
	}
	if needs, _ := apply.Needs.([]any); len(needs) != 2 || needs[1] != "plan" {
		t.Errorf("apply needs %v, want [image plan]", apply.Needs)
	}
	pr := w.runs("plan")
	for _, want := range []string{"--plan-only", "--plan-out refarch.tfplan", "--summary-out plan.md", `--image-digest "$DIGEST"`, "--var-file terraform/env/prod.tfvars", "alarm_email="} {
		if !strings.Contains(pr, want) {
			t.Errorf("the plan job's deploy lacks %s", want)
		}
	}
	var uploaded, downloaded string
	for _, s := range plan.Steps {
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
			uploaded = s.With["name"] + ":" + s.With["path"]
		}
	}
	for _, s := range apply.Steps {
		if strings.HasPrefix(s.Uses, "actions/download-artifact@") {
			downloaded = s.With["name"]
		}
	}
	if !strings.HasPrefix(uploaded, "refarch-plan:") || !strings.Contains(uploaded, "refarch.tfplan") || downloaded != "refarch-plan" {
		t.Errorf("plan artifact uploaded %q, downloaded %q", uploaded, downloaded)
	}
	ar := w.runs("apply")
	if !strings.Contains(ar, "--apply-plan refarch.tfplan") || strings.Contains(ar, "--image-digest") || strings.Contains(ar, "--plan-only") {
		t.Errorf("the apply job does not apply exactly the saved plan:\n%s", ar)
	}
	if !strings.Contains(ar, `"$url/version" | jq -r .image_digest`) || !strings.Contains(ar, `"$got" != "$DIGEST"`) {
		t.Errorf("the smoke test does not compare the deployed digest:\n%s", ar)
	}
}

// Pull requests get a plan of what merging would change, from a read-only role, posted for review.
func TestPullRequestsGetAPlan(t *testing.T) {
	t.Parallel()
	w := readWorkflow(t, "plan.yml")
	if _, ok := w.On["pull_request"]; !ok {
		t.Fatal("plan.yml does not run on pull requests")
	}
	job := w.Jobs["plan"]
	if job.Permissions["id-token"] != "write" || job.Permissions["pull-requests"] != "write" || job.Permissions["contents"] != "read" {
		t.Errorf("plan job permissions %v", job.Permissions)
	}
	run := w.runs("plan")
	for _, want := range []string{"--plan-only", "--no-lock", "--summary-out plan.md", "--var-file terraform/env/prod.tfvars", "gh pr comment"} {
		if !strings.Contains(run, want) {
			t.Errorf("plan.yml lacks %s", want)
		}
	}
	if strings.Contains(run, "--image-digest") || strings.Contains(run, "--yes") {
		t.Error("the pull-request plan names an image or applies")
	}
	for _, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") && !strings.Contains(s.With["role-to-assume"], "AWS_PLAN_ROLE_ARN") {
			t.Errorf("the plan assumes %s, want the read-only plan role", s.With["role-to-assume"])
		}
	}
}

// Third-party actions are pinned to full commit SHAs.
func TestActionsArePinnedBySHA(t *testing.T) {
	t.Parallel()
	sha := regexp.MustCompile(`^[^@]+@[0-9a-f]{40}$`)
	for _, name := range []string{"release.yml", "plan.yml"} {
		for job, j := range readWorkflow(t, name).Jobs {
			for _, s := range j.Steps {
				if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") && !sha.MatchString(s.Uses) {
					t.Errorf("%s %s: %s is not pinned to a commit SHA", name, job, s.Uses)
				}
			}
		}
	}
}
