// The load generator of npm run bench's runtime part, in a process of its own so that the caller's
// HTTP work does not share the event loop (or the core) of the emulator it measures.
// argv[2]: {"urls": [...], "callers": N, "n": N, "warmup": N, "body": "..."}; prints {"latencies": [...], "perSecond": x}.
"use strict";
const http = require("http");
const { urls, callers, n, warmup, body } = JSON.parse(process.argv[2]);
const payload = Buffer.from(body);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const targets = urls.map((u) => new URL(u));

function post(url) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent, headers: { "Content-Length": payload.length } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function run(count, record) {
  let left = count;
  const latencies = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      while (left-- > 0) {
        const ms = await post(targets[i % targets.length]);
        if (record) latencies.push(ms);
      }
    }),
  );
  return { latencies, perSecond: count / ((performance.now() - t0) / 1000) };
}

(async () => {
  await run(warmup, false);
  const r = await run(n, true);
  process.stdout.write(JSON.stringify(r));
  agent.destroy();
})().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
