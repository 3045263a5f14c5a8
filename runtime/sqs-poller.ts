import { DeleteMessageBatchCommand, GetQueueUrlCommand, Message, MessageAttributeValue, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { GatewayInvoke } from "./ws-gateway";

/**
 * What Lambda's SQS pollers do for an event source mapping, against the local AWS's queues: receive
 * batches (batch size, batching window), invoke the function synchronously with Lambda's SQS event,
 * delete what it processed, and leave the rest to come back after the queue's visibility timeout,
 * where the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount receives
 * (moto does that part, as SQS does). With ReportBatchItemFailures, only the messages the function
 * names in `batchItemFailures` are kept. ("Using Lambda with Amazon SQS", "Handling errors for an SQS
 * event source", "Reporting batch item failures".) One batch at a time per mapping: Lambda starts
 * with five concurrent pollers; locally, order is easier to follow than throughput.
 */

export interface SqsSourceSpec {
  /** The function the mapping invokes. */
  readonly functionName: string;
  readonly queueArn: string;
  /** Known from the state; otherwise looked up by the ARN's name. */
  readonly queueUrl?: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
}

export interface SqsCounts {
  batches: number;
  received: number;
  deleted: number;
  /** Messages left on the queue after a failed invocation or as batch item failures. */
  retried: number;
}

/** Lambda's record for one message ("Example standard queue message event"). */
export function sqsRecord(m: Message, queueArn: string): Record<string, unknown> {
  const attr = (v: MessageAttributeValue) => ({
    stringValue: v.StringValue,
    binaryValue: v.BinaryValue ? Buffer.from(v.BinaryValue).toString("base64") : undefined,
    stringListValues: v.StringListValues ?? [],
    binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
    dataType: v.DataType,
  });
  const region = queueArn.split(":")[3];
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body ?? "",
    attributes: { ...(m.Attributes ?? {}) },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, attr(v)])),
    md5OfBody: m.MD5OfBody,
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which messages of a batch to delete, from the invocation's outcome. A failed invocation deletes
 * none. With ReportBatchItemFailures, an answer naming failures keeps those; an answer Lambda cannot
 * read (bad JSON, an itemIdentifier that is empty or not in the batch) fails the whole batch; no
 * answer, null or an empty list is a complete success.
 */
export function messagesToDelete(ids: readonly string[], outcome: { payload: string; error?: string }, reportBatchItemFailures: boolean): { delete: string[]; note?: string } {
  if (outcome.error) return { delete: [], note: `the function failed (${outcome.error})` };
  if (!reportBatchItemFailures) return { delete: [...ids] };
  let answer: unknown;
  try {
    answer = outcome.payload.trim() ? JSON.parse(outcome.payload) : null;
  } catch {
    return { delete: [], note: "its answer is not JSON, so the whole batch failed" };
  }
  const failures = (answer as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (failures === undefined || failures === null) return { delete: [...ids] };
  if (!Array.isArray(failures)) return { delete: [], note: "batchItemFailures is not a list, so the whole batch failed" };
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !id || !ids.includes(id)) return { delete: [], note: `batchItemFailures names ${JSON.stringify(id ?? null)}, not a message of the batch, so the whole batch failed` };
    failed.add(id);
  }
  return { delete: ids.filter((id) => !failed.has(id)), note: failed.size ? `${failed.size} reported in batchItemFailures` : undefined };
}

export class SqsPoller {
  readonly counts: SqsCounts = { batches: 0, received: 0, deleted: 0, retried: 0 };
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private url?: string;
  readonly queueName: string;

  constructor(
    readonly spec: SqsSourceSpec,
    private readonly invoke: GatewayInvoke,
    private readonly sqs: SQSClient,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.queueName = spec.queueArn.split(":").pop() ?? spec.queueArn;
    this.url = spec.queueUrl;
  }

  start(): void {
    if (!this.spec.enabled) {
      this.log(`sqs ${this.queueName} -> ${this.spec.functionName}: the mapping is disabled; not polling`);
      return;
    }
    this.loop = this.run();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  private async run(): Promise<void> {
    let lastProblem = "";
    while (!this.stopped) {
      try {
        const batch = await this.receive();
        lastProblem = "";
        if (batch.length) await this.deliver(batch);
      } catch (e) {
        if (this.stopped) return;
        const problem = (e as Error).message;
        // Said once while it lasts (a queue not created yet, the local AWS restarting).
        if (problem !== lastProblem) this.log(`sqs ${this.queueName} -> ${this.spec.functionName}: ${problem}; retrying every 2 s`);
        lastProblem = problem;
        await this.pause(2000);
      }
    }
  }

  /** Up to batchSize messages: one receive, or as many as the batching window allows. */
  private async receive(): Promise<Message[]> {
    if (!this.url) {
      const r = await this.sqs.send(new GetQueueUrlCommand({ QueueName: this.queueName, QueueOwnerAWSAccountId: this.spec.queueArn.split(":")[4] }), { abortSignal: this.abort.signal });
      this.url = r.QueueUrl!;
    }
    const batch: Message[] = [];
    const windowEnds = Date.now() + this.spec.batchingWindowSeconds * 1000;
    do {
      const left = Math.max(0, windowEnds - Date.now());
      const r = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.min(10, this.spec.batchSize - batch.length),
          // Long polling, as Lambda's pollers do (20 s there; 1 s here, so a stop is quick).
          WaitTimeSeconds: batch.length ? Math.min(1, Math.floor(left / 1000)) : 1,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: this.abort.signal },
      );
      batch.push(...(r.Messages ?? []));
      if (!batch.length || !r.Messages?.length) break;
    } while (batch.length < this.spec.batchSize && Date.now() < windowEnds);
    return batch;
  }

  private async deliver(batch: Message[]): Promise<void> {
    const started = Date.now();
    this.counts.batches++;
    this.counts.received += batch.length;
    const event = { Records: batch.map((m) => sqsRecord(m, this.spec.queueArn)) };
    const outcome = await this.invoke(this.spec.functionName, event).then(
      (r) => ({ payload: r.payload.toString(), error: r.error }),
      (e: Error) => ({ payload: "", error: e.message }),
    );
    const ids = batch.map((m) => m.MessageId!);
    const verdict = messagesToDelete(ids, outcome, this.spec.reportBatchItemFailures);
    const gone = batch.filter((m) => verdict.delete.includes(m.MessageId!));
    for (let i = 0; i < gone.length; i += 10) {
      const chunk = gone.slice(i, i + 10);
      await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })) }), { abortSignal: this.abort.signal });
    }
    this.counts.deleted += gone.length;
    const kept = batch.length - gone.length;
    this.counts.retried += kept;
    const receives = batch.map((m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1));
    this.log(
      `sqs ${this.queueName} -> ${this.spec.functionName}: ${batch.length} message${batch.length === 1 ? "" : "s"} (receive ${Math.max(...receives)}), ${gone.length} deleted` +
        (kept ? `, ${kept} back after the visibility timeout${verdict.note ? `: ${verdict.note}` : ""}` : "") +
        ` (${Date.now() - started} ms)`,
    );
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => {});
  }
}
