/**
 * Unit injection through the module door: hostile strings set directly as module options
 * (as a user writing their own configuration would), for every option that reaches a unit
 * line, an Environment= entry, a command line or a socket. Each one is either
 *
 *   - refused at evaluation, with the option named (type check or assertion), or
 *   - accepted, and then the units rendered the way NixOS writes them have exactly the same
 *     directives as with a harmless value (nothing added, nothing removed), and the value
 *     reaches its place unchanged as systemd reads it (argv word, environment value,
 *     credential path, listen address).
 *
 * Strings with control characters, lone surrogates and option-like leading dashes are
 * always refused; the others are always accepted. NUL cannot be written in a Nix string at
 * all (nix/render escaper refuses it, test/render).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nixEvalError, nixEvalJson, skipNix } from "../helpers/nix.js";
import { instances, nixStr, withEval } from "./support/eval.js";
import { argv } from "./support/systemd.js";
import { expandSpecifiers, parseUnit, renderSocket, renderUnit, unitEnvironment, type ServiceOptions, type SocketOptions, type UnitLine } from "./support/unit-file.js";

/** A hostile value: its text, or bytes read from a file (for what JSON cannot carry). */
interface Hostile {
  label: string;
  text?: string;
  bytes?: Buffer;
  /** True when the module must refuse it wherever it goes. */
  control: boolean;
}

const HOSTILE: Hostile[] = [
  { label: "newline + ExecStartPre as root", text: "x\nExecStartPre=+/bin/sh -c 'id > /tmp/pwned'", control: true },
  { label: "CRLF + User=root", text: "x\r\nUser=root\r\nDynamicUser=false", control: true },
  { label: "lone CR", text: "x\rPrivateNetwork=false", control: true },
  { label: "tab", text: "a\tb", control: true },
  { label: "ESC", text: "a\u001b[31mb", control: true },
  { label: "DEL", text: "a\u007fb", control: true },
  { label: "C1 NEL", text: "a\u0085b", control: true },
  { label: "C1 CSI", text: "a\u009bb", control: true },
  { label: "lone surrogate (WTF-8 bytes)", bytes: Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]), control: true },
  { label: "specifier %h", text: "a%hb", control: false },
  { label: "specifier %n%i", text: "%n%i", control: false },
  { label: "percent", text: "100%", control: false },
  { label: "double percent", text: "a%%b", control: false },
  { label: "dollar var", text: "$HOME", control: false },
  { label: "braced var", text: "${CREDENTIALS_DIRECTORY}", control: false },
  { label: "quotes", text: `a"b'c`, control: false },
  { label: "backslashes", text: "a\\nb\\", control: false },
  { label: "semicolon", text: ";", control: false },
  { label: "spaces inside", text: "a b  c", control: false },
  { label: "unicode line separator", text: "a\u2028b", control: false },
  { label: "leading dash", text: "--help", control: false },
  { label: "trailing space", text: "ab ", control: false },
];

interface Field {
  /** Option path under the instance, as the error names it. */
  option: string;
  /** The instance with `v` (a Nix expression) in the field. */
  instance: (v: string) => string;
  /** A harmless value, for the baseline unit. */
  harmless: string;
  /** What a value must look like to be accepted at all (beyond the injection rule). */
  acceptable: (s: string) => boolean;
  /** Where an accepted value must show up, read back from the rendered units. */
  reaches: (u: Rendered, s: string) => void;
}

interface Rendered {
  server: UnitLine[];
  all: Record<string, UnitLine[]>;
}

const base = `port = 8000;`;
const argAfter = (flag: string) => (u: Rendered, s: string) => {
  const exec = u.server.find((l) => l.key === "ExecStart")!.value;
  const words = argv(exec);
  expect(words[words.indexOf(flag) + 1]).toBe(s);
};

const pathLike = (s: string) => s.startsWith("/") && s.trim() === s;

const FIELDS: Field[] = [
  {
    option: "model",
    instance: (v) => `{ engine = "vllm"; model = ${v}; ${base} }`,
    harmless: "Qwen/Qwen3-8B",
    acceptable: (s) => !s.startsWith("-"),
    reaches: (u, s) => {
      const exec = u.server.find((l) => l.key === "ExecStart")!.value;
      expect(argv(exec)[2]).toBe(s);
    },
  },
  {
    option: "gguf.repo",
    instance: (v) => `{ engine = "llama-cpp"; gguf.repo = ${v}; ${base} }`,
    harmless: "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M",
    acceptable: (s) => /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$/.test(s),
    reaches: (u, s) => {
      const fetch = u.all["hwflake-x-fetch.service"]!.find((l) => l.key === "ExecStart")!.value;
      expect(argv(fetch)[3]).toBe(s);
    },
  },
  {
    option: "gguf.file",
    instance: (v) => `{ engine = "llama-cpp"; gguf.file = "/models" + ${v}; ${base} }`,
    harmless: "/q.gguf",
    acceptable: (s) => pathLike(`/models${s}`),
    reaches: (u, s) => argAfter("-m")(u, `/models${s}`),
  },
  {
    option: "apiKeyFile",
    instance: (v) => `{ engine = "llama-cpp"; gguf.file = "/m.gguf"; apiKeyFile = "/run/secrets/" + ${v}; ${base} }`,
    harmless: "key",
    acceptable: (s) => pathLike(`/run/secrets/${s}`),
    reaches: (u, s) => {
      const cred = u.server.find((l) => l.key === "LoadCredential")!.value;
      expect(expandSpecifiers(cred)).toBe(`api-key:/run/secrets/${s}`);
    },
  },
  {
    option: "huggingFaceTokenFile",
    instance: (v) => `{ engine = "vllm"; model = "Qwen/Qwen3-8B"; huggingFaceTokenFile = "/run/secrets/" + ${v}; ${base} }`,
    harmless: "hf",
    acceptable: (s) => pathLike(`/run/secrets/${s}`),
    reaches: (u, s) => {
      const cred = u.all["hwflake-x-fetch.service"]!.find((l) => l.key === "LoadCredential")!.value;
      expect(expandSpecifiers(cred)).toBe(`hf-token:/run/secrets/${s}`);
    },
  },
  {
    option: "host",
    instance: (v) => `{ engine = "ollama"; model = "m"; host = "fe80::1%" + ${v}; ${base} }`,
    harmless: "eth0",
    // IPv6 scope ids: what the listen-address type allows after the `%`.
    acceptable: (s) => /^[A-Za-z0-9_.-]+$/.test(s),
    reaches: (u, s) => {
      const listen = u.all["hwflake-x-proxy.socket"]!.find((l) => l.key === "ListenStream")!.value;
      expect(expandSpecifiers(listen)).toBe(`[fe80::1%${s}]:8000`);
    },
  },
  {
    option: "extraArgs",
    instance: (v) => `{ engine = "llama-cpp"; gguf.file = "/m.gguf"; extraArgs = [ "--chat-template" ${v} ]; ${base} }`,
    harmless: "chatml",
    acceptable: () => true,
    reaches: argAfter("--chat-template"),
  },
  {
    option: "environment",
    instance: (v) => `{ engine = "llama-cpp"; gguf.file = "/m.gguf"; environment.HWFLAKE_TEST = ${v}; ${base} }`,
    harmless: "1",
    acceptable: () => true,
    reaches: (u, s) => expect(unitEnvironment(u.server).HWFLAKE_TEST).toBe(s),
  },
  {
    option: "allowedClients",
    instance: (v) => `{ engine = "llama-cpp"; gguf.file = "/m.gguf"; host = "0.0.0.0"; allowedClients = [ ${v} ]; ${base} }`,
    harmless: "10.0.0.0/8",
    acceptable: (s) => /^([0-9A-Fa-f.:]+(\/[0-9]+)?|any|localhost|link-local|multicast)$/.test(s),
    reaches: (u, s) => {
      const allow = u.all["hwflake-x-proxy.socket"]!.filter((l) => l.key === "IPAddressAllow").map((l) => l.value);
      expect(allow).toEqual(["localhost", s]);
    },
  },
];

const dir = mkdtempSync(join(tmpdir(), "hwflake-hostile-"));

/** A Nix expression for the hostile value (text as a string literal, bytes through readFile). */
function nixValue(h: Hostile, i: number): string {
  if (h.text !== undefined) return nixStr(h.text);
  const file = join(dir, `v${i}`);
  writeFileSync(file, h.bytes!);
  return `(builtins.readFile ${nixStr(file)})`;
}

const sortedKeys = (r: Record<string, UnitLine[]>) =>
  Object.fromEntries(Object.entries(r).map(([n, lines]) => [n, lines.map((l) => `${l.section}/${l.key}`).sort()]));

function render(nixInstance: string): Rendered {
  const e = nixEvalJson(
    withEval(
      [instances(`x = ${nixInstance};`)],
      `if failedAssertions != [ ] then throw (builtins.concatStringsSep "\\n" failedAssertions)
       else { services = c.systemd.services; sockets = c.systemd.sockets; }`,
    ),
  ) as { services: Record<string, ServiceOptions>; sockets: Record<string, SocketOptions> };
  const all: Record<string, UnitLine[]> = {};
  for (const [n, s] of Object.entries(e.services)) all[`${n}.service`] = parseUnit(renderUnit(s));
  for (const [n, s] of Object.entries(e.sockets)) all[`${n}.socket`] = parseUnit(renderSocket(s));
  return { server: all["hwflake-x.service"]!, all };
}

function outcome(nixInstance: string): { refused: string } | { rendered: Rendered } {
  const expr = withEval(
    [instances(`x = ${nixInstance};`)],
    `if failedAssertions != [ ] then throw (builtins.concatStringsSep "\\n" failedAssertions)
     else { services = c.systemd.services; sockets = c.systemd.sockets; }`,
  );
  const err = nixEvalError(expr);
  return err === null ? { rendered: render(nixInstance) } : { refused: err };
}

describe.skipIf(skipNix)("hostile strings through the module options", () => {
  describe.each(FIELDS)("$option", (field) => {
    const baseline = () => render(field.instance(nixStr(field.harmless)));

    it("the harmless value renders and reaches its place", () => {
      field.reaches(baseline(), field.harmless);
    });

    it.each(HOSTILE.map((h, i) => ({ ...h, i })))("$label", (h) => {
      const value = h.text ?? h.bytes!.toString("latin1");
      const o = outcome(field.instance(nixValue(h, h.i)));
      const mustRefuse = h.control || !field.acceptable(value);
      if ("refused" in o) {
        expect(mustRefuse, `refused although acceptable: ${o.refused}`).toBe(true);
        // The error names the option: the type check's `services.hwflake.instances.x.<option>`,
        // or an assertion's "services.hwflake.instances.x: `<option>` …".
        const named = [`services.hwflake.instances.x.${field.option}`, `services.hwflake.instances.x: \`${field.option}\``];
        expect(named.some((n) => o.refused.includes(n)), o.refused).toBe(true);
        return;
      }
      expect(mustRefuse, "accepted although it must be refused").toBe(false);
      // No directive added or removed, in any unit; the value is where it belongs, unchanged.
      expect(sortedKeys(o.rendered.all)).toEqual(sortedKeys(baseline().all));
      field.reaches(o.rendered, value);
    });
  });
});
