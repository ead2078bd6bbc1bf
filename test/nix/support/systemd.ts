/**
 * A small reader for systemd ExecStart= lines, written from systemd.service(5) "Command
 * lines" and systemd.unit(5) "Specifiers", so tests can check the argv a unit really gets
 * instead of matching escaped strings by eye.
 *
 * Order, as systemd applies it: `%` specifiers over the whole line, then splitting into
 * words with quote removal and C-style backslash escapes, then `$` expansion per word when
 * the process starts. Anything that systemd would expand from its own state (a `%x`
 * specifier, a bare `$VAR` that splits into several words) is an error here, because hwflake
 * never means to emit one. `${VAR}` is allowed and reported in `expansions`.
 */

export interface ExecWord {
  /** The argument after unquoting; `${VAR}` references are left in place as `${VAR}`. */
  text: string;
  /** Variables systemd substitutes into this argument when it starts the process. */
  expansions: string[];
}

const C_ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', "'": "'", n: "\n", t: "\t", r: "\r", " ": " " };

function expandSpecifiers(line: string): string {
  return line.replace(/%(.)/gs, (_m, c: string) => {
    if (c === "%") return "%";
    throw new Error(`systemd would expand specifier %${c} in: ${line}`);
  });
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let word = "";
    let quote: '"' | "'" | null = null;
    let raw = "";
    while (i < line.length) {
      const c = line[i]!;
      if (!quote && /\s/.test(c)) break;
      raw += c;
      if (c === "\\") {
        const n = line[i + 1];
        if (n === undefined) throw new Error(`trailing backslash in: ${line}`);
        raw += n;
        if (!quote && n === ";") word += ";";
        else if (n in C_ESCAPES) word += C_ESCAPES[n];
        else throw new Error(`unsupported escape \\${n} in: ${line}`);
        i += 2;
        continue;
      }
      if (quote && c === quote) quote = null;
      else if (!quote && (c === '"' || c === "'")) quote = c;
      else word += c;
      i++;
    }
    if (quote) throw new Error(`unterminated quote in: ${line}`);
    if (raw === ";") throw new Error(`a lone ; separates commands in: ${line}`);
    words.push(word);
  }
  return words;
}

function expandVariables(word: string): ExecWord {
  let text = "";
  const expansions: string[] = [];
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    if (c !== "$") {
      text += c;
      continue;
    }
    const n = word[i + 1];
    if (n === "$") {
      text += "$";
      i++;
    } else if (n === "{") {
      const end = word.indexOf("}", i);
      if (end < 0) throw new Error(`unterminated \${ in: ${word}`);
      const name = word.slice(i + 2, end);
      expansions.push(name);
      text += `\${${name}}`;
      i = end;
    } else if (n !== undefined && /[A-Za-z_]/.test(n)) {
      throw new Error(`systemd would expand $${n}… (and split it) in: ${word}`);
    } else {
      text += "$";
    }
  }
  return { text, expansions };
}

/** Parse one ExecStart= value into the words systemd passes to execve. */
export function parseExecStart(line: string): ExecWord[] {
  return splitWords(expandSpecifiers(line)).map(expandVariables);
}

/** Just the argument strings. */
export function argv(line: string): string[] {
  return parseExecStart(line).map((w) => w.text);
}
