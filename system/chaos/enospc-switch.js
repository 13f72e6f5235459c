// Fallback of outbox-disk.ts where mounting a tmpfs is refused: while the file CHAOS_DISK_FULL_FLAG
// exists, the server's writes to outbox segments and ledger files fail with ENOSPC, as on a full disk.
import fs from 'node:fs';

const flag = process.env.CHAOS_DISK_FULL_FLAG;
const watched = new Set();
const openSync = fs.openSync;
fs.openSync = function (file, ...rest) {
  const fd = openSync.call(this, file, ...rest);
  if (/(segment-\d+|ledger-\d+)\.jsonl$/.test(String(file))) watched.add(fd);
  return fd;
};
const writeSync = fs.writeSync;
fs.writeSync = function (fd, ...rest) {
  if (flag && watched.has(fd) && fs.existsSync(flag)) {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    });
  }
  return writeSync.call(this, fd, ...rest);
};
