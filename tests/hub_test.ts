import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  cacheStatus,
  hubUrl,
  locateUrl,
  mirrorStatus,
  resolveDataset,
  resolveDatasetDir,
  resolveModelDir,
  resolveUrl,
  urlToRelativePath,
} from "../lib/hub/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { MIRROR } from "./test_paths.ts";

const sha256 = (bytes: Uint8Array | string) =>
  createHash("sha256").update(bytes).digest("hex");

/** Runs `body` with the given env settings (undefined = unset) and restores them afterwards. */
async function withEnv(
  settings: Record<string, string | undefined>,
  body: () => Promise<void>,
) {
  const before = Object.fromEntries(
    Object.keys(settings).map((k) => [k, Deno.env.get(k)]),
  );
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  };
  apply(settings);
  try {
    await body();
  } finally {
    apply(before);
  }
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "course-hub-test-" });
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else out.push(path);
    }
  };
  try {
    await walk(root);
  } catch {
    // missing folder: no files
  }
  return out;
}

function assertCourseError(code: string) {
  return (error: unknown) => {
    assert.ok(
      error instanceof CourseError,
      `expected CourseError, got ${error}`,
    );
    assert.equal(error.code, code, error.message);
    assert.ok(/[가-힣]/.test(error.hint), "hint must be Korean");
    return true;
  };
}

/** A tiny local HTTP server standing in for the network (the real one is unreachable here). */
function startServer() {
  const payload = new TextEncoder().encode("hello course ".repeat(200_000)); // ~2.6 MB
  let hits = 0;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      hits++;
      const path = new URL(request.url).pathname;
      if (path === "/files/payload.bin") {
        return new Response(payload, {
          headers: { "content-length": String(payload.length) },
        });
      }
      if (path === "/files/broken.bin") {
        // Sends half the promised bytes, then fails: the client must not keep a half file.
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(payload.subarray(0, payload.length / 2));
            controller.error(new Error("connection reset"));
          },
        });
        return new Response(stream, {
          headers: { "content-length": String(payload.length) },
        });
      }
      if (path === "/files/error500") {
        return new Response("oops", {
          status: 500,
        });
      }
      return new Response("missing", { status: 404 });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { server, base, payload, hits: () => hits };
}

Deno.test("URLs map to <host>/<path> like the mirror", () => {
  assert.equal(
    urlToRelativePath(
      "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_train.txt",
    ),
    join(
      "raw.githubusercontent.com",
      "e9t",
      "nsmc",
      "master",
      "ratings_train.txt",
    ),
  );
  assert.equal(
    urlToRelativePath("http://127.0.0.1:8080/a/b.txt"),
    join("127.0.0.1_8080", "a", "b.txt"),
  );
  assert.throws(
    () => urlToRelativePath("https://example.com/a/..%2F..%2Fetc/passwd"),
    assertCourseError("HUB_BAD_URL"),
  );
  assert.throws(
    () => urlToRelativePath("file:///etc/passwd"),
    assertCourseError("HUB_BAD_URL"),
  );
  assert.equal(
    hubUrl("beomi/kcbert-base", "vocab.txt"),
    "https://huggingface.co/beomi/kcbert-base/resolve/main/vocab.txt",
  );
  assert.equal(
    hubUrl("bert-base-uncased", "config.json", "v1.0"),
    "https://huggingface.co/bert-base-uncased/resolve/v1.0/config.json",
  );
});

Deno.test("mirror files are read in place and verified", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    const url = hubUrl("beomi/kcbert-base", "config.json");
    const found = await locateUrl(url, { progress: false });
    assert.equal(found.source, "mirror");
    assert.equal(found.path, join(MIRROR, urlToRelativePath(url)));
    // The registry knows this URL's checksum, so a wrong explicit one must fail.
    await assert.rejects(
      () => resolveUrl(url, { sha256: "0".repeat(64) }),
      assertCourseError("HUB_CHECKSUM_MISMATCH"),
    );
    assert.deepEqual(
      await listFiles(cache),
      [],
      "reading from the mirror writes nothing to the cache",
    );
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("offline errors: no mirror, and file missing from the mirror", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: undefined,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    await assert.rejects(
      () => resolveUrl("https://example.com/x.txt"),
      assertCourseError("HUB_OFFLINE_NO_MIRROR"),
    );
  });
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    await assert.rejects(
      () => resolveUrl("https://example.com/x.txt"),
      assertCourseError("HUB_NOT_FOUND"),
    );
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("network: download, cache hit, HTTP errors, checksum mismatch, interrupted download", async () => {
  const { server, base, payload, hits } = startServer();
  const cache = await tempDir();
  try {
    await withEnv({
      COURSE_MIRROR: undefined,
      COURSE_CACHE: cache,
      COURSE_OFFLINE: undefined,
    }, async () => {
      const url = `${base}/files/payload.bin`;
      const seen: number[] = [];
      const path = await resolveUrl(url, {
        sha256: sha256(payload),
        progress: (done) => seen.push(done),
      });
      assert.equal(path, join(cache, urlToRelativePath(url)));
      assert.deepEqual(await Deno.readFile(path), payload);
      assert.equal(seen.at(-1), payload.length);
      assert.ok(
        seen.every((v, i) => i === 0 || v >= seen[i - 1]),
        "progress only grows",
      );

      const hitsBefore = hits();
      assert.equal(
        (await locateUrl(url, { sha256: sha256(payload) })).source,
        "cache",
      );
      assert.equal(hits(), hitsBefore, "a cached file is not downloaded again");

      // A corrupt cache entry is deleted and fetched again.
      await Deno.writeTextFile(path, "garbage");
      const repaired = await locateUrl(url, {
        sha256: sha256(payload),
        progress: false,
      });
      assert.equal(repaired.source, "network");
      assert.deepEqual(await Deno.readFile(path), payload);

      await assert.rejects(
        () => resolveUrl(`${base}/files/nope.bin`),
        assertCourseError("HUB_NOT_FOUND"),
      );
      await assert.rejects(
        () => resolveUrl(`${base}/files/error500`),
        assertCourseError("HUB_HTTP_ERROR"),
      );

      const badUrl = `${base}/files/payload.bin`;
      const otherCache = await tempDir();
      await assert.rejects(
        () =>
          resolveUrl(badUrl, {
            sha256: "f".repeat(64),
            cacheDir: otherCache,
            progress: false,
          }),
        assertCourseError("HUB_CHECKSUM_MISMATCH"),
      );
      assert.deepEqual(
        await listFiles(otherCache),
        [],
        "a file with the wrong checksum is deleted",
      );

      await assert.rejects(
        () =>
          resolveUrl(`${base}/files/broken.bin`, {
            cacheDir: otherCache,
            progress: false,
          }),
        assertCourseError("HUB_NETWORK_ERROR"),
      );
      assert.deepEqual(
        await listFiles(otherCache),
        [],
        "an interrupted download leaves no file and no .part",
      );
      await Deno.remove(otherCache, { recursive: true });
    });
  } finally {
    await server.shutdown();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("network failure is a CourseError that mentions the mirror", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: undefined,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: undefined,
  }, async () => {
    await assert.rejects(
      () =>
        resolveUrl("http://127.0.0.1:9/closed-port.txt", { progress: false }),
      (error: unknown) => {
        assertCourseError("HUB_NETWORK_ERROR")(error);
        assert.match((error as CourseError).hint, /COURSE_MIRROR/);
        return true;
      },
    );
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("resolveModelDir: local folder as is, Hub id through the mirror, optional files", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    assert.equal(await resolveModelDir(cache, ["config.json"]), cache);
    const dir = await resolveModelDir("beomi/kcbert-base", [
      "config.json",
      "vocab.txt",
    ], {
      optional: ["tokenizer.json"],
    });
    const names = (await listFiles(dir)).map((p) => p.split(/[\\/]/).pop())
      .sort();
    assert.deepEqual(names, ["config.json", "vocab.txt"]);
    await assert.rejects(
      () =>
        resolveModelDir("klue/bert-base", ["config.json", "model.safetensors"]),
      assertCourseError("HUB_NOT_FOUND"),
    );
    await assert.rejects(
      () => resolveModelDir("./no/such/folder", ["config.json"]),
      assertCourseError("HUB_MODEL_NOT_FOUND"),
    );
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("files from cache and mirror are gathered into one folder", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    // Put one file in the cache so the two files come from different places.
    const vocabUrl = hubUrl("bert-base-uncased", "vocab.txt");
    const cached = join(cache, urlToRelativePath(vocabUrl));
    await Deno.mkdir(join(cached, ".."), { recursive: true });
    await Deno.copyFile(join(MIRROR, urlToRelativePath(vocabUrl)), cached);
    const dir = await resolveModelDir("bert-base-uncased", [
      "vocab.txt",
      "tokenizer_config.json",
    ]);
    assert.equal(dir, join(cached, ".."));
    const names = (await listFiles(dir)).map((p) => p.split(/[\\/]/).pop())
      .sort();
    assert.deepEqual(names, ["tokenizer_config.json", "vocab.txt"]);
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("registry ids resolve through the mirror with their checksum", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    const path = await resolveDataset("curse-detection/dataset");
    assert.ok(path.startsWith(MIRROR));
    const dir = await resolveDatasetDir("kpfbert");
    const names = (await listFiles(dir)).map((p) => p.split(/[\\/]/).pop())
      .sort();
    assert.deepEqual(names, [
      "config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "vocab.txt",
    ]);
    await assert.rejects(
      () => resolveDataset("nsmc/validation"),
      assertCourseError("HUB_UNKNOWN_DATASET"),
    );

    const mirror = await mirrorStatus();
    assert.equal(mirror.configured, true);
    assert.equal(mirror.registryFilesPresent, mirror.registryFiles);
    assert.ok(
      mirror.files >= mirror.registryFiles && mirror.bytes > 30_000_000,
    );
    const cacheInfo = await cacheStatus();
    assert.equal(cacheInfo.path, cache);
    assert.equal(cacheInfo.files, 0);
  });
  await Deno.remove(cache, { recursive: true });
});
