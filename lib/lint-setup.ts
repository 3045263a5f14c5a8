import * as fs from "fs";
import * as path from "path";
import { buildGoProgram, cacheRoot, GoProgram, log } from "./toolchain";

/** actionlint, the GitHub Actions workflow linter, built from the Go module proxy (no binary downloads here). */
export const ACTIONLINT: GoProgram = {
  name: "actionlint",
  module: "github.com/rhysd/actionlint",
  goVersion: "v1.7.12",
  version: "1.7.12",
  pkg: "./cmd/actionlint",
  ldflags: "-s -w -X github.com/rhysd/actionlint.version=1.7.12",
};

export function actionlintPath(): string {
  return path.join(cacheRoot(), "bin", `actionlint-${ACTIONLINT.version}`, "actionlint");
}

/** actionlint from the cache, built when missing. */
export function ensureActionlint(): string {
  const bin = actionlintPath();
  if (!fs.existsSync(bin)) buildGoProgram(ACTIONLINT, bin);
  log(`lint: actionlint ${ACTIONLINT.version} at ${bin}`);
  return bin;
}
