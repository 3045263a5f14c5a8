// A fast TypeScript loader for the cdktf app command and the project's scripts: swc strips types
// file by file, in memory. Results are cached by content in node_modules/.cache, so a warm start
// does not even load swc. Type checking is `npm run typecheck` (part of `npm test`).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

// The AWS SDK (pinned) warns on Node 20 about versions published after January 2027, which this
// project does not take: the warning says nothing about what runs here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const swcVersion = require("@swc/core/package.json").version;
const cacheDir = path.join(__dirname, "..", "node_modules", ".cache", "lambdaship-ts");
const options = {
  jsc: { parser: { syntax: "typescript" }, target: "es2022" },
  module: { type: "commonjs" },
  sourceMaps: "inline",
  swcrc: false,
  configFile: false,
};
let swc;

function compile(source, filename) {
  const key = crypto.createHash("sha256").update(`${swcVersion}\0${filename}\0${source}`).digest("hex");
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, "utf8");
  } catch {
    /* miss */
  }
  swc ??= require("@swc/core");
  const { code } = swc.transformSync(source, { ...options, filename });
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    /* a read-only node_modules only costs speed */
  }
  return code;
}

require.extensions[".ts"] = function compileTs(module, filename) {
  module._compile(compile(fs.readFileSync(filename, "utf8"), filename), filename);
};
