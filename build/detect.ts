import * as fs from "fs";
import * as path from "path";
import { listSourceFiles, SourceError } from "./source";

/**
 * Runtime and handler detection for a function folder (seed 001's list): the language from its
 * dependency and source files, the runtime from the language unless one is given, and the handler
 * from the code. None, or several candidates, is an error naming the folder, what was found and the
 * field to set. Pure reads of the folder; nothing is built.
 */

export type Language = "python" | "nodejs" | "go" | "java" | "rust";

/**
 * The runtimes Lambda supports for new functions per language (AWS's runtime table, read 2026-12-01:
 * python3.10/3.11, nodejs20.x, java8.al2/11/17 and provided.al2 reached their deprecation dates in 2026).
 */
export const RUNTIMES: Readonly<Record<Language, readonly string[]>> = {
  python: ["python3.12", "python3.13", "python3.14"],
  nodejs: ["nodejs22.x", "nodejs24.x"],
  java: ["java21", "java25"],
  go: ["provided.al2023"],
  rust: ["provided.al2023"],
};

/** The runtime a detected language gets when the entry names none. */
export const DEFAULT_RUNTIME: Readonly<Record<Language, string>> = {
  python: "python3.12",
  nodejs: "nodejs22.x",
  java: "java21",
  go: "provided.al2023",
  rust: "provided.al2023",
};

/** Runtimes Lambda no longer takes for new functions. */
const RETIRED = new Set(["python3.8", "python3.9", "python3.10", "python3.11", "nodejs16.x", "nodejs18.x", "nodejs20.x", "java8", "java8.al2", "java11", "java17", "provided", "provided.al2", "go1.x"]);

export class DetectError extends Error {
  /** The entry's field the fix is about (`runtime`, `handler`, `source`). */
  constructor(
    message: string,
    public readonly field: "runtime" | "handler" | "source" | "bin",
  ) {
    super(message);
  }
}

export interface Detected {
  readonly language: Language;
  readonly runtime: string;
  /** What Lambda is told (`module.function`, `file.export`, `pkg.Class::handleRequest`, `bootstrap`). */
  readonly handler: string;
  /** The source file holding the handler, relative to the folder (none for Go and Rust). */
  readonly handlerFile?: string;
  /** Whether runtime and handler were detected (true) or given (false), for the synth report. */
  readonly detected: { readonly runtime: boolean; readonly handler: boolean };
}

const LANGUAGE_MARKERS: ReadonlyArray<{ file: string; language: Language }> = [
  { file: "requirements.txt", language: "python" },
  { file: "Pipfile.lock", language: "python" },
  { file: "poetry.lock", language: "python" },
  { file: "package.json", language: "nodejs" },
  { file: "go.mod", language: "go" },
  { file: "pom.xml", language: "java" },
  { file: "build.gradle", language: "java" },
  { file: "build.gradle.kts", language: "java" },
  { file: "Cargo.toml", language: "rust" },
];

const NODE_EXT = /\.(js|mjs|cjs|ts|mts|cts)$/;

/** Test files and folders, which are neither packaged nor searched for handlers. */
export function isTestPath(rel: string): boolean {
  const parts = rel.split("/");
  const base = parts[parts.length - 1];
  return (
    parts.slice(0, -1).some((p) => p === "tests" || p === "test" || p === "__tests__" || p === "testdata") ||
    /^test_.*\.py$/.test(base) ||
    /_test\.(py|go)$/.test(base) ||
    base === "conftest.py" ||
    /\.(test|spec)\.[cm]?[jt]s$/.test(base) ||
    base.endsWith(".d.ts")
  );
}

/** The language of a runtime identifier, or undefined for one this project does not build. */
export function languageOfRuntime(runtime: string): Language | undefined {
  if (runtime.startsWith("python")) return "python";
  if (runtime.startsWith("nodejs")) return "nodejs";
  if (runtime.startsWith("java")) return "java";
  return undefined;
}

/** Checks that `runtime` is one Lambda offers for `language`; the error lists the ones it does. */
export function checkRuntime(language: Language, runtime: string): void {
  const offered = RUNTIMES[language];
  if (offered.includes(runtime)) return;
  const why = RETIRED.has(runtime) ? `${runtime} is deprecated on Lambda and takes no new functions` : `${runtime} is not a Lambda runtime for ${language === "nodejs" ? "Node.js" : language}`;
  throw new DetectError(`${why}; use ${offered.join(" or ")}${language === "go" || language === "rust" ? " (an OS-only runtime: the package holds the bootstrap binary)" : ""}`, "runtime");
}

/** The languages a folder's files point at, with the files that say so. */
export function languagesIn(files: readonly string[]): Map<Language, string[]> {
  const found = new Map<Language, string[]>();
  const add = (l: Language, f: string) => found.set(l, [...(found.get(l) ?? []), f]);
  for (const m of LANGUAGE_MARKERS) if (files.includes(m.file)) add(m.language, m.file);
  if (!found.has("python") && !found.has("nodejs")) {
    // No dependency file: sources alone say Python or JavaScript/TypeScript.
    const py = files.filter((f) => f.endsWith(".py") && !isTestPath(f));
    const js = files.filter((f) => NODE_EXT.test(f) && !isTestPath(f) && (!f.includes("/") || /^src\/[^/]+$/.test(f)));
    if (py.length && !found.size) add("python", py[0]);
    if (js.length && !found.size) add("nodejs", js[0]);
  }
  // A Go, Java or Rust project may carry a package.json for tooling: with no JavaScript beside it, the build file decides.
  if (found.size === 2 && found.has("nodejs") && ["go", "java", "rust"].some((l) => found.has(l as Language)) && !files.some((f) => NODE_EXT.test(f))) found.delete("nodejs");
  return found;
}

function read(dir: string, rel: string): string {
  return fs.readFileSync(path.join(dir, rel), "utf8");
}

/** Module-level `def name(event, context)` functions of the Python files, as `module.name`. */
export function pythonHandlers(dir: string, files: readonly string[]): Array<{ handler: string; file: string; name: string }> {
  const out: Array<{ handler: string; file: string; name: string }> = [];
  for (const f of files.filter((f) => f.endsWith(".py") && !isTestPath(f))) {
    const module = f.slice(0, -3).split("/").join(".");
    for (const m of read(dir, f).matchAll(/^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(\s*event\s*(?::[^,]*)?,\s*context\s*(?::[^)]*)?\)/gm)) {
      out.push({ handler: `${module}.${m[1]}`, file: f, name: m[1] });
    }
  }
  return out;
}

/** Whether a JavaScript/TypeScript source exports `name`. */
export function exportsName(source: string, name: string): boolean {
  const n = name.replace(/[$]/g, "\\$");
  return [
    new RegExp(`^\\s*export\\s+(?:async\\s+)?function\\s*\\*?\\s*${n}\\b`, "m"),
    new RegExp(`^\\s*export\\s+(?:const|let|var)\\s+${n}\\b`, "m"),
    new RegExp(`^\\s*export\\s*\\{[^}]*\\b${n}\\b[^}]*\\}`, "m"),
    new RegExp(`\\b(?:module\\.)?exports\\.${n}\\s*=`),
    new RegExp(`\\bmodule\\.exports\\s*=\\s*\\{[^}]*\\b${n}\\b`),
  ].some((re) => re.test(source));
}

/** Source files that export `handler`. */
export function nodeHandlers(dir: string, files: readonly string[]): string[] {
  return files.filter((f) => NODE_EXT.test(f) && !isTestPath(f) && exportsName(read(dir, f), "handler"));
}

/** Classes implementing RequestHandler or RequestStreamHandler, as `pkg.Class::handleRequest`. */
export function javaHandlers(dir: string, files: readonly string[]): Array<{ handler: string; file: string }> {
  const out: Array<{ handler: string; file: string }> = [];
  for (const f of files.filter((f) => f.endsWith(".java") && !f.startsWith("src/test/"))) {
    const text = read(dir, f);
    const cls = /\bclass\s+([A-Za-z_]\w*)[^{]*\bimplements\b[^{]*\b(?:RequestHandler|RequestStreamHandler)\b/.exec(text);
    if (!cls) continue;
    const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
    out.push({ handler: `${pkg ? `${pkg}.` : ""}${cls[1]}::handleRequest`, file: f });
  }
  return out;
}

/** The file of a Node.js handler `path/file.export`, when one of the source extensions has it. */
function nodeHandlerFile(files: readonly string[], handler: string): string | undefined {
  const base = handler.slice(0, handler.lastIndexOf("."));
  return files.find((f) => NODE_EXT.test(f) && f.replace(NODE_EXT, "") === base);
}

export interface DetectOptions {
  readonly runtime?: string;
  readonly handler?: string;
}

/**
 * Detects (or checks, where given) a function folder's runtime and handler. Errors name the folder,
 * what was found and the field to set.
 */
export function detectFunction(dir: string, opts: DetectOptions = {}): Detected {
  let files: string[];
  try {
    files = listSourceFiles(dir).map((f) => f.rel);
  } catch (e) {
    if (e instanceof SourceError) throw new DetectError(e.message, "source");
    throw e;
  }
  const top = files.filter((f) => !f.includes("/"));
  let language: Language;
  if (opts.runtime) {
    const fromRuntime = languageOfRuntime(opts.runtime);
    const found = languagesIn(files);
    if (fromRuntime) language = fromRuntime;
    else if (opts.runtime.startsWith("provided") && (found.has("go") || found.has("rust"))) language = found.has("go") ? "go" : "rust";
    else if (RETIRED.has(opts.runtime)) throw new DetectError(`${opts.runtime} is deprecated on Lambda and takes no new functions; use one of ${Object.values(RUNTIMES).flat().filter((r, i, a) => a.indexOf(r) === i).join(", ")}`, "runtime");
    else throw new DetectError(`${opts.runtime} is not a runtime this project builds; use one of ${Object.values(RUNTIMES).flat().filter((r, i, a) => a.indexOf(r) === i).join(", ")} (Go and Rust run on provided.al2023)`, "runtime");
  } else {
    const found = languagesIn(files);
    if (found.size === 0) {
      throw new DetectError(
        `${dir} holds no function: no requirements.txt, package.json, go.mod, pom.xml, build.gradle or Cargo.toml, and no .py file, nor a .js or .ts file at its top or in src/. Add the code, or set runtime`,
        "runtime",
      );
    }
    if (found.size > 1) {
      const what = [...found].map(([l, f]) => `${l} (${f.join(", ")})`).join(", ");
      throw new DetectError(`${dir} looks like several languages: ${what}. Set runtime to the one it is (e.g. ${[...found.keys()].map((l) => DEFAULT_RUNTIME[l]).join(" or ")}), or split the folder`, "runtime");
    }
    language = [...found.keys()][0];
  }
  const runtime = opts.runtime ?? DEFAULT_RUNTIME[language];
  checkRuntime(language, runtime);
  const detected = { runtime: !opts.runtime, handler: !opts.handler };

  switch (language) {
    case "go": {
      if (!top.includes("go.mod")) throw new DetectError(`${dir} has no go.mod; a Go function is a module whose main package is at the folder's top`, "source");
      if (!top.some((f) => f.endsWith(".go") && !isTestPath(f) && /^\s*package\s+main\b/m.test(read(dir, f)))) {
        throw new DetectError(`${dir} has a go.mod but no package main at its top; the builder builds the folder's main package into bootstrap`, "source");
      }
      if (opts.handler && opts.handler !== "bootstrap") throw new DetectError(`a Go function's handler is bootstrap (the binary Lambda's OS-only runtime starts), not ${JSON.stringify(opts.handler)}; remove handler`, "handler");
      return { language, runtime, handler: "bootstrap", detected };
    }
    case "rust":
      return { language, runtime, handler: "bootstrap", detected };
    case "python": {
      const all = pythonHandlers(dir, files);
      if (opts.handler) {
        const m = /^([A-Za-z_][\w.]*)\.([A-Za-z_]\w*)$/.exec(opts.handler);
        if (!m) throw new DetectError(`handler ${JSON.stringify(opts.handler)} is not <module>.<function>, e.g. app.lambda_handler`, "handler");
        const file = `${m[1].split(".").join("/")}.py`;
        if (!files.includes(file)) throw new DetectError(`handler ${opts.handler} needs ${file} in ${dir}, which is not there${all.length ? `; the folder's handlers are ${all.map((h) => h.handler).join(", ")}` : ""}`, "handler");
        if (!new RegExp(`^(?:async\\s+)?def\\s+${m[2]}\\s*\\(`, "m").test(read(dir, file))) throw new DetectError(`handler ${opts.handler}: ${file} defines no module-level function ${m[2]}${all.length ? `; the folder's handlers are ${all.map((h) => h.handler).join(", ")}` : ""}`, "handler");
        return { language, runtime, handler: opts.handler, handlerFile: file, detected };
      }
      const preferred = ["lambda_handler", "handler"].map((n) => all.filter((h) => h.name === n)).find((l) => l.length > 0) ?? all;
      if (preferred.length === 1) return { language, runtime, handler: preferred[0].handler, handlerFile: preferred[0].file, detected };
      if (preferred.length === 0) throw new DetectError(`${dir} has no module-level def <name>(event, context) in its .py files; write one (lambda_handler is looked for first, then handler), or set handler`, "handler");
      throw new DetectError(`${dir} has several handlers: ${preferred.map((h) => `${h.handler} (${h.file})`).join(", ")}; set handler to the one Lambda calls`, "handler");
    }
    case "nodejs": {
      const candidates = nodeHandlers(dir, files);
      if (opts.handler) {
        const m = /^([\w./-]+)\.([A-Za-z_$][\w$]*)$/.exec(opts.handler);
        if (!m) throw new DetectError(`handler ${JSON.stringify(opts.handler)} is not <file>.<export>, e.g. index.handler`, "handler");
        const file = nodeHandlerFile(files, opts.handler);
        if (!file) throw new DetectError(`handler ${opts.handler} needs ${m[1]}.js, .mjs, .cjs or .ts in ${dir}, which is not there${candidates.length ? `; files exporting handler: ${candidates.join(", ")}` : ""}`, "handler");
        if (!exportsName(read(dir, file), m[2])) throw new DetectError(`handler ${opts.handler}: ${file} exports no ${m[2]}`, "handler");
        return { language, runtime, handler: opts.handler, handlerFile: file, detected };
      }
      if (candidates.length === 1) return { language, runtime, handler: `${candidates[0].replace(NODE_EXT, "")}.handler`, handlerFile: candidates[0], detected };
      if (candidates.length === 0) throw new DetectError(`${dir} has no .js, .mjs, .cjs or .ts file that exports handler; export one (export const handler = async (event) => ...), or set handler`, "handler");
      throw new DetectError(`${dir} has several files exporting handler: ${candidates.join(", ")}; set handler (e.g. ${candidates[0].replace(NODE_EXT, "")}.handler)`, "handler");
    }
    case "java": {
      const all = javaHandlers(dir, files);
      if (opts.handler) {
        const m = /^([\w.]+)(::\w+)?$/.exec(opts.handler);
        if (!m) throw new DetectError(`handler ${JSON.stringify(opts.handler)} is not <package.Class>::<method>, e.g. example.Handler::handleRequest`, "handler");
        const cls = m[1].split(".").pop()!;
        if (!files.some((f) => f.endsWith(`/${cls}.java`) || f === `${cls}.java`)) throw new DetectError(`handler ${opts.handler}: no ${cls}.java in ${dir}${all.length ? `; handler classes: ${all.map((h) => h.handler).join(", ")}` : ""}`, "handler");
        return { language, runtime, handler: opts.handler, handlerFile: all.find((h) => h.handler.startsWith(m[1]))?.file, detected };
      }
      if (all.length === 1) return { language, runtime, handler: all[0].handler, handlerFile: all[0].file, detected };
      if (all.length === 0) throw new DetectError(`${dir} has no class implementing RequestHandler or RequestStreamHandler; write one, or set handler`, "handler");
      throw new DetectError(`${dir} has several handler classes: ${all.map((h) => h.handler).join(", ")}; set handler to the one Lambda calls`, "handler");
    }
  }
}
