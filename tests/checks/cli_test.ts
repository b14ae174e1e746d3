import assert from "node:assert/strict";
import { Output } from "../../cli/output.ts";
import { printState, treeNames } from "../../cli/state.ts";
import { printChecks } from "../../cli/checks.ts";
import { startAgent } from "../helpers.ts";

Deno.test("state layout: services, then checks sorted with repeated prefixes blanked", () => {
  assert.deepEqual(treeNames(["linux/cpu", "linux/disks", "mysql/conn", "solo"]), [
    "linux/cpu",
    "      disks",
    "mysql/conn",
    "solo",
  ]);
  const out = new Output({ capture: true, colour: false });
  printState(out, {
    services: { redis: { state: "critical", check: { state: "critical", output: "down" } } },
    checks: {
      "linux/cpu": { state: "ok", output: "OK: cpu\nmore" },
      "linux/load": { state: "warning", output: "hot" },
    },
  });
  assert.deepEqual(out.captured, [
    "Services:",
    `\t${"redis".padEnd(20)} CRITICAL - down`,
    "Checks:",
    `\t${"linux/cpu".padEnd(20)} OK       - OK: cpu`,
    `\t${"      load".padEnd(20)} WARNING  - hot`,
  ]);
  // another node's services are any JSON from the network: a null service or a state that is not
  // text threw a TypeError in the CLI
  const odd = new Output({ capture: true, colour: false });
  printState(odd, {
    services: {
      gone: null,
      num: { state: 2, output: { x: 1 } },
      str: "up",
    } as unknown as Record<string, { state?: string }>,
    checks: { "service:num": { state: 7, output: null } as unknown as { state?: string } },
  });
  assert.deepEqual(odd.captured, [
    "Services:",
    `\t${"gone".padEnd(20)} UNKNOWN  - `,
    `\t${"num".padEnd(20)} UNKNOWN  - `,
    `\t${"str".padEnd(20)} UNKNOWN  - `,
    "Checks:",
    `\t${"service:num".padEnd(20)} PENDING  - `,
  ]);
  const o2 = new Output({ capture: true, colour: false });
  printChecks(o2, {
    "a/b": {
      state: "unknown",
      output: "x",
      active: false,
      interval: "10s",
      kind: "nagios",
      apply_on: "a",
      problems: ["bad"],
    },
  });
  assert.equal(o2.captured[0], "========== [Checks]:");
  assert.match(o2.captured[1], /a\/b\s+UNKNOWN\s+inactive 10s\s+nagios\s+on a - x/);
  assert.match(o2.captured[2], /bad/);
});

Deno.test({
  name: "a real agent serves checks, state and detectors to the CLI",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent({
      name: "chk",
      params: { tags: ["linux"] },
      files: {
        "linux/answer.json": {
          check: { interval: "1s", critical_if: "1 > 2", ok_output: "'the answer is %d' % 42" },
        },
        "detectors/always.json": { detector: { tags: ["found"], apply_if: "True", interval: "1s" } },
        "found/tagged.json": { check: { interval: "1s", warning_if: "True", warning_output: "'tagged'" } },
      },
    });
    try {
      let list: Record<string, { state: string; active: boolean; output: string }> = {};
      for (let i = 0; i < 60; i++) {
        const r = await agent.cli(["checks", "list", "--json"]);
        assert.equal(r.code, 0, r.stderr);
        list = JSON.parse(r.stdout);
        if (list["linux/answer"]?.state === "ok" && list["found/tagged"]?.state === "warning") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual([list["linux/answer"].state, list["linux/answer"].output], ["ok", "the answer is 42"]);
      assert.equal(list["found/tagged"].active, true, "the detector's tag activated the check");
      const st = await agent.cli(["state"]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(
        st.stdout,
        /Checks:\n\tfound\/tagged\s+WARNING\s+- tagged\n\tlinux\/answer\s+OK\s+- the answer is 42/,
      );
      const det = await agent.cli(["detectors", "list"]);
      assert.match(det.stdout, /Detectors/);
      assert.match(det.stdout, /^detectors\/always\s+true\s+found$/m);
      const run = await agent.cli(["detectors", "run", "--json"]);
      assert.deepEqual(JSON.parse(run.stdout)["detectors/always"], {
        matched: true,
        tags: ["found"],
        new_tags: [],
      });
    } finally {
      await agent.stop();
      Deno.removeSync(agent.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "kunai checks run: runs an active check now (its new state at once), by id, last path part or service name; refuses unknown, inactive and ambiguous ones",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "kunai-run-" });
    const libexec = `${dir}/libexec`;
    Deno.mkdirSync(libexec);
    // a plugin whose answer the test sets: it is run at start, then only when asked (interval 1h)
    Deno.writeTextFileSync(`${dir}/rc`, "0");
    Deno.writeTextFileSync(
      `${libexec}/flip`,
      `#!/bin/sh\nrc=$(cat ${dir}/rc)\necho "FLIP rc=$rc"\nexit $rc\n`,
    );
    Deno.chmodSync(`${libexec}/flip`, 0o755);
    const agent = await startAgent({
      name: "runner",
      params: { tags: ["linux"], libexec, nagios_user: Deno.env.get("USER") || "root" },
      files: {
        "linux/flip.json": { check: { interval: "1h", script: `${libexec}/flip` } },
        "db/other.json": { check: { interval: "1h", critical_if: "True" } },
        "db/dup.json": { check: { interval: "1h", critical_if: "False" } },
        "linux/dup.json": { check: { interval: "1h", critical_if: "False" } },
        "services/web.json": {
          service: {
            name: "web",
            apply_on: "linux",
            check: { interval: "1h", critical_if: "False", ok_output: "'fine'" },
          },
        },
      },
    });
    try {
      let view: { state: string; output: string } | undefined;
      for (let i = 0; i < 100 && view?.state !== "ok"; i++) {
        const r = await agent.cli(["checks", "list", "--json"]);
        view = r.code === 0 ? JSON.parse(r.stdout)["linux/flip"] : undefined;
        if (view?.state !== "ok") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(view?.state, "ok", JSON.stringify(view));
      Deno.writeTextFileSync(`${dir}/rc`, "2");
      let r = await agent.cli(["checks", "run", "linux/flip"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "linux/flip: CRITICAL - FLIP rc=2");
      r = await agent.cli(["checks", "list", "--json"]);
      assert.equal(
        JSON.parse(r.stdout)["linux/flip"].state,
        "critical",
        "the new state is the check's state",
      );
      // silenced until it is OK again: listed as such, over once it recovers
      r = await agent.cli(["checks", "silence", "linux/flip", "--reason", "ticket 42"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "linux/flip: silenced until it is OK again");
      r = await agent.cli(["checks", "list", "--no-color"]);
      assert.match(r.stdout, /^\t +flip +CRITICAL .* - FLIP rc=2 \(silenced\)$/m);
      Deno.writeTextFileSync(`${dir}/rc`, "0");
      r = await agent.cli(["checks", "run", "linux/flip", "--json"]);
      assert.equal(JSON.parse(r.stdout).state, "ok");
      assert.equal(JSON.parse(r.stdout).silenced, undefined, "the recovery ended the silence");
      r = await agent.cli(["checks", "silence", "linux/flip"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /check linux\/flip not silenced: .*is ok: a silence without "for"/);
      r = await agent.cli(["checks", "silence", "linux/flip", "--for", "2h", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const until = JSON.parse(r.stdout).silenced.until;
      assert.ok(until > Date.now() + 7_000_000 && until < Date.now() + 7_300_000, String(until));
      r = await agent.cli(["checks", "unsilence", "linux/flip"]);
      assert.equal(r.stdout.trim(), "linux/flip: notifications back on");
      r = await agent.cli(["checks", "silence", "linux/nope", "--for", "1h"]);
      assert.equal(r.code, 1);

      r = await agent.cli(["checks", "run", "linux/nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /check linux\/nope not run: .*no check named "linux\/nope"/);
      r = await agent.cli(["checks", "run", "db/other"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /check db\/other is not active on this node \(apply_on db\)/);
      r = await agent.cli(["checks", "run"]);
      assert.equal(r.code, 2);
      // a check may be named by its last path part or its service's name, as `wait check` takes it
      r = await agent.cli(["checks", "run", "flip"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "linux/flip: OK - FLIP rc=0");
      r = await agent.cli(["checks", "run", "web"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "service:web: OK - fine");
      r = await agent.cli(["checks", "silence", "web", "--for", "1h"]);
      assert.match(r.stdout, /^service:web: silenced until /);
      r = await agent.cli(["checks", "unsilence", "web"]);
      assert.equal(r.stdout.trim(), "service:web: notifications back on");
      r = await agent.cli(["checks", "run", "other"]);
      assert.match(r.stderr, /check db\/other is not active on this node/);
      r = await agent.cli(["checks", "run", "dup"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /check dup is ambiguous: db\/dup, linux\/dup/);
      r = await agent.cli(["wait", "check", "web", "--timeout", "5s"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /service:web is OK/);
      // a write route: over TCP without the token nothing runs
      const res = await fetch(`http://127.0.0.1:${agent.port}/agent/checks/linux/flip/run`, {
        method: "POST",
      });
      assert.equal(res.status, 403);
      await res.body?.cancel();
    } finally {
      await agent.stop();
      Deno.removeSync(agent.dir, { recursive: true });
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
