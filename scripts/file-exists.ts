/** Whether a path exists; any error but ENOENT (permissions, I/O) is thrown, not read as "missing". */
import { stat } from 'node:fs/promises';
import { errnoCode } from '../shared/errno.js';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
