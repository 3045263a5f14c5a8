import { z } from "zod";
import { ConfigError, problem } from "../modules/errors";
import { httpRouteProblem, scheduleExpressionProblem } from "../modules/triggers/expressions";

/**
 * The schema every `envs/<env>.ts` must satisfy. Limits are AWS's own (Lambda, IAM, CloudWatch Logs,
 * DynamoDB, API Gateway), so a bad value fails at synth with the fix instead of at apply with an API error.
 */

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Names Lambda reserves for its runtime; setting one fails CreateFunction. */
export const RESERVED_ENV_VARS = new Set([
  "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
  "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
]);

/** Lambda's limit on the whole environment: keys plus values, in bytes. */
export const ENV_VARS_MAX_BYTES = 4096;

/** The longest name prefix that leaves room for the longest suffix we append (`-websocket-role`) in 64. */
export const NAME_PREFIX_MAX = 40;

const PYTHON_RUNTIMES = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"] as const;

const functionName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "Lambda function names are 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");

const envVars = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "variable names start with a letter and hold only letters, digits and '_'"),
    z.string({ invalid_type_error: "environment values must be strings (quote numbers and booleans)" }),
  )
  .superRefine((vars, ctx) => {
    for (const key of Object.keys(vars)) {
      if (RESERVED_ENV_VARS.has(key)) {
        ctx.addIssue({ code: "custom", path: [key], message: `${key} is reserved by Lambda's runtime; choose another name` });
      }
    }
    const bytes = Object.entries(vars).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (bytes > ENV_VARS_MAX_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `the variables take ${bytes} bytes; Lambda allows ${ENV_VARS_MAX_BYTES} in all: move large values to SSM Parameter Store or S3`,
      });
    }
  });

/**
 * The execution role: "managed" (created here, least privilege), or an existing role by ARN (seed 001's
 * auto_manage = false). @default - "managed" when created; an imported function keeps its own role
 */
export const roleSchema = z.union(
  [
    z.literal("managed"),
    z.object({ arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/, "an IAM role ARN: arn:aws:iam::<account>:role/<name>") }).strict(),
  ],
  { errorMap: (issue, ctx) => ({ message: issue.code === "invalid_union" ? 'role is "managed" or { arn: "arn:aws:iam::<account>:role/<name>" }' : ctx.defaultError }) },
);

/**
 * How a module gets its function: `create` manages it here; `existing` only references one by name
 * (data source); `import` adopts an existing one into this stack's state with an import block.
 */
export const deploymentSchema = z.discriminatedUnion(
  "mode",
  [
    z.object({ mode: z.literal("create") }).strict(),
    z.object({ mode: z.literal("existing"), functionName }).strict(),
    z
      .object({
        mode: z.literal("import"),
        functionName,
        /** Adopt the function's `/aws/lambda/<name>` log group too (it exists once the function has run). */
        importLogGroup: z.boolean().default(true),
      })
      .strict(),
  ],
  { errorMap: () => ({ message: 'mode must be "create", "existing" or "import"' }) },
);

const ROUTE_KEY = /^(\$connect|\$disconnect|\$default|[A-Za-z0-9_-]{1,128})$/;

export const websocketSchema = z
  .object({
    /** Partition key of the connections table: the room a connection joined (seed 003's `booking_id`). */
    roomKey: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/, "an attribute name of letters, digits and '_'").default("room_id"),
    /** Query string parameter `$connect` reads the room from. */
    roomQueryParam: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a query parameter name of letters, digits, '-' and '_'").default("room"),
    /** Seconds after which an idle connection item expires through DynamoDB TTL. */
    connectionTtlSeconds: z.number().int().min(60, "at least 60 seconds").max(86400 * 7, "at most 7 days").default(7200),
    /**
     * The function (a key of `functions`) serving each route: `$connect`, `$disconnect`, `$default`
     * and named routes (the message's `action`). One function may serve every route.
     */
    routes: z.record(z.string(), z.string()).default({}).superRefine((routes, ctx) => {
      for (const key of Object.keys(routes)) {
        if (!ROUTE_KEY.test(key)) ctx.addIssue({ code: "custom", path: [key], message: `the route key "${key}" is not one API Gateway takes: use $connect, $disconnect, $default or a name of 1-128 letters, digits, '-' and '_'` });
      }
    }),
    stage: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "a stage name of letters, digits, '-' and '_'").default("live"),
        throttlingBurstLimit: z.number().int().min(0, "a burst of 0-5000 requests").max(5000, "a burst of 0-5000 requests").default(100),
        throttlingRateLimit: z.number().min(0, "0-10000 requests per second").max(10000, "0-10000 requests per second").default(50),
      })
      .strict()
      .default({}),
    table: z
      .object({
        pointInTimeRecovery: z.boolean(),
        deletionProtection: z.boolean(),
      })
      .strict(),
  })
  .strict();

const HTTP_METHODS = ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"] as const;
const HTTP_METHODS_CORS = ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "*"] as const;

/** The env's HTTP API: CORS, the JWT authorizer, and the auth of routes that name none. */
export const httpApiSchema = z
  .object({
    /** Auth of routes that name none. @default "AWS_IAM" (callers sign with SigV4); NONE must be written out */
    defaultAuth: z.enum(["NONE", "AWS_IAM", "JWT"], { message: 'defaultAuth is "NONE", "AWS_IAM" or "JWT"' }).default("AWS_IAM"),
    /** The authorizer of JWT routes: tokens from this issuer (OIDC discovery at <issuer>/.well-known/openid-configuration) for one of these audiences. */
    jwt: z
      .object({
        issuer: z.string().url("the issuer's URL, e.g. https://cognito-idp.eu-west-1.amazonaws.com/<pool id>"),
        audiences: z.array(z.string().min(1)).min(1, "name at least one audience (client id)"),
      })
      .strict()
      .optional(),
    cors: z
      .object({
        allowOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^\s/]+)$/, 'an origin such as https://app.example.com, or "*"')).min(1, "name at least one origin"),
        allowMethods: z.array(z.enum(HTTP_METHODS_CORS, { message: `one of ${HTTP_METHODS_CORS.join(", ")}` })).default(["GET"]),
        allowHeaders: z.array(z.string().min(1)).default([]),
        exposeHeaders: z.array(z.string().min(1)).default([]),
        allowCredentials: z.boolean().default(false),
        maxAgeSeconds: z.number().int().min(0, "0-86400 seconds").max(86400, "0-86400 seconds").default(0),
      })
      .strict()
      .refine((c) => !(c.allowCredentials && c.allowOrigins.includes("*")), { message: 'browsers refuse credentials with origin "*": name the origins, or set allowCredentials to false', path: ["allowOrigins"] })
      .optional(),
  })
  .strict()
  .default({});

const resourceName = (what: string, re: RegExp, rule: string) =>
  z.array(z.string().regex(re, `${what} names are ${rule}`)).min(1, `name at least one ${what}`);
const tableNames = resourceName("table", /^[A-Za-z0-9_.-]{3,255}$/, "3-255 characters of letters, digits, '_', '-' and '.'");
const bucketNames = resourceName("bucket", /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "3-63 lowercase letters, digits, '.' and '-'");
const queueNames = resourceName("queue", /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/, "1-80 characters of letters, digits, '-' and '_' (plus .fifo)");
const topicNames = resourceName("topic", /^[A-Za-z0-9_-]{1,256}(\.fifo)?$/, "1-256 characters of letters, digits, '-' and '_' (plus .fifo)");

/**
 * Named IAM policy templates (seed 001's list), each scoped to named resources of the env's account
 * and region. Writing its own log group is not a template: every function gets it.
 */
export const policyTemplateSchema = z.discriminatedUnion(
  "template",
  [
    z.object({ template: z.literal("dynamodb-read"), tables: tableNames, indexes: z.array(z.string().min(3)).default([]) }).strict(),
    z.object({ template: z.literal("dynamodb-read-write"), tables: tableNames, indexes: z.array(z.string().min(3)).default([]) }).strict(),
    z.object({ template: z.literal("s3-read"), buckets: bucketNames, prefix: z.string().regex(/^[^*]*$/, "a key prefix without '*'").default("") }).strict(),
    z.object({ template: z.literal("s3-read-write"), buckets: bucketNames, prefix: z.string().regex(/^[^*]*$/, "a key prefix without '*'").default("") }).strict(),
    z.object({ template: z.literal("sqs-send"), queues: queueNames }).strict(),
    z.object({ template: z.literal("sqs-consume"), queues: queueNames }).strict(),
    z.object({ template: z.literal("sns-publish"), topics: topicNames }).strict(),
  ],
  {
    errorMap: () => ({
      message: "template must be one of dynamodb-read, dynamodb-read-write, s3-read, s3-read-write, sqs-send, sqs-consume, sns-publish",
    }),
  },
);


/**
 * A function URL. `authType` defaults to AWS_IAM (callers sign with SigV4 and need
 * lambda:InvokeFunctionUrl); NONE makes the URL public and must be written out.
 */
export const functionUrlSchema = z
  .object({
    authType: z.enum(["AWS_IAM", "NONE"], { message: 'authType is "AWS_IAM" (the default) or "NONE" (public)' }).default("AWS_IAM"),
    cors: z
      .object({
        allowOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^\s/]+)$/, 'an origin such as https://app.example.com, or "*"')).min(1, "name at least one origin"),
        allowMethods: z.array(z.enum(HTTP_METHODS, { message: `one of ${HTTP_METHODS.join(", ")}` })).default(["GET"]),
        allowHeaders: z.array(z.string().min(1)).default([]),
        exposeHeaders: z.array(z.string().min(1)).default([]),
        allowCredentials: z.boolean().default(false),
        maxAgeSeconds: z.number().int().min(0, "0-86400 seconds").max(86400, "0-86400 seconds").default(0),
      })
      .strict()
      .refine((c) => !(c.allowCredentials && c.allowOrigins.includes("*")), {
        message: 'browsers refuse credentials with origin "*": name the origins, or set allowCredentials to false',
        path: ["allowOrigins"],
      })
      .optional(),
  })
  .strict();

/** Where the Rust functions come from and how they must be built. */
export const rustSchema = z
  .object({
    /** The cargo workspace, relative to the project root. */
    workspace: z.string().min(1, "a folder relative to the project root, e.g. lambda-src/rust").default("lambda-src/rust"),
    /**
     * Fail (at apply, before any function changes) when no toolchain here can build arm64, instead
     * of falling back to x86_64; the stack then always deploys arm64.
     */
    requireArm64: z.boolean().default(false),
  })
  .strict()
  .default({});

/** The REST backend's items table, and the function (a key of `functions`) that serves it. */
export const backendSchema = z
  .object({
    /** The entry of `functions` that gets the table's name (TABLE_NAME) and read/write access to its items. */
    function: z.string(),
    table: z.object({ pointInTimeRecovery: z.boolean(), deletionProtection: z.boolean() }).strict(),
  })
  .strict();

const NODE_RUNTIMES = ["nodejs20.x", "nodejs22.x", "nodejs24.x"] as const;
const architecture = z.enum(["arm64", "x86_64"], { message: "Lambda runs arm64 or x86_64" });
const architectureSchema = architecture;
const layerArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$/, "a layer version ARN: arn:aws:lambda:<region>:<account>:layer:<name>:<version>");
const proxyPort = z.number().int().min(1024, "a port of 1024-65535, free inside the function (Lambda's own API uses 9001)").max(65535, "a port of 1024-65535");

/**
 * A layer of the env. `create` builds it from a folder of the repository at apply and publishes a
 * version when its inputs change; `existing` references published versions by ARN.
 */
export const layerSchema = z.discriminatedUnion(
  "mode",
  [
    z
      .object({
        mode: z.literal("create"),
        /** dependencies: a folder with requirements.txt or package.json + lock file; extension: a cargo package. */
        type: z.enum(["dependencies", "extension"], { message: 'type is "dependencies" or "extension"' }),
        source: z
          .string()
          .regex(/^[A-Za-z0-9._\/-]+$/, "a folder relative to the project root, e.g. lambda-src/layers/websocket-deps (letters, digits, '.', '_', '-' and '/'; the builder's command line carries it)"),
        /** Dependency layers: the runtime they are installed for, the same as their functions'. */
        runtime: z.enum([...PYTHON_RUNTIMES, ...NODE_RUNTIMES], { message: `supported: ${[...PYTHON_RUNTIMES, ...NODE_RUNTIMES].join(", ")}` }).optional(),
        /**
         * Architectures to publish even without a function using them; the functions' own
         * architectures are always published. @default - those of its functions, else arm64
         * (extensions: arm64 and x86_64)
         */
        architectures: z.array(architecture).optional(),
        /** direct: in the request (Lambda takes at most 50 MB zipped); s3: through the env's artifact bucket. */
        upload: z.enum(["direct", "s3"], { message: 'upload is "direct" (at most 50 MB zipped) or "s3"' }).default("direct"),
        /** Extension layers that proxy the Runtime API: the port the proxy listens on inside the function. */
        proxyPort: proxyPort.optional(),
      })
      .strict(),
    z
      .object({
        mode: z.literal("existing"),
        type: z.enum(["dependencies", "extension"], { message: 'type is "dependencies" or "extension"' }),
        /** Published versions by architecture; a function can use the layer only on an architecture listed here. */
        arns: z.object({ arm64: layerArn.optional(), x86_64: layerArn.optional() }).strict().refine((a) => a.arm64 || a.x86_64, "name the ARN for arm64, x86_64 or both"),
        /** Dependency layers: the runtime they hold packages for. */
        runtime: z.enum([...PYTHON_RUNTIMES, ...NODE_RUNTIMES], { message: `supported: ${[...PYTHON_RUNTIMES, ...NODE_RUNTIMES].join(", ")}` }).optional(),
        /** Extension layers: their wrapper script, set as AWS_LAMBDA_EXEC_WRAPPER on managed runtimes. */
        wrapper: z.string().regex(/^\/opt\/\S+$/, "a path inside the layer, e.g. /opt/lambdaship-runtime-proxy-wrapper").optional(),
        proxyPort: proxyPort.optional(),
      })
      .strict(),
  ],
  { errorMap: () => ({ message: 'mode is "create" (built here) or "existing" (referenced by ARN)' }) },
);

const layerKey = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "layer names are 1-40 characters: lowercase letters, digits and '-', starting with a letter");

const sourcePath = z
  .string()
  .regex(/^[A-Za-z0-9._\/-]+$/, "a folder relative to the project root, e.g. lambda-src/functions/orders-api (letters, digits, '.', '_', '-' and '/'; the builder's command line carries it)")
  .refine((p) => !p.split("/").includes("..") && !p.startsWith("/"), "a folder inside the project, relative to its root");

/** `METHOD /path` as HTTP APIs take it: `GET /items/{id}`, `ANY /{proxy+}`, or `$default`. */
export const HTTP_ROUTE = /^(\$default|(GET|PUT|HEAD|POST|PATCH|DELETE|OPTIONS|ANY) (\/|(\/(\{[A-Za-z0-9_]+\}|\{[A-Za-z0-9_]+\+\}|[A-Za-z0-9._~!$&'()*,;=:@-]+))+))$/;

const httpTrigger = z.union([
  z.string(),
  z
    .object({
      /** `GET /items/{id}`, `ANY /{proxy+}` or `$default`. */
      route: z.string(),
      /** NONE (public), AWS_IAM (SigV4-signed callers with execute-api:Invoke) or JWT (the env's httpApi.jwt authorizer). @default - httpApi.defaultAuth */
      auth: z.enum(["NONE", "AWS_IAM", "JWT"], { message: 'auth is "NONE", "AWS_IAM" or "JWT"' }).optional(),
      /** JWT routes: scopes the token must carry one of. */
      scopes: z.array(z.string().min(1)).optional(),
    })
    .strict(),
]);

/**
 * Validated in full by checkSchedule: `rate(<n> minute(s)|hour(s)|day(s))`, `cron(<6 fields>)` or
 * `at(yyyy-mm-ddThh:mm:ss)`, as EventBridge Scheduler takes them.
 */
const scheduleTrigger = z
  .object({
    expression: z.string(),
    /** IANA time zone the expression is read in. @default "UTC" */
    timezone: z.string().regex(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+){0,2}$|^UTC$/, "an IANA time zone such as Europe/Paris or UTC").optional(),
    /** The event the function gets (JSON). @default - Scheduler's: {} */
    input: z.unknown().optional(),
    /** @default true */
    enabled: z.boolean().optional(),
    /** Suffix of the schedule's name (`<prefix>-<key>-<name>`), when a function has several. @default - its position */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,20}$/, "1-20 letters, digits, '.', '_' and '-'").optional(),
  })
  .strict();

const sqsTrigger = z
  .object({
    /** An existing queue by name (in the env's account and region) or ARN; with `create`, the name of the queue created here. */
    queue: z.string().regex(/^(arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:)?[A-Za-z0-9_-]{1,80}(\.fifo)?$/, "a queue name (1-80 letters, digits, '-' and '_', plus .fifo) or an SQS queue ARN"),
    /** Create the queue here, with a dead-letter queue (`<queue>-dlq`) its messages go to after maxReceiveCount receives. */
    create: z
      .object({
        maxReceiveCount: z.number().int().min(1, "1-1000 receives").max(1000, "1-1000 receives").default(5),
        /** @default - 6 times the function's timeout, at least 30 (AWS's advice for Lambda consumers) */
        visibilityTimeoutSeconds: z.number().int().min(0).max(43200, "at most 12 hours (43200 s)").optional(),
        /** @default 345600 (4 days) */
        retentionSeconds: z.number().int().min(60, "60 s to 14 days").max(1209600, "60 s to 14 days").optional(),
      })
      .strict()
      .optional(),
    /** Messages per invocation: 1-10000 for standard queues (over 10 needs batchingWindowSeconds), 1-10 for FIFO. @default 10 */
    batchSize: z.number().int().min(1, "at least 1").optional(),
    /** Seconds to gather a batch. @default 0 */
    batchingWindowSeconds: z.number().int().min(0).max(300, "at most 300 seconds").optional(),
    /** The function answers `{batchItemFailures: [{itemIdentifier}]}` and only those come back. @default true */
    reportBatchItemFailures: z.boolean().optional(),
  })
  .strict();

/** What invokes a function: HTTP API routes, schedules, SQS queues and WebSocket routes. */
export const triggersSchema = z
  .object({
    http: z.array(httpTrigger).optional(),
    schedule: z.array(scheduleTrigger).optional(),
    sqs: z.array(sqsTrigger).optional(),
    /** Route keys of the env's WebSocket API: `$connect`, `$disconnect`, `$default` or a named route (the message's action). */
    websocket: z.array(z.string()).optional(),
  })
  .strict();

/** Settings a function entry takes, and `functionDefaults` gives every entry of the env. */
const functionEntrySettings = {
  /** Lambda runtime. @default - detected: python3.12, nodejs22.x, provided.al2023 (Go, Rust) */
  runtime: z.string().regex(/^[a-z0-9.]+$/, "a Lambda runtime identifier such as python3.12, nodejs22.x or provided.al2023").optional(),
  /** @default "arm64" */
  architecture: architectureSchema.optional(),
  /** @default 128 */
  memoryMiB: z.number().int("memory is a whole number of MiB").min(128, "Lambda allows 128-10240 MiB").max(10240, "Lambda allows 128-10240 MiB").optional(),
  /** @default 3 */
  timeoutSeconds: z.number().int("timeout is a whole number of seconds").min(1, "Lambda allows 1-900 seconds").max(900, "Lambda allows 1-900 seconds").optional(),
  environment: envVars.optional(),
  reservedConcurrency: z.number().int("reserved concurrency is a whole number").min(0, "0 stops all invocations; leave it out for unreserved").max(10000, "10000 is the largest this config accepts").optional(),
  /** Asynchronous (Event) invocations: what Lambda does when one fails. @default - Lambda's: 2 retries, events kept 6 hours */
  async: z
    .object({
      /** Retries after a failed attempt (after 1 min, then 2 min). @default 2 */
      retries: z.number().int("retries is a whole number").min(0, "Lambda allows 0-2 retries").max(2, "Lambda allows 0-2 retries").optional(),
      /** Seconds an event may wait for its next attempt; older ones are dropped. @default 21600 */
      maxEventAgeSeconds: z.number().int("a whole number of seconds").min(60, "Lambda allows 60-21600 seconds").max(21600, "Lambda allows 60-21600 seconds").optional(),
    })
    .strict()
    .optional(),
  /** Tags of the function, besides the env's. */
  tags: z.record(z.string().min(1).max(128, "tag keys are 1-128 characters").refine((k) => !k.toLowerCase().startsWith("aws:"), "the aws: prefix is reserved"), z.string().max(256, "tag values are at most 256 characters")).optional(),
  /** Layers of the env by name (`layers.<name>`), after the function's dependency layer. */
  layers: z.array(z.string()).max(5, "Lambda allows 5 layers per function").optional(),
  /** Where dependencies go: "layer" (a dependency layer shared by functions with the same files) or "bundle" (in the zip). @default "layer" */
  dependencies: z.enum(["layer", "bundle"], { message: 'dependencies is "layer" (the default) or "bundle"' }).optional(),
  /** Access beyond its own log group. */
  policies: z.array(policyTemplateSchema).optional(),
};

/**
 * One function of the env, from a folder: runtime and handler are detected unless given. The
 * deployed name is `<namePrefix>-<key>`.
 */
export const functionEntrySchema = z
  .object({
    /** The function's folder, relative to the project root; for Rust, the cargo workspace. */
    source: sourcePath,
    /** Rust: the workspace's bin that becomes the function. */
    bin: z.string().regex(/^[A-Za-z0-9_-]+$/, "a cargo bin name").optional(),
    /** @default - detected from the code */
    handler: z.string().min(1).max(128, "Lambda handlers are at most 128 characters").optional(),
    description: z.string().max(256, "Lambda descriptions are at most 256 characters").optional(),
    ...functionEntrySettings,
    /** A function URL; leave out for none. */
    url: functionUrlSchema.optional(),
    /** What invokes it besides direct calls. @default - nothing */
    triggers: triggersSchema.optional(),
    deployment: deploymentSchema.optional(),
    role: roleSchema.optional(),
    /** false: never served live (npm run live), and no live.layer added. @default true where live.enabled */
    live: z.boolean().optional(),
  })
  .strict();

export const functionDefaultsSchema = z.object(functionEntrySettings).strict();

const functionKey = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, "function keys are 1-48 characters: lowercase letters, digits, '-' and '_' (the deployed name is <namePrefix>-<key>)");

const stateBackendSchema = z
  .object({
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'"),
    region: z.string().optional(),
    /** The key is `<keyPrefix>/<stack>.tfstate`. */
    keyPrefix: z.string().regex(/^[A-Za-z0-9!_.*'()/-]*$/, "an S3 key prefix without spaces").default("lambdaship"),
  })
  .strict();

/**
 * Points the AWS provider at an emulator instead of AWS (the `local` env). Without `endpoint`, the
 * stack reads LAMBDASHIP_AWS_ENDPOINT when it is built (npm start and the tests set it to the port
 * they started moto on), else moto's default http://127.0.0.1:5000.
 */
const emulatorSchema = z
  .object({
    endpoint: z.string().url("a URL such as http://127.0.0.1:5000").optional(),
  })
  .strict();

const region = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, "an AWS region such as eu-west-1");

export const envSchema = z
  .object({
    /** Must equal the file name: `envs/<name>.ts`. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, "a short lowercase name such as dev"),
    region,
    /** Prefix of every resource name: `<namePrefix>-websocket`, `<namePrefix>-connections`, ... */
    namePrefix: z
      .string()
      .regex(new RegExp(`^[A-Za-z0-9-]{1,${NAME_PREFIX_MAX}}$`), `1-${NAME_PREFIX_MAX} characters of letters, digits and '-' (Lambda and IAM names are at most 64 with our suffixes)`),
    tags: z
      .record(
        z.string().min(1).max(128, "tag keys are 1-128 characters").refine((k) => !k.toLowerCase().startsWith("aws:"), "the aws: prefix is reserved"),
        z.string().max(256, "tag values are at most 256 characters"),
      )
      .default({})
      .refine((t) => Object.keys(t).length <= 47, "AWS allows 50 tags; 3 are taken by the default tags (environment, app, managed-by)"),
    logRetentionDays: z
      .number()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `CloudWatch Logs accepts ${LOG_RETENTION_DAYS.join(", ")}`),
    /** Remote state; leave out for a local state file. */
    stateBackend: stateBackendSchema.optional(),
    emulator: emulatorSchema.optional(),
    rust: rustSchema,
    /** Plan review (`npm run plan`). */
    review: z
      .object({
        /** Refuse (exit 3) a plan that destroys or replaces a table, bucket, log group or API, unless --allow-destroy. @default false */
        blockStatefulChanges: z.boolean().default(false),
      })
      .strict()
      .default({}),
    /**
     * Where artifacts uploaded through S3 go (layers with upload "s3"): an existing bucket by name,
     * or, left out, a private, encrypted `<namePrefix>-artifacts-<account>` bucket created here.
     */
    artifacts: z
      .object({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'").optional(),
        /**
         * A build cache shared by every machine that applies this env (CI runners, laptops): an
         * existing bucket the appliers may read and write. Builders look there, by input hash, for
         * what the machine's own store lacks, verify it, and upload what they build. @default - none
         */
        cache: z
          .object({
            bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'"),
            /** Key prefix of the objects. @default "lambdaship-cache" */
            prefix: z.string().regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/, "an S3 key prefix such as lambdaship-cache or team/cache (no spaces, no leading or trailing /)").default("lambdaship-cache"),
            /** @default - the env's region */
            region: region.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** Layers functions can use by name (`function.layers`). @default {} */
    layers: z.record(layerKey, layerSchema).default({}),
    /**
     * Addresses of adopted resources whose entries were removed (the applying commands print them):
     * Terraform forgets them (a removed block, destroy = false) and leaves them in AWS. @default []
     */
    forgotten: z.array(z.string().regex(/^aws_[a-z0-9_]+\.[A-Za-z0-9_-]+$/, "a resource address such as aws_lambda_function.fn-legacy_function_5C1C8D5A, as npm run plan prints it")).default([]),
    /** Settings every entry of `functions` gets unless it sets its own. @default {} */
    functionDefaults: functionDefaultsSchema.default({}),
    /** The env's functions by key, each from a folder. @default {} */
    functions: z.record(functionKey, functionEntrySchema).default({}),
    backend: backendSchema,
    websocket: websocketSchema,
    /** The env's HTTP API (API Gateway v2), created when a function has an http trigger. @default {} */
    httpApi: httpApiSchema,
    /**
     * Live functions (`npm run live`): a relay, `<namePrefix>-live`, a second WebSocket API on the
     * env's WebSocket handlers and connections table whose `$connect` takes only SigV4-signed
     * upgrades. Every function created here with a Runtime API proxy layer (an extension layer with
     * proxyPort) gets LAMBDASHIP_LIVE_RELAY and may connect to it; its invocations are served by a
     * developer's session while one listens, and by its deployed code otherwise. The functions serving
     * the WebSocket routes are never served live: they are the relay. An env that sets
     * `enabled: false` (prod) deploys no relay: nothing can be served live there. @default { enabled: false }
     */
    live: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * A Runtime API proxy layer (of `layers`) that every function created here gets, after its
         * own layers, so that all of them can be served live: all but the WebSocket route handlers
         * and those with `live: false`. No function gets it while `enabled` is false (an env made from
         * another may turn live mode off alone). @default - only the functions that list such a layer themselves
         */
        layer: z.string().optional(),
        /** How long an extension waits for a session to take an invocation before the deployed code serves it. @default 1500 */
        ackMs: z.number().int().min(100, "at least 100 ms").max(10_000, "at most 10 000 ms: the deployed code serves the invocation after it").default(1500),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((env, ctx) => {
    for (const [name, layer] of Object.entries(env.layers)) {
      if (layer.type === "dependencies" && !layer.runtime) {
        ctx.addIssue({ code: "custom", path: ["layers", name, "runtime"], message: "a dependency layer names the runtime it is installed for, e.g. python3.12" });
      }
      if (layer.type === "dependencies" && layer.proxyPort !== undefined) {
        ctx.addIssue({ code: "custom", path: ["layers", name, "proxyPort"], message: "only extension layers proxy the Runtime API; remove proxyPort" });
      }
    }
    const uses: Array<[string[], string[]]> = [
      ...(env.functionDefaults.layers ? [[["functionDefaults", "layers"], env.functionDefaults.layers] as [string[], string[]]] : []),
      ...Object.entries(env.functions).flatMap(([key, f]) => (f.layers ? [[["functions", key, "layers"], f.layers] as [string[], string[]]] : [])),
    ];
    for (const [at, names] of uses) {
      names.forEach((n, i) => {
        if (!env.layers[n]) {
          const known = Object.keys(env.layers);
          ctx.addIssue({ code: "custom", path: [...at, i], message: `no layer named ${n} in layers${known.length ? ` (the env has ${known.join(", ")})` : ""}; add it under layers or remove it here` });
        }
      });
      if (new Set(names).size !== names.length) ctx.addIssue({ code: "custom", path: at, message: "a layer is listed twice; list each once" });
    }
    if (env.live.layer !== undefined) {
      const l = env.layers[env.live.layer];
      const proxies = Object.entries(env.layers).filter(([, c]) => isRuntimeApiProxy(c)).map(([n]) => n);
      const fix = proxies.length ? `name one of ${proxies.join(", ")}` : 'add an extension layer with proxyPort under layers (e.g. runtime-proxy: { mode: "create", type: "extension", source: "lambda-src/extensions/runtime-proxy", proxyPort: 9009 })';
      if (!l) ctx.addIssue({ code: "custom", path: ["live", "layer"], message: `no layer named ${env.live.layer} in layers; ${fix}` });
      else if (!isRuntimeApiProxy(l)) ctx.addIssue({ code: "custom", path: ["live", "layer"], message: `${env.live.layer} is not a Runtime API proxy (an extension layer with proxyPort); ${fix}` });
      for (const key of Object.keys(env.functions)) {
        const all = functionLayers(env, key);
        if (all.length > 5 && all.length - 1 <= 5) {
          ctx.addIssue({ code: "custom", path: ["functions", key, "layers"], message: `with live.layer (${env.live.layer}) the function has ${all.length} layers, and Lambda allows 5; list at most 4, or set live: false on the function` });
        }
      }
    }
    const keys = Object.keys(env.functions);
    const known = keys.length ? ` (the env has ${keys.join(", ")})` : "";
    const reference = (at: (string | number)[], key: string) => {
      if (!env.functions[key]) ctx.addIssue({ code: "custom", path: at, message: `no function with the key ${key} in functions${known}; add the entry or name one of them` });
    };
    reference(["backend", "function"], env.backend.function);
    for (const [route, key] of Object.entries(env.websocket.routes)) reference(["websocket", "routes", route], key);
    checkTriggers(env, ctx);
    const wsRoutes = websocketRoutes(env);
    for (const route of ["$connect", "$disconnect", "$default"]) {
      if (!wsRoutes[route]) ctx.addIssue({ code: "custom", path: ["websocket", "routes"], message: `${route} is missing: $connect, $disconnect and $default each name the function serving them (in websocket.routes, or a function's triggers.websocket)` });
    }
  });

type Env = z.output<typeof envSchema>;

/** Every route of the env's WebSocket API and the function key serving it: websocket.routes and the functions' triggers.websocket. */
export function websocketRoutes(env: Pick<Env, "websocket" | "functions">): Record<string, string> {
  const routes: Record<string, string> = { ...env.websocket.routes };
  for (const [key, f] of Object.entries(env.functions)) for (const r of f.triggers?.websocket ?? []) routes[r] ??= key;
  return routes;
}

/** Whether an env's function is created here (not referenced or adopted as it is). */
function created(env: Pick<Env, "functions">, key: string): boolean {
  return (env.functions[key]?.deployment?.mode ?? "create") === "create";
}

/** The functions the live relay runs on (its WebSocket route handlers): never served live themselves. */
export function relayFunctions(env: Pick<Env, "websocket" | "functions">): Set<string> {
  return new Set(Object.values(websocketRoutes(env)));
}

/** The layers a function of the env gets, by name: its own (else functionDefaults'), then live.layer when it may be served live. */
export function functionLayers(env: Pick<Env, "websocket" | "functions" | "functionDefaults" | "live">, key: string): string[] {
  const entry = env.functions[key];
  const own = entry?.layers ?? env.functionDefaults.layers ?? [];
  const extra = env.live.enabled && env.live.layer;
  if (!entry || !extra || own.includes(extra) || entry.live === false || !created(env, key) || relayFunctions(env).has(key)) return own;
  return [...own, extra];
}

/** Whether a function of the env has a layer that proxies the Runtime API (an extension layer with proxyPort). */
export function proxiesRuntimeApi(env: Pick<Env, "websocket" | "functions" | "functionDefaults" | "live" | "layers">, key: string): boolean {
  return functionLayers(env, key).some((name) => isRuntimeApiProxy(env.layers[name]));
}

/** Whether a layer of the env proxies the Runtime API: an extension layer with proxyPort. */
export function isRuntimeApiProxy(layer: { type: string; proxyPort?: number } | undefined): boolean {
  return layer?.type === "extension" && layer.proxyPort !== undefined;
}

/**
 * Whether an env's function can be served live: created here (an adopted or referenced function
 * keeps its own configuration), not one the relay runs on, not `live: false`, and with a layer that
 * proxies the Runtime API.
 */
export function isLiveCapable(env: Pick<Env, "websocket" | "functions" | "functionDefaults" | "live" | "layers">, key: string): boolean {
  const entry = env.functions[key];
  return !!entry && created(env, key) && entry.live !== false && !relayFunctions(env).has(key) && proxiesRuntimeApi(env, key);
}

/** The route key and auth of an http trigger, written as a string or an object. */
export function httpTriggerRoute(t: string | { route: string; auth?: "NONE" | "AWS_IAM" | "JWT"; scopes?: string[] }): { route: string; auth?: "NONE" | "AWS_IAM" | "JWT"; scopes?: string[] } {
  return typeof t === "string" ? { route: t } : t;
}

/** The largest SQS batch Lambda takes: 10 for FIFO queues, 10000 for standard ones. */
export const SQS_MAX_BATCH = { fifo: 10, standard: 10000 } as const;

function checkTriggers(env: Env, ctx: z.RefinementCtx): void {
  const httpRoutes = new Map<string, string>();
  const wsRoutes = new Map<string, { key: string; where: string }>(Object.entries(env.websocket.routes).map(([r, k]) => [r, { key: k, where: `websocket.routes.${r} (${k})` }]));
  const createdQueues = new Map<string, string>();
  for (const [key, f] of Object.entries(env.functions)) {
    const t = f.triggers;
    if (!t) continue;
    const at = (...p: (string | number)[]) => ["functions", key, "triggers", ...p];
    (t.http ?? []).forEach((h, i) => {
      const { route, auth } = httpTriggerRoute(h);
      const field = typeof h === "string" ? at("http", i) : at("http", i, "route");
      const problem = httpRouteProblem(route);
      if (problem) return ctx.addIssue({ code: "custom", path: field, message: problem });
      const normal = route.replace(/\{[^}+]+\}/g, "{}");
      const clash = httpRoutes.get(normal);
      if (clash) ctx.addIssue({ code: "custom", path: field, message: `${clash} already serves ${route}; one function per route: remove it here or there` });
      else httpRoutes.set(normal, `functions.${key}`);
      if ((auth ?? env.httpApi.defaultAuth) === "JWT" && !env.httpApi.jwt) ctx.addIssue({ code: "custom", path: field, message: "a JWT route needs the env's authorizer: set httpApi.jwt { issuer, audiences }" });
    });
    (t.schedule ?? []).forEach((sch, i) => {
      const problem = scheduleExpressionProblem(sch.expression);
      if (problem) ctx.addIssue({ code: "custom", path: at("schedule", i, "expression"), message: problem });
    });
    const names = (t.schedule ?? []).map((sch, i) => sch.name ?? String(i + 1));
    if (new Set(names).size !== names.length) ctx.addIssue({ code: "custom", path: at("schedule"), message: "two schedules of this function have one name; give each its own name" });
    (t.sqs ?? []).forEach((q, i) => {
      const fifo = q.queue.endsWith(".fifo");
      const max = fifo ? SQS_MAX_BATCH.fifo : SQS_MAX_BATCH.standard;
      if (q.batchSize !== undefined && q.batchSize > max) ctx.addIssue({ code: "custom", path: at("sqs", i, "batchSize"), message: `Lambda takes at most ${max} messages per batch from a ${fifo ? "FIFO" : "standard"} queue` });
      else if (q.batchSize !== undefined && q.batchSize > 10 && !q.batchingWindowSeconds) ctx.addIssue({ code: "custom", path: at("sqs", i, "batchSize"), message: "a batch over 10 messages needs batchingWindowSeconds of at least 1" });
      if (q.create) {
        if (q.queue.startsWith("arn:")) ctx.addIssue({ code: "custom", path: at("sqs", i, "queue"), message: "a queue created here is named, not given by ARN: write its name (it gets <namePrefix>-<name>)" });
        const clash = createdQueues.get(q.queue);
        if (clash) ctx.addIssue({ code: "custom", path: at("sqs", i, "queue"), message: `${clash} already creates the queue ${q.queue}; create it once and name it without create elsewhere` });
        else createdQueues.set(q.queue, `functions.${key}.triggers.sqs`);
        const timeout = f.timeoutSeconds ?? env.functionDefaults.timeoutSeconds ?? 3;
        if (q.create.visibilityTimeoutSeconds !== undefined && q.create.visibilityTimeoutSeconds < timeout) {
          ctx.addIssue({ code: "custom", path: at("sqs", i, "create", "visibilityTimeoutSeconds"), message: `Lambda refuses a queue whose visibility timeout is under the function's timeout (${timeout} s): use at least ${timeout}, AWS advises ${Math.max(30, 6 * timeout)}` });
        }
      }
    });
    (t.websocket ?? []).forEach((r, i) => {
      if (!/^(\$connect|\$disconnect|\$default|[A-Za-z0-9_-]{1,128})$/.test(r)) return ctx.addIssue({ code: "custom", path: at("websocket", i), message: `the route key "${r}" is not one API Gateway takes: use $connect, $disconnect, $default or a name of 1-128 letters, digits, '-' and '_'` });
      const clash = wsRoutes.get(r);
      if (clash && clash.key !== key) ctx.addIssue({ code: "custom", path: at("websocket", i), message: `${clash.where} already serves the WebSocket route ${r}; one function per route: remove it here or there` });
      else wsRoutes.set(r, { key, where: `functions.${key}` });
    });
  }
}

export type EnvInput = z.input<typeof envSchema>;
export type EnvConfig = z.output<typeof envSchema>;
export type Deployment = z.output<typeof deploymentSchema>;
export type WebsocketConfig = z.output<typeof websocketSchema>;
export type PolicyTemplate = z.output<typeof policyTemplateSchema>;
export type FunctionUrl = z.output<typeof functionUrlSchema>;
export type RustConfig = z.output<typeof rustSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type LayerConfig = z.output<typeof layerSchema>;
export type FunctionEntry = z.output<typeof functionEntrySchema>;
export type FunctionEntryInput = z.input<typeof functionEntrySchema>;
export type FunctionDefaults = z.output<typeof functionDefaultsSchema>;
export type Triggers = z.output<typeof triggersSchema>;
export type HttpApiConfig = z.output<typeof httpApiSchema>;

/** Identity function that gives env files type checking and completion. */
export function defineEnv(input: EnvInput): EnvInput {
  return input;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

function fieldName(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), "");
}

function describeIssue(issue: z.ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.received === "undefined" ? `it is required (${issue.expected})` : `expected ${issue.expected}`;
    case "unrecognized_keys":
      return `unknown field(s) ${issue.keys.join(", ")}: remove them or check the spelling`;
    default:
      return issue.message;
  }
}

/**
 * Validates one env's raw config. Throws a ConfigError with one line per problem, each naming the
 * file, the field, the value and the fix.
 */
export function validateEnv(raw: unknown, file: string, expectedName?: string): EnvConfig {
  const result = envSchema.safeParse(raw);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.code === "unrecognized_keys" ? issue.path : issue.path;
      problems.push(problem(file, fieldName(path), valueAt(raw, path), describeIssue(issue)));
    }
  } else if (expectedName !== undefined && result.data.name !== expectedName) {
    problems.push(problem(file, "name", result.data.name, `it must equal the file name: "${expectedName}"`));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return (result as z.SafeParseSuccess<EnvConfig>).data;
}
