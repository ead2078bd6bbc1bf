/**
 * writeFiles: never clobber hand-written files, never rewrite identical ones, replace files
 * atomically, and in check mode only report.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InternalError, WriteConflictError } from "../../src/errors.js";
import { hasMarker, markdownMarker, nixMarker } from "../../src/write/marker.js";
import { MANIFEST_PATH, manifestText, writeFiles, type RenderedFile } from "../../src/write/write.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hwflake-write-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const M = nixMarker("box");
const FILES: RenderedFile[] = [
  { path: "flake.nix", contents: `${M}\n{ }\n` },
  { path: "overlays/default.nix", contents: `${M}\nfinal: prev: { }\n` },
  { path: "hosts/box.nix", contents: `${M}\n{ ... }: { }\n` },
  { path: "README.md", contents: `${markdownMarker("box")}\n# box\n` },
];

/** Every file under `root`, relative, sorted (temp files included: they must not exist). */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

const read = (rel: string) => readFile(join(dir, rel), "utf8");
/** What the writer puts on disk: the rendered files and the manifest. */
const sortedPaths = [...FILES.map((f) => f.path), MANIFEST_PATH].sort();
const quiet = { interrupted: [], leftovers: [] };

describe("hasMarker", () => {
  it.each([
    ["nix marker on line 1", `${M}\nx`, true],
    ["markdown marker on line 1", `${markdownMarker("h")}\n`, true],
    ["marker on line 2 (after a shebang)", `#!/usr/bin/env nix\n${M}\n`, true],
    ["marker on line 3", `a\nb\n${M}\n`, false],
    ["no marker", "{ }\n", false],
    ["empty file", "", false],
  ])("%s → %s", (_name, contents, want) => {
    expect(hasMarker(contents)).toBe(want);
  });
});

describe("writeFiles", () => {
  it("creates files and parent folders", async () => {
    const report = await writeFiles(FILES, { outDir: join(dir, "out") });
    expect(report).toEqual({ written: sortedPaths, unchanged: [], stale: [], refused: [], ...quiet });
    for (const f of FILES) expect(await readFile(join(dir, "out", f.path), "utf8")).toBe(f.contents);
  });

  it("leaves identical files alone: reported unchanged, mtime untouched", async () => {
    await writeFiles(FILES, { outDir: dir });
    const old = new Date("2001-02-03T04:05:06Z");
    for (const f of FILES) await utimes(join(dir, f.path), old, old);
    const report = await writeFiles(FILES, { outDir: dir });
    expect(report).toEqual({ written: [], unchanged: sortedPaths, stale: [], refused: [], ...quiet });
    for (const f of FILES) expect((await stat(join(dir, f.path))).mtime.getTime()).toBe(old.getTime());
  });

  it("rewrites only files that changed and still carry the marker", async () => {
    await writeFiles(FILES, { outDir: dir });
    const changed = FILES.map((f) => (f.path === "flake.nix" ? { ...f, contents: `${M}\n{ x = 1; }\n` } : f));
    const report = await writeFiles(changed, { outDir: dir });
    expect(report.written).toEqual([MANIFEST_PATH, "flake.nix"]);
    expect(report.unchanged).toEqual(sortedPaths.filter((p) => p !== "flake.nix" && p !== MANIFEST_PATH));
    expect(await read("flake.nix")).toBe(`${M}\n{ x = 1; }\n`);
  });

  it("refuses to overwrite unmarked files, naming all of them, and writes nothing at all", async () => {
    await writeFile(join(dir, "flake.nix"), "{ handWritten = true; }\n");
    await mkdir(join(dir, "hosts"));
    await writeFile(join(dir, "hosts", "box.nix"), "# my own host\n{ }\n");
    const err = await writeFiles(FILES, { outDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteConflictError);
    expect((err as Error).message).toContain("flake.nix");
    expect((err as Error).message).toContain("hosts/box.nix");
    // The other, new files were not written either, and the hand-written ones are intact.
    expect(await tree(dir)).toEqual(["flake.nix", "hosts/box.nix"]);
    expect(await read("flake.nix")).toBe("{ handWritten = true; }\n");
  });

  it("does not refuse an unmarked file whose contents already match", async () => {
    const plain: RenderedFile[] = [{ path: "x.nix", contents: "{ }\n" }];
    await writeFile(join(dir, "x.nix"), "{ }\n");
    expect((await writeFiles(plain, { outDir: dir })).unchanged).toEqual(["x.nix"]);
    expect(await read(MANIFEST_PATH)).toBe(manifestText(plain));
  });

  it("refuses a folder standing where a file should go", async () => {
    await mkdir(join(dir, "flake.nix"));
    await expect(writeFiles(FILES, { outDir: dir })).rejects.toBeInstanceOf(WriteConflictError);
  });

  it("force overwrites unmarked files and keeps their permissions", async () => {
    await writeFile(join(dir, "flake.nix"), "{ handWritten = true; }\n");
    await chmod(join(dir, "flake.nix"), 0o600);
    const report = await writeFiles(FILES, { outDir: dir, force: true });
    expect(report.written).toEqual(sortedPaths);
    expect(await read("flake.nix")).toBe(FILES[0]?.contents);
    expect((await stat(join(dir, "flake.nix"))).mode & 0o777).toBe(0o600);
  });

  describe("check mode", () => {
    it("lists missing and differing files and writes nothing", async () => {
      await writeFiles(FILES.filter((f) => f.path !== "README.md"), { outDir: dir });
      await writeFile(join(dir, "flake.nix"), `${M}\n{ drifted = true; }\n`);
      const before = await tree(dir);
      const report = await writeFiles(FILES, { outDir: dir, check: true });
      expect(report).toEqual({
        written: [],
        unchanged: ["hosts/box.nix", "overlays/default.nix"],
        stale: [MANIFEST_PATH, "README.md", "flake.nix"],
        refused: [],
        // The hand edit is a file the last complete run did not write.
        interrupted: ["flake.nix"],
        leftovers: [],
      });
      expect(await tree(dir)).toEqual(before);
      expect(await read("flake.nix")).toBe(`${M}\n{ drifted = true; }\n`);
    });

    it("reports unmarked differing files as stale and refused, without throwing", async () => {
      await writeFile(join(dir, "flake.nix"), "{ }\n");
      const report = await writeFiles(FILES, { outDir: dir, check: true });
      expect(report.stale).toEqual(sortedPaths);
      expect(report.refused).toEqual(["flake.nix"]);
      expect(await tree(dir)).toEqual(["flake.nix"]);
    });

    it("an empty out folder that does not exist is all stale", async () => {
      const report = await writeFiles(FILES, { outDir: join(dir, "missing"), check: true });
      expect(report.stale).toEqual(sortedPaths);
      expect(await tree(dir)).toEqual([]);
    });
  });

  it("leaves no temporary files behind", async () => {
    await writeFiles(FILES, { outDir: dir });
    await writeFiles(FILES.map((f) => ({ ...f, contents: `${f.contents}# v2\n` })), { outDir: dir });
    expect(await tree(dir)).toEqual(sortedPaths);
  });

  it("refuses an --out that is a file, and a file where a folder must go, even with force", async () => {
    await writeFile(join(dir, "plain"), "mine\n");
    const e1 = await writeFiles(FILES, { outDir: join(dir, "plain") }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(WriteConflictError);
    expect((e1 as Error).message).toContain("is a file, not a folder");
    const e2 = await writeFiles(FILES, { outDir: join(dir, "plain", "below"), check: true }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(WriteConflictError);

    await writeFile(join(dir, "hosts"), "mine\n");
    const e3 = await writeFiles(FILES, { outDir: dir, force: true }).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(WriteConflictError);
    expect((e3 as Error).message).toContain(`${join(dir, "hosts")} is a file where hwflake needs a folder`);
    expect(await tree(dir)).toEqual(["hosts", "plain"]);
    expect((await writeFiles(FILES, { outDir: dir, check: true })).refused).toEqual(["hosts/box.nix"]);
  });

  describe("after a killed run", () => {
    // No process has this id (above any pid_max), so its files are leftovers.
    const DEAD = 99_999_999;

    it("removes temporary files of a process that is gone, and keeps those of a live one", async () => {
      await mkdir(join(dir, "hosts"));
      const dead = [`.flake.nix.hwflake-${DEAD}-0123456789ab.tmp`, `hosts/.box.nix.hwflake-${DEAD}-ba9876543210.tmp`];
      const live = `.README.md.hwflake-${process.pid}-aaaaaaaaaaaa.tmp`;
      for (const f of [...dead, live]) await writeFile(join(dir, f), "half");
      await writeFile(join(dir, "notes.tmp"), "mine");

      const check = await writeFiles(FILES, { outDir: dir, check: true });
      expect(check.leftovers).toEqual(dead.sort());
      expect(await tree(dir)).toContain(dead[0]);

      const report = await writeFiles(FILES, { outDir: dir });
      expect(report.leftovers).toEqual(dead.sort());
      expect(await tree(dir)).toEqual([...sortedPaths, live, "notes.tmp"].sort());
    });

    it("sees files of two runs through the manifest; the next write repairs the folder", async () => {
      const v2 = FILES.map((f) => ({ ...f, contents: `${f.contents}# v2\n` }));
      await writeFiles(FILES, { outDir: dir });
      // What a run killed half way through v2 leaves: some files new, the manifest still v1.
      for (const f of v2.filter((x) => x.path === "flake.nix" || x.path === "hosts/box.nix")) await writeFile(join(dir, f.path), f.contents);

      for (const want of [FILES, v2]) {
        const check = await writeFiles(want, { outDir: dir, check: true });
        expect(check.interrupted).toEqual(["flake.nix", "hosts/box.nix"]);
      }
      const repair = await writeFiles(v2, { outDir: dir });
      expect(repair.interrupted).toEqual(["flake.nix", "hosts/box.nix"]);
      const after = await writeFiles(v2, { outDir: dir, check: true });
      expect(after).toEqual({ written: [], unchanged: sortedPaths, stale: [], refused: [], ...quiet });
      for (const f of v2) expect(await read(f.path)).toBe(f.contents);
    });

    it("repairs files a power loss left empty: reported interrupted, then rewritten without --force", async () => {
      await writeFiles(FILES, { outDir: dir });
      // Files are not flushed one by one, so after a power loss a fresh file may be empty.
      await writeFile(join(dir, "hosts/box.nix"), "");
      const check = await writeFiles(FILES, { outDir: dir, check: true });
      expect(check).toMatchObject({ interrupted: ["hosts/box.nix"], stale: ["hosts/box.nix"], refused: [] });
      const repair = await writeFiles(FILES, { outDir: dir });
      expect(repair.written).toEqual(["hosts/box.nix"]);
      expect(await read("hosts/box.nix")).toBe(FILES.find((f) => f.path === "hosts/box.nix")!.contents);
      // A file with content and no marker is still refused: only an empty one holds nothing to lose.
      await writeFile(join(dir, "hosts/box.nix"), " ");
      await expect(writeFiles(FILES, { outDir: dir })).rejects.toBeInstanceOf(WriteConflictError);
    });

    it("writes a manifest in sha256sum format, under the marker", async () => {
      await writeFiles(FILES, { outDir: dir });
      const m = await read(MANIFEST_PATH);
      expect(hasMarker(m)).toBe(true);
      expect(m.split("\n").filter((l) => /^[0-9a-f]{64} {2}/.test(l)).map((l) => l.slice(66))).toEqual(FILES.map((f) => f.path).sort());
    });
  });

  it.each([["/abs.nix"], ["../escape.nix"], ["a/../b.nix"], ["a//b.nix"], ["./a.nix"], ["a\\b.nix"], [""]])(
    "rejects the unsafe path %j as a bug",
    async (path) => {
      await expect(writeFiles([{ path, contents: M }], { outDir: dir })).rejects.toBeInstanceOf(InternalError);
      expect(await tree(dir)).toEqual([]);
    },
  );

  it("rejects duplicate paths", async () => {
    const f = FILES[0] as RenderedFile;
    await expect(writeFiles([f, f], { outDir: dir })).rejects.toBeInstanceOf(InternalError);
  });
});

describe("writeProfileFile", () => {
  it("creates the file (and its folder), then leaves an identical one alone", async () => {
    const { writeProfileFile } = await import("../../src/write/profile.js");
    const p = join(dir, "profiles", "box.yaml");
    expect(await writeProfileFile(p, "host: box\n")).toBe(true);
    expect(await readFile(p, "utf8")).toBe("host: box\n");
    const old = new Date("2001-02-03T04:05:06Z");
    await utimes(p, old, old);
    expect(await writeProfileFile(p, "host: box\n")).toBe(false);
    expect((await stat(p)).mtime.getTime()).toBe(old.getTime());
  });

  it("refuses to replace a different existing profile unless forced", async () => {
    const { writeProfileFile } = await import("../../src/write/profile.js");
    const p = join(dir, "box.yaml");
    await writeFile(p, "host: box # my edits\n");
    await expect(writeProfileFile(p, "host: box\n")).rejects.toBeInstanceOf(WriteConflictError);
    expect(await readFile(p, "utf8")).toBe("host: box # my edits\n");
    expect(await writeProfileFile(p, "host: box\n", { force: true })).toBe(true);
    expect(await tree(dir)).toEqual(["box.yaml"]);
  });
});
