/**
 * Edits of an env file's source, for `npm run new`: one entry added to `functions`, the rest of the
 * file (comments, formatting) left as it is.
 */

export class EnvEditError extends Error {}

/** The entry as TypeScript source: `key: { source: "...", memoryMiB: 256 },` */
export function entrySource(key: string, entry: Record<string, unknown>): string {
  const value = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(value).join(", ")}]`
      : v !== null && typeof v === "object"
        ? `{ ${Object.entries(v).map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${value(x)}`).join(", ")} }`
        : JSON.stringify(v);
  return `${/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key)}: ${value(entry)},`;
}

/**
 * Adds `key`'s entry to the env file's `functions`: into the existing `functions: {` block, else as a
 * new `functions` field before `backend:` (carrying the functions of an env the file spreads, as
 * local spreads dev), else before the end of `defineEnv({...})`. A key already there is an error.
 */
export function addFunctionEntry(text: string, file: string, key: string, entry: Record<string, unknown>): string {
  const line = entrySource(key, entry);
  const block = /^(\s*)functions:\s*\{(\s*\.\.\.\w+\.functions,)?\s*$/m.exec(text);
  if (block) {
    const after = text.slice(block.index + block[0].length);
    // The block's own entries, to its closing brace (entries may span lines and hold braces).
    let depth = 0;
    let end = after.length;
    let quote: string | undefined;
    for (let i = 0; i < after.length; i++) {
      const c = after[i];
      if (quote) {
        if (c === "\\") i++;
        else if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'" || c === "`") quote = c;
      else if (c === "/" && after[i + 1] === "/") i = after.indexOf("\n", i) < 0 ? after.length : after.indexOf("\n", i);
      else if (c === "{" || c === "[" || c === "(") depth++;
      else if (c === "}" || c === "]" || c === ")") {
        if (depth === 0) {
          end = i;
          break;
        }
        depth--;
      }
    }
    const entryKey = new RegExp(`^${block[1]}  (${key.replace(/[-]/g, "\\-")}|"${key}")\\s*:`, "m");
    if (entryKey.test(after.slice(0, end))) throw new EnvEditError(`${file}: functions.${key} is already there; choose another key (--key)`);
    const at = block.index + block[0].length;
    return `${text.slice(0, at)}\n${block[1]}  ${line}${text.slice(at)}`;
  }
  if (/^\s*functions:/m.test(text)) throw new EnvEditError(`${file}: its functions field is not written as a block (functions: {, one entry a line); add the entry by hand: ${line}`);
  const spread = /^\s*\.\.\.(\w+),\s*$/m.exec(text)?.[1];
  const field = `functions: {${spread ? ` ...${spread}.functions,` : ""}\n    ${line}\n  },`;
  const backend = /^(\s*)backend:/m.exec(text);
  if (backend) return `${text.slice(0, backend.index)}${backend[1]}${field}\n${text.slice(backend.index)}`;
  const close = text.lastIndexOf("});");
  if (close < 0) throw new EnvEditError(`${file} is not a defineEnv({...}) file; add the entry by hand: ${line}`);
  return `${text.slice(0, close)}  ${field}\n${text.slice(close)}`;
}
