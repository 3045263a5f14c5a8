import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { GatewayRecord, runningGateway, startGateway } from "../lib/local-gateway";
import { functionKey, localState } from "../lib/local-runtime";
import { readStack, synthAll } from "../lib/synth";
import { rateMillis } from "../modules/triggers/expressions";
import type { InvocationRecord } from "../runtime/emulator";
import type { StackJson } from "../runtime/functions";
import { schedulerPayload, ScheduleSpec, schedulesFromStack } from "../runtime/schedules";

const HELP = `Usage: npm run trigger -- <env> <function|schedule> [--every]
       npm run trigger -- <env> --every

Fires an env's schedules (the functions' schedule triggers) on this machine, as EventBridge Scheduler
does: the function is invoked asynchronously (InvocationType Event, with Lambda's retries) on the
env's local gateway with the schedule's input, its context attributes (<aws.scheduler.scheduled-time>,
<aws.scheduler.schedule-arn>, <aws.scheduler.execution-id>, <aws.scheduler.attempt-number>) replaced,
or {} without one. It prints the invocation's outcome and the end of its log.

  <function|schedule>  a function's key (report: all its schedules) or a schedule's name
                       (lambdaship-local-report-daily, or daily)
  --every              keep firing the chosen rate() schedules (all of the env's without a name) at
                       their rate, the first one period from now, while the gateway runs (Ctrl-C
                       stops); cron() and at() schedules are fired by hand only

The gateway is the one npm start leaves running; when none runs, it is started in the background
(npm run emulator -- stop stops it). The env must be deployed to the local AWS (npm start does it for
local).
${exitCodesHelp()} A fired function that failed exits 1.`;

async function fire(gw: GatewayRecord, s: ScheduleSpec, out: (line: string) => void): Promise<boolean> {
  const payload = schedulerPayload(s, new Date());
  const r = await fetch(`${gw.runtimeUrl}/2015-03-31/functions/${encodeURIComponent(s.functionName)}/invocations`, { method: "POST", headers: { "X-Amz-Invocation-Type": "Event" }, body: payload });
  if (r.status !== 202) throw new Error(`the gateway refused the invocation of ${s.functionName}: ${r.status} ${await r.text()}`);
  const requestId = r.headers.get("x-amzn-requestid") ?? "";
  out(`${s.name} (${s.expression}${s.enabled ? "" : ", disabled"}) fired -> ${s.functionName}, Event invocation ${requestId}, payload ${payload.length > 200 ? `${payload.slice(0, 200)}...` : payload}`);
  const started = Date.now();
  let shown = started;
  for (;;) {
    const status = (await (await fetch(`${gw.runtimeUrl}/status`)).json()) as { recentInvocations: InvocationRecord[] };
    const done = status.recentInvocations.find((i) => i.requestId === requestId && i.attempt === 1);
    if (done) {
      out(`  ${done.status}${done.errorType ? ` (${done.errorType})` : ""} in ${done.durationMs.toFixed(1)} ms${done.next ? `; ${done.next}` : ""}`);
      out(done.logTail.trimEnd().split("\n").map((l) => `  | ${l}`).join("\n"));
      return done.status === "success";
    }
    if (Date.now() - shown > 10_000) {
      shown = Date.now();
      out(`  ... still running (${((Date.now() - started) / 1000).toFixed(0)} s); its output is in ${gw.log}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function main(): Promise<number | void> {
  const { values, positionals, help } = parseCommandLine(process.argv.slice(2), { every: { type: "boolean" } }, 2);
  if (help || positionals.length === 0 || (positionals.length === 1 && !values.every)) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const env = loadEnv(positionals[0]);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  synthAll(undefined, env.name);
  const { schedules, problems } = schedulesFromStack(readStack(env.name) as StackJson, env.region, env.stateBackend ? undefined : localState(env.name));
  for (const p of problems) out(`note: ${p}`);
  const wanted = positionals[1];
  const describe = (s: ScheduleSpec) => `${s.name} (${functionKey(env, s.functionName)}, ${s.expression})`;
  const chosen = wanted === undefined ? schedules : schedules.filter((s) => functionKey(env, s.functionName) === wanted || s.functionName === wanted || s.name === wanted || s.name === `${env.namePrefix}-${functionKey(env, s.functionName)}-${wanted}`);
  if (!chosen.length) {
    throw new UsageError(
      schedules.length
        ? `${env.name} has no schedule ${JSON.stringify(wanted)}; its schedules are ${schedules.map(describe).join(", ")}`
        : `${env.name} has no schedules: give a function a trigger, e.g. triggers: { schedule: [{ expression: "rate(5 minutes)" }] }, in envs/${env.name}.ts`,
    );
  }
  const gw = runningGateway(env.name) ?? (out(`starting the local gateway of ${env.name} in the background (npm run emulator -- stop stops it)`), await startGateway(env.name, { log: out }));
  if (!values.every) {
    let ok = true;
    for (const s of chosen) ok = (await fire(gw, s, out)) && ok;
    return ok ? 0 : 1;
  }
  const rated = chosen.filter((s) => rateMillis(s.expression) !== undefined && s.enabled);
  for (const s of chosen.filter((x) => !rated.includes(x))) out(`${describe(s)}: ${s.enabled ? "not a rate(); fire it by hand" : "disabled"}; not fired with --every`);
  if (!rated.length) throw new UsageError(`none of the chosen schedules is an enabled rate() one: ${chosen.map(describe).join(", ")}`);
  await new Promise<void>((resolve) => {
    const timers = rated.map((s) => {
      const every = rateMillis(s.expression)!;
      out(`${describe(s)}: fired every ${every / 1000} s, first at ${new Date(Date.now() + every).toISOString()}`);
      return setInterval(() => {
        if (!runningGateway(env.name)) {
          out(`the local gateway of ${env.name} stopped; not firing any more`);
          timers.forEach(clearInterval);
          return resolve();
        }
        void fire(gw, s, out).catch((e: Error) => out(`${s.name}: ${e.message}`));
      }, every);
    });
    out("Ctrl-C stops");
    process.once("SIGINT", () => (timers.forEach(clearInterval), resolve()));
  });
}

runMain("npm run trigger", main);
