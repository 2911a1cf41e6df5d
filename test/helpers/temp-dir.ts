import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir; remove it with `removeTempDir`. */
export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `mediastore-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
