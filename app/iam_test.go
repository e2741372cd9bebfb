package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/refarch/refarch/internal/pgtest"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/queue/sqsqueue"
)

// statement is one Allow statement of a task role's policy, its resources
// resolved to this test's queues.
type statement struct {
	Actions, Resources []string
}

// taskPolicy reads the policy document Terraform attaches to role's task
// role (data.aws_iam_policy_document.ROLE_task in the services module), with
// its variables bound to vars.
func taskPolicy(t *testing.T, role string, vars map[string]cty.Value) []statement {
	t.Helper()
	files, _ := filepath.Glob("../terraform/modules/services/*.tf")
	var blocks []*hclsyntax.Block
	parser := hclparse.NewParser()
	for _, name := range files {
		f, diags := parser.ParseHCLFile(name)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		blocks = append(blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	ctx := &hcl.EvalContext{Variables: vars}
	var out []statement
	found := false
	for _, b := range blocks {
		if b.Type != "data" || !slices.Equal(b.Labels, []string{"aws_iam_policy_document", role + "_task"}) {
			continue
		}
		found = true
		for _, st := range b.Body.Blocks {
			if st.Type != "statement" {
				continue
			}
			if e, ok := st.Body.Attributes["effect"]; ok {
				if v, _ := e.Expr.Value(nil); v.AsString() != "Allow" {
					t.Fatalf("%s_task has a %s statement; this test knows only Allow", role, v.AsString())
				}
			}
			var s statement
			for name, dst := range map[string]*[]string{"actions": &s.Actions, "resources": &s.Resources} {
				v, diags := st.Body.Attributes[name].Expr.Value(ctx)
				if diags.HasErrors() {
					t.Fatalf("%s_task %s: %s", role, name, diags.Error())
				}
				for it := v.ElementIterator(); it.Next(); {
					_, el := it.Element()
					*dst = append(*dst, el.AsString())
				}
			}
			out = append(out, s)
		}
	}
	if !found {
		t.Fatalf("terraform gives %s's task role no policy document %s_task", role, role)
	}
	return out
}

// batchOf names the batch call that AWS authorizes with an action (moto
// checks the call's own name, so the policy given to moto lists both).
var batchOf = map[string]string{
	"sqs:SendMessage":             "sqs:SendMessageBatch",
	"sqs:DeleteMessage":           "sqs:DeleteMessageBatch",
	"sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}

// motoPolicy is the document moto enforces: the SQS statements with the
// batch names added, on any resource, since moto 5.1 authorizes SQS calls
// against "*" only (resources are checked by this test from what it
// records). rds-db:connect is left out: RDS, not moto, checks it when an IAM
// token is used (terraform/security_test.go pins each role to its own user).
func motoPolicy(sts []statement) string {
	type stmt struct {
		Effect   string
		Action   []string
		Resource string
	}
	doc := struct {
		Version   string
		Statement []stmt
	}{Version: "2012-10-17"}
	for _, s := range sts {
		var acts []string
		for _, a := range s.Actions {
			if !strings.HasPrefix(a, "sqs:") {
				continue
			}
			acts = append(acts, a)
			if b, ok := batchOf[a]; ok {
				acts = append(acts, b)
			}
		}
		if len(acts) > 0 {
			doc.Statement = append(doc.Statement, stmt{"Allow", acts, "*"})
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// call is one AWS request the roles made, as the recording proxy saw it.
type call struct {
	key, action, queue string
	status             int
	body               string
}

// recorder forwards to moto and records who called what on which queue.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func (r *recorder) handler(target *url.URL) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, req *http.Request, err error) {
		if req.Context().Err() != nil {
			w.WriteHeader(clientGone) // a long poll cut short by shutdown
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			QueueURL string `json:"QueueUrl"`
		}
		json.Unmarshal(body, &in)
		c := call{action: "sqs:" + strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS."), queue: in.QueueURL}
		if m := credentialRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
			c.key = m[1]
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, req)
		c.status = rec.Code
		if rec.Code >= 400 {
			c.body = rec.Body.String()
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// clientGone marks a request whose caller went away before moto answered.
const clientGone = 499

func (r *recorder) made(key, action string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.calls, func(c call) bool { return c.key == key && c.action == action && c.status == 200 })
}

// madeOn reports whether the holder of key made a successful action call on
// the queue at url.
func (r *recorder) madeOn(key, action, url string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.calls, func(c call) bool {
		return c.key == key && c.action == action && c.queue == url && c.status == 200
	})
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// TestIAMPoliciesAreWhatTheCodeCalls runs serve, pelican and emu against
// SQS on a moto server that enforces IAM, each signing as an IAM user that
// holds exactly the policy Terraform gives that role's task role (read from
// the HCL), each logged in to Postgres as its own role too. A product then
// travels the pipeline, emu has to extend a visibility timeout, and serve
// shows the status page; then the ops task's commands run as its user
// (its s3:GetObject statement, added only with import buckets, is not
// exercised). The test fails when a call is refused (the code
// needs a grant the policy lacks), when a call hits a queue its statement
// does not name, and when a granted action on a queue is never used (the
// policy grants more than the code needs).
func TestIAMPoliciesAreWhatTheCodeCalls(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("TEST_MOTO_IAM_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_MOTO_IAM_ENDPOINT is not set, so the IAM enforcement test did not run: `make moto` starts it")
	}
	ctx := context.Background()
	var rb [4]byte
	rand.Read(rb[:])
	suffix := hex.EncodeToString(rb[:])

	// The server refuses every unsigned or unauthorized request; the three
	// calls that create the administrator of this test are let through.
	resp, err := http.Post(endpoint+"/moto-api/reset-auth", "text/plain", strings.NewReader("3"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	iamAs := func(key, secret string) *iam.Client {
		return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	}
	boot := iamAs("AKIABOOTSTRAP0000000", "bootstrap")
	admin := "refarch-admin-" + suffix
	if _, err := boot.CreateUser(ctx, &iam.CreateUserInput{UserName: &admin}); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	if _, err := boot.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &admin, PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}); err != nil {
		t.Fatalf("grant admin: %v", err)
	}
	ak, err := boot.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &admin})
	if err != nil {
		t.Fatalf("admin key: %v", err)
	}
	adminIAM := iamAs(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey)
	adminSQS := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, "")})
	queueURL, dlqURL, err := sqsqueue.CreateQueues(ctx, adminSQS, "refarch-iam-"+suffix, 5)
	if err != nil {
		t.Fatalf("create queues: %v", err)
	}
	t.Cleanup(func() { sqsqueue.DeleteQueues(context.Background(), adminSQS, queueURL, dlqURL) })
	backfillURL, backfillDLQ, err := sqsqueue.CreateQueues(ctx, adminSQS, "refarch-iam-backfill-"+suffix, 5)
	if err != nil {
		t.Fatalf("create backfill queues: %v", err)
	}
	t.Cleanup(func() { sqsqueue.DeleteQueues(context.Background(), adminSQS, backfillURL, backfillDLQ) })
	arnOf := map[string]string{}
	for _, u := range []string{queueURL, dlqURL, backfillURL, backfillDLQ} {
		out, err := adminSQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		arnOf[u] = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	vars := map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{
			"queue_arn": cty.StringVal(arnOf[queueURL]), "dead_letter_queue_arn": cty.StringVal(arnOf[dlqURL]),
			"backfill_queue_arn": cty.StringVal(arnOf[backfillURL]), "backfill_dead_letter_queue_arn": cty.StringVal(arnOf[backfillDLQ]),
		}),
		"local": cty.ObjectVal(map[string]cty.Value{"db_user_arn": cty.StringVal("arn:aws:rds-db:us-east-1:123456789012:dbuser:db-TEST")}),
	}

	var rec recorder
	target, _ := url.Parse(endpoint)
	proxy := httptest.NewServer(rec.handler(target))
	t.Cleanup(proxy.Close)

	base := testConfig(t)
	base.Queue, base.SQSQueueURL, base.SQSDLQURL, base.SQSEndpoint, base.AWSRegion = "sqs", queueURL, dlqURL, proxy.URL, "us-east-1"
	base.SQSBackfillQueueURL, base.SQSBackfillDLQURL = backfillURL, backfillDLQ
	base.EmuVisibility = time.Second // emu extends held messages every third of it
	policies := map[string][]statement{}
	keys := map[string]string{}
	cfgs := map[string]Config{}
	for _, role := range []string{"serve", "pelican", "emu"} {
		policies[role] = taskPolicy(t, role, vars)
		user := "refarch-" + role + "-" + suffix
		if _, err := adminIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: &user}); err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
			t.Fatalf("create %s: %v", user, err)
		}
		if _, err := adminIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &user, PolicyName: aws.String(role + "-task"),
			PolicyDocument: aws.String(motoPolicy(policies[role]))}); err != nil {
			t.Fatalf("put %s's policy: %v", role, err)
		}
		k, err := adminIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &user})
		if err != nil {
			t.Fatal(err)
		}
		keys[role] = *k.AccessKey.AccessKeyId
		c := base
		c.sqsKeys = [2]string{*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey}
		c.DatabaseURL = pgtest.AsUser(base.DatabaseURL, "refarch_"+role)
		c.Addr = testkit.FreeAddr(t)
		cfgs[role] = c
	}

	owner, err := pgx.Connect(ctx, base.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	// A product that predates pelican with no outbox row (as after a bulk
	// load) is sent by the catch-up, on the backfill lane's queue.
	if _, err := owner.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('IAM-0', 'Oak stool', 'stool of oak', 40)`); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `DELETE FROM sync_outbox`); err != nil {
		t.Fatal(err)
	}
	// Hold emu's write of index_state until it has extended the visibility
	// of the messages it holds (of both lanes), as it must when indexing
	// outlasts a third of the timeout.
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE index_state IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	var errs errorLog
	stopEmu := startLogging(t, cfgs["emu"], Roles{Emu: true}, &errs)
	stopPelican := startLogging(t, cfgs["pelican"], Roles{Pelican: true}, &errs)
	stopServe := startLogging(t, cfgs["serve"], Roles{Serve: true}, &errs)
	serveAddr := cfgs["serve"].Addr
	resp, err = http.Post("http://"+serveAddr+"/api/products", "application/json", strings.NewReader(
		`{"sku":"IAM-1","name":"Cedar bench","description":"garden bench of cedar","price":"180.00","category":"Garden"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create product: %s", resp.Status)
	}
	for _, u := range []string{queueURL, backfillURL} {
		waitFor(t, "emu to extend a held message", func() bool { return rec.madeOn(keys["emu"], "sqs:ChangeMessageVisibilityBatch", u) })
	}
	tx.Rollback(ctx)
	waitFor(t, "the product to be searchable", func() bool {
		code, body := get(serveAddr + "/api/search?q=cedar+bench")
		return code == http.StatusOK && strings.Contains(body, "IAM-1")
	})
	if code, body := get(serveAddr + "/status"); code != http.StatusOK || strings.Contains(body, "Could not read the status") {
		t.Errorf("status page = %d, or could not read the status", code)
	}
	waitFor(t, "emu to refresh its queue depth gauge", func() bool { return rec.made(keys["emu"], "sqs:GetQueueAttributes") })
	// A product is searchable before emu's acker deletes its message: on a
	// loaded machine, stopping emu here found the delete not yet made.
	for _, u := range []string{queueURL, backfillURL} {
		waitFor(t, "emu to delete the messages it indexed", func() bool { return rec.madeOn(keys["emu"], "sqs:DeleteMessageBatch", u) })
	}
	stopServe()
	stopPelican()
	stopEmu()

	// The ops task (`refarch aws run`): status, the dead-letter list and
	// redrive, and a repairing reconcile, as the schema owner in Postgres.
	policies["ops"] = taskPolicy(t, "ops", vars)
	opsUser := "refarch-ops-" + suffix
	// A retried create (the SDK retries when moto answers slowly) finds the user there.
	if _, err := adminIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: &opsUser}); err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		t.Fatal(err)
	}
	if _, err := adminIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &opsUser, PolicyName: aws.String("ops-task"),
		PolicyDocument: aws.String(motoPolicy(policies["ops"]))}); err != nil {
		t.Fatalf("put ops's policy: %v", err)
	}
	ok, err := adminIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &opsUser})
	if err != nil {
		t.Fatal(err)
	}
	keys["ops"] = *ok.AccessKey.AccessKeyId
	ops := base
	ops.sqsKeys = [2]string{*ok.AccessKey.AccessKeyId, *ok.AccessKey.SecretAccessKey}
	for _, u := range []string{dlqURL, backfillDLQ} {
		if _, err := adminSQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &u, MessageBody: aws.String(`{}`),
			MessageGroupId: aws.String("1"), MessageDeduplicationId: aws.String("dead-1")}); err != nil {
			t.Fatalf("dead-letter a message: %v", err)
		}
	}
	if _, err := owner.Exec(ctx, `INSERT INTO products (sku, name, description, price) VALUES ('IAM-2', 'Pine shelf', 'not indexed yet', 30)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Status(ctx, ops, nil); err != nil {
		t.Errorf("ops status: %v", err)
	}
	if _, _, err := DeadLetters(ctx, ops, 10); err != nil {
		t.Errorf("ops dlq: %v", err)
	}
	if n, err := Redrive(ctx, ops); err != nil || n != 2 {
		t.Errorf("ops dlq redrive = %d, %v; want 2 moved (one per lane)", n, err)
	}
	if _, err := Reconcile(ctx, ops, true, nil); err != nil {
		t.Errorf("ops reconcile --repair: %v", err)
	}
	if s := errs.String(); s != "" {
		t.Errorf("the roles logged errors:\n%s", s)
	}

	// What each role did, against what its policy grants.
	roleOf := map[string]string{}
	for role, k := range keys {
		roleOf[k] = role
	}
	used := map[string]bool{} // role action arn
	for _, c := range rec.snapshot() {
		role, ok := roleOf[c.key]
		if !ok {
			continue
		}
		if c.status == clientGone {
			continue
		}
		if c.status != http.StatusOK {
			t.Errorf("%s's %s on %s was refused (%d): %.200s", role, c.action, c.queue, c.status, c.body)
			continue
		}
		action := c.action
		for single, batch := range batchOf {
			if action == batch {
				action = single
			}
		}
		arn := arnOf[c.queue]
		if !slices.ContainsFunc(policies[role], func(s statement) bool {
			return slices.Contains(s.Actions, action) && slices.Contains(s.Resources, arn)
		}) {
			t.Errorf("%s calls %s on %s, which no statement of its policy grants on that queue", role, c.action, arn)
		}
		used[role+" "+action+" "+arn] = true
	}
	var unused []string
	for role, sts := range policies {
		for _, s := range sts {
			for _, a := range s.Actions {
				if !strings.HasPrefix(a, "sqs:") {
					continue
				}
				for _, r := range s.Resources {
					if !used[role+" "+a+" "+r] {
						unused = append(unused, fmt.Sprintf("%s: %s on %s", role, a, r))
					}
				}
			}
		}
	}
	sort.Strings(unused)
	for _, u := range unused {
		t.Errorf("granted but never called: %s", u)
	}
}
