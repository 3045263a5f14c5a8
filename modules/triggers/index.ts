import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { SchedulerSchedule } from "@cdktf/provider-aws/lib/scheduler-schedule";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueueRedrivePolicy } from "@cdktf/provider-aws/lib/sqs-queue-redrive-policy";
import { Construct } from "constructs";
import { AccountContext } from "../account";
import { PropError } from "../errors";
import type { IFunction } from "../lambda_function";
import { acceptCheck } from "../policy-checks";
import { scheduleExpressionProblem } from "./expressions";

export { httpRouteProblem, rateMillis, scheduleExpressionProblem } from "./expressions";

export interface ScheduleTriggerProps {
  readonly function: IFunction;
  /** The schedule's name (at most 64 characters). */
  readonly name: string;
  /** `rate(5 minutes)`, `cron(0 12 * * ? *)` or `at(2027-01-01T00:00:00)`. */
  readonly expression: string;
  /** IANA time zone. @default "UTC" */
  readonly timezone?: string;
  /** The event the function gets (JSON-serialisable). @default {} */
  readonly input?: unknown;
  /** @default true */
  readonly enabled?: boolean;
}

/**
 * An EventBridge Scheduler schedule that invokes one function, through a role Scheduler assumes
 * (only for this account's schedules) that may invoke that function and nothing else.
 */
export class ScheduleTrigger extends Construct {
  public readonly schedule: SchedulerSchedule;
  public readonly role: IamRole;

  constructor(scope: Construct, id: string, props: ScheduleTriggerProps) {
    super(scope, id);
    const problem = scheduleExpressionProblem(props.expression);
    if (problem) throw new PropError("expression", props.expression, problem);
    if (!/^[0-9a-zA-Z-_.]{1,64}$/.test(props.name)) throw new PropError("name", props.name, "a schedule name is 1-64 letters, digits, '-', '_' and '.'");
    const account = AccountContext.of(this);
    this.role = new IamRole(this, "role", {
      name: `${props.name}-scheduler`.slice(0, 64),
      description: `EventBridge Scheduler invoking ${props.name}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "scheduler.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": account.accountId } } }],
      }),
    });
    new IamRolePolicy(this, "invoke", {
      role: this.role.name,
      name: "invoke-function",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "InvokeTarget", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [props.function.functionArn, `${props.function.functionArn}:*`] }],
      }),
    });
    this.schedule = new SchedulerSchedule(this, "schedule", {
      name: props.name,
      scheduleExpression: props.expression,
      scheduleExpressionTimezone: props.timezone ?? "UTC",
      state: props.enabled === false ? "DISABLED" : "ENABLED",
      flexibleTimeWindow: { mode: "OFF" },
      target: { arn: props.function.functionArn, roleArn: this.role.arn, input: JSON.stringify(props.input ?? {}), retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 } },
    });
    acceptCheck(this.schedule, "CKV_AWS_297", "Scheduler encrypts the schedule (its target and input) with an AWS owned key; a customer managed key needs a key policy for scheduler.amazonaws.com and holds nothing secret here");
  }
}

export interface SqsTriggerProps {
  readonly function: IFunction;
  /** The function's timeout: a created queue's visibility timeout defaults to 6 times it. */
  readonly functionTimeoutSeconds: number;
  /** An existing queue: its ARN. Give either this or `create`. */
  readonly queueArn?: string;
  /** A queue created here, with its dead-letter queue (`<name>-dlq`). */
  readonly create?: { readonly name: string; readonly maxReceiveCount: number; readonly visibilityTimeoutSeconds?: number; readonly retentionSeconds?: number };
  /** @default 10 */
  readonly batchSize?: number;
  /** @default 0 */
  readonly batchingWindowSeconds?: number;
  /** @default true */
  readonly reportBatchItemFailures?: boolean;
  /** How the queue reads in a warning where the ARN is a token. @default - the ARN */
  readonly shownAs?: string;
}

/**
 * Lambda polling an SQS queue (existing, or created here with a dead-letter queue): an event source
 * mapping with batch size, batching window and partial batch responses, and the function's role
 * granted exactly the consume actions on that queue.
 */
export class SqsTrigger extends Construct {
  public readonly mapping: LambdaEventSourceMapping;
  public readonly queue?: SqsQueue;
  public readonly deadLetterQueue?: SqsQueue;
  public readonly queueArn: string;

  constructor(scope: Construct, id: string, props: SqsTriggerProps) {
    super(scope, id);
    if ((props.queueArn === undefined) === (props.create === undefined)) throw new PropError("queueArn", props.queueArn, "give an existing queue's queueArn, or create");
    const fifo = props.create ? props.create.name.endsWith(".fifo") : String(props.queueArn).endsWith(".fifo");
    const max = fifo ? 10 : 10000;
    const batch = props.batchSize ?? 10;
    if (batch < 1 || batch > max) throw new PropError("batchSize", batch, `Lambda takes 1-${max} messages per batch from a ${fifo ? "FIFO" : "standard"} queue`);
    if (batch > 10 && !props.batchingWindowSeconds) throw new PropError("batchSize", batch, "a batch over 10 messages needs batchingWindowSeconds of at least 1");
    if (props.create) {
      const c = props.create;
      const visibility = c.visibilityTimeoutSeconds ?? Math.max(30, 6 * props.functionTimeoutSeconds);
      if (visibility < props.functionTimeoutSeconds) throw new PropError("create.visibilityTimeoutSeconds", visibility, `Lambda refuses a queue whose visibility timeout is under the function's timeout (${props.functionTimeoutSeconds} s)`);
      const dlqName = fifo ? `${c.name.slice(0, -5)}-dlq.fifo` : `${c.name}-dlq`;
      this.deadLetterQueue = new SqsQueue(this, "dlq", { name: dlqName, messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true, ...(fifo ? { fifoQueue: true } : {}) });
      this.queue = new SqsQueue(this, "queue", {
        name: c.name,
        visibilityTimeoutSeconds: visibility,
        messageRetentionSeconds: c.retentionSeconds ?? 345600,
        sqsManagedSseEnabled: true,
        ...(fifo ? { fifoQueue: true } : {}),
        // Set by the redrive policy resource below.
        lifecycle: { ignoreChanges: ["redrive_policy"] },
      });
      // Its own resource: the queue's redrive_policy argument compares the JSON text as read back, and
      // shows a change on every plan where the service formats it otherwise (moto does).
      new SqsQueueRedrivePolicy(this, "redrive", {
        queueUrl: this.queue.url,
        redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: c.maxReceiveCount }),
      });
      this.queueArn = this.queue.arn;
    } else {
      this.queueArn = props.queueArn!;
    }
    props.function.grant(`the SQS queue ${props.shownAs ?? props.create?.name ?? props.queueArn}`, {
      statements: [{ sid: `Consume${id.replace(/[^A-Za-z0-9]/g, "")}`.slice(0, 100), actions: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], resources: [this.queueArn], shownAs: props.shownAs ?? `queue ${props.create?.name ?? props.queueArn}` }],
    });
    this.mapping = new LambdaEventSourceMapping(this, "mapping", {
      eventSourceArn: this.queueArn,
      functionName: props.function.functionArn,
      batchSize: batch,
      maximumBatchingWindowInSeconds: props.batchingWindowSeconds ?? 0,
      functionResponseTypes: props.reportBatchItemFailures === false ? undefined : ["ReportBatchItemFailures"],
    });
  }
}
