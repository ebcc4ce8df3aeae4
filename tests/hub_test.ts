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
import { AutoTokenizer } from "../lib/text/mod.ts";
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
  // With a mirror set, the hint says what the mirror lacked instead of "set COURSE_MIRROR".
  const url = "http://127.0.0.1:9/closed-port.txt";
  for (
    const [mirror, expected] of [
      [MIRROR, join(MIRROR, urlToRelativePath(url))],
      [join(cache, "no-such-mirror"), "미러 폴더"],
    ]
  ) {
    await withEnv({
      COURSE_MIRROR: mirror,
      COURSE_CACHE: cache,
      COURSE_OFFLINE: undefined,
    }, async () => {
      await assert.rejects(
        () => resolveUrl(url, { progress: false }),
        (error: unknown) => {
          assertCourseError("HUB_NETWORK_ERROR")(error);
          const { hint } = error as CourseError;
          assert.ok(hint.includes(expected), hint);
          assert.doesNotMatch(hint, /환경 변수에 미러 폴더를 지정/);
          return true;
        },
      );
    });
  }
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
    // The copy from the mirror is a cache entry now, with its checksum record.
    const copiedUrl = hubUrl("bert-base-uncased", "tokenizer_config.json");
    const record = JSON.parse(
      await Deno.readTextFile(
        join(cache, ".checksums", `${urlToRelativePath(copiedUrl)}.json`),
      ),
    );
    assert.equal(
      record.sha256,
      sha256(await Deno.readFile(join(dir, "tokenizer_config.json"))),
    );
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

/** Captures console.warn while `body` runs. */
async function capturingWarnings(body: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    await body();
  } finally {
    console.warn = original;
  }
  return warnings;
}

Deno.test("cached downloads carry a checksum record: damaged bytes are caught and fetched again", async () => {
  const { server, base, payload, hits } = startServer();
  const cache = await tempDir();
  try {
    await withEnv({
      COURSE_MIRROR: undefined,
      COURSE_CACHE: cache,
      COURSE_OFFLINE: undefined,
    }, async () => {
      // No checksum is known for this URL (like most Hub model files).
      const url = `${base}/files/payload.bin`;
      const path = await resolveUrl(url, { progress: false });
      const recordFile = join(
        cache,
        ".checksums",
        `${urlToRelativePath(url)}.json`,
      );
      const record = JSON.parse(await Deno.readTextFile(recordFile));
      assert.deepEqual(record, {
        url,
        sha256: sha256(payload),
        bytes: payload.length,
      });
      assert.equal((await cacheStatus()).files, 1, "records are not counted");

      // One flipped byte, same size: the next use notices, says so in one line, re-downloads.
      const damaged = payload.slice();
      damaged[1234] ^= 0x01;
      await Deno.writeFile(path, damaged);
      await Deno.utime(path, new Date(), new Date(Date.now() + 5_000));
      const hitsBefore = hits();
      let found: { source: string } | undefined;
      const warnings = await capturingWarnings(async () => {
        found = await locateUrl(url, { progress: false });
      });
      assert.equal(found?.source, "network");
      assert.equal(hits(), hitsBefore + 1);
      assert.deepEqual(await Deno.readFile(path), payload);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /손상/);
      assert.doesNotMatch(warnings[0], /\n/);

      // A truncated file is caught by its size.
      await Deno.writeFile(path, payload.subarray(0, 1000));
      const repaired = await locateUrl(url, { progress: false });
      assert.equal(repaired.source, "network");
      assert.deepEqual(await Deno.readFile(path), payload);

      // An intact file is served from the cache, without the network.
      const hitsNow = hits();
      assert.equal((await locateUrl(url)).source, "cache");
      assert.equal(hits(), hitsNow);

      // A file cached before records existed is recorded on first use, then checked.
      await Deno.remove(recordFile);
      assert.equal((await locateUrl(url)).source, "cache");
      assert.equal(
        JSON.parse(await Deno.readTextFile(recordFile)).sha256,
        sha256(payload),
      );
    });
  } finally {
    await server.shutdown();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("a damaged mirror copy is reported as such, with its path, and is left in place", async () => {
  const cache = await tempDir();
  const mirror = await tempDir();
  const url = hubUrl("beomi/kcbert-base", "config.json"); // its checksum is in the registry
  const mirrorPath = join(mirror, urlToRelativePath(url));
  await Deno.mkdir(join(mirrorPath, ".."), { recursive: true });
  await Deno.writeTextFile(mirrorPath, '{"damaged": true}');
  await withEnv({
    COURSE_MIRROR: mirror,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    for (let run = 0; run < 2; run++) {
      await assert.rejects(() => resolveUrl(url), (error: unknown) => {
        assertCourseError("HUB_CHECKSUM_MISMATCH")(error);
        const { hint } = error as CourseError;
        assert.ok(hint.includes(mirrorPath), hint);
        assert.match(hint, /미러에 있는 사본이 손상/);
        assert.doesNotMatch(hint, /지웠으니/);
        return true;
      });
    }
    assert.equal(await Deno.readTextFile(mirrorPath), '{"damaged": true}');
  });
  await Deno.remove(cache, { recursive: true });
  await Deno.remove(mirror, { recursive: true });
});

Deno.test("offline without a usable mirror: says the mirror is not set or not there", async () => {
  const cache = await tempDir();
  await withEnv({
    COURSE_MIRROR: undefined,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    await assert.rejects(
      () => AutoTokenizer.fromPretrained("beomi/kcbert-base"),
      (error: unknown) => {
        assertCourseError("HUB_OFFLINE_NO_MIRROR")(error);
        const { message, hint } = error as CourseError;
        assert.doesNotMatch(message, /None of the files/);
        assert.match(hint, /미러가 설정되어 있지 않습니다/);
        return true;
      },
    );
  });
  const mistyped = join(cache, "no-such-mirror");
  await withEnv({
    COURSE_MIRROR: mistyped,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    await assert.rejects(
      () => AutoTokenizer.fromPretrained("beomi/kcbert-base"),
      (error: unknown) => {
        assertCourseError("HUB_MIRROR_MISSING")(error);
        assert.ok((error as CourseError).hint.includes(mistyped));
        return true;
      },
    );
  });
  await withEnv({
    COURSE_MIRROR: MIRROR,
    COURSE_CACHE: cache,
    COURSE_OFFLINE: "1",
  }, async () => {
    // Nothing of this id in the mirror: the hint names models that are there, not this one.
    await assert.rejects(
      () =>
        resolveModelDir("beomi/kcbert-base", [], {
          optional: ["tokenizer.json"],
        }),
      (error: unknown) => {
        assertCourseError("HUB_MODEL_NOT_FOUND")(error);
        const { hint } = error as CourseError;
        assert.match(hint, /미러에 있는 모델: .*bert-base-uncased/);
        assert.doesNotMatch(hint, /미러에 있는 모델: [^.]*beomi\/kcbert-base/);
        return true;
      },
    );
  });
  await Deno.remove(cache, { recursive: true });
});

Deno.test("a mistyped local folder is reported as a missing folder, not as a Hub problem", async () => {
  const cache = await tempDir();
  const workdir = await tempDir();
  await Deno.mkdir(join(workdir, "runs", "nsmc-v1"), { recursive: true });
  await Deno.writeTextFile(
    join(workdir, "runs", "nsmc-v1", "config.json"),
    "{}",
  );
  const cwd = Deno.cwd();
  Deno.chdir(workdir);
  try {
    await withEnv({
      COURSE_MIRROR: MIRROR,
      COURSE_CACHE: cache,
      COURSE_OFFLINE: "1",
    }, async () => {
      const files = ["config.json", "model.safetensors"];
      // `runs/` exists here: a valid Hub id shape, but the error leads with the local folder.
      await assert.rejects(
        () => resolveModelDir("runs/nsmc-final", files),
        (error: unknown) => {
          assertCourseError("HUB_MODEL_NOT_FOUND")(error);
          const { message, hint } = error as CourseError;
          assert.match(message, /^No local folder .*runs\/nsmc-final/);
          assert.match(hint, /^로컬 폴더 "runs\/nsmc-final"가 없습니다/);
          assert.match(hint, /nsmc-v1/, "shows what is in runs/");
          assert.match(hint, /Hub 모델 id로도/);
          return true;
        },
      );
      // Only a path: the Hub is not asked.
      for (const name of ["./no_such_folder", "runs/nsmc-v1/final/x"]) {
        await assert.rejects(
          () => resolveModelDir(name, files),
          (error: unknown) => {
            assertCourseError("HUB_MODEL_NOT_FOUND")(error);
            const { message, hint } = error as CourseError;
            assert.match(message, /^No local folder/);
            assert.ok(hint.includes(join(workdir, name)), hint);
            assert.doesNotMatch(hint, /미러|인터넷/);
            return true;
          },
        );
      }
      await assert.rejects(
        () => resolveModelDir("runs/nsmc-v1/config.json", files),
        (error: unknown) => {
          assertCourseError("HUB_MODEL_NOT_FOUND")(error);
          assert.match((error as CourseError).hint, /폴더가 아니라 파일/);
          return true;
        },
      );
      // A plain Hub id is still a Hub id, and the error says no local folder has that name.
      await assert.rejects(
        () => resolveModelDir("klue/bert-base", files),
        (error: unknown) => {
          assertCourseError("HUB_NOT_FOUND")(error);
          assert.match(
            (error as CourseError).hint,
            /로컬 폴더 "klue\/bert-base"도 없습니다\(찾은 위치: /,
          );
          return true;
        },
      );
    });
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(workdir, { recursive: true });
  }
});
