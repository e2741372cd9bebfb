package awsrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/refarch/refarch/awsrun"
)

// motoEndpoint is the moto server `make moto` starts (it serves ECS, CloudWatch Logs and EC2
// beside SQS).
func motoEndpoint(t *testing.T) string {
	t.Helper()
	e := os.Getenv("TEST_SQS_ENDPOINT")
	if e == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set: run `make moto` and load .dev/moto.env")
	}
	return e
}

func clients(endpoint string) (*ecs.Client, *cloudwatchlogs.Client) {
	return clientsExiting(endpoint, nil)
}

// clientsExiting is clients whose ECS answers report exit code exit for every container (moto
// always reports 0), standing in for a command that fails.
func clientsExiting(endpoint string, exit *int) (*ecs.Client, *cloudwatchlogs.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.HTTPClient = &http.Client{Transport: containerSizesAsStrings{next: http.DefaultTransport, exit: exit}}
		}),
		cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// containerSizesAsStrings corrects one way moto 5.1.1's ECS differs from ECS: it reports a task
// container's cpu and memory as JSON numbers, where ECS (and so the SDK's decoder) has strings.
type containerSizesAsStrings struct {
	next http.RoundTripper
	exit *int
}

func (c containerSizesAsStrings) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		for _, task := range append(asList(doc["tasks"]), doc["task"]) {
			if task == nil {
				continue
			}
			for _, ct := range asList(task.(map[string]any)["containers"]) {
				m := ct.(map[string]any)
				for _, k := range []string{"cpu", "memory", "memoryReservation"} {
					if n, ok := m[k].(float64); ok {
						m[k] = fmt.Sprint(n)
					}
				}
				if c.exit != nil {
					m["exitCode"] = *c.exit
				}
			}
		}
		if fixed, err := json.Marshal(doc); err == nil {
			body = fixed
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// ec2 calls moto's EC2 query API directly (the project has no EC2 client) and returns the
// first element named field of the answer.
func ec2(t *testing.T, endpoint, field string, params url.Values) string {
	t.Helper()
	params.Set("Version", "2016-11-15")
	req, err := http.NewRequest("POST", endpoint, strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// moto tells services apart by the credential scope of the signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("ec2 %s: %s %s", params.Get("Action"), resp.Status, body)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("ec2 %s: no %s in %s", params.Get("Action"), field, body)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == field {
			var v string
			if err := dec.DecodeElement(&v, &se); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
}

// deployment creates in moto what terraform/ creates for the ops path: a cluster, the emu
// service in a private subnet and security group, and the ops task definition logging to its
// own group.
func deployment(t *testing.T, endpoint string, ecsc *ecs.Client, logs *cloudwatchlogs.Client) (name, subnet, group string) {
	t.Helper()
	ctx := context.Background()
	name = fmt.Sprintf("rt%d", time.Now().UnixNano())
	vpc := ec2(t, endpoint, "vpcId", url.Values{"Action": {"CreateVpc"}, "CidrBlock": {"10.9.0.0/16"}})
	subnet = ec2(t, endpoint, "subnetId", url.Values{"Action": {"CreateSubnet"}, "VpcId": {vpc}, "CidrBlock": {"10.9.1.0/24"}})
	group = ec2(t, endpoint, "groupId", url.Values{"Action": {"CreateSecurityGroup"}, "GroupName": {name}, "GroupDescription": {"workers"}, "VpcId": {vpc}})
	if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	logGroup := "/ecs/" + name + "/ops"
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(logGroup)}); err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{name + "-emu", name + "-ops"} {
		if _, err := ecsc.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String(family), NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
			RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
			ContainerDefinitions: []ecstypes.ContainerDefinition{{
				Name: aws.String("ops"), Image: aws.String("refarch@sha256:" + strings.Repeat("a", 64)), Essential: aws.Bool(true),
				MemoryReservation: aws.Int32(512), // moto sums the containers' sizes
				LogConfiguration: &ecstypes.LogConfiguration{LogDriver: ecstypes.LogDriverAwslogs, Options: map[string]string{
					"awslogs-group": logGroup, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ops",
				}},
			}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ecsc.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(name), ServiceName: aws.String("emu"), TaskDefinition: aws.String(name + "-emu"), DesiredCount: aws.Int32(0),
		LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{subnet}, SecurityGroups: []string{group},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	return name, subnet, group
}

// TestRunStreamsTheTaskOutputAndExitCode runs the ops task in moto's ECS. moto runs no
// containers, so the test plays the container's part: when the task starts it writes the
// command's output into the task's log stream, as the awslogs driver would; moto then moves
// the task to STOPPED over the next few DescribeTasks calls with exit code 0.
func TestRunStreamsTheTaskOutputAndExitCode(t *testing.T) {
	t.Parallel()
	endpoint := motoEndpoint(t)
	ecsc, logs := clients(endpoint)
	name, subnet, group := deployment(t, endpoint, ecsc, logs)
	ctx := context.Background()

	var out bytes.Buffer
	var started *ecstypes.Task
	code, err := awsrun.Run(ctx, awsrun.Config{
		Cluster: name, TaskDefinition: name + "-ops", NetworkFrom: "emu", Command: []string{"dlq", "redrive"},
		Poll: 5 * time.Millisecond, Stdout: &out,
		OnStarted: func(arn string) {
			d, err := ecsc.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(name), Tasks: []string{arn}})
			if err != nil || len(d.Tasks) != 1 {
				t.Errorf("describe the started task: %v", err)
				return
			}
			started = &d.Tasks[0]
			stream := "ops/ops/" + arn[strings.LastIndex(arn, "/")+1:]
			if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/ecs/" + name + "/ops"), LogStreamName: aws.String(stream)}); err != nil {
				t.Errorf("create the task's log stream: %v", err)
				return
			}
			now := time.Now().UnixMilli()
			if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
				LogGroupName: aws.String("/ecs/" + name + "/ops"), LogStreamName: aws.String(stream),
				LogEvents: []logtypes.InputLogEvent{{Message: aws.String("redriving 3 messages"), Timestamp: aws.Int64(now)}, {Message: aws.String("redrove 3"), Timestamp: aws.Int64(now + 1)}},
			}); err != nil {
				t.Errorf("write the task's log: %v", err)
			}
		},
	}, ecsc, logs)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v; output:\n%s", code, err, out.String())
	}
	if got := out.String(); got != "redriving 3 messages\nredrove 3\n" {
		t.Errorf("streamed output %q, want each log line once, in order", got)
	}
	if started == nil {
		t.Fatal("OnStarted was not called")
	}
	if len(started.Overrides.ContainerOverrides) != 1 || strings.Join(started.Overrides.ContainerOverrides[0].Command, " ") != "dlq redrive" ||
		aws.ToString(started.Overrides.ContainerOverrides[0].Name) != "ops" {
		t.Errorf("task overrides %+v, want command [dlq redrive] on container ops", started.Overrides)
	}
	if !strings.Contains(aws.ToString(started.TaskDefinitionArn), name+"-ops:") || aws.ToString(started.StartedBy) != "refarch-aws-run" {
		t.Errorf("task ran %s started by %s", aws.ToString(started.TaskDefinitionArn), aws.ToString(started.StartedBy))
	}
	var eni bool
	for _, a := range started.Attachments {
		for _, d := range a.Details {
			eni = eni || aws.ToString(d.Name) == "subnetId" && aws.ToString(d.Value) == subnet
		}
	}
	if !eni {
		t.Errorf("the task is not in the emu service's subnet %s (security group %s): %+v", subnet, group, started.Attachments)
	}
}

// TestRunReturnsTheTaskExitCode: a command that fails in the task fails the run with its status.
func TestRunReturnsTheTaskExitCode(t *testing.T) {
	t.Parallel()
	endpoint := motoEndpoint(t)
	three := 3
	ecsc, logs := clientsExiting(endpoint, &three)
	name, _, _ := deployment(t, endpoint, ecsc, logs)
	code, err := awsrun.Run(context.Background(), awsrun.Config{
		Cluster: name, TaskDefinition: name + "-ops", NetworkFrom: "emu", Command: []string{"reconcile"},
		Poll: 5 * time.Millisecond, Stdout: io.Discard,
	}, ecsc, logs)
	if err != nil || code != 3 {
		t.Fatalf("Run = %d, %v; want the task's exit code 3", code, err)
	}
}

// TestCancelStopsTheTask interrupts a run: the task must be stopped, not left running.
func TestCancelStopsTheTask(t *testing.T) {
	t.Parallel()
	endpoint := motoEndpoint(t)
	ecsc, logs := clients(endpoint)
	name, _, _ := deployment(t, endpoint, ecsc, logs)
	ctx, cancel := context.WithCancel(context.Background())
	var arn string
	_, err := awsrun.Run(ctx, awsrun.Config{
		Cluster: name, TaskDefinition: name + "-ops", NetworkFrom: "emu", Command: []string{"status"},
		Poll: time.Hour, Stdout: io.Discard, OnStarted: func(a string) { arn = a; cancel() },
	}, ecsc, logs)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the task was stopped") {
		t.Fatalf("Run after cancel: %v, want context.Canceled and a stopped task", err)
	}
	d, err := ecsc.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(name), Tasks: []string{arn}})
	if err != nil || len(d.Tasks) != 1 || aws.ToString(d.Tasks[0].DesiredStatus) != "STOPPED" || !strings.Contains(aws.ToString(d.Tasks[0].StoppedReason), "interrupted") {
		t.Errorf("task after cancel: %+v, %v; want desired STOPPED with the reason", d, err)
	}
}

func TestMissingDeploymentIsExplained(t *testing.T) {
	t.Parallel()
	endpoint := motoEndpoint(t)
	ecsc, logs := clients(endpoint)
	_, err := awsrun.Run(context.Background(), awsrun.Config{Cluster: "nowhere", TaskDefinition: "nowhere-ops", NetworkFrom: "emu", Command: []string{"status"}, Stdout: io.Discard}, ecsc, logs)
	if err == nil || !strings.Contains(err.Error(), `is the deployment named "nowhere" and deployed?`) {
		t.Errorf("Run against no deployment: %v", err)
	}
	if _, err := awsrun.Run(context.Background(), awsrun.Config{Cluster: "x"}, ecsc, logs); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Errorf("Run without a command: %v", err)
	}
}

// ExitCode is where the task's status becomes the process's: moto always reports 0, so the
// other outcomes are checked here on the shapes ECS returns.
func TestExitCode(t *testing.T) {
	t.Parallel()
	task := func(exit *int32, reason string) ecstypes.Task {
		return ecstypes.Task{TaskArn: aws.String("arn:task/x"), StoppedReason: aws.String(reason), StopCode: ecstypes.TaskStopCodeTaskFailedToStart,
			Containers: []ecstypes.Container{{Name: aws.String("migrate"), ExitCode: aws.Int32(0)}, {Name: aws.String("ops"), ExitCode: exit, Reason: aws.String("CannotPullContainerError")}}}
	}
	if code, err := awsrun.ExitCode(task(aws.Int32(3), ""), "ops"); code != 3 || err != nil {
		t.Errorf("exit 3: %d, %v", code, err)
	}
	if code, err := awsrun.ExitCode(task(aws.Int32(0), ""), "ops"); code != 0 || err != nil {
		t.Errorf("exit 0: %d, %v", code, err)
	}
	_, err := awsrun.ExitCode(task(nil, "Task failed to start"), "ops")
	if !errors.Is(err, awsrun.ErrNoExitCode) || !strings.Contains(err.Error(), "Task failed to start") || !strings.Contains(err.Error(), "CannotPullContainerError") {
		t.Errorf("no exit code: %v, want ErrNoExitCode with the reasons", err)
	}
	if _, err := awsrun.ExitCode(task(aws.Int32(0), ""), "other"); !errors.Is(err, awsrun.ErrNoExitCode) {
		t.Errorf("unknown container: %v", err)
	}
}
