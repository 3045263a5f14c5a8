import { Construct } from "constructs";
import { AccountContext } from "../account";
import type { PolicyStatement } from "./index";

/** A named template on named resources of the env's account and region (seed 001's list). */
export type PolicyTemplateOptions =
  | { readonly template: "dynamodb-read" | "dynamodb-read-write"; readonly tables: readonly string[]; /** @default - none */ readonly indexes?: readonly string[] }
  | { readonly template: "s3-read" | "s3-read-write"; readonly buckets: readonly string[]; /** Key prefix. @default "" (the whole bucket) */ readonly prefix?: string }
  | { readonly template: "sqs-send" | "sqs-consume"; readonly queues: readonly string[] }
  | { readonly template: "sns-publish"; readonly topics: readonly string[] };

/**
 * Seed 001's named policy templates, turned into least-privilege statements on named resources of the
 * env's account and region. Every function also writes its own log group (ManagedFunction adds that);
 * nothing here grants a wildcard action, and resources are named, except S3 objects, which are
 * scoped to a bucket and key prefix.
 */

/** The actions of each template, in the order they appear in the policy. */
export const TEMPLATE_ACTIONS = {
  "dynamodb-read": ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
  "dynamodb-read-write": [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem",
  ],
  "s3-read": ["s3:GetObject"],
  "s3-read-write": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
  "sqs-send": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
  "sqs-consume": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
  "sns-publish": ["sns:Publish"],
} as const satisfies Record<PolicyTemplateOptions["template"], readonly string[]>;

export { accountId } from "../account";

function sidOf(template: string, index: number): string {
  return `${template.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("")}${index}`;
}

/**
 * The statements of `templates`, for resources in `region`. `index` numbers the templates in the
 * function's list, so two templates of the same kind get distinct statement IDs.
 */
export function statementsFromTemplates(scope: Construct, templates: readonly PolicyTemplateOptions[], region: string): PolicyStatement[] {
  if (templates.length === 0) return [];
  const { accountId, partition } = AccountContext.of(scope);
  const arn = (service: string, resource: string, withRegion = true) =>
    `arn:${partition}:${service}:${withRegion ? region : ""}:${withRegion ? accountId : ""}:${resource}`;
  const out: PolicyStatement[] = [];
  templates.forEach((t, i) => {
    const sid = sidOf(t.template, i + 1);
    const actions = [...TEMPLATE_ACTIONS[t.template]];
    switch (t.template) {
      case "dynamodb-read":
      case "dynamodb-read-write": {
        const tables = t.tables.map((name) => arn("dynamodb", `table/${name}`));
        const indexes = t.tables.flatMap((name) => (t.indexes ?? []).map((ix) => arn("dynamodb", `table/${name}/index/${ix}`)));
        out.push({ sid, actions, resources: [...tables, ...indexes] });
        break;
      }
      case "s3-read":
      case "s3-read-write": {
        const prefix = t.prefix ?? "";
        out.push({ sid, actions, resources: t.buckets.map((b) => `arn:${partition}:s3:::${b}/${prefix}*`) });
        out.push({
          sid: `${sid}List`,
          actions: ["s3:ListBucket"],
          resources: t.buckets.map((b) => `arn:${partition}:s3:::${b}`),
          ...(prefix ? { conditions: [{ test: "StringLike", variable: "s3:prefix", values: [`${prefix}*`] }] } : {}),
        });
        break;
      }
      case "sqs-send":
      case "sqs-consume":
        out.push({ sid, actions, resources: t.queues.map((q) => arn("sqs", q)) });
        break;
      case "sns-publish":
        out.push({ sid, actions, resources: t.topics.map((topic) => arn("sns", topic)) });
        break;
    }
  });
  return out;
}
