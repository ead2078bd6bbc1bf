/**
 * Small text helpers shared by the parsers. Captured files come from procfs, sysfs and tool
 * output, so they may carry NUL padding, CRLF line ends, ANSI colour codes or binary junk.
 */

/** ANSI CSI sequences (colours, cursor moves) as rocminfo and rocm-smi print them on a TTY. */
const ANSI_RE = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g;

/** Remove ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, "");
}

/** Normalise line ends, drop NUL bytes (sysfs pads some files with them) and ANSI codes. */
export function cleanText(text: string): string {
  return stripAnsi(text.replace(/\0/g, "").replace(/\r\n?/g, "\n"));
}

/**
 * True when the text does not look like text: NUL-free content with many control characters or
 * U+FFFD replacement characters (what a binary file turns into when decoded as UTF-8).
 */
export function looksBinary(text: string): boolean {
  const sample = text.replace(/\0/g, "").slice(0, 4096);
  if (sample.length === 0) return false;
  let bad = 0;
  for (const ch of sample) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x1b)) bad++;
  }
  return bad / sample.length > 0.05;
}

/** Split "key: value" (first colon); keys and values trimmed. Returns null for lines without a colon. */
export function splitKv(line: string, sep = ":"): [string, string] | null {
  const i = line.indexOf(sep);
  if (i < 0) return null;
  return [line.slice(0, i).trim(), line.slice(i + sep.length).trim()];
}

/** Parse a decimal integer; undefined unless the whole (trimmed) string is digits. */
export function toInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parse "0x1f" or "31" as an integer; undefined when it is neither. */
export function toIntAuto(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().toLowerCase();
  if (/^0x[0-9a-f]+$/.test(t)) return parseInt(t.slice(2), 16);
  return toInt(t);
}

/** Collapse runs of whitespace and trim (model names are often padded). */
export function squash(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/**
 * A PCI address in the profile's form "dddd:bb:dd.f" (lower case, 4-digit domain), from the
 * spellings tools use: "03:00.0" (lspci), "0000:03:00.0", "00000000:03:00.0" (nvidia-smi).
 */
export function normalizePci(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  const m = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(addr.trim());
  if (!m) return undefined;
  const domain = parseInt(m[1] ?? "0", 16);
  if (domain > 0xffff) return undefined;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${hex(domain, 4)}:${hex(parseInt(m[2]!, 16), 2)}:${hex(parseInt(m[3]!, 16), 2)}.${m[4]}`;
}

/** PCI address from a domain and a (bus << 8 | device << 3 | function) number, as KFD and rocminfo give it. */
export function pciFromBdf(domain: number, bdf: number): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${hex(domain, 4)}:${hex((bdf >> 8) & 0xff, 2)}:${hex((bdf >> 3) & 0x1f, 2)}.${bdf & 7}`;
}
