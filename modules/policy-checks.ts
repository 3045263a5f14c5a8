import { TerraformResource } from "cdktf";

/**
 * Checkov findings this project accepts, written next to the resource they concern, each with the
 * one-line reason a reviewer reads. They are stored in the resource's `//` comment object of the
 * synthesized JSON (`"//": {"checkov": {"CKV_AWS_50": "reason"}}`), which Terraform ignores;
 * checkov's terraform_json runner has no inline suppressions, so the policy scan in npm test
 * (`__tests__/policy-scan.test.ts`) matches its failed checks against them, and fails on any other
 * failure and on any suppression that no longer suppresses anything.
 */
export function acceptCheck(resource: TerraformResource, checkId: string, reason: string): void {
  if (!/^CKV2?_AWS_\d+$/.test(checkId)) throw new Error(`${resource.node.path}: ${checkId} is not a checkov AWS check ID`);
  if (!reason.trim() || reason.includes("\n") || reason.length > 240) throw new Error(`${resource.node.path}: the reason for accepting ${checkId} must be one line of at most 240 characters`);
  resource.addOverride(`//.checkov.${checkId}`, reason);
}

/** Reasons shared by every function this project deploys. */
export const FUNCTION_CHECKS: Readonly<Record<string, string>> = {
  CKV_AWS_50: 'no X-Ray: tracing needs xray:PutTraceSegments on Resource "*", which these least-privilege roles never get; REPORT lines give each invocation\'s duration',
  CKV_AWS_116: "invoked synchronously (API Gateway, function URL, direct invoke): a dead-letter queue only receives failed asynchronous events",
  CKV_AWS_117: "calls only AWS APIs, over TLS with IAM auth; a VPC would add NAT cost and cold-start time and isolate nothing here",
  CKV_AWS_272: "the package is built reproducibly at apply from the reviewed commit and deployed by its input hash; code signing would need AWS Signer outside this stack",
  CKV_AWS_173: "the variables hold resource names and settings, never secrets (those belong in Secrets Manager); Lambda encrypts them at rest with its AWS managed key",
};

export const LOG_GROUP_KMS = "CloudWatch Logs encrypts log data at rest by default; a customer managed key would need a key policy for the logs service in every region";
export const TABLE_KMS = "server-side encryption with the AWS managed key; a customer managed key adds cost and a key policy without adding control here";

export function logRetentionReason(days: number): string {
  return `retention is the env's logRetentionDays (${days} days), chosen for cost; raise it in the env file where logs must be kept a year`;
}

export const PITR_OFF = "this env turns point-in-time recovery off (table.pointInTimeRecovery) for cost; staging and prod keep it on";
