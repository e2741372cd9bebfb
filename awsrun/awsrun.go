// Package awsrun runs one refarch command inside the deployment's private network: a one-off
// ECS task of the ops task definition (the same image as the services, with its own
// least-privilege role and log group), whose output it streams from CloudWatch Logs while it
// runs, and whose container exit code it returns. It is how an operator runs `status`,
// `dlq redrive`, `reconcile` or `import` against a database that only the tasks can reach.
package awsrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ECS is what a run needs of the ECS API.
type ECS interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, opts ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RunTask(ctx context.Context, in *ecs.RunTaskInput, opts ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, opts ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput, opts ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// Logs is what a run needs of CloudWatch Logs.
type Logs interface {
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

// Config names the deployment and the command; everything else is read from ECS.
type Config struct {
	// Cluster is the deployment's ECS cluster (its name, refarch by default).
	Cluster string
	// TaskDefinition is the ops task definition's family (NAME-ops); ECS runs its latest revision.
	TaskDefinition string
	// NetworkFrom is the service whose subnets and security groups the task borrows, so it
	// reaches the database and queue exactly as the workers do.
	NetworkFrom string
	// Command is the refarch command line, e.g. ["status"] or ["dlq", "redrive"].
	Command []string
	// Poll is how often the task and its log are read (default 3s).
	Poll time.Duration
	// Stdout receives the task's output; Log the run's own progress.
	Stdout io.Writer
	Log    *slog.Logger
	// OnStarted, when set, is told the task's ARN as soon as ECS accepts it.
	OnStarted func(taskARN string)
}

// ErrNoExitCode means the task stopped without its container exiting (it never started: an
// image pull, secret or network failure); the error carries ECS's reason.
var ErrNoExitCode = errors.New("task stopped without an exit code")

// Run starts the task, streams its output until it stops and returns its container's exit
// code. Cancelling ctx stops the task (so an interrupted run leaves nothing behind).
func Run(ctx context.Context, cfg Config, client ECS, logs Logs) (int, error) {
	if len(cfg.Command) == 0 {
		return 0, errors.New("run ops task: no command (e.g. refarch aws run -- status)")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 3 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	target, err := discover(ctx, cfg, client)
	if err != nil {
		return 0, err
	}
	out, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster:        aws.String(cfg.Cluster),
		TaskDefinition: aws.String(target.taskDefinition),
		LaunchType:     ecstypes.LaunchTypeFargate,
		Count:          aws.Int32(1),
		StartedBy:      aws.String("refarch-aws-run"),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets:        target.subnets,
			SecurityGroups: target.securityGroups,
			AssignPublicIp: ecstypes.AssignPublicIpDisabled,
		}},
		Overrides: &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{
			{Name: aws.String(target.container), Command: cfg.Command},
		}},
	})
	if err != nil {
		return 0, fmt.Errorf("run ops task %s: %w", target.taskDefinition, err)
	}
	if len(out.Failures) > 0 || len(out.Tasks) == 0 {
		var reasons []string
		for _, f := range out.Failures {
			reasons = append(reasons, aws.ToString(f.Arn)+": "+aws.ToString(f.Reason)+" "+aws.ToString(f.Detail))
		}
		return 0, fmt.Errorf("run ops task %s: not started: %s", target.taskDefinition, strings.Join(reasons, "; "))
	}
	taskARN := aws.ToString(out.Tasks[0].TaskArn)
	taskID := taskARN[strings.LastIndex(taskARN, "/")+1:]
	cfg.Log.InfoContext(ctx, "ops task started", "task", taskARN, "command", strings.Join(cfg.Command, " "), "log_group", target.logGroup)
	if cfg.OnStarted != nil {
		cfg.OnStarted(taskARN)
	}

	tail := &tailer{logs: logs, group: target.logGroup, stream: target.streamPrefix + "/" + target.container + "/" + taskID, w: cfg.Stdout}
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	lastStatus := ""
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, err := client.StopTask(stopCtx, &ecs.StopTaskInput{Cluster: aws.String(cfg.Cluster), Task: aws.String(taskARN), Reason: aws.String("interrupted: refarch aws run was cancelled")})
			cancel()
			if err != nil {
				return 0, fmt.Errorf("stop ops task %s after cancel: %w (stop it by hand)", taskID, err)
			}
			return 0, fmt.Errorf("run ops task %s: %w; the task was stopped", taskID, ctx.Err())
		case <-tick.C:
		}
		if err := tail.fetch(ctx); err != nil {
			return 0, err
		}
		desc, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cfg.Cluster), Tasks: []string{taskARN}})
		if err != nil {
			return 0, fmt.Errorf("describe ops task %s: %w", taskID, err)
		}
		if len(desc.Tasks) == 0 {
			return 0, fmt.Errorf("describe ops task %s: ECS no longer knows it", taskID)
		}
		task := desc.Tasks[0]
		if s := aws.ToString(task.LastStatus); s != lastStatus {
			cfg.Log.InfoContext(ctx, "ops task status", "task", taskID, "status", s)
			lastStatus = s
		}
		if aws.ToString(task.LastStatus) != "STOPPED" {
			continue
		}
		// The log driver flushes as the container exits; one more read after a poll interval
		// picks up the last lines.
		select {
		case <-time.After(cfg.Poll):
		case <-ctx.Done():
		}
		if err := tail.fetch(context.WithoutCancel(ctx)); err != nil {
			return 0, err
		}
		return ExitCode(task, target.container)
	}
}

// ExitCode is the container's exit status of a stopped task, or ErrNoExitCode with ECS's
// reasons when the container never ran to an exit.
func ExitCode(task ecstypes.Task, container string) (int, error) {
	for _, c := range task.Containers {
		if aws.ToString(c.Name) != container {
			continue
		}
		if c.ExitCode != nil {
			return int(*c.ExitCode), nil
		}
		return 0, fmt.Errorf("ops task %s: %w: %s (%s) %s", aws.ToString(task.TaskArn), ErrNoExitCode,
			aws.ToString(task.StoppedReason), task.StopCode, aws.ToString(c.Reason))
	}
	return 0, fmt.Errorf("ops task %s: %w: no container %q (%s)", aws.ToString(task.TaskArn), ErrNoExitCode, container, aws.ToString(task.StoppedReason))
}

// target is what discover reads from ECS.
type target struct {
	taskDefinition, container string
	logGroup, streamPrefix    string
	subnets, securityGroups   []string
}

// discover reads the ops task definition (its container and log group) and the network of the
// service it borrows from, so that the only settings an operator gives are the deployment's
// name and region.
func discover(ctx context.Context, cfg Config, client ECS) (target, error) {
	td, err := client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(cfg.TaskDefinition)})
	if err != nil {
		return target{}, fmt.Errorf("read ops task definition %s (is the deployment named %q and deployed?): %w", cfg.TaskDefinition, cfg.Cluster, err)
	}
	var t target
	t.taskDefinition = aws.ToString(td.TaskDefinition.TaskDefinitionArn)
	for _, c := range td.TaskDefinition.ContainerDefinitions {
		if c.Essential != nil && !*c.Essential {
			continue
		}
		t.container = aws.ToString(c.Name)
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver == ecstypes.LogDriverAwslogs {
			t.logGroup, t.streamPrefix = lc.Options["awslogs-group"], lc.Options["awslogs-stream-prefix"]
		}
		break
	}
	if t.container == "" || t.logGroup == "" {
		return target{}, fmt.Errorf("read ops task definition %s: no essential container logging to CloudWatch (awslogs)", t.taskDefinition)
	}
	svc, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cfg.Cluster), Services: []string{cfg.NetworkFrom}})
	if err != nil {
		return target{}, fmt.Errorf("read service %s for its network: %w", cfg.NetworkFrom, err)
	}
	if len(svc.Services) == 0 || svc.Services[0].NetworkConfiguration == nil || svc.Services[0].NetworkConfiguration.AwsvpcConfiguration == nil {
		return target{}, fmt.Errorf("read service %s in cluster %s: not found or without an awsvpc network", cfg.NetworkFrom, cfg.Cluster)
	}
	vpc := svc.Services[0].NetworkConfiguration.AwsvpcConfiguration
	t.subnets, t.securityGroups = vpc.Subnets, vpc.SecurityGroups
	return t, nil
}

// tailer prints a log stream's new events; the stream appears only once the container starts.
type tailer struct {
	logs          Logs
	group, stream string
	token         *string
	w             io.Writer
}

func (t *tailer) fetch(ctx context.Context) error {
	for {
		out, err := t.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(t.group), LogStreamName: aws.String(t.stream),
			StartFromHead: aws.Bool(true), NextToken: t.token,
		})
		var missing *logtypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ops task log %s %s: %w", t.group, t.stream, err)
		}
		for _, e := range out.Events {
			fmt.Fprintln(t.w, strings.TrimRight(aws.ToString(e.Message), "\n"))
		}
		// GetLogEvents returns the same forward token when there is nothing newer.
		if out.NextForwardToken == nil || t.token != nil && *out.NextForwardToken == *t.token {
			t.token = out.NextForwardToken
			return nil
		}
		t.token = out.NextForwardToken
		if len(out.Events) == 0 {
			return nil
		}
	}
}
