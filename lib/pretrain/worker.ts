/**
 * The Worker of data-parallel pretraining (`tools/pretraining/pretrain.ts --workers N`, started by
 * `WorkerReplicas` in lib/pretrain/replicas.ts): one replica, served by `serveReplica`
 * (lib/pretrain/serve.ts).
 */
import type { WorkerScope } from "./protocol.ts";

const scope = self as unknown as WorkerScope;
// transformers.js (imported through lib/text) builds URLs on `location.origin` when it loads; a
// Worker started from a file has a location whose origin is "null", which is not a valid base URL.
// The main thread has no location at all: hide the Worker's before anything is imported.
Reflect.deleteProperty(globalThis, "location");
// Requests that arrive while the modules load wait here, in order.
const early: Parameters<NonNullable<WorkerScope["onmessage"]>>[0][] = [];
scope.onmessage = (event) => early.push(event);
const { serveReplica } = await import("./serve.ts");
serveReplica(scope, early);
