import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CreateQueueCommand, GetQueueAttributesCommand, Message, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { collectFiles, createZip } from "../build/zip";
import { Emulator, startEmulator } from "../lib/local-aws";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { gatewayFromStack, LocalGateway } from "../runtime/gateway";
import { messagesToDelete } from "../runtime/sqs-poller";

/**
 * SQS event source mappings served by the local gateway against moto's queues, with the AWS SDK as
 * the sender: Lambda's SQS event, delete on success, back after the visibility timeout on failure,
 * partial batch failures, and the dead-letter queue after maxReceiveCount (Lambda's "Using Lambda
 * with Amazon SQS" and "Handling errors for an SQS event source").
 */
jest.setTimeout(120_000);

const FIXTURE = path.join(__dirname, "fixtures", "gateway");
let tmp: string;
let aws: Emulator;
let sqs: SQSClient;
let emulator: RuntimeEmulator;
let gateway: LocalGateway;
const lines: string[] = [];
const logs: string[] = [];
let mainUrl: string;
let dlqUrl: string;

function stack(zip: string): StackJson {
  return {
    resource: {
      aws_lambda_function: { consumer: { function_name: "sqs-consumer", runtime: "nodejs22.x", handler: "index.sqs", filename: zip, memory_size: 128, timeout: 5 } },
      aws_sqs_queue: { orders: { name: "orders" }, dlq: { name: "orders-dlq" } },
      aws_lambda_event_source_mapping: {
        m: { event_source_arn: "${aws_sqs_queue.orders.arn}", function_name: "${aws_lambda_function.consumer.arn}", batch_size: 5, maximum_batching_window_in_seconds: 0, function_response_types: ["ReportBatchItemFailures"] },
      },
    },
  };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-sqs-"));
  const zip = path.join(tmp, "fn.zip");
  fs.writeFileSync(zip, createZip(collectFiles(FIXTURE)));
  aws = await startEmulator();
  sqs = new SQSClient({ endpoint: aws.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "orders-dlq" }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn;
  mainUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "orders", Attributes: { VisibilityTimeout: "1", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) } }))).QueueUrl!;
  const s = stack(zip);
  emulator = new RuntimeEmulator([], { console: (l) => logs.push(l) });
  await emulator.listen(0);
  const { functions } = functionsFromStack(s, { stackDir: tmp, region: "us-east-1", projectRoot: tmp, awsEndpoint: aws.endpoint });
  for (const f of functions) emulator.add(f);
  const spec = gatewayFromStack(s, "us-east-1");
  expect(spec.queues).toEqual([{ functionName: "sqs-consumer", queueArn: "arn:aws:sqs:us-east-1:123456789012:orders", queueUrl: undefined, batchSize: 5, batchingWindowSeconds: 0, reportBatchItemFailures: true, enabled: true }]);
  gateway = new LocalGateway(spec, emulator, { log: (l) => lines.push(l), aws: { endpoint: aws.endpoint, region: "us-east-1" } });
  await gateway.start();
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
  await aws?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; gateway said:\n${lines.join("\n")}\nfunction said:\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const send = (body: string, attrs?: Record<string, string>) =>
  sqs.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: body, MessageAttributes: attrs && Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { DataType: "String", StringValue: v }])) }));

async function depth(url: string): Promise<number> {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes!;
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
}

describe("the local gateway's SQS pollers", () => {
  it("delivers a sent message as Lambda's SQS event and deletes it once processed", async () => {
    const sent = await send("hello", { kind: "greeting" });
    const line = await until("the message", () => logs.find((l) => l.includes("got hello")));
    expect(line).toContain('receive=1 attr={"kind":{"stringValue":"greeting","stringListValues":[],"binaryListValues":[],"dataType":"String"}} source=aws:sqs arn=arn:aws:sqs:us-east-1:123456789012:orders');
    await until("the delete", () => lines.find((l) => /sqs orders -> sqs-consumer: 1 message \(receive 1\), 1 deleted/.test(l)));
    expect(await depth(mainUrl)).toBe(0);
    expect(sent.MessageId).toBeDefined();
  });

  it("keeps only the batch item failures, which come back after the visibility timeout", async () => {
    lines.length = 0;
    logs.length = 0;
    await send("skip");
    // Received once, reported failed, back after 1 s, received again: then it is past maxReceiveCount.
    await until("a second receive", () => logs.find((l) => l.includes("got skip receive=2")));
    expect(lines.find((l) => l.includes("(receive 1), 0 deleted, 1 back after the visibility timeout: 1 reported in batchItemFailures"))).toBeDefined();
  });

  it("moves a message that fails every time to the dead-letter queue after maxReceiveCount", async () => {
    await send("poison");
    const dead: Message = await until("the dead-letter queue", async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))).Messages?.find((m) => m.Body === "poison"));
    expect(dead.Body).toBe("poison");
    expect(logs.filter((l) => l.includes("got poison")).length).toBe(2);
    expect(lines.find((l) => l.includes("1 back after the visibility timeout: the function failed (Error)"))).toBeDefined();
    await until("an empty queue", async () => ((await depth(mainUrl)) === 0 ? true : undefined));
  });

  it("fails the whole batch when the answer names a message not in it", () => {
    expect(messagesToDelete(["a", "b"], { payload: '{"batchItemFailures":[{"itemIdentifier":"zz"}]}' }, true).delete).toEqual([]);
    expect(messagesToDelete(["a", "b"], { payload: '{"batchItemFailures":[{"itemIdentifier":""}]}' }, true).delete).toEqual([]);
    expect(messagesToDelete(["a", "b"], { payload: "not json" }, true).delete).toEqual([]);
    expect(messagesToDelete(["a", "b"], { payload: "null" }, true).delete).toEqual(["a", "b"]);
    expect(messagesToDelete(["a", "b"], { payload: '{"batchItemFailures":[]}' }, true).delete).toEqual(["a", "b"]);
    expect(messagesToDelete(["a", "b"], { payload: '{"batchItemFailures":[{"itemIdentifier":"b"}]}' }, true).delete).toEqual(["a"]);
    // Without ReportBatchItemFailures the answer is not read.
    expect(messagesToDelete(["a", "b"], { payload: '{"batchItemFailures":[{"itemIdentifier":"b"}]}' }, false).delete).toEqual(["a", "b"]);
    expect(messagesToDelete(["a"], { payload: "", error: "Unhandled" }, true).delete).toEqual([]);
  });
});
