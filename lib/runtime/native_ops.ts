/**
 * TensorFlow ops that tfjs does not offer, run directly through tfjs-node's eager binding, for the
 * two places where tfjs' own formulation costs most on the native engine:
 *
 * - `statelessUniform`: tfjs draws every random number in JavaScript (`tf.randomUniform` fills a
 *   buffer with seedrandom, then uploads it). A BERT training step draws ~7 million of them for
 *   dropout; TensorFlow's Philox kernel does it in a fraction of the time, seeded the same way.
 * - `ResourceVariable` + `applyAdam`: tfjs updates AdamW with ~14 separate elementwise ops per
 *   parameter, each with its own dispatch and allocation; TensorFlow's `ResourceApplyAdam` is one
 *   fused, in-place kernel. Moments live in TensorFlow resource variables.
 *
 * Only for the "tensorflow" backend (callers check `nativeKernels()` first); the results are
 * ordinary tfjs tensors, tracked and disposed like any other. No gradient is recorded for these
 * ops: callers use them only for values that need none (masks, optimizer steps).
 */
import * as tf from "@tensorflow/tfjs-core";

/** The parts of tfjs-node's `NodeJSKernelBackend` and its binding used here. */
interface NodeBinding {
  TF_FLOAT: number;
  TF_INT32: number;
  TF_ATTR_TYPE: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_SHAPE: number;
}
interface NodeBackend {
  binding: NodeBinding;
  executeSingleOutput(
    name: string,
    attrs: OpAttr[],
    inputs: tf.Tensor[],
  ): tf.Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: tf.Tensor[],
    numOutputs: number,
  ): tf.Tensor[];
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(
    id: number,
    inputs: tf.Tensor[],
    inputTensorInfos: { name: string; tfDtype: string }[],
    outputOpNames: string[],
  ): tf.Tensor[];
  deleteSavedModel(id: number): void;
}
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** True on TensorFlow's native library (tfjs-node), where these ops exist. */
export function nativeKernels(): boolean {
  return tf.getBackend() === "tensorflow";
}

/** tfjs-node's backend object, with the binding calls the course uses. */
export function nodeBackend(): NodeBackend {
  if (!nativeKernels()) {
    throw new Error(
      `native TensorFlow ops need the "tensorflow" backend, not ${tf.getBackend()}`,
    );
  }
  return tf.backend() as unknown as NodeBackend;
}

function typeAttr(
  binding: NodeBinding,
  name: string,
  dtype: "float32" | "int32",
): OpAttr {
  return {
    name,
    type: binding.TF_ATTR_TYPE,
    value: dtype === "float32" ? binding.TF_FLOAT : binding.TF_INT32,
  };
}

function boolAttr(binding: NodeBinding, name: string, value: boolean): OpAttr {
  return { name, type: binding.TF_ATTR_BOOL, value };
}

/**
 * Uniform [0, 1) float32 of `shape`, a pure function of the two 32-bit seed words (TensorFlow's
 * `StatelessRandomUniform`, Philox): the same seed gives the same numbers on every run.
 */
export function statelessUniform(
  shape: number[],
  seed: readonly [number, number],
): tf.Tensor {
  const backend = nodeBackend();
  const { binding } = backend;
  return tf.tidy(() => {
    const shapeTensor = tf.tensor1d(shape, "int32");
    const seedTensor = tf.tensor1d([seed[0] | 0, seed[1] | 0], "int32");
    return backend.executeSingleOutput("StatelessRandomUniform", [
      typeAttr(binding, "dtype", "float32"),
      typeAttr(binding, "T", "int32"),
      typeAttr(binding, "Tseed", "int32"),
    ], [shapeTensor, seedTensor]);
  });
}

let resourceCount = 0;

/**
 * A float32 TensorFlow resource variable (`VarHandleOp`): a buffer that kernels such as
 * `ResourceApplyAdam` update in place. Not a tfjs variable: read it with `read()`.
 */
export class ResourceVariable {
  readonly handle: tf.Tensor;
  private disposed = false;

  /** A new variable holding a copy of `initial` (its shape and values). */
  constructor(initial: tf.Tensor) {
    const backend = nodeBackend();
    const { binding } = backend;
    resourceCount += 1;
    this.handle = tf.keep(
      backend.executeSingleOutput("VarHandleOp", [
        { name: "container", type: binding.TF_ATTR_STRING, value: "" },
        {
          name: "shared_name",
          type: binding.TF_ATTR_STRING,
          value: `course_resource_${resourceCount}`,
        },
        typeAttr(binding, "dtype", "float32"),
        {
          name: "shape",
          type: binding.TF_ATTR_SHAPE,
          value: initial.shape,
        },
      ], []),
    );
    this.assign(initial);
  }

  /** Copies `value` (same shape) into the variable. */
  assign(value: tf.Tensor): void {
    const backend = nodeBackend();
    const { binding } = backend;
    backend.executeMultipleOutputs(
      "AssignVariableOp",
      [
        typeAttr(binding, "dtype", "float32"),
        boolAttr(binding, "validate_shape", false),
      ],
      [this.handle, value],
      0,
    );
  }

  /** The current value as a tfjs tensor (TensorFlow shares the buffer until the next update). */
  read(): tf.Tensor {
    const backend = nodeBackend();
    return backend.executeSingleOutput("ReadVariableOp", [
      typeAttr(backend.binding, "dtype", "float32"),
    ], [this.handle]);
  }

  /** Drops the buffer (the variable then holds an empty tensor until the next `assign`). */
  release(): void {
    tf.tidy(() => this.assign(tf.zeros([0])));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (nativeKernels()) {
      const backend = nodeBackend();
      backend.executeMultipleOutputs(
        "DestroyResourceOp",
        [
          boolAttr(backend.binding, "ignore_lookup_error", true),
        ],
        [this.handle],
        0,
      );
    }
    this.handle.dispose();
  }
}

/** Scalars that one `applyAdam` step shares across parameters. */
export interface AdamScalars {
  beta1Power: tf.Scalar;
  beta2Power: tf.Scalar;
  learningRate: tf.Scalar;
  beta1: tf.Scalar;
  beta2: tf.Scalar;
  epsilon: tf.Scalar;
}

/**
 * One in-place Adam update of `variable` with moments `m`, `v` (TensorFlow's `ResourceApplyAdam`):
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   variable ← variable − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε).
 */
export function applyAdam(
  variable: ResourceVariable,
  m: ResourceVariable,
  v: ResourceVariable,
  scalars: AdamScalars,
  grad: tf.Tensor,
): void {
  const backend = nodeBackend();
  const { binding } = backend;
  backend.executeMultipleOutputs("ResourceApplyAdam", [
    typeAttr(binding, "T", "float32"),
    boolAttr(binding, "use_locking", false),
    boolAttr(binding, "use_nesterov", false),
  ], [
    variable.handle,
    m.handle,
    v.handle,
    scalars.beta1Power,
    scalars.beta2Power,
    scalars.learningRate,
    scalars.beta1,
    scalars.beta2,
    scalars.epsilon,
    grad,
  ], 0);
}
