/**
 * Network download into the cache. The file appears under its final name only when it is
 * complete and verified: bytes stream into `<name>.<random>.part` in the same folder, then one
 * `rename` (atomic on the same file system) publishes it. An interrupted download leaves no
 * half file that a later run could mistake for the real one.
 */
import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { readEnv } from "../runtime/env.ts";
import { pickProgress, type ProgressOption } from "./progress.ts";

export interface DownloadOptions {
  sha256?: string;
  progress?: ProgressOption;
  /** Time to wait for the server to answer (not for the whole body). */
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** Downloads `url` to `destination`; returns the SHA-256 and size of what was written. */
export async function downloadFile(
  url: string,
  destination: string,
  options: DownloadOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  const response = await request(
    url,
    options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  );
  const lengthHeader = response.headers.get("content-length");
  const totalBytes = lengthHeader ? Number(lengthHeader) : undefined;
  const progress = pickProgress(options.progress, totalBytes);

  await Deno.mkdir(dirname(destination), { recursive: true });
  const partial = `${destination}.${crypto.randomUUID().slice(0, 8)}.part`;
  const hash = createHash("sha256");
  let doneBytes = 0;
  progress?.start(basename(destination), totalBytes);
  try {
    const file = await Deno.open(partial, {
      write: true,
      create: true,
      truncate: true,
    });
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        doneBytes += chunk.byteLength;
        progress?.update(doneBytes);
        controller.enqueue(chunk);
      },
    });
    await response.body!.pipeThrough(counter).pipeTo(file.writable);
  } catch (error) {
    await removeQuietly(partial);
    throw new CourseError(
      "HUB_NETWORK_ERROR",
      `Download of ${url} was interrupted after ${doneBytes} bytes: ${
        describeError(error)
      }`,
      "네트워크 연결을 확인하고 다시 실행하세요. 받다 만 파일은 지웠으니 처음부터 다시 받습니다.",
      { cause: error },
    );
  } finally {
    progress?.finish();
  }

  if (
    totalBytes !== undefined && Number.isFinite(totalBytes) &&
    doneBytes !== totalBytes
  ) {
    await removeQuietly(partial);
    throw new CourseError(
      "HUB_NETWORK_ERROR",
      `Download of ${url} ended early: ${doneBytes} of ${totalBytes} bytes`,
      "연결이 중간에 끊겼습니다. 다시 실행하면 처음부터 다시 받습니다.",
    );
  }
  const actual = hash.digest("hex");
  if (options.sha256 && actual !== options.sha256.toLowerCase()) {
    await removeQuietly(partial);
    throw checksumMismatch(
      url,
      options.sha256,
      actual,
      "downloaded file deleted",
    );
  }
  await Deno.rename(partial, destination);
  return { sha256: actual, bytes: doneBytes };
}

async function request(
  url: string,
  connectTimeoutMs: number,
): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(new Error(`no answer within ${connectTimeoutMs} ms`)),
    connectTimeoutMs,
  );
  let response: Response;
  try {
    response = await fetch(url, {
      headers: authHeaders(url),
      signal: controller.signal,
    });
  } catch (error) {
    throw new CourseError(
      "HUB_NETWORK_ERROR",
      `Could not reach ${new URL(url).host} for ${url}: ${
        describeError(error)
      }`,
      "인터넷에 연결되어 있는지 확인하세요. 오프라인이라면 COURSE_MIRROR 환경 변수에 미러 폴더를 지정하고 COURSE_OFFLINE=1 로 실행하세요.",
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw httpError(url, response.status, response.statusText);
  }
  return response;
}

/** Gated or private Hugging Face repos need a token; the usual HF_TOKEN variable is honoured. */
function authHeaders(url: string): HeadersInit {
  const token = readEnv("HF_TOKEN");
  return token && new URL(url).hostname === "huggingface.co"
    ? { Authorization: `Bearer ${token}` }
    : {};
}

function httpError(
  url: string,
  status: number,
  statusText: string,
): CourseError {
  const hint = status === 404
    ? "파일이 없습니다. 모델 id(예: klue/bert-base), 파일 이름, revision이 맞는지 확인하세요."
    : status === 401 || status === 403
    ? "모델 id에 오타가 없는지 먼저 확인하세요(Hugging Face는 없는 저장소에도 401로 답합니다). 비공개이거나 승인이 필요한 모델이라면 Hugging Face 토큰을 HF_TOKEN 환경 변수에 넣거나 공개 모델을 쓰세요."
    : status === 429
    ? "요청이 너무 많습니다. 잠시 기다렸다가 다시 실행하세요."
    : status >= 500
    ? "서버 쪽 오류입니다. 잠시 후 다시 시도하거나 COURSE_MIRROR의 오프라인 미러를 쓰세요."
    : "주소가 맞는지 확인하고 다시 시도하세요.";
  return new CourseError(
    status === 404 ? "HUB_NOT_FOUND" : "HUB_HTTP_ERROR",
    `HTTP ${status} ${statusText} for ${url}`,
    hint,
  );
}

export function checksumMismatch(
  url: string,
  expected: string,
  actual: string,
  what: string,
): CourseError {
  return new CourseError(
    "HUB_CHECKSUM_MISMATCH",
    `SHA-256 mismatch for ${url}: expected ${expected}, got ${actual} (${what})`,
    "받은 파일이 손상되었거나 원본이 바뀌었습니다. 받은 파일은 지웠으니 다시 실행하면 처음부터 다시 받습니다. 계속 같으면 datasets/registry.json의 체크섬과 원본을 확인하세요.",
  );
}

/**
 * The mirror is shared and read in place, so a damaged copy is never deleted here: rerunning
 * would read the same bytes again. The learner needs to know which file to replace.
 */
export function mirrorCopyDamaged(
  url: string,
  mirrorPath: string,
  expected: string,
  actual: string,
): CourseError {
  return new CourseError(
    "HUB_CHECKSUM_MISMATCH",
    `The offline mirror's copy of ${url} is damaged: ${mirrorPath} has SHA-256 ${actual}, expected ${expected}`,
    `미러에 있는 사본이 손상되었습니다: ${mirrorPath}. 미러는 여럿이 함께 쓰는 폴더라 지우지 않았으므로, 다시 실행해도 같은 오류가 납니다. 이 파일을 원본(${url})이나 성한 미러의 사본으로 바꾸세요(미러의 SHA256SUMS로 확인할 수 있습니다). 인터넷이 되면 COURSE_OFFLINE을 끄고 실행해 네트워크에서 받아도 됩니다.`,
  );
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Nothing to clean up.
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error
      ? ` (${error.cause.message})`
      : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
