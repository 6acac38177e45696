// Starts `px360 serve --demo` on a fresh SQLite file and a free loopback port, and reads the demo
// password from its stdout.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startServer(bin, { timeoutMs = 120_000, env: extraEnv = {} } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "px360-browser-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${path.join(dir, "px.db")}?mode=rwc`,
    PX360_BIND: `127.0.0.1:${port}`,
    PX360_PUBLIC_URL: base,
    PX360_ENV: "dev",
    PX360_SECURE_COOKIES: "false",
    PX360_LOG: process.env.PX360_LOG || "warn",
    ...extraEnv,
  };
  // The server must not pick up a developer's .env: run it from the temp dir.
  const child = spawn(bin, ["serve", "--demo"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let exited = null;
  child.stdout.on("data", (b) => { out += b.toString(); });
  child.stderr.on("data", (b) => {
    err += b.toString();
    if (process.env.PX360_BROWSER_VERBOSE) process.stderr.write(b);
  });
  child.on("exit", (code, signal) => { exited = { code, signal }; });

  const stop = async () => {
    if (exited === null) {
      child.kill("SIGTERM");
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  let password = null;
  while (Date.now() < deadline) {
    if (exited !== null) {
      await stop();
      throw new Error(`px360 exited early (${JSON.stringify(exited)}):\n${out}\n${err.slice(-4000)}`);
    }
    const m = out.match(/password for every demo login:\s*(\S+)/);
    if (m) password = m[1];
    if (password) {
      try {
        const r = await fetch(`${base}/health/`);
        if (r.ok) return { base, password, stop, logs: () => err };
      } catch {
        // not listening yet
      }
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`px360 did not become healthy within ${timeoutMs} ms:\n${out}\n${err.slice(-4000)}`);
}
