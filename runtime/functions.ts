import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isElfFile, readElfFile } from "../build/elf";
import { which } from "../build/util";
import { JAVA_RIC_MAIN, JAVA_RIC_VERSION, javaClientClasspath } from "./clients/java";
import type { FunctionSpec } from "./emulator";

/**
 * Turns the functions of a synthesized stack into what the runtime emulator runs: each package
 * unpacked as Lambda would (from the very zip the stack deploys), the command for its runtime
 * (`bootstrap` natively, or under qemu-aarch64 for arm64 on another machine; Python through
 * awslambdaric), and the environment Lambda gives it, with Terraform references resolved.
 */

/** The synthesized stack (cdk.tf.json), as far as it is read here. */
export interface StackJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
}

/** Values of deployed resources by address (`aws_dynamodb_table.items`), from the state when there is one. */
export type StateValues = ReadonlyMap<string, Record<string, unknown>>;

export interface ResolveOptions {
  /** The stack's working directory: packages' paths are relative to it. */
  readonly stackDir: string;
  readonly region: string;
  /** Project root: `.venv` for Python runtimes, `.build/runtime` for unpacked packages. */
  readonly projectRoot: string;
  /**
   * Where the functions' AWS SDK calls go: the local AWS emulator; or null for AWS itself, only for
   * npm run live's handlers of an env on AWS. @default - nowhere (a closed local port)
   */
  readonly awsEndpoint?: string | null;
  /** The credentials the functions run with (npm run live: their role's, or the user's). @default - the local AWS's `test` */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  readonly state?: StateValues;
  /**
   * Where WebSocket handlers post to connections (MANAGEMENT_API_ENDPOINT): the runtime emulator's
   * stand-in, so that nothing is sent to AWS. @default - the stack's value
   */
  readonly managementEndpoint?: string;
  /** Only this function (by name): the others are not unpacked. @default - every function */
  readonly only?: string;
  /** Concurrency when the function reserves none. @default 10 */
  readonly defaultConcurrency?: number;
}

export const ACCOUNT_ID = "123456789012";

/** Resolves `${type.name.attr}` references from the state, else from literal arguments in the stack. */
export function resolveReferences(value: string, stack: StackJson, state?: StateValues): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\{([^}]*)\}/g, (_m, expr: string) => {
    const replace = /^replace\(([\w-]+)\.([\w-]+)\.(\w+),\s*"([^"]*)",\s*"([^"]*)"\)$/.exec(expr);
    const ref = replace ? replace.slice(1, 4) : /^([\w-]+)\.([\w-]+)\.(\w+)$/.exec(expr)?.slice(1, 4);
    if (!ref) {
      unresolved = true;
      return "";
    }
    const [type, name, attr] = ref;
    const fromState = state?.get(`${type}.${name}`)?.[attr];
    const literal = stack.resource?.[type]?.[name]?.[attr];
    const v = typeof fromState === "string" ? fromState : typeof literal === "string" && !literal.includes("${") ? literal : undefined;
    if (v === undefined) {
      unresolved = true;
      return "";
    }
    return replace ? v.split(replace[4]).join(replace[5]) : v;
  });
  return unresolved ? undefined : out;
}

/** Unpacks a zip into a folder named by its content, once; returns the folder. */
export function unpack(zipPath: string, projectRoot: string): string {
  if (!fs.existsSync(zipPath)) {
    throw new Error(`${zipPath} does not exist: build it first (npm run build:lambda, or npm start / an apply, which run the builders)`);
  }
  const sha = crypto.createHash("sha256").update(fs.readFileSync(zipPath)).digest("hex").slice(0, 16);
  const base = path.basename(zipPath, ".zip");
  const dir = path.join(projectRoot, ".build", "runtime", base.endsWith(sha) ? base : `${base}-${sha}`);
  if (fs.existsSync(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  // Python's zipfile keeps the modes stored in the zip (bootstrap is 0755), as Lambda does.
  const r = spawnSync(
    "python3",
    ["-c", "import sys,zipfile,os\nz=zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist():\n  p=z.extract(i,sys.argv[2])\n  m=(i.external_attr>>16)&0o777\n  os.chmod(p,m or 0o644)", zipPath, tmp],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`could not unpack ${zipPath}: ${r.stderr}`);
  shimForeignExecutables(tmp);
  fs.renameSync(tmp, dir);
  return dir;
}

/** Where an unpacked package's executables of another architecture are kept, behind the scripts that start them under qemu. */
export const FOREIGN_DIR = ".lambdaship-qemu";

/**
 * A package whose `bootstrap` is a script that runs one of its binaries (a Go package behind a
 * Runtime API proxy runs `bootstrap.bin`) needs the kernel to run that binary; here it may be arm64
 * on an x86_64 machine without a binfmt_misc entry for qemu. So each executable arm64 ELF of such a
 * package moves to FOREIGN_DIR and a script in its place starts it under qemu-aarch64. Only the
 * emulator's unpacked copy changes; an ELF bootstrap is run under qemu directly (executableCommand).
 */
function shimForeignExecutables(root: string): void {
  const bootstrap = path.join(root, "bootstrap");
  if (os.arch() === "arm64" || !fs.existsSync(bootstrap) || isElfFile(bootstrap)) return;
  const walk = (rel: string): string[] =>
    fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((d) => {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) return walk(r);
      return d.isFile() && (fs.statSync(path.join(root, r)).mode & 0o111) !== 0 && isElfFile(path.join(root, r)) && readElfFile(path.join(root, r)).architecture === "arm64" ? [r] : [];
    });
  for (const rel of walk("")) {
    const hidden = path.join(root, FOREIGN_DIR, rel);
    fs.mkdirSync(path.dirname(hidden), { recursive: true });
    fs.renameSync(path.join(root, rel), hidden);
    const target = path.posix.relative(path.posix.dirname(rel), `${FOREIGN_DIR}/${rel}`);
    const quote = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
    fs.writeFileSync(
      path.join(root, rel),
      [
        "#!/bin/sh",
        `# lambdaship's runtime emulator: ${rel.replace(/\n/g, " ")} is arm64 and this machine has no binfmt_misc entry for it, so it runs under qemu-aarch64.`,
        `q=$(command -v qemu-aarch64 || command -v qemu-aarch64-static) || { echo ${quote(`${rel} is arm64 and this machine is x86_64: ${QEMU_FIX}`)} >&2; exit 126; }`,
        `exec "$q" -L /usr/aarch64-linux-gnu "$(dirname "$0")"/${quote(target)} "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  }
}

/**
 * The function's /opt: its layers' zips unpacked in order into one folder (a later layer's files
 * replace an earlier one's, as Lambda extracts them). Layers only referenced by ARN have no content
 * here: they are reported and left out.
 */
export function layersDir(fnName: string, refs: readonly string[], stack: StackJson, opts: ResolveOptions, problems: string[]): string | undefined {
  const dirs: string[] = [];
  for (const ref of refs) {
    const m = /^\$\{(data\.)?aws_lambda_layer_version\.([\w-]+)\.arn\}$/.exec(ref);
    const layer = m && !m[1] ? stack.resource?.aws_lambda_layer_version?.[m[2]] : undefined;
    if (!layer) {
      problems.push(`${fnName}: layer ${ref} is referenced by ARN, so its content is not available here; the function runs without it`);
      continue;
    }
    let file = typeof layer.filename === "string" ? layer.filename : undefined;
    if (!file) {
      // Uploaded through S3: the object's source is the same local zip.
      const obj = /^\$\{aws_s3_object\.([\w-]+)\.key\}$/.exec(String(layer.s3_key ?? ""));
      const source = obj ? stack.resource?.aws_s3_object?.[obj[1]]?.source : undefined;
      file = typeof source === "string" ? source : undefined;
    }
    if (!file) {
      problems.push(`${fnName}: layer ${String(layer.layer_name)} has no local zip to unpack; the function runs without it`);
      continue;
    }
    dirs.push(unpack(path.resolve(opts.stackDir, file), opts.projectRoot));
  }
  if (dirs.length === 0) return undefined;
  if (dirs.length === 1) return dirs[0];
  const merged = path.join(opts.projectRoot, ".build", "runtime", `opt-${crypto.createHash("sha256").update(dirs.join("\0")).digest("hex").slice(0, 16)}`);
  if (!fs.existsSync(merged)) {
    const tmp = `${merged}.tmp-${process.pid}`;
    for (const d of dirs) fs.cpSync(d, tmp, { recursive: true, force: true });
    fs.renameSync(tmp, merged);
  }
  return merged;
}

/** A path inside the function's /opt, here: where its layers were unpacked. */
function optPath(value: string, opt: string | undefined): string {
  return opt && value.startsWith("/opt/") ? path.join(opt, value.slice("/opt/".length)) : value;
}

/** The Node.js runtime interface client the emulator starts Node.js functions with. */
export const NODE_CLIENT = path.join(__dirname, "clients", "node-ric.cjs");

const QEMU_FIX = "install qemu-user (`npm run setup -- --only rust` installs it with the arm64 toolchain, or apt-get install qemu-user)";

/**
 * The binary a custom runtime's unpacked package runs: `bootstrap` when it is one, else the binary a
 * proxied Go package's bootstrap script runs (`bootstrap.bin`, kept under FOREIGN_DIR when a qemu
 * script stands in its place); undefined when there is neither.
 */
export function packageBinary(codeDir: string): string | undefined {
  const bootstrap = path.join(codeDir, "bootstrap");
  if (!fs.existsSync(bootstrap)) return undefined;
  if (isElfFile(bootstrap)) return bootstrap;
  return [path.join(codeDir, FOREIGN_DIR, "bootstrap.bin"), path.join(codeDir, "bootstrap.bin")].find((f) => fs.existsSync(f) && isElfFile(f));
}

/** The command that runs a custom-runtime `bootstrap` here: natively, or under qemu for another architecture. */
export function bootstrapCommand(codeDir: string): { command: string; args: string[]; description: string } {
  const bootstrap = path.join(codeDir, "bootstrap");
  if (!fs.existsSync(bootstrap)) throw new Error(`${codeDir} has no bootstrap: a custom runtime's package must hold an executable bootstrap at its root`);
  return executableCommand(bootstrap);
}

/** The command that runs an executable here: a script as it is, an ELF natively or under qemu. */
export function executableCommand(bootstrap: string): { command: string; args: string[]; description: string } {
  if (!isElfFile(bootstrap)) {
    const foreign = fs.existsSync(path.join(path.dirname(bootstrap), FOREIGN_DIR));
    return { command: bootstrap, args: [], description: foreign ? "script, its arm64 executables under qemu-aarch64" : "script" };
  }
  const arch = readElfFile(bootstrap).architecture;
  const host = os.arch() === "arm64" ? "arm64" : "x86_64";
  if (arch === host) return { command: bootstrap, args: [], description: `${arch}, native` };
  if (arch === "arm64") {
    const qemu = which("qemu-aarch64") ?? which("qemu-aarch64-static");
    if (!qemu) throw new Error(`${bootstrap} is arm64 and this machine is ${host}: ${QEMU_FIX}`);
    return { command: qemu, args: ["-L", "/usr/aarch64-linux-gnu", bootstrap], description: "arm64, under qemu-aarch64" };
  }
  throw new Error(`${bootstrap} is ${arch ?? "of an unknown architecture"}; this machine runs ${host}${arch === "x86_64" ? " and has no x86_64 emulation" : ""}`);
}

/** The functions a synthesized stack creates or adopts (not the ones it only references), ready to run. */
export function functionsFromStack(stack: StackJson, opts: ResolveOptions): { functions: FunctionSpec[]; problems: string[] } {
  const functions: FunctionSpec[] = [];
  const problems: string[] = [];
  for (const [id, fn] of Object.entries(stack.resource?.aws_lambda_function ?? {})) {
    const name = String(fn.function_name);
    if (opts.only !== undefined && name !== opts.only) continue;
    const runtime = String(fn.runtime);
    const memoryMiB = Number(fn.memory_size ?? 128);
    const timeoutSeconds = Number(fn.timeout ?? 3);
    const zip = path.resolve(opts.stackDir, String(fn.filename));
    // A folder is run as it is (npm run dev's builds); a zip is unpacked as Lambda would.
    const codeDir = fs.statSync(zip, { throwIfNoEntry: false })?.isDirectory() ? zip : unpack(zip, opts.projectRoot);
    const variables: Record<string, string> = {};
    for (const [k, v] of Object.entries(((fn.environment as { variables?: Record<string, string> } | undefined)?.variables) ?? {})) {
      if (k === "MANAGEMENT_API_ENDPOINT" && opts.managementEndpoint) continue; // replaced by the stand-in below
      const resolved = resolveReferences(v, stack, opts.state);
      if (resolved === undefined) problems.push(`${name}: ${k} refers to ${v}, which is known only once deployed; it is left unset (deploy the env, e.g. npm start for local, to have it)`);
      else variables[k] = resolved;
    }
    const handler = String(fn.handler ?? "bootstrap");
    const opt = layersDir(name, Array.isArray(fn.layers) ? (fn.layers as string[]) : [], stack, opts, problems);
    for (const [k, v] of Object.entries(variables)) variables[k] = optPath(v, opt);
    const credentials = opts.credentials ?? { accessKeyId: "test", secretAccessKey: "test", sessionToken: "test" };
    const env: Record<string, string> = {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      LANG: "en_US.UTF-8",
      TZ: ":UTC",
      AWS_REGION: opts.region,
      AWS_DEFAULT_REGION: opts.region,
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMiB),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${crypto.randomBytes(16).toString("hex")}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
      AWS_EXECUTION_ENV: `AWS_Lambda_${runtime}`,
      LAMBDA_TASK_ROOT: codeDir,
      LAMBDA_RUNTIME_DIR: codeDir,
      _HANDLER: handler,
      // The local emulator's credentials and endpoint unless told otherwise: a function run here reaches AWS only for npm run live.
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
      ...(opts.awsEndpoint === null ? {} : { AWS_ENDPOINT_URL: opts.awsEndpoint ?? "http://127.0.0.1:9" }),
      ...variables,
      ...(opts.managementEndpoint ? { MANAGEMENT_API_ENDPOINT: opts.managementEndpoint } : {}),
    };
    let command: string;
    let args: string[];
    let description: string;
    if (runtime.startsWith("provided")) {
      ({ command, args, description } = bootstrapCommand(codeDir));
      description = `${runtime} ${description}`;
    } else if (runtime.startsWith("python")) {
      const python = path.join(opts.projectRoot, ".venv", "bin", "python");
      if (!fs.existsSync(python)) throw new Error(`${python} is missing: npm run setup -- --only python installs it (with awslambdaric)`);
      command = python;
      args = ["-m", "awslambdaric", handler];
      // Lambda's order: the package, then the layers' python/lib/<version>/site-packages and python/.
      env.PYTHONPATH = [codeDir, ...(opt ? [path.join(opt, "python", "lib", runtime, "site-packages"), path.join(opt, "python")] : [])].join(":");
      const local = spawnSync(python, ["-c", "import sys;print(f'{sys.version_info[0]}.{sys.version_info[1]}')"], { encoding: "utf8" }).stdout.trim();
      description = `${runtime} through awslambdaric on Python ${local}`;
    } else if (runtime.startsWith("nodejs")) {
      command = process.execPath;
      args = [NODE_CLIENT];
      // Lambda's NODE_PATH: the layers' nodejs/node<major>/node_modules and nodejs/node_modules.
      const major = /^nodejs(\d+)/.exec(runtime)?.[1] ?? "";
      env.NODE_PATH = [...(opt ? [path.join(opt, "nodejs", `node${major}`, "node_modules"), path.join(opt, "nodejs", "node_modules")] : []), codeDir].join(":");
      description = `${runtime} through lambdaship's Node.js runtime client on Node.js ${process.versions.node}`;
    } else if (runtime.startsWith("java")) {
      const java = which("java");
      if (!java) throw new Error(`${name} runs ${runtime}, and java is not on PATH: install a JDK (apt-get install default-jdk)`);
      command = java;
      const cp = [javaClientClasspath(), codeDir, path.join(codeDir, "lib", "*"), ...(opt ? [path.join(opt, "java", "lib", "*")] : [])].join(":");
      // Lambda's Java runtimes start with tiered compilation stopped at C1, for a shorter cold start.
      args = ["-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", cp, JAVA_RIC_MAIN, handler];
      const version = spawnSync(java, ["-version"], { encoding: "utf8" }).stderr.split("\n")[0]?.trim();
      description = `${runtime} through AWS's Java runtime client ${JAVA_RIC_VERSION} on ${version}`;
    } else {
      problems.push(`${name}: runtime ${runtime} is not one the emulator runs (provided.*, python3.*, nodejs*, java*); skipped`);
      continue;
    }
    const extensionsDir = opt ? path.join(opt, "extensions") : undefined;
    const extensions =
      extensionsDir && fs.existsSync(extensionsDir)
        ? fs.readdirSync(extensionsDir).sort().map((file) => ({ name: file, ...executableCommand(path.join(extensionsDir, file)) }))
        : [];
    if (extensions.length) description += `, extensions ${extensions.map((e) => `${e.name} (${e.description})`).join(", ")}`;
    // Managed runtimes start through the wrapper script when there is one; OS-only runtimes never do.
    const wrapper = env.AWS_LAMBDA_EXEC_WRAPPER;
    if (wrapper && !runtime.startsWith("provided")) {
      if (!fs.existsSync(wrapper)) problems.push(`${name}: AWS_LAMBDA_EXEC_WRAPPER is ${wrapper}, which does not exist; the runtime starts without it`);
      else {
        args = [command, ...args];
        command = wrapper;
        description += `, through ${path.basename(wrapper)}`;
      }
    }
    const reserved = typeof fn.reserved_concurrent_executions === "number" && fn.reserved_concurrent_executions > 0 ? fn.reserved_concurrent_executions : undefined;
    // Its event invoke config, by reference to this resource or by its name.
    const asyncConfig = Object.values(stack.resource?.aws_lambda_function_event_invoke_config ?? {}).find((c) => c.function_name === `\${aws_lambda_function.${id}.function_name}` || c.function_name === name);
    functions.push({
      name,
      arn: `arn:aws:lambda:${opts.region}:${ACCOUNT_ID}:function:${name}`,
      runtime: { command, args, cwd: codeDir, env, extensions },
      timeoutSeconds,
      memoryMiB,
      maxConcurrency: reserved ?? opts.defaultConcurrency ?? 10,
      reservedConcurrency: reserved,
      ...(typeof asyncConfig?.maximum_retry_attempts === "number" ? { maximumRetryAttempts: asyncConfig.maximum_retry_attempts } : {}),
      ...(typeof asyncConfig?.maximum_event_age_in_seconds === "number" ? { maximumEventAgeSeconds: asyncConfig.maximum_event_age_in_seconds } : {}),
      description: `${description} (${id})`,
    });
  }
  return { functions, problems };
}
