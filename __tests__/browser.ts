import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import WebSocket from "ws";

/**
 * Debian's Chromium, headless, driven over the DevTools protocol with the `ws` package (no browser
 * driver to download): open pages, evaluate in them, close them. `npm run setup` installs it.
 */

export function chromiumPath(): string {
  const r = spawnSync("chromium", ["--version"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("chromium is not on PATH: the browser test needs Debian's chromium; run `npm run setup -- --only browser` (as root it installs it: apt-get install chromium)");
  return "chromium";
}

export interface Page {
  readonly targetId: string;
  readonly sessionId: string;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: WebSocket,
    private readonly profile: string,
  ) {
    socket.on("message", (d) => {
      const msg = JSON.parse(d.toString()) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result ?? {});
    });
  }

  static async launch(): Promise<Browser> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chromium-"));
    const args = ["--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"];
    // As root (CI), Chromium runs only without its sandbox.
    if (process.getuid?.() === 0) args.unshift("--no-sandbox");
    // Its own process group: close() stops Chromium's helper processes too.
    const child = spawn(chromiumPath(), args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = "";
      const t = setTimeout(() => reject(new Error(`chromium did not start within 30 s:\n${err}`)), 30_000);
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      child.once("exit", (code) => reject(new Error(`chromium exited (${code}) before listening:\n${err}`)));
    });
    const socket = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new Browser(child, socket, profile);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  async open(url: string): Promise<Page> {
    const { targetId } = (await this.send("Target.createTarget", { url })) as { targetId: string };
    const { sessionId } = (await this.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
    return { targetId, sessionId };
  }

  /** The value of `expression` in the page (awaited when a promise). */
  async evaluate<T>(page: Page, expression: string): Promise<T> {
    const r = (await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, page.sessionId)) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Waits until `expression` is truthy in the page, and returns it. */
  async waitFor<T>(page: Page, expression: string, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.evaluate<T>(page, expression).catch(() => undefined);
      if (v) return v;
      if (Date.now() > deadline) {
        const text = await this.evaluate<string>(page, "document.body ? document.body.innerText : ''").catch(() => "");
        throw new Error(`timed out waiting for ${what}; the page shows:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async closePage(page: Page): Promise<void> {
    await this.send("Target.closeTarget", { targetId: page.targetId });
  }

  async close(): Promise<void> {
    this.socket.close();
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once("exit", () => resolve());
      this.signal("SIGTERM");
      setTimeout(() => this.signal("SIGKILL"), 5000).unref();
    });
    // A helper may still be writing into the profile as it exits: the whole group goes, and the removal retries.
    this.signal("SIGKILL");
    fs.rmSync(this.profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      /* the group is gone */
    }
  }
}
