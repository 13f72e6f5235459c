// The entry of an offload worker thread (common/offload.ts). Plain JavaScript, because the thread
// starts without a TypeScript loader when the process was not started by tsx (a bundle, or plain
// node): tsx's namespaced `tsImport` loads the serving loop and the task table from their sources.
// Started by tsx, the thread inherits tsx's loader anyway, and `tsImport` works the same on top.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { serveTasks } = await tsImport(workerData.worker, import.meta.url);
const { tasks } = await tsImport(workerData.tasks, import.meta.url);
serveTasks(tasks);
