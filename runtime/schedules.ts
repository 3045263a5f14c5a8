import * as crypto from "crypto";
import { ACCOUNT_ID, StackJson, StateValues } from "./functions";
import { stateValue } from "./gateway";
import { functionNameOf } from "./stack-refs";

/**
 * EventBridge Scheduler's side of a schedule that targets a function, for `npm run trigger`: the
 * schedules a stack creates (aws_scheduler_schedule with a Lambda target), and the payload Scheduler
 * sends when one fires: its input, with the context attributes (<aws.scheduler.schedule-arn>,
 * <aws.scheduler.scheduled-time>, <aws.scheduler.execution-id>, <aws.scheduler.attempt-number>)
 * replaced ("Adding context attributes in EventBridge Scheduler"), or `{}` without one. Scheduler
 * invokes a Lambda target asynchronously (InvocationType Event), so Lambda's async retries apply.
 */

export interface ScheduleSpec {
  readonly name: string;
  readonly arn: string;
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  /** The function the schedule invokes. */
  readonly functionName: string;
  readonly input?: string;
}

type Resources = Record<string, Record<string, unknown>>;

export function schedulesFromStack(stack: StackJson, region: string, state?: StateValues): { schedules: ScheduleSpec[]; problems: string[] } {
  const schedules: ScheduleSpec[] = [];
  const problems: string[] = [];
  for (const [id, s] of Object.entries((stack.resource?.aws_scheduler_schedule ?? {}) as Resources)) {
    const target = (Array.isArray(s.target) ? s.target[0] : s.target) as Record<string, unknown> | undefined;
    const name = String(s.name ?? id);
    const fn = functionNameOf(stack, target?.arn);
    if (!fn) {
      problems.push(`schedule ${name}: its target is not a function this stack creates; it cannot be fired locally`);
      continue;
    }
    const group = typeof s.group_name === "string" ? s.group_name : "default";
    schedules.push({
      name,
      arn: stateValue(state, "aws_scheduler_schedule", id, "arn") ?? `arn:aws:scheduler:${region}:${ACCOUNT_ID}:schedule/${group}/${name}`,
      expression: String(s.schedule_expression ?? ""),
      timezone: String(s.schedule_expression_timezone ?? "UTC"),
      enabled: s.state !== "DISABLED",
      functionName: fn,
      input: typeof target?.input === "string" ? target.input : undefined,
    });
  }
  return { schedules, problems };
}

/** What Scheduler sends the function when `schedule` fires at `scheduledTime`. */
export function schedulerPayload(schedule: ScheduleSpec, scheduledTime: Date, attempt = 1, executionId = crypto.randomBytes(8).toString("hex")): string {
  const time = scheduledTime.toISOString().replace(/\.\d{3}Z$/, "Z");
  return (schedule.input ?? "{}")
    .replace(/<aws\.scheduler\.schedule-arn>/g, schedule.arn)
    .replace(/<aws\.scheduler\.scheduled-time>/g, time)
    .replace(/<aws\.scheduler\.execution-id>/g, executionId)
    .replace(/<aws\.scheduler\.attempt-number>/g, String(attempt));
}
