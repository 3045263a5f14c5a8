// A small Node.js runtime interface client of lambdaship's own, for the local runtime emulator (AWS's
// aws-lambda-ric builds a native addon at install, which npm here does not run). It follows the
// Node.js runtime's documented handler contract: `_HANDLER` is `<file>.<export>` under
// LAMBDA_TASK_ROOT (.js, .mjs or .cjs; CommonJS or ES module); the handler is async (returns a
// promise) or takes a callback; its context has Lambda's fields; console lines carry the request id;
// errors go to the Runtime API as {errorType, errorMessage, stackTrace} with the function-error
// header, and an init failure to /runtime/init/error.
"use strict";
const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();
let currentRequestId;

for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[method] = (...args) => {
    const text = require("util").format(...args).replace(/\n/g, "\r");
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${text}\n`);
  };
}

function errorBody(e) {
  const err = e instanceof Error ? e : new Error(typeof e === "string" ? e : JSON.stringify(e));
  return { errorType: err.name || "Error", errorMessage: err.message, stackTrace: (err.stack || "").split("\n").slice(1).map((l) => l.trim()) };
}

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  await r.arrayBuffer();
}

async function postError(url, e, type) {
  const body = errorBody(e);
  if (type) body.errorType = type;
  process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: "ERROR", requestId: currentRequestId, message: body })}\n`);
  await post(url, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType });
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) throw Object.assign(new Error(`Bad handler ${spec}: write it as <file>.<export>`), { name: "Runtime.MalformedHandlerName" });
  const modulePath = spec.slice(0, dot);
  const exportPath = spec.slice(dot + 1);
  const file = [".js", ".mjs", ".cjs"].map((ext) => path.join(ROOT, modulePath + ext)).find((f) => fs.existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${modulePath}' in ${ROOT}`), { name: "Runtime.ImportModuleError" });
  let mod;
  try {
    if (file.endsWith(".mjs")) mod = await import(pathToFileURL(file).href);
    else {
      try {
        mod = require(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") throw Object.assign(new Error(e.message), { name: "Runtime.ImportModuleError", stack: e.stack });
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { name: e && e.name === "SyntaxError" ? "Runtime.UserCodeSyntaxError" : (e && e.name) || "Error" });
  }
  const fn = mod[exportPath] ?? (mod.default && mod.default[exportPath]);
  if (typeof fn !== "function") throw Object.assign(new Error(`${modulePath}.${exportPath} is undefined or not exported`), { name: "Runtime.HandlerNotFound" });
  return fn;
}

function contextFor(headers) {
  const deadline = Number(headers.get("lambda-runtime-deadline-ms"));
  const clientContext = headers.get("lambda-runtime-client-context");
  const identity = headers.get("lambda-runtime-cognito-identity");
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers.get("lambda-runtime-invoked-function-arn"),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers.get("lambda-runtime-aws-request-id"),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: clientContext ? JSON.parse(clientContext) : undefined,
    identity: identity ? JSON.parse(identity) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function invokeHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err) : resolve(result));
    try {
      const r = handler(event, context, callback);
      if (r && typeof r.then === "function") r.then(resolve, reject);
      else if (handler.length < 3) resolve(r);
    } catch (e) {
      reject(e);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    await postError(`${API}/init/error`, e, e.name);
    process.exit(1);
  }
  for (;;) {
    const r = await fetch(`${API}/invocation/next`);
    const id = r.headers.get("lambda-runtime-aws-request-id");
    const trace = r.headers.get("lambda-runtime-trace-id");
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const text = await r.text();
    currentRequestId = id;
    try {
      const result = await invokeHandler(handler, text ? JSON.parse(text) : undefined, contextFor(r.headers));
      await post(`${API}/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result));
    } catch (e) {
      await postError(`${API}/invocation/${id}/error`, e);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`node-ric: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
