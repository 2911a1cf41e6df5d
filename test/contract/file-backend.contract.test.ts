/** The storage contract (library-contract.ts) against the JSON-file backend, in a fresh temp dir per test. */
import { FileBackend } from '../../storage-worker/file-backend.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { defineLibraryContract } from './library-contract.js';

defineLibraryContract('files', {
  async makeBackend() {
    const dataDir = await makeTempDir('file-contract');
    return { backend: new FileBackend({ dataDir }), cleanup: () => removeTempDir(dataDir) };
  },
});
