/**
 * Unit files from evaluated `systemd.services.<name>` options, written the way NixOS writes
 * them (nixos/lib/systemd-lib.nix: `serviceToUnit`, `commonUnitText`, `attrsToSection`,
 * `toOption`; the [Unit] keys from nixos/lib/systemd-unit-options.nix), and read back the
 * way systemd reads them (systemd.syntax(7), systemd.exec(5) Environment=, systemd.unit(5)
 * "Specifiers"), so tests check what a unit really says, not what the options hold.
 */

export type UnitValue = boolean | number | string | string[];

export interface ServiceOptions {
  description: string;
  after: string[];
  wants: string[];
  requires: string[];
  bindsTo: string[];
  partOf: string[];
  environment: Record<string, string>;
  unitConfig: Record<string, UnitValue>;
  serviceConfig: Record<string, UnitValue>;
}

/** NixOS `toOption`: true/false, numbers and strings as `toString` writes them. */
function toOption(x: boolean | number | string): string {
  if (x === true) return "true";
  if (x === false) return "false";
  return String(x);
}

/** NixOS `attrsToSection`: one `Key=value` line per value, lists as repeated keys, keys sorted. */
function attrsToSection(as: Record<string, UnitValue>): string {
  return Object.keys(as)
    .sort()
    .flatMap((k) => {
      const v = as[k]!;
      return (Array.isArray(v) ? v : [v]).map((x) => `${k}=${toOption(x)}\n`);
    })
    .join("");
}

/**
 * The [Unit] keys NixOS derives from the dependency options (systemd-unit-options.nix: a
 * list becomes `toString` of it, i.e. space-separated), merged with `unitConfig`.
 */
function unitSection(svc: ServiceOptions): Record<string, UnitValue> {
  const u: Record<string, UnitValue> = { ...svc.unitConfig };
  if (svc.description) u.Description = svc.description;
  const lists: [keyof ServiceOptions, string][] = [
    ["requires", "Requires"],
    ["wants", "Wants"],
    ["after", "After"],
    ["bindsTo", "BindsTo"],
    ["partOf", "PartOf"],
  ];
  for (const [opt, key] of lists) {
    const v = (svc[opt] as string[] | undefined) ?? [];
    if (v.length > 0) u[key] = v.join(" ");
  }
  return u;
}

/** The unit file text NixOS writes for a service. */
export function renderUnit(svc: ServiceOptions): string {
  const env = Object.keys(svc.environment)
    .sort()
    // builtins.toJSON "${n}=${v}": a JSON string literal.
    .map((n) => `Environment=${JSON.stringify(`${n}=${svc.environment[n]}`)}\n`)
    .join("");
  return `[Unit]\n${attrsToSection(unitSection(svc))}\n[Service]\n${env}${attrsToSection(svc.serviceConfig)}`;
}

export interface SocketOptions {
  description: string;
  wantedBy: string[];
  listenStreams: string[];
  socketConfig: Record<string, UnitValue>;
  unitConfig: Record<string, UnitValue>;
}

/** The socket unit text NixOS writes (systemd-lib.nix socketToUnit: ListenStream= lines, then socketConfig). */
export function renderSocket(sock: SocketOptions): string {
  const unit: Record<string, UnitValue> = { ...sock.unitConfig };
  if (sock.description) unit.Description = sock.description;
  const listen = sock.listenStreams.map((l) => `ListenStream=${l}\n`).join("");
  return `[Unit]\n${attrsToSection(unit)}\n[Socket]\n${listen}${attrsToSection(sock.socketConfig)}`;
}

export interface UnitLine {
  section: string;
  key: string;
  value: string;
}

/** Directives of a unit file, as systemd's config parser splits them (one per line). */
export function parseUnit(text: string): UnitLine[] {
  const out: UnitLine[] = [];
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`not a directive: ${JSON.stringify(line)}`);
    // systemd strips white space around key and value.
    out.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return out;
}

/** `%%` → `%`; any other specifier is an error (hwflake never means to emit one). */
export function expandSpecifiers(value: string): string {
  return value.replace(/%(.)/gs, (_m, c: string) => {
    if (c === "%") return "%";
    throw new Error(`systemd would expand specifier %${c} in: ${value}`);
  });
}

const C_ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', "'": "'", n: "\n", t: "\t", r: "\r", "/": "/" };

/**
 * One Environment= value as systemd reads it: specifiers first, then words split on white
 * space with quotes removed and C escapes (including \uXXXX) applied; each word is one
 * `NAME=value` assignment.
 */
export function parseEnvironment(value: string): Record<string, string> {
  const s = expandSpecifiers(value);
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let word = "";
    let quote: string | null = null;
    while (i < s.length) {
      const c = s[i]!;
      if (!quote && /\s/.test(c)) break;
      if (c === "\\") {
        const n = s[i + 1]!;
        if (n === "u") {
          word += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        if (!(n in C_ESCAPES)) throw new Error(`unsupported escape \\${n} in: ${value}`);
        word += C_ESCAPES[n];
        i += 2;
        continue;
      }
      if (quote && c === quote) quote = null;
      else if (!quote && (c === '"' || c === "'")) quote = c;
      else word += c;
      i++;
    }
    const eq = word.indexOf("=");
    if (eq <= 0) throw new Error(`not an assignment: ${JSON.stringify(word)}`);
    out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}

/** All environment assignments of a unit file's [Service] section. */
export function unitEnvironment(lines: UnitLine[]): Record<string, string> {
  return Object.assign({}, ...lines.filter((l) => l.section === "Service" && l.key === "Environment").map((l) => parseEnvironment(l.value)));
}
