// A fast TypeScript loader for the cdktf app command: strips types with swc, file by file, in
// memory. Type checking is `npm run typecheck` (part of `npm test`), not part of every synth.
"use strict";
const fs = require("fs");
const { transformSync } = require("@swc/core");

const options = {
  jsc: { parser: { syntax: "typescript" }, target: "es2022" },
  module: { type: "commonjs" },
  sourceMaps: "inline",
  swcrc: false,
  configFile: false,
};

require.extensions[".ts"] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, "utf8"), { ...options, filename });
  module._compile(code, filename);
};
