package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/refarch/refarch/app"
	"github.com/refarch/refarch/deploy"
)

// deployFlags are the settings shared by deploy and destroy. Each flag falls back to an
// environment variable, so the release pipeline and a laptop can use the same command.
type deployFlags struct {
	dir, terraform         string
	region, name           string
	certificateARN, domain string
	image, imageDigest     string
	stateBucket, stateKey  string
	stateRegion            string
	sets, targets          []string
	varFiles               []string
	planOut, summaryOut    string
	applyPlan              string
	planOnly, yes, noLock  bool
}

// deployFlagEnv maps a flag to the environment variables it falls back to, in order.
func deployFlagEnv() map[string][]string {
	return map[string][]string{
		"region":          {"AWS_REGION", "AWS_DEFAULT_REGION"},
		"certificate-arn": {"REFARCH_CERTIFICATE_ARN"},
		"domain":          {"REFARCH_DOMAIN"},
		"image":           {"REFARCH_IMAGE"},
		"image-digest":    {"REFARCH_IMAGE_DIGEST"},
		"state-bucket":    {"REFARCH_STATE_BUCKET"},
		"state-key":       {"REFARCH_STATE_KEY"},
		"terraform":       {"REFARCH_TERRAFORM"},
	}
}

func (f *deployFlags) bind(fs *pflag.FlagSet, destroy bool) {
	fs.StringVar(&f.dir, "dir", "terraform", "Terraform root module (the repository's terraform/ folder)")
	fs.StringVar(&f.terraform, "terraform", "", "terraform executable (default: the one on PATH; env REFARCH_TERRAFORM)")
	fs.StringVar(&f.region, "region", "", "AWS region (env AWS_REGION; default: the module's, us-east-1)")
	fs.StringVar(&f.name, "name", "", "deployment name, the prefix of every resource (default: refarch)")
	fs.StringVar(&f.stateBucket, "state-bucket", "", "S3 bucket holding the Terraform state (env REFARCH_STATE_BUCKET; required)")
	fs.StringVar(&f.stateKey, "state-key", "", "object key of the state in the bucket (env REFARCH_STATE_KEY; default: NAME/terraform.tfstate)")
	fs.StringVar(&f.stateRegion, "state-region", "", "region of the state bucket (default: --region)")
	fs.StringArrayVar(&f.sets, "set", nil, "any other Terraform variable, NAME=VALUE (repeatable; see terraform/variables.tf)")
	fs.StringArrayVar(&f.targets, "target", nil, "limit the run to a module or resource, e.g. module.registry (repeatable)")
	fs.StringArrayVar(&f.varFiles, "var-file", nil, "Terraform variable file, e.g. terraform/env/prod.tfvars (repeatable; flags and --set win over it)")
	fs.BoolVar(&f.planOnly, "plan-only", false, "show the plan and stop; nothing is changed")
	fs.BoolVar(&f.planOnly, "plan", false, "the same as --plan-only")
	fs.StringVar(&f.planOut, "plan-out", "", "save the plan file here (for a later --apply-plan)")
	fs.StringVar(&f.summaryOut, "summary-out", "", "write the plan's summary here as Markdown (for review)")
	fs.StringVar(&f.applyPlan, "apply-plan", "", "apply exactly this saved plan file instead of planning again")
	fs.BoolVar(&f.noLock, "no-lock", false, "plan without taking the state lock (read-only credentials; only with --plan-only)")
	fs.BoolVar(&f.yes, "yes", false, "apply without asking (for pipelines)")
	if !destroy {
		fs.StringVar(&f.certificateARN, "certificate-arn", "", "ACM certificate for HTTPS (env REFARCH_CERTIFICATE_ARN; required)")
		fs.StringVar(&f.domain, "domain", "", "domain the certificate covers (env REFARCH_DOMAIN)")
		fs.StringVar(&f.imageDigest, "image-digest", "", "digest of the pushed image, sha256:... (env REFARCH_IMAGE_DIGEST)")
		fs.StringVar(&f.image, "image", "", "full image reference instead of the deployment's repository (env REFARCH_IMAGE)")
	}
}

// config turns flags and environment into a deploy.Config: flags beat the environment, --set
// beats both, and the secret comes from the environment only (never a flag, which would show in
// the process list and shell history).
func (f *deployFlags) config(cmd *cobra.Command, getenv func(string) string) (deploy.Config, error) {
	fs := cmd.Flags()
	for flag, envs := range deployFlagEnv() {
		fl := fs.Lookup(flag)
		if fl == nil || fl.Changed {
			continue
		}
		for _, env := range envs {
			if v := getenv(env); v != "" {
				if err := fl.Value.Set(v); err != nil {
					return deploy.Config{}, fmt.Errorf("read %s: %w", env, err)
				}
				break
			}
		}
	}

	if f.applyPlan != "" {
		// The saved plan carries every variable; a setting given now would be silently ignored.
		for _, name := range []string{"name", "certificate-arn", "domain", "image", "image-digest", "vector-store", "embedder"} {
			if fl := cmd.Flag(name); fl != nil && fl.Changed {
				return deploy.Config{}, fmt.Errorf("--apply-plan applies the settings the plan was made with; drop --%s", name)
			}
		}
		if len(f.sets) > 0 {
			return deploy.Config{}, fmt.Errorf("--apply-plan applies the settings the plan was made with; drop --set")
		}
	}

	vars := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			vars[k] = v
		}
	}
	// The app's own settings choose the backends it runs with in AWS too: the root's
	// --vector-store and --embedder when given, else their REFARCH_* variables (read here rather
	// than through the root's defaults, which suit a laptop and would override the module's).
	for flag, tfvar := range map[string]string{"vector-store": "vector_store", "embedder": "embedder"} {
		if fl := cmd.Flag(flag); fl != nil && fl.Changed {
			put(tfvar, fl.Value.String())
		} else {
			put(tfvar, getenv(app.EnvName(flag)))
		}
	}
	put("region", f.region)
	put("name", f.name)
	put("certificate_arn", f.certificateARN)
	put("domain_name", f.domain)
	put("image", f.image)
	put("image_digest", f.imageDigest)
	for _, s := range f.sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return deploy.Config{}, fmt.Errorf("--set %q: want NAME=VALUE", s)
		}
		vars[k] = v
	}

	if f.stateBucket == "" {
		return deploy.Config{}, fmt.Errorf("no state bucket: pass --state-bucket or set REFARCH_STATE_BUCKET " +
			"(an S3 bucket with versioning; docs/deploy.md shows how to create one)")
	}
	// The name and region may come from a variable file (terraform/env/dev.tfvars names its own
	// deployment), so the state key and the ops task follow it too.
	settings := deploy.Config{Vars: vars, VarFiles: f.varFiles}
	name := settings.Setting("name")
	if name == "" {
		name = "refarch"
	}
	key := f.stateKey
	if key == "" {
		key = name + "/terraform.tfstate"
	}
	region := settings.Setting("region")
	if region == "" {
		region = "us-east-1"
	}
	stateRegion := f.stateRegion
	if stateRegion == "" {
		stateRegion = region
	}
	apiKey := getenv("REFARCH_PINECONE_API_KEY")
	if apiKey == "" {
		apiKey = getenv("PINECONE_API_KEY")
	}
	return deploy.Config{
		Dir:            f.dir,
		Terraform:      f.terraform,
		Vars:           vars,
		PineconeAPIKey: apiKey,
		Backend:        map[string]string{"bucket": f.stateBucket, "key": key, "region": stateRegion},
		Targets:        f.targets,
		VarFiles:       f.varFiles,
		PlanOnly:       f.planOnly,
		PlanOut:        f.planOut,
		SummaryOut:     f.summaryOut,
		ApplyPlan:      f.applyPlan,
		NoLock:         f.noLock,
		RunOnce: func(ctx context.Context, command []string) error {
			code, err := runOpsTask(ctx, cmd, opsTask{name: name, region: region, networkFrom: "emu", poll: 3 * time.Second}, command)
			if err == nil && code != 0 {
				err = exitStatus{code}
			}
			return err
		},
		AutoApprove: f.yes,
		Stdin:       cmd.InOrStdin(),
		Stdout:      cmd.OutOrStdout(),
		Stderr:      cmd.ErrOrStderr(),
	}, nil
}

// runner validates the configuration before it looks for Terraform, so that every problem with
// the settings is reported at once, ahead of a missing tool.
func (f *deployFlags) runner(cmd *cobra.Command, destroy bool) (*deploy.Runner, error) {
	cfg, err := f.config(cmd, os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(destroy); err != nil {
		return nil, err
	}
	return deploy.New(cmd.Context(), cfg)
}

// newDeployCmd returns `refarch deploy`.
func newDeployCmd() *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Create or update the AWS deployment with Terraform and print its URL",
		Long: `deploy creates or updates refarch on AWS from the Terraform in terraform/:

  1. checks that terraform (1.11 or later) and AWS credentials are available;
  2. terraform init, with the state in the S3 bucket given by --state-bucket;
  3. terraform plan into a plan file, streaming each planned change;
  4. asks for "yes" (unless --yes), then applies exactly that plan, streaming progress;
  5. prints the service URL.

With --plan-only it stops after step 3 and changes nothing; --plan-out keeps the plan file and
--summary-out writes a Markdown summary of it, and --apply-plan FILE later applies exactly that
file (the release pipeline's reviewed plan). --var-file reads settings kept in git
(terraform/env/prod.tfvars, terraform/env/dev.tfvars), so a release applies the same settings as a
laptop. Without --image-digest (or --image) deploy keeps the image that is deployed now.
The image must already be pushed to the
deployment's ECR repository: the first time, create the repository alone with
--target module.registry, push, then deploy everything (docs/deploy.md). Settings come from
flags, then environment variables (REFARCH_CERTIFICATE_ARN, REFARCH_IMAGE_DIGEST,
REFARCH_STATE_BUCKET, AWS_REGION); the backends from --vector-store and --embedder, or
REFARCH_VECTOR_STORE and REFARCH_EMBEDDER; any other Terraform variable is set with
--set NAME=VALUE. The Pinecone API key is read from REFARCH_PINECONE_API_KEY
only; it reaches Secrets Manager without ever being written to the Terraform state or plan.`,
		Example: `  export REFARCH_PINECONE_API_KEY=...
  refarch deploy --state-bucket my-tf-state --certificate-arn arn:aws:acm:us-east-1:123456789012:certificate/abc \
    --image-digest sha256:... --var-file terraform/env/prod.tfvars --plan-only
  refarch deploy --state-bucket my-tf-state --certificate-arn ... --image-digest sha256:... --set db_multi_az=true`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.runner(cmd, false)
			if err != nil {
				return err
			}
			_, err = r.Deploy(cmd.Context())
			return err
		},
	}
	f.bind(cmd.Flags(), false)
	return cmd
}

// newDestroyCmd returns `refarch destroy`.
func newDestroyCmd() *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Delete the AWS deployment (after a plan and a confirmation)",
		Long: `destroy deletes everything deploy created: it plans the removal, shows it, asks for "yes"
(unless --yes) and carries it out. With --plan it only shows what would be deleted.

The database, load balancer and Pinecone index are protected by default, and destroy refuses to
start (changing nothing) while any of them still is. Turn the protection off first with a deploy,
which also lets the image repository be deleted with its images:
  refarch deploy ... --set deletion_protection=false
RDS keeps a final snapshot of the database. If the deployment used pgvector, pass
--set vector_store=pgvector here too; for Pinecone, REFARCH_PINECONE_API_KEY must be set so the
index can be deleted.`,
		Example: `  refarch destroy --state-bucket my-tf-state --plan
  refarch destroy --state-bucket my-tf-state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.runner(cmd, true)
			if err != nil {
				return err
			}
			return r.Destroy(cmd.Context())
		},
	}
	f.bind(cmd.Flags(), true)
	return cmd
}
