/**
 * Python wheels pinned inside one build set: which file, where from, and its sha256 when a
 * public record gives it. hwflake never invents a hash: a wheel without one makes the set's Nix
 * `throw` with the command that produces it, and the plan prints the same command first.
 */
import type { Finding, PythonSet, Source, WheelPin } from "../plan/types.js";

export type { PythonSet, WheelPin };

/** A wheel's url and hash as a public record gives them. */
interface KnownWheel {
  readonly url: string;
  readonly hash: string;
  readonly source: Source;
}

const s = (ref: string, note?: string): Source => (note ? { ref, note } : { ref });

export const WHEEL_SRC = {
  marinLock: s(
    "marin-community/marin uv.lock @ 000b355c",
    "jaxlib 0.10.1 and 0.11.0 cp312 manylinux_2_27_x86_64 wheels: url and sha256",
  ),
  pypiJson: s("PyPI JSON API (docs.pypi.org/api/json/)", "GET https://pypi.org/pypi/<project>/<version>/json lists every file with url and digests.sha256"),
} as const;

/** Wheels (CPython 3.12, x86_64-linux) whose url and sha256 a public record gives, by "project==version". */
export const KNOWN_WHEELS: Readonly<Record<string, KnownWheel>> = {
  "jaxlib==0.10.1": {
    url: "https://files.pythonhosted.org/packages/38/69/2912ab63036e21c72748019e1d8e09e8a1fc3368b3e83fc27898a1858575/jaxlib-0.10.1-cp312-cp312-manylinux_2_27_x86_64.whl",
    hash: "sha256-8831t/SEcKtUVat5qrdGQZaUzLa1JlHMLOX7J97wNYg=",
    source: WHEEL_SRC.marinLock,
  },
  "jaxlib==0.11.0": {
    url: "https://files.pythonhosted.org/packages/86/f0/89c34a4877628edea6585699e42f7d3ed4c1e50140ade9c6efce85a0ab84/jaxlib-0.11.0-cp312-cp312-manylinux_2_27_x86_64.whl",
    hash: "sha256-fqncBtlPU23qvPMEUTFDvIn1EXPd/XhtRPisMD799kM=",
    source: WHEEL_SRC.marinLock,
  },
};

/** The commands that print a wheel's url and sha256: PyPI's JSON API, then Nix's own check. */
export function prefetchCommand(project: string, version: string): string {
  return (
    `curl -s https://pypi.org/pypi/${project}/${version}/json | jq -r '.urls[] | select(.packagetype == "bdist_wheel") | "\\(.filename) \\(.url) \\(.digests.sha256)"'` +
    ` (take the cp312 manylinux x86_64 or py3-none-any file), then nix store prefetch-file --hash-type sha256 <url>`
  );
}

/** The profile key of a wheel ("libtpu==0.0.23"). */
export function wheelKey(project: string, version: string): string {
  return `${project}==${version}`;
}

/**
 * A wheel pin with its url and hash taken from the profile first, then from KNOWN_WHEELS, else
 * left null (the Nix then refuses with `prefetch`).
 */
export function wheelPin(
  project: string,
  version: string,
  opts: {
    readonly given?: { readonly url: string; readonly sha256: string } | undefined;
    readonly deps?: readonly string[];
    readonly inheritDependencies?: string | null;
    readonly unfree?: WheelPin["unfree"];
    readonly attr?: string;
  } = {},
): WheelPin {
  const key = wheelKey(project, version);
  const known = KNOWN_WHEELS[key];
  const url = opts.given?.url ?? known?.url ?? null;
  const hash = opts.given ? toSri(opts.given.sha256) : (known?.hash ?? null);
  return {
    package: project,
    attr: opts.attr ?? project.toLowerCase().replace(/[_.]+/g, "-"),
    version,
    url,
    hash,
    hashSource: opts.given ? `profile wheels."${key}"` : known ? known.source.ref : null,
    deps: opts.deps ?? [],
    inheritDependencies: opts.inheritDependencies ?? null,
    unfree: opts.unfree ?? null,
    prefetch: prefetchCommand(project, version),
  };
}

/** An SRI sha256 from either SRI or 64 hex digits (what PyPI's JSON prints). */
export function toSri(sha256: string): string {
  if (sha256.startsWith("sha256-")) return sha256;
  const bytes = sha256.match(/../g)!.map((h) => Number.parseInt(h, 16));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `sha256-${btoa(bin)}`;
}

/** The commands that print the hash of a GitHub tag's source tree, as fetchFromGitHub checks it. */
export function githubPrefetchCommand(owner: string, repo: string, tag: string): string {
  // nix-prefetch-url --unpack hashes the unpacked tree as fetchFromGitHub does; to-sri makes it
  // the form the profile's sha256 field takes.
  return `nix hash to-sri --type sha256 $(nix-prefetch-url --unpack https://github.com/${owner}/${repo}/archive/refs/tags/${tag}.tar.gz)`;
}

/**
 * A package of the set's nixpkgs at another version, built from a GitHub tag's source with
 * nixpkgs' own expression (e.g. vLLM at the minor a plug-in requires). The hash comes from the
 * profile (`wheels."<project>==<version>".sha256`, url = the tarball) or stays null.
 */
export function githubPin(
  project: string,
  version: string,
  gh: { readonly owner: string; readonly repo: string; readonly tag: string },
  given?: { readonly url: string; readonly sha256: string },
): WheelPin {
  return {
    package: project,
    attr: project.toLowerCase().replace(/[_.]+/g, "-"),
    version,
    url: `https://github.com/${gh.owner}/${gh.repo}/archive/refs/tags/${gh.tag}.tar.gz`,
    hash: given ? toSri(given.sha256) : null,
    hashSource: given ? `profile wheels."${wheelKey(project, version)}"` : null,
    deps: [],
    inheritDependencies: null,
    unfree: null,
    prefetch: githubPrefetchCommand(gh.owner, gh.repo, gh.tag),
    fetch: "github",
    github: gh,
    file: null,
  };
}

/** A wheel only the user has (not public), added to the Nix store by hand and found by name and hash. */
export function requireFilePin(project: string, version: string, path: string, sha256: string | undefined, deps: readonly string[]): WheelPin {
  const file = path.slice(path.lastIndexOf("/") + 1);
  return {
    package: project,
    attr: project.toLowerCase().replace(/[_.]+/g, "-"),
    version,
    url: null,
    hash: sha256 ? toSri(sha256) : null,
    hashSource: sha256 ? "profile spyre.torchSendnnSha256" : null,
    deps,
    inheritDependencies: null,
    unfree: null,
    prefetch: `nix hash file --type sha256 --sri ${path}; then nix-store --add-fixed sha256 ${path}`,
    fetch: "requireFile",
    github: null,
    file,
  };
}

/**
 * One finding for every PyPI wheel of a set without a recorded url/sha256: the packages, and one
 * shell command that prints each wheel's file name, URL and sha256 from PyPI's JSON API.
 */
export function wheelHashFinding(wheels: readonly WheelPin[]): Finding | null {
  const missing = wheels.filter((w) => (w.fetch ?? "url") === "url" && (!w.url || !w.hash));
  if (missing.length === 0) return null;
  const keys = missing.map((w) => wheelKey(w.package, w.version));
  return {
    code: "WHEEL_HASH_NEEDED",
    severity: "warning",
    subject: "wheels",
    message:
      `hwflake has read no public record of the wheel URL and sha256 of ${missing.map((w) => `${w.package} ${w.version}`).join(", ")}; ` +
      "the set's Nix stops at evaluation (before anything downloads or builds) and names the missing one, and no hash is made up.",
    fix:
      `run: for w in ${keys.join(" ")}; do curl -s "https://pypi.org/pypi/\${w%%==*}/\${w##*==}/json" | jq -r '.urls[] | select(.packagetype == "bdist_wheel") | "\\(.filename) \\(.url) \\(.digests.sha256)"'; done` +
      ` — take each package's cp312 manylinux x86_64 (or py3-none-any) line, check it with nix store prefetch-file --hash-type sha256 <url>, and add wheels: { "<package>==<version>": { url: "<url>", sha256: "<sha256>" } } to the profile for each (${keys.map((k) => `"${k}"`).join(", ")})`,
    source: WHEEL_SRC.pypiJson.ref,
  };
}
