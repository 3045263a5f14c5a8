import { Testing, TerraformStack } from "cdktf";
import { ManagedFunction, ManagedFunctionProps } from "../modules/lambda_function";

function props(overrides: Partial<ManagedFunctionProps> = {}): ManagedFunctionProps {
  return {
    settings: { memoryMiB: 256, timeoutSeconds: 10, environment: { LOG_LEVEL: "DEBUG" }, reservedConcurrency: 5, architecture: "arm64" },
    logRetentionDays: 7,
    definition: {
      functionName: "fn",
      roleName: "fn-role",
      description: "test",
      runtime: "python3.12",
      handler: "handler.lambda_handler",
      code: { filename: "assets/x.zip", sourceCodeHash: "abc=" },
      policyStatements: [{ sid: "Table", actions: ["dynamodb:*"], resources: ["arn:aws:dynamodb:eu-west-1:1:table/t"] }],
    },
    ...overrides,
  };
}

describe("ManagedFunction", () => {
  it("refuses a wildcard action, naming the statement", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    expect(() => new ManagedFunction(stack, "f", props())).toThrow("policy statement Table has the wildcard action dynamodb:*; name each action");
  });

  it("needs a definition to create or import a function", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    expect(() => new ManagedFunction(stack, "f", { ...props(), definition: undefined })).toThrow(/a function in create mode needs its definition/);
  });

  it("configures asynchronous invocation only when asked (an adopted function's own config is left alone)", () => {
    const named = (p: ManagedFunctionProps): ManagedFunctionProps => ({ ...p, definition: { ...p.definition!, policyStatements: [{ sid: "Table", actions: ["dynamodb:GetItem"], resources: ["arn:aws:dynamodb:eu-west-1:1:table/t"] }] } });
    const stack = new TerraformStack(Testing.app(), "s");
    new ManagedFunction(stack, "plain", named(props()));
    expect(JSON.parse(Testing.synth(stack)).resource.aws_lambda_function_event_invoke_config).toBeUndefined();
    const withAsync = new TerraformStack(Testing.app(), "s2");
    new ManagedFunction(withAsync, "f", named({ ...props(), settings: { ...props().settings, async: { retries: 0, maxEventAgeSeconds: 600 } } }));
    const configs = Object.values(JSON.parse(Testing.synth(withAsync)).resource.aws_lambda_function_event_invoke_config as Record<string, unknown>);
    expect(configs).toEqual([{ function_name: expect.stringMatching(/^\$\{aws_lambda_function\.f_function_[0-9A-F]+\.function_name\}$/), maximum_retry_attempts: 0, maximum_event_age_in_seconds: 600 }]);
  });

  it("references an existing function without a definition", () => {
    const stack = new TerraformStack(Testing.app(), "s");
    const fn = new ManagedFunction(stack, "f", { ...props(), definition: undefined, deployment: { mode: "existing", functionName: "legacy" } });
    expect(fn.resource).toBeUndefined();
    expect(fn.role).toBeUndefined();
    expect(Testing.synth(stack)).toContain('"function_name": "legacy"');
  });
});
