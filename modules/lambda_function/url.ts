import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Annotations } from "cdktf";
import { Construct } from "constructs";
import type { ILambdaTarget } from ".";

/** A function URL: AWS_IAM unless NONE is written out; CORS for browsers. */
export interface FunctionUrlOptions {
  readonly authType: "AWS_IAM" | "NONE";
  readonly cors?: {
    readonly allowOrigins: readonly string[];
    readonly allowMethods: readonly string[];
    readonly allowHeaders: readonly string[];
    readonly exposeHeaders: readonly string[];
    readonly allowCredentials: boolean;
    readonly maxAgeSeconds: number;
  };
}

/**
 * Adds `fn`'s function URL under `scope` as `<id>-url`. A public URL (auth NONE) gets a synth warning
 * and both grants AWS requires of one since October 2025 (`<id>-url-public`, `<id>-url-invoke`).
 */
export function addFunctionUrl(scope: Construct, id: string, fn: ILambdaTarget, url: FunctionUrlOptions, field: string, shownName: string): LambdaFunctionUrl {
  const resource = new LambdaFunctionUrl(scope, `${id}-url`, {
    functionName: fn.functionName,
    authorizationType: url.authType,
    cors: url.cors && {
      allowOrigins: [...url.cors.allowOrigins],
      allowMethods: [...url.cors.allowMethods],
      // Empty lists are left out: AWS reads them back as absent.
      allowHeaders: url.cors.allowHeaders.length ? [...url.cors.allowHeaders] : undefined,
      exposeHeaders: url.cors.exposeHeaders.length ? [...url.cors.exposeHeaders] : undefined,
      allowCredentials: url.cors.allowCredentials,
      maxAge: url.cors.maxAgeSeconds,
    },
  });
  if (url.authType === "NONE") {
    Annotations.of(scope).addWarning(`${field}.url: ${shownName}'s URL has auth NONE: anyone on the internet can invoke it.`);
    // Since October 2025 a public URL needs both grants: InvokeFunctionUrl for auth NONE, and
    // InvokeFunction when invoked through a function URL.
    new LambdaPermission(scope, `${id}-url-public`, {
      statementId: "AllowPublicFunctionUrl",
      action: "lambda:InvokeFunctionUrl",
      functionName: fn.functionName,
      principal: "*",
      functionUrlAuthType: "NONE",
    });
    const invoke = new LambdaPermission(scope, `${id}-url-invoke`, {
      statementId: "AllowInvokeThroughFunctionUrl",
      action: "lambda:InvokeFunction",
      functionName: fn.functionName,
      principal: "*",
    });
    // Newer than the 6.25 bindings.
    invoke.addOverride("invoked_via_function_url", true);
  }
  return resource;
}
