package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"

	"github.com/refarch/refarch/awsrun"
)

// exitStatus is an error that carries the exit status the process should end with (the ops
// task's own, for `refarch aws run`).
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("ops task exited with status %d", e.code) }
func (e exitStatus) ExitCode() int { return e.code }

func newAWSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Operate the AWS deployment from outside its private network",
	}
	cmd.AddCommand(newAWSRunCmd())
	return cmd
}

func newAWSRunCmd() *cobra.Command {
	var (
		name, region, endpoint, networkFrom string
		poll                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run -- COMMAND [ARGS...]",
		Short: "Run a refarch command as a one-off ECS task inside the deployment and stream its output",
		Long: `aws run starts the deployment's ops task definition (NAME-ops: the same image as the
services, with its own least-privilege role and log group) as a one-off Fargate task in the
workers' subnets and security group, with COMMAND as its command; it streams the task's output
from CloudWatch Logs while it runs and exits with the task's exit status. Interrupting it
(Ctrl-C) stops the task. This is how to reach the private database:

  refarch aws run -- status
  refarch aws run -- dlq list
  refarch aws run -- dlq redrive
  refarch aws run -- reconcile --repair
  refarch aws run -- import --csv s3://my-bucket/products.csv
  refarch aws run -- seed --if-empty

AWS credentials and region come from the usual sources (AWS_PROFILE, AWS_REGION, ...).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runOpsTask(cmd.Context(), cmd, opsTask{name: name, region: region, endpoint: endpoint, networkFrom: networkFrom, poll: poll}, args)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitStatus{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "refarch", "deployment name (the cluster; the ops task definition is NAME-ops)")
	cmd.Flags().StringVar(&region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	cmd.Flags().StringVar(&networkFrom, "network-from", "emu", "service whose subnets and security group the task uses")
	cmd.Flags().DurationVar(&poll, "poll", 3*time.Second, "how often to read the task's state and log")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "ECS and CloudWatch Logs endpoint override (local stand-ins)")
	return cmd
}

// opsTask says which deployment's ops task to run and how.
type opsTask struct {
	name, region, endpoint, networkFrom string
	poll                                time.Duration
}

// runOpsTask runs command as the deployment's ops task and returns its exit status; deploy uses it
// to seed a first deployment.
func runOpsTask(ctx context.Context, cmd *cobra.Command, o opsTask, command []string) (int, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.region != "" {
		opts = append(opts, awsconfig.WithRegion(o.region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return 0, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return 0, fmt.Errorf("no AWS region: pass --region or set AWS_REGION")
	}
	ecsClient := ecs.NewFromConfig(awsCfg, func(opt *ecs.Options) {
		if o.endpoint != "" {
			opt.BaseEndpoint = aws.String(o.endpoint)
		}
	})
	logsClient := cloudwatchlogs.NewFromConfig(awsCfg, func(opt *cloudwatchlogs.Options) {
		if o.endpoint != "" {
			opt.BaseEndpoint = aws.String(o.endpoint)
		}
	})
	return awsrun.Run(ctx, awsrun.Config{
		Cluster: o.name, TaskDefinition: o.name + "-ops", NetworkFrom: o.networkFrom, Command: command, Poll: o.poll,
		Stdout: cmd.OutOrStdout(), Log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
	}, ecsClient, logsClient)
}
