// Package deploy drives Terraform (through terraform-exec) to create, update and tear down the AWS
// deployment in terraform/: init against the remote state, plan into a saved plan file, show the
// plan while it streams, ask, apply exactly that plan, and print the service URL. It exists so
// that a laptop and the release pipeline run the same steps with the same checks, and so that a
// missing tool or credential fails in the first second with a message that says what to do.
package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Errors a caller may want to tell apart (the command line prints them with their hints).
var (
	ErrTerraformNotFound = errors.New("terraform not found")
	ErrTerraformTooOld   = errors.New("terraform too old")
	ErrNoCredentials     = errors.New("no AWS credentials")
	ErrCancelled         = errors.New("cancelled")
)

// The oldest Terraform the modules accept: 1.11 added the write-only arguments that keep secrets
// out of state.
const minMajor, minMinor = 1, 11

// Config is everything one deploy or destroy needs. Vars are Terraform input variables by their
// Terraform names (certificate_arn, image_digest, vector_store, ...); only the ones given are
// passed, so the module's defaults apply to the rest.
type Config struct {
	// Dir is the Terraform root module (the repository's terraform/ folder).
	Dir string
	// Terraform is the terraform executable; empty means the one on PATH.
	Terraform string
	// Vars are Terraform input variables.
	Vars map[string]string
	// PineconeAPIKey is passed as the ephemeral variable pinecone_api_key through a private
	// variables file, never on the command line, in the plan file or in state.
	PineconeAPIKey string
	// Backend holds -backend-config pairs (bucket, key, region); empty keeps local state, which
	// only suits modules without a backend block (tests, experiments).
	Backend map[string]string
	// Targets limit the plan to some resources or modules (the first deploy creates
	// module.registry alone, so that the image can be pushed before the services need it).
	Targets []string
	// VarFiles are Terraform variable files (terraform/env/prod.tfvars), read before Vars, so a
	// flag or --set still wins over the file for one run.
	VarFiles []string
	// PlanOnly stops after the plan.
	PlanOnly bool
	// PlanOut, when set, keeps the plan file there (a pipeline uploads it for the apply job).
	PlanOut string
	// SummaryOut, when set, receives the plan's summary as Markdown (a pipeline posts it for review).
	SummaryOut string
	// ApplyPlan applies exactly this saved plan file instead of planning again. The plan carries
	// its variables; Vars and VarFiles are then read only for the deployment's name and region
	// (its state key, credentials check and ops task), never passed to Terraform.
	ApplyPlan string
	// AutoApprove applies without asking (the release pipeline); otherwise the answer is read
	// from Stdin and only "yes" goes on.
	AutoApprove bool
	// NoLock plans without taking the state lock, for read-only credentials (a pull request's
	// plan); an apply always locks.
	NoLock bool
	// RunOnce runs a refarch command as a one-off ops task (refarch aws run); deploy calls it
	// after an apply with the seed_command output, so a first deploy loads its catalog, and with
	// the index_command output, so a deploy that changes the model creates its index generation.
	// Nil prints the commands instead.
	RunOnce func(ctx context.Context, command []string) error
	// Stdin, Stdout and Stderr default to the process's own.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// digestPattern is how an image digest looks; anything else is a typo or a tag.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Validate reports every problem with the configuration at once, before any process starts.
// destroy relaxes the checks that only matter when creating things.
func (c Config) Validate(destroy bool) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if c.Dir == "" {
		bad("no Terraform directory: pass --dir")
	} else if _, err := os.Stat(filepath.Join(c.Dir, "main.tf")); err != nil {
		bad("no Terraform root module at %s (run from a clone of refarch or pass --dir): %v", c.Dir, err)
	}
	if !destroy {
		if c.Vars["certificate_arn"] == "" && c.ApplyPlan == "" && !c.varFilesSet("certificate_arn") {
			bad("no certificate: pass --certificate-arn with an issued ACM certificate in the target region")
		}
		if d := c.Vars["image_digest"]; d != "" && !digestPattern.MatchString(d) {
			bad("image digest %q is not sha256:<64 hex digits>", d)
		}
	}
	store := c.Vars["vector_store"]
	if store == "" {
		store = c.varFileValue("vector_store")
	}
	if store == "" {
		store = c.defaultVectorStore()
	}
	if store == "pinecone" && c.PineconeAPIKey == "" {
		bad("the vector store is Pinecone but REFARCH_PINECONE_API_KEY is empty (or choose --set vector_store=pgvector)")
	}
	for _, f := range c.VarFiles {
		if _, err := os.Stat(f); err != nil {
			bad("variable file %s: %v", f, err)
		}
	}
	if c.ApplyPlan != "" {
		if _, err := os.Stat(c.ApplyPlan); err != nil {
			bad("plan file %s: %v", c.ApplyPlan, err)
		}
		if c.PlanOnly || c.PlanOut != "" {
			bad("--apply-plan applies a saved plan; it does not go with --plan-only or --plan-out")
		}
		if len(c.Targets) > 0 {
			bad("--apply-plan takes the targets the plan was made with; drop --target")
		}
	}
	if c.NoLock && !c.PlanOnly {
		bad("--no-lock is only for --plan-only: an apply always takes the state lock")
	}
	for k := range c.Vars {
		if !validName.MatchString(k) {
			bad("%q is not a Terraform variable name", k)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid deploy configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// varFilesSet reports whether a variable file assigns name (a top-level `name = ...` line).
func (c Config) varFilesSet(name string) bool {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=`)
	for _, f := range c.VarFiles {
		if b, err := os.ReadFile(f); err == nil && re.Match(b) {
			return true
		}
	}
	return false
}

// Setting is a variable's value for this run: a flag or --set, else what a variable file
// assigns; empty when neither does (the module's default applies).
func (c Config) Setting(name string) string {
	if v := c.Vars[name]; v != "" {
		return v
	}
	return c.varFileValue(name)
}

// varFileValue is the string a variable file assigns to name (`name = "value"`), the last file
// winning as in Terraform; empty when none does.
func (c Config) varFileValue(name string) string {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*"([^"]*)"`)
	var v string
	for _, f := range c.VarFiles {
		if b, err := os.ReadFile(f); err == nil {
			if m := re.FindSubmatch(b); m != nil {
				v = string(m[1])
			}
		}
	}
	return v
}

// defaultVectorStore reads the module's default for vector_store, so that the API key check
// follows the module rather than a copy of its default kept here.
func (c Config) defaultVectorStore() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "variables.tf"))
	if err != nil {
		return ""
	}
	m := defaultStorePattern.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

var defaultStorePattern = regexp.MustCompile(`(?s)variable "vector_store" \{.*?default\s*=\s*"([a-z]+)"`)

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Runner runs Terraform for one Config.
type Runner struct {
	cfg Config
	tf  *tfexec.Terraform
	// credentials checks that AWS credentials resolve; replaced in tests of modules without AWS.
	credentials func(ctx context.Context, region string) error
	minVersion  [2]int
	now         func() time.Time
}

// New finds Terraform, checks its version and prepares a Runner. It fails fast, with an
// install hint, when Terraform is missing or too old.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	r := &Runner{cfg: cfg, credentials: CheckAWSCredentials, minVersion: [2]int{minMajor, minMinor}, now: time.Now}
	path, err := findTerraform(cfg.Terraform)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve terraform directory %s: %w", cfg.Dir, err)
	}
	r.tf, err = tfexec.NewTerraform(dir, path)
	if err != nil {
		return nil, fmt.Errorf("prepare terraform in %s: %w", dir, err)
	}
	return r, nil
}

// findTerraform resolves the executable, or says how to get one.
func findTerraform(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w at %s: %w", ErrTerraformNotFound, explicit, err)
		}
		return explicit, nil
	}
	path, err := exec.LookPath("terraform")
	if err != nil {
		return "", fmt.Errorf("%w on PATH: install Terraform %d.%d or later (see docs/deploy.md) or pass --terraform",
			ErrTerraformNotFound, minMajor, minMinor)
	}
	return path, nil
}

// checkVersion refuses a Terraform older than the modules need, before it prints confusing
// errors about unknown arguments.
func (r *Runner) checkVersion(ctx context.Context) error {
	v, _, err := r.tf.Version(ctx, true)
	if err != nil {
		return fmt.Errorf("run terraform version: %w", err)
	}
	seg := v.Segments()
	if seg[0] < r.minVersion[0] || seg[0] == r.minVersion[0] && seg[1] < r.minVersion[1] {
		return fmt.Errorf("%w: found %s, need %d.%d or later (write-only secrets)", ErrTerraformTooOld, v, r.minVersion[0], r.minVersion[1])
	}
	return nil
}

// Deploy plans and, unless PlanOnly, applies; it returns the service URL (empty after a plan).
func (r *Runner) Deploy(ctx context.Context) (string, error) {
	if err := r.cfg.Validate(false); err != nil {
		return "", err
	}
	if err := r.run(ctx, false); err != nil {
		return "", err
	}
	if r.cfg.PlanOnly {
		return "", nil
	}
	outputs, err := r.tf.Output(ctx)
	if err != nil {
		return "", fmt.Errorf("read terraform outputs: %w", err)
	}
	var url string
	if o, ok := outputs["service_url"]; ok {
		if err := json.Unmarshal(o.Value, &url); err != nil {
			return "", fmt.Errorf("decode service_url output: %w", err)
		}
	}
	if err := r.seed(ctx, outputs); err != nil {
		return "", err
	}
	if url == "" {
		if len(r.cfg.Targets) > 0 {
			fmt.Fprintf(r.cfg.Stdout, "\napplied %s; run deploy without --target to create the rest\n", strings.Join(r.cfg.Targets, ", "))
			return "", nil
		}
		return "", errors.New("read terraform outputs: no service_url")
	}
	fmt.Fprintf(r.cfg.Stdout, "\nrefarch is deployed: %s\n", url)
	return url, nil
}

// seed runs the module's release commands as ops tasks after an apply of everything: the
// seed_command output (with --if-empty, it loads the catalog on the first deploy and does nothing
// once the catalog has rows), then the index_command output (with --if-missing, it creates an
// index generation of the configured model when the model changed, and does nothing otherwise).
func (r *Runner) seed(ctx context.Context, outputs map[string]tfexec.OutputMeta) error {
	if len(r.cfg.Targets) > 0 {
		return nil
	}
	for _, step := range []struct{ output, doing, what string }{
		{"seed_command", "seeding the catalog", "seed the catalog"},
		{"index_command", "creating the index generation of the configured model, if it is new", "create the index generation"},
	} {
		o, ok := outputs[step.output]
		if !ok {
			continue
		}
		var command []string
		if err := json.Unmarshal(o.Value, &command); err != nil {
			return fmt.Errorf("decode %s output: %w", step.output, err)
		}
		if len(command) == 0 {
			continue
		}
		if r.cfg.RunOnce == nil {
			fmt.Fprintf(r.cfg.Stdout, "\n%s with: refarch aws run -- %s\n", step.what, strings.Join(command, " "))
			continue
		}
		fmt.Fprintf(r.cfg.Stdout, "==> %s: refarch aws run -- %s\n", step.doing, strings.Join(command, " "))
		if err := r.cfg.RunOnce(ctx, command); err != nil {
			return fmt.Errorf("%s (the deploy itself succeeded; rerun `refarch aws run -- %s`): %w", step.what, strings.Join(command, " "), err)
		}
	}
	return nil
}

// Destroy plans the removal of everything and, unless PlanOnly, carries it out.
func (r *Runner) Destroy(ctx context.Context) error {
	if err := r.cfg.Validate(true); err != nil {
		return err
	}
	if _, ok := r.cfg.Vars["certificate_arn"]; !ok {
		// Destroying evaluates the configuration, so every required variable needs a value;
		// the certificate is only referenced by the listener being deleted, so any valid-looking
		// ARN does.
		vars := maps.Clone(r.cfg.Vars)
		if vars == nil {
			vars = map[string]string{}
		}
		vars["certificate_arn"] = "arn:aws:acm:us-east-1:000000000000:certificate/destroy"
		r.cfg.Vars = vars
	}
	if err := r.run(ctx, true); err != nil {
		return err
	}
	if !r.cfg.PlanOnly {
		fmt.Fprintln(r.cfg.Stdout, "\nrefarch is destroyed")
	}
	return nil
}

// run is the shared flow: checks, init, plan to a file, confirm, apply that file.
func (r *Runner) run(ctx context.Context, destroy bool) error {
	start := r.now()
	step := func(format string, args ...any) {
		fmt.Fprintf(r.cfg.Stdout, "==> [%s] %s\n", elapsed(r.now().Sub(start)), fmt.Sprintf(format, args...))
	}

	var settings []string
	for _, k := range slices.Sorted(maps.Keys(r.cfg.Vars)) {
		settings = append(settings, k+"="+r.cfg.Vars[k])
	}
	if len(settings) == 0 {
		settings = append(settings, "the module's defaults")
	}
	if len(r.cfg.VarFiles) > 0 {
		settings = append([]string{"files " + strings.Join(r.cfg.VarFiles, ", ") + ";"}, settings...)
	}
	step("variables: %s", strings.Join(settings, " "))
	step("checking terraform and credentials")
	if err := r.checkVersion(ctx); err != nil {
		return err
	}
	region := r.cfg.Setting("region")
	if err := r.credentials(ctx, region); err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "refarch-deploy-")
	if err != nil {
		return fmt.Errorf("create work folder: %w", err)
	}
	defer os.RemoveAll(work)

	step("terraform init")
	initOut := indented(r.cfg.Stdout)
	r.tf.SetStdout(initOut)
	r.tf.SetStderr(initOut)
	initOpts := []tfexec.InitOption{tfexec.Upgrade(false), tfexec.Reconfigure(true)}
	for _, k := range slices.Sorted(maps.Keys(r.cfg.Backend)) {
		initOpts = append(initOpts, tfexec.BackendConfig(k+"="+r.cfg.Backend[k]))
	}
	err = r.tf.Init(ctx, initOpts...)
	initOut.Flush()
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	if err != nil {
		return fmt.Errorf("terraform init: %w", err)
	}

	if destroy {
		state, err := r.tf.StatePull(ctx)
		if err != nil {
			return fmt.Errorf("read terraform state: %w", err)
		}
		protected, err := protectedResources(state)
		if err != nil {
			return err
		}
		if len(protected) > 0 {
			return fmt.Errorf("%w for %s: nothing was deleted; lift it first with "+
				"`refarch deploy ... --set deletion_protection=false`, then destroy", ErrProtected, strings.Join(protected, ", "))
		}
	}

	if !destroy && r.cfg.ApplyPlan == "" {
		if err := r.keepDeployedImage(ctx, step); err != nil {
			return err
		}
	}

	var varFile string
	if r.cfg.PineconeAPIKey != "" {
		varFile = filepath.Join(work, "secrets.auto.tfvars.json")
		b, _ := json.Marshal(map[string]string{"pinecone_api_key": r.cfg.PineconeAPIKey})
		if err := os.WriteFile(varFile, b, 0o600); err != nil {
			return fmt.Errorf("write secret variables: %w", err)
		}
	}

	verb := "deploy"
	if destroy {
		verb = "destroy"
	}
	if r.cfg.ApplyPlan != "" {
		return r.applySaved(ctx, step, start, varFile)
	}
	step("terraform plan (%s)", verb)
	planFile := filepath.Join(work, "refarch.tfplan")
	planOpts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Destroy(destroy), tfexec.Lock(!r.cfg.NoLock)}
	for _, k := range slices.Sorted(maps.Keys(r.cfg.Vars)) {
		planOpts = append(planOpts, tfexec.Var(k+"="+r.cfg.Vars[k]))
	}
	for _, target := range r.cfg.Targets {
		planOpts = append(planOpts, tfexec.Target(target))
	}
	for _, f := range r.cfg.VarFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return fmt.Errorf("resolve variable file %s: %w", f, err)
		}
		planOpts = append(planOpts, tfexec.VarFile(abs))
	}
	if varFile != "" {
		planOpts = append(planOpts, tfexec.VarFile(varFile))
	}
	plan := newProgress(r.cfg.Stdout, start, r.now)
	changed, err := r.tf.PlanJSON(ctx, plan, planOpts...)
	plan.Flush()
	if err != nil {
		return fmt.Errorf("terraform plan: %w%s", err, plan.errorSummary())
	}
	if err := r.savePlan(planFile, plan, changed); err != nil {
		return err
	}
	if !changed {
		step("no changes: the deployment already matches the configuration")
		return nil
	}
	if r.cfg.PlanOnly {
		step("plan only: %s; nothing was changed", plan.changes)
		return nil
	}
	if !r.cfg.AutoApprove {
		if err := r.confirm(verb, plan.changes); err != nil {
			return err
		}
	}

	step("terraform apply (%s)", verb)
	applyOpts := []tfexec.ApplyOption{tfexec.DirOrPlan(planFile)}
	if varFile != "" {
		applyOpts = append(applyOpts, tfexec.VarFile(varFile))
	}
	apply := newProgress(r.cfg.Stdout, start, r.now)
	err = r.tf.ApplyJSON(ctx, apply, applyOpts...)
	apply.Flush()
	if err != nil {
		return fmt.Errorf("terraform apply: %w%s", err, apply.errorSummary())
	}
	step("done: %s", apply.changes)
	return nil
}

// keepDeployedImage makes a deploy that names no image keep the one running now (the state's
// image output), so changing a setting never rolls the services back to no image or to an older one.
func (r *Runner) keepDeployedImage(ctx context.Context, step func(string, ...any)) error {
	for _, name := range []string{"image", "image_digest"} {
		if r.cfg.Vars[name] != "" || r.cfg.varFilesSet(name) {
			return nil
		}
	}
	outputs, err := r.tf.Output(ctx)
	if err != nil {
		return fmt.Errorf("read the deployed image from terraform outputs: %w", err)
	}
	o, ok := outputs["image"]
	if !ok {
		return nil
	}
	var image string
	if err := json.Unmarshal(o.Value, &image); err != nil {
		return fmt.Errorf("decode image output: %w", err)
	}
	if image == "" {
		return nil
	}
	vars := maps.Clone(r.cfg.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["image"] = image
	r.cfg.Vars = vars
	step("no --image-digest: keeping the deployed image %s", image)
	return nil
}

// savePlan keeps the plan file and writes its Markdown summary where the configuration asks.
func (r *Runner) savePlan(planFile string, plan *progress, changed bool) error {
	if r.cfg.PlanOut != "" {
		b, err := os.ReadFile(planFile)
		if err != nil {
			return fmt.Errorf("read plan file: %w", err)
		}
		if err := os.WriteFile(r.cfg.PlanOut, b, 0o600); err != nil {
			return fmt.Errorf("save plan file to %s: %w", r.cfg.PlanOut, err)
		}
	}
	if r.cfg.SummaryOut == "" {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### refarch deploy plan\n\n")
	if !changed {
		b.WriteString("No changes: the deployment already matches the configuration.\n")
	} else {
		fmt.Fprintf(&b, "**%s**\n\n```\n", plan.changes)
		for _, c := range plan.planned {
			b.WriteString(c + "\n")
		}
		b.WriteString("```\n")
	}
	if len(r.cfg.VarFiles) > 0 {
		fmt.Fprintf(&b, "\nVariable files: %s\n", strings.Join(r.cfg.VarFiles, ", "))
	}
	if err := os.WriteFile(r.cfg.SummaryOut, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write plan summary to %s: %w", r.cfg.SummaryOut, err)
	}
	return nil
}

// applySaved applies exactly a plan file made earlier (by a plan job whose output was reviewed),
// after showing what it holds; Terraform itself refuses a plan whose state has moved on.
func (r *Runner) applySaved(ctx context.Context, step func(string, ...any), start time.Time, varFile string) error {
	abs, err := filepath.Abs(r.cfg.ApplyPlan)
	if err != nil {
		return fmt.Errorf("resolve plan file %s: %w", r.cfg.ApplyPlan, err)
	}
	saved, err := r.tf.ShowPlanFile(ctx, abs)
	if err != nil {
		return fmt.Errorf("read saved plan %s: %w", r.cfg.ApplyPlan, err)
	}
	var changes changeSummary
	changes.Seen = true
	for _, rc := range saved.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			changes.Add++
			changes.Remove++
		case a.Create():
			changes.Add++
		case a.Update():
			changes.Change++
		case a.Delete():
			changes.Remove++
		default:
			continue
		}
		fmt.Fprintf(r.cfg.Stdout, "    %s %s\n", actionSymbol(a), rc.Address)
	}
	step("saved plan %s: %s", r.cfg.ApplyPlan, changes)
	if !r.cfg.AutoApprove {
		if err := r.confirm("deploy", changes); err != nil {
			return err
		}
	}
	step("terraform apply (saved plan)")
	applyOpts := []tfexec.ApplyOption{tfexec.DirOrPlan(abs)}
	if varFile != "" {
		applyOpts = append(applyOpts, tfexec.VarFile(varFile))
	}
	apply := newProgress(r.cfg.Stdout, start, r.now)
	err = r.tf.ApplyJSON(ctx, apply, applyOpts...)
	apply.Flush()
	if err != nil {
		return fmt.Errorf("terraform apply %s: %w%s", r.cfg.ApplyPlan, err, apply.errorSummary())
	}
	step("done: %s", apply.changes)
	return nil
}

// confirm asks before anything changes; only "yes" goes on, as with terraform apply itself.
func (r *Runner) confirm(verb string, changes changeSummary) error {
	fmt.Fprintf(r.cfg.Stdout, "\n%s: %s. Type yes to go on: ", verb, changes)
	line, err := bufio.NewReader(r.cfg.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("%s %w: nothing was changed (pass --yes to skip the question)", verb, ErrCancelled)
	}
	return nil
}

// elapsed formats a duration as a fixed-width minutes:seconds stamp.
func elapsed(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%2dm%02ds", s/60, s%60)
}
