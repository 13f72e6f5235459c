// Fallback of full-disk.ts where mounting a tmpfs is not permitted: writes to outbox segment files
// fail with ENOSPC once ENOSPC_AFTER_BYTES have been written to them, as on a full disk.
import fs from 'node:fs';

const limit = Number(process.env.ENOSPC_AFTER_BYTES);
const segments = new Set();
let written = 0;
const openSync = fs.openSync;
fs.openSync = function (file, ...rest) {
  const fd = openSync.call(this, file, ...rest);
  if (/segment-\d+\.jsonl$/.test(String(file))) segments.add(fd);
  return fd;
};
const writeSync = fs.writeSync;
fs.writeSync = function (fd, buffer, ...rest) {
  if (segments.has(fd)) {
    const length = typeof rest[1] === 'number' ? rest[1] : buffer.length;
    if (written + length > limit) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        errno: -28,
        syscall: 'write',
      });
    }
    written += length;
  }
  return writeSync.call(this, fd, buffer, ...rest);
};
