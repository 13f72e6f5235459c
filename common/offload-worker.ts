/**
 * The serving loop inside an offload worker thread (common/offload.ts): takes `{ id, task, input }`
 * messages, runs the named task of the table, and answers `{ id, output }` or `{ id, error }`. An
 * error crosses as plain fields (name, code, message, stack); the main side turns it into a named
 * error. Typed arrays of the output that own their buffer are transferred, not copied. Imports
 * nothing of the project: the boot (offload-boot.js) loads it and the task table separately.
 */
import { parentPort } from 'node:worker_threads';

export type Task = (input: never) => unknown;
export type TaskTable = Record<string, Task>;

export interface TaskRequest {
  id: number;
  task: string;
  input: unknown;
}

export interface RemoteError {
  name: string;
  code: string | null;
  message: string;
  stack: string | null;
}

export type TaskReply = { id: number; output: unknown } | { id: number; error: RemoteError };

export function toRemoteError(err: unknown): RemoteError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      code: typeof code === 'string' ? code : null,
      message: err.message,
      stack: err.stack ?? null,
    };
  }
  return { name: 'Error', code: null, message: String(err), stack: null };
}

/**
 * The buffers of the output's typed arrays (a few levels deep) that belong to them alone: moving a
 * shared buffer (a Buffer pool slice, a subarray) would detach its other views, so those are copied.
 */
export function ownBuffers(value: unknown, depth = 4, found = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) {
      found.add(value.buffer);
    }
  } else if (depth > 0 && value !== null && typeof value === 'object') {
    for (const v of Array.isArray(value) ? value : Object.values(value)) ownBuffers(v, depth - 1, found);
  }
  return [...found];
}

export async function runTask(tasks: TaskTable, request: TaskRequest): Promise<TaskReply> {
  try {
    const task = Object.hasOwn(tasks, request.task) ? tasks[request.task] : undefined;
    if (!task) throw Object.assign(new Error(`no task named ${request.task}`), { code: 'OFFLOAD_UNKNOWN_TASK' });
    return { id: request.id, output: await task(request.input as never) };
  } catch (err) {
    return { id: request.id, error: toRemoteError(err) };
  }
}

export function serveTasks(tasks: TaskTable): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks runs in a worker thread');
  port.on('message', (request: TaskRequest) => {
    void runTask(tasks, request).then((reply) => {
      try {
        port.postMessage(reply, 'output' in reply ? ownBuffers(reply.output) : []);
      } catch (err) {
        // An output that cannot be cloned (a function, a class instance with private state).
        port.postMessage({ id: request.id, error: toRemoteError(err) });
      }
    });
  });
}
